//! Ownership (`--chown`, context vs stage sources) and `--chmod`.

use std::os::unix::fs::chown;

use super::*;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
const GROUP: &str = "root:x:0:\napp:x:1001:\nstaff:x:50:app\n";

#[test]
fn context_files_become_root_owned() {
    if !is_root() {
        eprintln!("skipping: owners can only be checked as root");
        return;
    }
    let f = Fixture::new();
    file(f.ctx(), "d/x", "x", 0o644);
    chown(f.ctx().join("d/x"), Some(1234), Some(4321)).unwrap();
    chown(f.ctx().join("d"), Some(1234), Some(4321)).unwrap();
    f.copy(&["d"], "/d").unwrap();
    assert_eq!(f.layer()["/d/x"], "f 644 0:0 x");
}

#[test]
fn stage_files_keep_their_owner() {
    if !is_root() {
        eprintln!("skipping: owners can only be checked as root");
        return;
    }
    let f = Fixture::new();
    file(f.ctx(), "home/u/x", "x", 0o640);
    chown(f.ctx().join("home/u/x"), Some(1234), Some(4321)).unwrap();
    chown(f.ctx().join("home/u"), Some(1234), Some(4321)).unwrap();
    let image = EmptyDest;
    let root = SourceRoot {
        dir: f.ctx(),
        ignore: None,
        kind: SourceKind::Stage("build".into()),
    };
    let req = request(
        vec![CopySource::Path("/home".into())],
        root,
        "/copy",
        &image,
    );
    copy(&req, f.out()).unwrap();
    let l = f.layer();
    assert_eq!(l["/copy/u/x"], "f 640 1234:4321 x");
    assert_eq!(l["/copy/u"], "d 755 1234:4321");
    // The destination directory itself is created by the copy, as root.
    assert_eq!(l["/copy"], "d 755 0:0");
}

#[test]
fn chown_numeric_applies_to_files_dirs_and_created_parents() {
    if !is_root() {
        eprintln!("skipping: owners can only be checked as root");
        return;
    }
    let f = Fixture::new();
    file(f.ctx(), "d/x", "x", 0o644);
    dir(f.image(), "srv", 0o755);
    f.copy_with(&["d"], "/srv/new/dir", |r| r.chown = Some((10, 11)))
        .unwrap();
    let l = f.layer();
    assert_eq!(l["/srv/new/dir/x"], "f 644 10:11 x");
    assert_eq!(l["/srv/new/dir"], "d 755 10:11");
    assert_eq!(l["/srv/new"], "d 755 10:11");
    // An existing image directory keeps its owner.
    assert_eq!(l["/srv"], "d 755 0:0");
}

#[test]
fn chown_names_resolve_against_the_image() {
    if !is_root() {
        eprintln!("skipping: owners can only be checked as root");
        return;
    }
    let f = Fixture::new();
    file(f.ctx(), "files1", "1", 0o644);
    file(f.image(), "etc/passwd", PASSWD, 0o644);
    file(f.image(), "etc/group", GROUP, 0o644);
    let passwd = fs::read_to_string(f.image().join("etc/passwd")).unwrap();
    let group = fs::read_to_string(f.image().join("etc/group")).unwrap();
    let ids = resolve_chown("app:staff", Some(&passwd), Some(&group)).unwrap();
    f.copy_with(&["files*"], "/somedir/", |r| r.chown = Some(ids))
        .unwrap();
    assert_eq!(f.layer()["/somedir/files1"], "f 644 1000:50 1");
    let err = resolve_chown("ghost", Some(&passwd), Some(&group)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unable to find user ghost: no matching entries in passwd file"
    );
}

#[test]
fn chmod_octal_sets_files_and_directories() {
    let f = Fixture::new();
    file(f.ctx(), "d/x", "x", 0o600);
    dir(f.ctx(), "d/sub", 0o700);
    f.copy_with(&["d"], "/d", |r| {
        r.chmod = Some(Chmod::parse("755").unwrap())
    })
    .unwrap();
    let l = f.layer();
    assert!(l["/d/x"].starts_with("f 755 "), "{}", l["/d/x"]);
    assert!(l["/d/sub"].starts_with("d 755 "));
    // The destination directory is made by the copy, with the octal mode (see
    // chmod_parents.rs).
    let g = Fixture::new();
    file(g.ctx(), "x", "x", 0o644);
    g.copy_with(&["x"], "/a/b/", |r| {
        r.chmod = Some(Chmod::parse("600").unwrap())
    })
    .unwrap();
    let l = g.layer();
    assert!(l["/a/b/x"].starts_with("f 600 "));
    assert!(l["/a/b"].starts_with("d 600 "));
}

#[test]
fn chmod_symbolic_per_file() {
    let f = Fixture::new();
    file(f.ctx(), "app/run.sh", "r", 0o700);
    file(f.ctx(), "app/data.txt", "d", 0o600);
    dir(f.ctx(), "app/sub", 0o700);
    f.copy_with(&["app"], "/app/", |r| {
        r.chmod = Some(Chmod::parse("u=rwX,go=rX").unwrap())
    })
    .unwrap();
    let l = f.layer();
    assert!(l["/app/run.sh"].starts_with("f 755 "));
    assert!(l["/app/data.txt"].starts_with("f 644 "));
    assert!(l["/app/sub"].starts_with("d 755 "));
    let g = Fixture::new();
    file(g.ctx(), "script.sh", "s", 0o644);
    g.copy_with(&["script.sh"], "/bin/", |r| {
        r.chmod = Some(Chmod::parse("+x").unwrap())
    })
    .unwrap();
    assert!(g.layer()["/bin/script.sh"].starts_with("f 755 "));
    assert!(Chmod::parse("u+q").is_err());
}
