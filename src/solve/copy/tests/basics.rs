//! Source selection and destination rules.

use super::*;

#[test]
fn directory_source_copies_its_contents_not_itself() {
    let f = Fixture::new();
    file(f.ctx(), "app/main.sh", "echo", 0o755);
    file(f.ctx(), "app/lib/util.sh", "u", 0o644);
    f.copy(&["app"], "/opt").unwrap();
    assert_eq!(
        paths(f.out()),
        ["/opt", "/opt/lib", "/opt/lib/util.sh", "/opt/main.sh"]
    );
    let l = f.layer();
    assert!(l["/opt/main.sh"].starts_with("f 755 "));
    // A trailing slash on the source changes nothing.
    let g = Fixture::new();
    file(g.ctx(), "app/main.sh", "echo", 0o755);
    file(g.ctx(), "app/lib/util.sh", "u", 0o644);
    g.copy(&["app/"], "/opt").unwrap();
    assert_eq!(paths(g.out()), paths(f.out()));
}

#[test]
fn whole_context_with_dot() {
    let f = Fixture::new();
    file(f.ctx(), "a.txt", "a", 0o644);
    file(f.ctx(), "d/b.txt", "b", 0o600);
    f.copy(&["."], "/").unwrap();
    assert_eq!(paths(f.out()), ["/a.txt", "/d", "/d/b.txt"]);
    assert!(f.layer()["/d/b.txt"].starts_with("f 600 "));
}

#[test]
fn file_to_slash_dest_lands_inside() {
    let f = Fixture::new();
    file(f.ctx(), "sub/test.txt", "t", 0o644);
    f.copy(&["sub/test.txt"], "/abs/").unwrap();
    assert_eq!(paths(f.out()), ["/abs", "/abs/test.txt"]);
}

#[test]
fn file_to_dest_without_slash_becomes_that_file() {
    let f = Fixture::new();
    file(f.ctx(), "test.txt", "t", 0o644);
    f.copy(&["test.txt"], "/abs").unwrap();
    assert_eq!(paths(f.out()), ["/abs"]);
    assert!(f.layer()["/abs"].starts_with("f 644 "));
}

#[test]
fn file_to_existing_image_directory_lands_inside() {
    let f = Fixture::new();
    file(f.ctx(), "test.txt", "t", 0o644);
    dir(f.image(), "abs", 0o750);
    f.copy(&["test.txt"], "/abs").unwrap();
    assert_eq!(paths(f.out()), ["/abs", "/abs/test.txt"]);
    // The image's directory is recreated with its own mode.
    assert!(f.layer()["/abs"].starts_with("d 750 "));
}

#[test]
fn relative_dest_uses_workdir() {
    let f = Fixture::new();
    file(f.ctx(), "test.txt", "t", 0o644);
    f.copy_with(&["test.txt"], "rel/", |r| r.workdir = "/usr/src/app".into())
        .unwrap();
    assert_eq!(
        paths(f.out()),
        [
            "/usr",
            "/usr/src",
            "/usr/src/app",
            "/usr/src/app/rel",
            "/usr/src/app/rel/test.txt"
        ]
    );
    let g = Fixture::new();
    file(g.ctx(), "test.txt", "t", 0o644);
    g.copy_with(&["test.txt"], ".", |r| r.workdir = "/app".into())
        .unwrap();
    assert_eq!(paths(g.out()), ["/app", "/app/test.txt"]);
}

#[test]
fn missing_parents_are_created_0755_root() {
    let f = Fixture::new();
    file(f.ctx(), "x", "x", 0o600);
    f.copy(&["x"], "/a/b/c/x").unwrap();
    let l = f.layer();
    for d in ["/a", "/a/b", "/a/b/c"] {
        let want = if is_root() { "d 755 0:0" } else { "d 755" };
        assert!(l[d].starts_with(want), "{d}: {}", l[d]);
    }
    assert!(l["/a/b/c/x"].starts_with("f 600"));
}

#[test]
fn wildcards_select_several_sources() {
    let f = Fixture::new();
    file(f.ctx(), "a.png", "a", 0o644);
    file(f.ctx(), "b.png", "b", 0o644);
    file(f.ctx(), "c.txt", "c", 0o644);
    file(f.ctx(), "index.js", "j", 0o644);
    file(f.ctx(), "index.ts", "t", 0o644);
    file(f.ctx(), "arr[0].txt", "arr", 0o644);
    file(f.ctx(), "sub/d.png", "d", 0o644);
    f.copy(&["*.png", "index.?s", "arr[[]0].txt"], "/dest/")
        .unwrap();
    assert_eq!(
        paths(f.out()),
        [
            "/dest",
            "/dest/a.png",
            "/dest/arr[0].txt",
            "/dest/b.png",
            "/dest/index.js",
            "/dest/index.ts"
        ]
    );
}

