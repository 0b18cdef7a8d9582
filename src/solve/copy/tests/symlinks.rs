//! Symlinks in sources: the source path itself is followed (inside the root only), links
//! below it are copied as links.

use super::*;

#[test]
fn source_symlink_is_followed_and_named_after_the_link() {
    let f = Fixture::new();
    file(f.ctx(), "testdir/foo.txt", "foo-contents", 0o644);
    symlink(f.ctx(), "testdir/link2", "foo.txt");
    symlink(f.ctx(), "link", "/testdir");
    f.copy(&["link/link2"], "/foo").unwrap();
    assert!(f.layer()["/foo"].starts_with("f 644 ") && f.layer()["/foo"].ends_with("foo-contents"));
    // Into a directory, the file keeps the link's name.
    let g = Fixture::new();
    file(g.ctx(), "real.txt", "r", 0o644);
    symlink(g.ctx(), "alias.txt", "real.txt");
    g.copy(&["alias.txt"], "/d/").unwrap();
    assert_eq!(paths(g.out()), ["/d", "/d/alias.txt"]);
    assert!(g.layer()["/d/alias.txt"].starts_with("f "));
}

#[test]
fn source_symlink_to_a_directory_copies_its_contents() {
    let f = Fixture::new();
    file(f.ctx(), "real/a", "a", 0o644);
    symlink(f.ctx(), "alias", "real");
    f.copy(&["alias"], "/d").unwrap();
    assert_eq!(paths(f.out()), ["/d", "/d/a"]);
}

#[test]
fn symlinks_inside_a_directory_are_copied_as_links() {
    let f = Fixture::new();
    file(f.ctx(), "lib/libnothing.so", "so", 0o755);
    symlink(f.ctx(), "lib/libnothing.so.2", "libnothing.so");
    symlink(f.ctx(), "lib/abs", "/etc/passwd");
    symlink(f.ctx(), "lib/dangling", "nowhere");
    f.copy(&["lib"], "/usr/lib").unwrap();
    let l = f.layer();
    assert_eq!(l["/usr/lib/libnothing.so.2"], "l -> libnothing.so");
    assert_eq!(l["/usr/lib/abs"], "l -> /etc/passwd");
    assert_eq!(l["/usr/lib/dangling"], "l -> nowhere");
}

#[test]
fn symlinks_cannot_lead_outside_the_root() {
    // A secret beside the context, and links pointing at it.
    let outer = tempfile::tempdir().unwrap();
    let ctx = outer.path().join("ctx");
    fs::create_dir(&ctx).unwrap();
    fs::write(outer.path().join("secret"), "host secret").unwrap();
    file(&ctx, "secret", "context file", 0o644);
    symlink(&ctx, "up", "../secret");
    symlink(&ctx, "abs", &outer.path().join("secret").to_string_lossy());
    symlink(&ctx, "updir", "../..");
    let out = tempfile::tempdir().unwrap();
    let image = EmptyDest;
    let root = SourceRoot {
        dir: &ctx,
        ignore: None,
        kind: SourceKind::Context,
    };
    // `../secret` resolves inside the root: to the context's own `secret`.
    let req = request(
        vec![CopySource::Path("up".into())],
        root.clone(),
        "/up",
        &image,
    );
    copy(&req, out.path()).unwrap();
    assert_eq!(
        fs::read_to_string(out.path().join("up")).unwrap(),
        "context file"
    );
    // An absolute link is read inside the root: that path does not exist there.
    let req = request(
        vec![CopySource::Path("abs".into())],
        root.clone(),
        "/abs",
        &image,
    );
    assert!(matches!(
        copy(&req, out.path()).unwrap_err(),
        CopyError::SourceNotFound { .. }
    ));
    // A link to `../..` is the root itself.
    let req = request(
        vec![CopySource::Path("updir/secret".into())],
        root,
        "/again",
        &image,
    );
    copy(&req, out.path()).unwrap();
    assert_eq!(
        fs::read_to_string(out.path().join("again")).unwrap(),
        "context file"
    );
}

#[test]
fn symlink_loops_are_an_error() {
    let f = Fixture::new();
    symlink(f.ctx(), "a", "b");
    symlink(f.ctx(), "b", "a");
    let err = f.copy(&["a"], "/x").unwrap_err();
    assert!(matches!(err, CopyError::TooManySymlinks { .. }), "{err}");
}

#[test]
fn wildcard_matches_follow_links() {
    let f = Fixture::new();
    file(f.ctx(), "real.conf", "r", 0o600);
    symlink(f.ctx(), "link.conf", "real.conf");
    f.copy(&["*.conf"], "/etc/").unwrap();
    let l = f.layer();
    assert!(l["/etc/link.conf"].starts_with("f 600 "));
    assert!(l["/etc/real.conf"].starts_with("f 600 "));
}
