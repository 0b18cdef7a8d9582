//! `--chmod` and the directories the copy creates: the destination's missing parents (and
//! a missing destination directory) get an octal `--chmod` mode, as BuildKit's copy makes
//! them; a symbolic value leaves them 0755; image directories keep their own mode.

use super::*;

fn chmod(value: &'static str) -> impl FnOnce(&mut CopyRequest<'_>) {
    move |r| r.chmod = Some(Chmod::parse(value).unwrap())
}

#[test]
fn octal_chmod_gives_created_parents_its_mode() {
    let f = Fixture::new();
    file(f.ctx(), "x", "x", 0o644);
    dir(f.image(), "srv", 0o750);
    f.copy_with(&["x"], "/srv/a/b/", chmod("600")).unwrap();
    let l = f.layer();
    assert!(l["/srv/a/b/x"].starts_with("f 600 "), "{l:?}");
    assert!(l["/srv/a/b"].starts_with("d 600 "), "{l:?}");
    assert!(l["/srv/a"].starts_with("d 600 "), "{l:?}");
    // An image directory on the way keeps its mode.
    assert!(l["/srv"].starts_with("d 750 "), "{l:?}");
    // A file destination: only its parents are made.
    let g = Fixture::new();
    file(g.ctx(), "x", "x", 0o644);
    g.copy_with(&["x"], "/opt/app/run", chmod("0750")).unwrap();
    let l = g.layer();
    assert!(l["/opt/app/run"].starts_with("f 750 "), "{l:?}");
    assert!(l["/opt/app"].starts_with("d 750 "), "{l:?}");
    assert!(l["/opt"].starts_with("d 750 "), "{l:?}");
}

#[test]
fn a_missing_destination_of_a_directory_source_gets_the_mode() {
    let f = Fixture::new();
    file(f.ctx(), "d/x", "x", 0o644);
    dir(f.ctx(), "d", 0o755);
    f.copy_with(&["d"], "/new/dir", chmod("711")).unwrap();
    let l = f.layer();
    assert!(l["/new"].starts_with("d 711 "), "{l:?}");
    assert!(l["/new/dir"].starts_with("d 711 "), "{l:?}");
    assert!(l["/new/dir/x"].starts_with("f 711 "), "{l:?}");
}

#[test]
fn set_id_and_sticky_bits_stay_off_created_parents() {
    let f = Fixture::new();
    file(f.ctx(), "x", "x", 0o644);
    f.copy_with(&["x"], "/a/", chmod("4755")).unwrap();
    assert!(f.layer()["/a"].starts_with("d 755 "), "{:?}", f.layer());
}

#[test]
fn symbolic_chmod_leaves_created_parents_0755() {
    let f = Fixture::new();
    file(f.ctx(), "x", "x", 0o600);
    f.copy_with(&["x"], "/a/b/", chmod("go=")).unwrap();
    let l = f.layer();
    assert!(l["/a/b/x"].starts_with("f 600 "), "{l:?}");
    assert!(l["/a/b"].starts_with("d 755 "), "{l:?}");
    assert!(l["/a"].starts_with("d 755 "), "{l:?}");
}

#[test]
fn heredocs_and_parents_copies_make_parents_with_the_mode() {
    let f = Fixture::new();
    let image = RootfsDir::new(f.image());
    let root = SourceRoot {
        dir: f.ctx(),
        ignore: None,
        kind: SourceKind::Context,
    };
    let sources = vec![CopySource::Heredoc {
        name: "note".into(),
        content: "hi\n".into(),
    }];
    let mut req = request(sources, root, "/etc/app/", &image);
    req.chmod = Some(Chmod::parse("640").unwrap());
    copy(&req, f.out()).unwrap();
    let l = f.layer();
    assert!(l["/etc/app/note"].starts_with("f 640 "), "{l:?}");
    assert!(l["/etc/app"].starts_with("d 640 "), "{l:?}");
    // --parents: the destination is made with the mode; the kept source directories are
    // copied entries, which --chmod sets like every other.
    let g = Fixture::new();
    file(g.ctx(), "src/x/a.txt", "a", 0o644);
    dir(g.ctx(), "src/x", 0o755);
    g.copy_with(&["src/x/a.txt"], "/out/", |r| {
        r.parents = true;
        r.chmod = Some(Chmod::parse("700").unwrap());
    })
    .unwrap();
    let l = g.layer();
    assert!(l["/out"].starts_with("d 700 "), "{l:?}");
    assert!(l["/out/src/x"].starts_with("d 700 "), "{l:?}");
    assert!(l["/out/src/x/a.txt"].starts_with("f 700 "), "{l:?}");
}

#[test]
fn a_mode_without_owner_access_is_set_after_the_files_below() {
    let f = Fixture::new();
    file(f.ctx(), "d/x", "x", 0o644);
    dir(f.ctx(), "d/sub", 0o755);
    file(f.ctx(), "d/sub/y", "y", 0o644);
    f.copy_with(&["d"], "/a/b/", chmod("044")).unwrap();
    let out = f.out();
    // The layer is read back with the owner's access given back.
    for p in ["a", "a/b", "a/b/sub"] {
        fs::set_permissions(out.join(p), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let l = f.layer();
    assert!(l["/a/b/sub/y"].starts_with("f 44 "), "{l:?}");
    assert!(l["/a/b/x"].starts_with("f 44 "), "{l:?}");
}