#[test]
fn wildcard_directory_match_copies_its_contents() {
    let f = Fixture::new();
    file(f.ctx(), "dir1/x", "x", 0o644);
    file(f.ctx(), "dir2/y", "y", 0o644);
    f.copy(&["dir*"], "/d/").unwrap();
    assert_eq!(paths(f.out()), ["/d", "/d/x", "/d/y"]);
}

#[test]
fn wildcard_in_a_middle_component() {
    let f = Fixture::new();
    file(f.ctx(), "pkg/a/go.mod", "a", 0o644);
    file(f.ctx(), "pkg/b/go.mod", "b", 0o644);
    file(f.ctx(), "pkg/b/deep/go.mod", "deep", 0o644);
    // Two files named go.mod: the second overwrites the first, as in BuildKit.
    f.copy(&["pkg/*/go.mod"], "/m/").unwrap();
    assert_eq!(paths(f.out()), ["/m", "/m/go.mod"]);
    assert!(f.layer()["/m/go.mod"].ends_with(" b"));
    let g = Fixture::new();
    file(g.ctx(), "pkg/a/a.mod", "a", 0o644);
    file(g.ctx(), "pkg/b/b.mod", "b", 0o644);
    file(g.ctx(), "pkg/b/deep/c.mod", "deep", 0o644);
    g.copy(&["pkg/*/*.mod"], "/m/").unwrap();
    assert_eq!(paths(g.out()), ["/m", "/m/a.mod", "/m/b.mod"]);
}

#[test]
fn wildcard_matching_nothing_copies_nothing() {
    let f = Fixture::new();
    file(f.ctx(), "a.txt", "a", 0o644);
    let stats = f.copy(&["*.nope"], "/dest/").unwrap();
    assert_eq!(stats, CopyStats::default());
    assert!(paths(f.out()).is_empty());
}

#[test]
fn several_sources_need_a_directory_destination() {
    let f = Fixture::new();
    file(f.ctx(), "file1.txt", "1", 0o644);
    file(f.ctx(), "file2.txt", "2", 0o644);
    let err = f.copy(&["file1.txt", "file2.txt"], "/test").unwrap_err();
    assert_eq!(
        err.to_string(),
        "when using COPY with more than one source file, the destination must be a directory and end with a /"
    );
    let err = f
        .copy_with(&["file*.txt"], "/test", |r| r.is_add = true)
        .unwrap_err();
    assert!(err
        .to_string()
        .starts_with("when using ADD with more than one source file"));
    // A wildcard with a single match may target a file.
    let g = Fixture::new();
    file(g.ctx(), "only.txt", "1", 0o644);
    g.copy(&["only*"], "/test").unwrap();
    assert_eq!(paths(g.out()), ["/test"]);
    // An existing directory in the image is fine.
    let h = Fixture::new();
    file(h.ctx(), "file1.txt", "1", 0o644);
    file(h.ctx(), "file2.txt", "2", 0o644);
    dir(h.image(), "usr/bin", 0o755);
    h.copy(&["file1.txt", "file2.txt"], "/usr/bin").unwrap();
    assert_eq!(
        paths(h.out()),
        [
            "/usr",
            "/usr/bin",
            "/usr/bin/file1.txt",
            "/usr/bin/file2.txt"
        ]
    );
    // And so is a trailing slash.
    let k = Fixture::new();
    file(k.ctx(), "file1.txt", "1", 0o644);
    file(k.ctx(), "file2.txt", "2", 0o644);
    k.copy(&["file1.txt", "file2.txt"], "/test/").unwrap();
    assert_eq!(
        paths(k.out()),
        ["/test", "/test/file1.txt", "/test/file2.txt"]
    );
}

#[test]
fn missing_source_is_an_error_naming_it() {
    let f = Fixture::new();
    file(f.ctx(), "a", "a", 0o644);
    let err = f.copy(&["a", "nope"], "/d/").unwrap_err();
    assert_eq!(
        err.to_string(),
        "source \"nope\" not found in the build context"
    );
    assert!(paths(f.out()).is_empty(), "nothing is written on error");
    let err = f.copy(&["nodir/file"], "/d/").unwrap_err();
    assert_eq!(
        err.to_string(),
        "source \"nodir/file\" not found in the build context"
    );
    // A path through a file is missing too.
    let err = f.copy(&["a/b"], "/d/").unwrap_err();
    assert!(matches!(err, CopyError::SourceNotFound { .. }), "{err}");
}

#[test]
fn excluded_source_is_an_error_that_says_so() {
    let f = Fixture::new();
    file(f.ctx(), "secret.env", "pw", 0o600);
    file(f.ctx(), "app/config", "c", 0o644);
    file(f.ctx(), "app/private/key", "k", 0o600);
    let ignore = crate::context::ignorefile::parse("secret.env\napp/private\n").unwrap();
    let image = RootfsDir::new(f.image());
    let root = SourceRoot {
        dir: f.ctx(),
        ignore: Some(&ignore),
        kind: SourceKind::Context,
    };
    let req = request(
        vec![CopySource::Path("secret.env".into())],
        root.clone(),
        "/",
        &image,
    );
    let err = copy(&req, f.out()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "source \"secret.env\" not found in the build context (it is excluded by .dockerignore)"
    );
    let req = request(
        vec![CopySource::Path("app/private/key".into())],
        root.clone(),
        "/",
        &image,
    );
    assert!(copy(&req, f.out())
        .unwrap_err()
        .to_string()
        .contains("excluded by .dockerignore"));
    // Copying the whole context simply leaves excluded files out.
    let req = request(
        vec![CopySource::Path(".".into())],
        root.clone(),
        "/ctx/",
        &image,
    );
    copy(&req, f.out()).unwrap();
    assert_eq!(paths(f.out()), ["/ctx", "/ctx/app", "/ctx/app/config"]);
    // Wildcards never see excluded files.
    let g = Fixture::new();
    file(g.ctx(), "secret.env", "pw", 0o600);
    file(g.ctx(), "public.env", "x", 0o600);
    let root = SourceRoot {
        dir: g.ctx(),
        ignore: Some(&ignore),
        kind: SourceKind::Context,
    };
    let req = request(vec![CopySource::Path("*.env".into())], root, "/e/", &image);
    copy(&req, g.out()).unwrap();
    assert_eq!(paths(g.out()), ["/e", "/e/public.env"]);
}

#[test]
fn dockerignore_exceptions_reach_into_excluded_directories() {
    let f = Fixture::new();
    file(f.ctx(), "docs/README.md", "r", 0o644);
    file(f.ctx(), "docs/other.md", "o", 0o644);
    file(f.ctx(), "src/a.rs", "a", 0o644);
    let ignore = crate::context::ignorefile::parse("docs\n!docs/README.md\n").unwrap();
    let image = EmptyDest;
    let root = SourceRoot {
        dir: f.ctx(),
        ignore: Some(&ignore),
        kind: SourceKind::Context,
    };
    let req = request(vec![CopySource::Path(".".into())], root, "/", &image);
    copy(&req, f.out()).unwrap();
    assert_eq!(
        paths(f.out()),
        ["/docs", "/docs/README.md", "/src", "/src/a.rs"]
    );
}

#[test]
fn sources_never_leave_the_root() {
    let f = Fixture::new();
    file(f.ctx(), "x", "inside", 0o644);
    // `../x` is cleaned to `x`, as BuildKit does.
    f.copy(&["../x"], "/y").unwrap();
    assert_eq!(f.layer()["/y"].rsplit(' ').next(), Some("inside"));
    f.copy(&["/../../x"], "/z").unwrap();
    assert!(f.layer().contains_key("/z"));
    f.assert_contained();
}

#[test]
fn modes_and_mtimes_are_preserved() {
    let f = Fixture::new();
    file(f.ctx(), "d/x.sh", "x", 0o751);
    dir(f.ctx(), "d/sub", 0o711);
    let when = nix::sys::time::TimeSpec::new(1_000_000_000, 123);
    for p in ["d/x.sh", "d/sub"] {
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &f.ctx().join(p),
            &when,
            &when,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
    }
    f.copy(&["d"], "/d").unwrap();
    let l = f.layer();
    assert!(l["/d/x.sh"].starts_with("f 751 "));
    assert!(l["/d/sub"].starts_with("d 711 "));
    for p in ["d/x.sh", "d/sub"] {
        let m = fs::symlink_metadata(f.out().join(p)).unwrap();
        assert_eq!((m.mtime(), m.mtime_nsec()), (1_000_000_000, 123), "{p}");
    }
}

#[test]
fn heredocs_are_written_as_files() {
    let f = Fixture::new();
    let image = EmptyDest;
    let root = SourceRoot {
        dir: f.ctx(),
        ignore: None,
        kind: SourceKind::Context,
    };
    let sources = vec![
        CopySource::Heredoc {
            name: "EOF".into(),
            content: "hello\n".into(),
        },
        CopySource::Heredoc {
            name: "run.sh".into(),
            content: "#!/bin/sh\n".into(),
        },
    ];
    let mut req = request(sources, root.clone(), "/etc/", &image);
    req.chmod = Some(Chmod::parse("u+x").unwrap());
    copy(&req, f.out()).unwrap();
    let l = f.layer();
    assert!(l["/etc/EOF"].starts_with("f 744 ") && l["/etc/EOF"].ends_with("hello\n"));
    assert!(l["/etc/run.sh"].starts_with("f 744 "));
    let g = Fixture::new();
    let sources = vec![CopySource::Heredoc {
        name: "EOF".into(),
        content: "x".into(),
    }];
    let req = request(sources, root, "/file.txt", &image);
    copy(&req, g.out()).unwrap();
    assert!(g.layer()["/file.txt"].starts_with("f 644 "));
}

#[test]
fn exclude_flag_filters_by_pattern() {
    let f = Fixture::new();
    file(f.ctx(), "home.txt", "t", 0o644);
    file(f.ctx(), "homepage.md", "m", 0o644);
    file(f.ctx(), "homedir/a.txt", "a", 0o644);
    file(f.ctx(), "homedir/b.go", "b", 0o644);
    file(f.ctx(), "homedir/deep/c.txt", "c", 0o644);
    f.copy_with(&["hom*"], "/mydir/", |r| {
        r.excludes = vec!["*.txt".into(), "*.md".into()]
    })
    .unwrap();
    assert_eq!(
        paths(f.out()),
        ["/mydir", "/mydir/b.go", "/mydir/deep", "/mydir/deep/c.txt"]
    );
    // `**` reaches any depth; `!` re-includes.
    let g = Fixture::new();
    file(g.ctx(), "src/a.txt", "a", 0o644);
    file(g.ctx(), "src/x/b.txt", "b", 0o644);
    file(g.ctx(), "src/x/keep.txt", "k", 0o644);
    file(g.ctx(), "src/x/c.rs", "c", 0o644);
    g.copy_with(&["src"], "/s", |r| {
        r.excludes = vec!["**/*.txt".into(), "!x/keep.txt".into()]
    })
    .unwrap();
    assert_eq!(paths(g.out()), ["/s", "/s/x", "/s/x/c.rs", "/s/x/keep.txt"]);
    // A directory pattern drops everything below it.
    let h = Fixture::new();
    file(h.ctx(), "bar/foo", "f", 0o644);
    file(h.ctx(), "bar/baz/foo3", "3", 0o644);
    file(h.ctx(), "foo2", "2", 0o644);
    h.copy_with(&["."], "/", |r| r.excludes = vec!["bar/baz".into()])
        .unwrap();
    assert_eq!(paths(h.out()), ["/bar", "/bar/foo", "/foo2"]);
    let err = h
        .copy_with(&["."], "/", |r| r.excludes = vec!["[".into()])
        .unwrap_err();
    assert!(
        err.to_string().starts_with("invalid --exclude pattern"),
        "{err}"
    );
}

#[test]
fn hard_links_inside_a_source_are_kept() {
    let f = Fixture::new();
    file(f.ctx(), "d/a", "same", 0o644);
    fs::hard_link(f.ctx().join("d/a"), f.ctx().join("d/b")).unwrap();
    let stats = f.copy(&["d"], "/d").unwrap();
    assert_eq!((stats.files, stats.hardlinks), (1, 1));
    let a = fs::metadata(f.out().join("d/a")).unwrap();
    let b = fs::metadata(f.out().join("d/b")).unwrap();
    assert_eq!(a.ino(), b.ino());
}

#[test]
fn a_later_source_replaces_files_the_pool_wrote_into_a_new_directory() {
    // The first source's files are written in the background into /dst, which the copy
    // creates; the second source must see them and replace them.
    let f = Fixture::new();
    for i in 0..300 {
        file(f.ctx(), &format!("a/f{i:03}"), "first", 0o644);
    }
    file(f.ctx(), "b/f150", "second", 0o600);
    file(f.ctx(), "b/new", "new", 0o644);
    let stats = f.copy(&["a", "b"], "/dst/").unwrap();
    assert_eq!(stats.files, 302);
    assert_eq!(stats.bytes, 300 * 5 + 6 + 3);
    assert_eq!(
        fs::read_to_string(f.out().join("dst/f150")).unwrap(),
        "second"
    );
    assert_eq!(
        fs::read_to_string(f.out().join("dst/f151")).unwrap(),
        "first"
    );
    assert!(f.layer()["/dst/f150"].starts_with("f 600 "));
    assert_eq!(paths(f.out()).len(), 1 + 301);
}
