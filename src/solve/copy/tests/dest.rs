//! The destination image below the layer: existing directories, symlinks in the
//! destination path, files in the way, `--link`.

use super::*;

#[test]
fn destination_symlinks_are_followed_inside_the_image() {
    let f = Fixture::new();
    file(f.ctx(), "tool", "t", 0o755);
    dir(f.image(), "usr/local/real-bin", 0o755);
    symlink(f.image(), "usr/local/bin", "real-bin");
    symlink(f.image(), "opt", "/usr/local");
    f.copy(&["tool"], "/opt/bin/").unwrap();
    assert_eq!(
        paths(f.out()),
        [
            "/usr",
            "/usr/local",
            "/usr/local/real-bin",
            "/usr/local/real-bin/tool"
        ]
    );
    f.assert_contained();
}

#[test]
fn destination_symlink_out_of_the_image_stays_inside() {
    let f = Fixture::new();
    file(f.ctx(), "x", "x", 0o644);
    // An absolute link (and a ../ link) in the image are read inside the image root.
    symlink(f.image(), "escape", "/../../../../tmp");
    symlink(f.image(), "rel", "../../../..");
    f.copy(&["x"], "/escape/").unwrap();
    f.copy(&["x"], "/rel/y").unwrap();
    assert_eq!(paths(f.out()), ["/tmp", "/tmp/x", "/y"]);
}

#[test]
fn existing_image_directories_keep_their_metadata() {
    if !is_root() {
        eprintln!("skipping: owners can only be checked as root");
        return;
    }
    let f = Fixture::new();
    file(f.ctx(), "x", "x", 0o644);
    dir(f.image(), "srv/data", 0o1777);
    std::os::unix::fs::chown(f.image().join("srv"), Some(7), Some(8)).unwrap();
    fs::set_permissions(f.image().join("srv"), fs::Permissions::from_mode(0o710)).unwrap();
    let when = nix::sys::time::TimeSpec::new(500_000_000, 0);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        &f.image().join("srv"),
        &when,
        &when,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
    f.copy(&["x"], "/srv/data/").unwrap();
    let l = f.layer();
    assert_eq!(l["/srv"], "d 710 7:8");
    assert_eq!(l["/srv/data"], "d 1777 0:0");
    assert_eq!(
        fs::metadata(f.out().join("srv")).unwrap().mtime(),
        500_000_000
    );
}

#[test]
fn directory_onto_a_file_is_an_error() {
    let f = Fixture::new();
    file(f.ctx(), "d/x", "x", 0o644);
    file(f.image(), "target", "file", 0o644);
    let err = f.copy(&["d"], "/target").unwrap_err();
    assert_eq!(err.to_string(), "cannot copy to non-directory: /target");
    // A parent that is a file.
    file(f.ctx(), "y", "y", 0o644);
    let err = f.copy(&["y"], "/target/y").unwrap_err();
    assert_eq!(err.to_string(), "cannot copy to non-directory: /target");
}

#[test]
fn directory_onto_an_image_symlink_is_an_error() {
    // BuildKit refuses to merge a directory into a symlink (the usr-merge case).
    let f = Fixture::new();
    file(f.ctx(), "rootfs/lib/x.so", "x", 0o644);
    dir(f.image(), "usr/lib", 0o755);
    symlink(f.image(), "lib", "usr/lib");
    let err = f.copy(&["rootfs"], "/").unwrap_err();
    assert_eq!(err.to_string(), "cannot copy to non-directory: /lib");
}

#[test]
fn file_over_file_and_over_directory() {
    let f = Fixture::new();
    file(f.ctx(), "conf", "new", 0o600);
    file(f.image(), "etc/app.conf", "old", 0o644);
    f.copy(&["conf"], "/etc/app.conf").unwrap();
    assert!(f.layer()["/etc/app.conf"].ends_with(" new"));
    // Copying twice into the same layer replaces the file.
    file(f.ctx(), "conf2", "newer", 0o600);
    f.copy(&["conf2"], "/etc/app.conf").unwrap();
    assert!(f.layer()["/etc/app.conf"].ends_with(" newer"));
    // A file source onto a directory named like it lands inside, per the rules.
    dir(f.image(), "srv/conf", 0o755);
    f.copy(&["conf"], "/srv/conf").unwrap();
    assert!(f.layer().contains_key("/srv/conf/conf"));
}

#[test]
fn link_copies_onto_an_empty_destination() {
    let f = Fixture::new();
    file(f.ctx(), "tool", "t", 0o755);
    dir(f.image(), "usr/local/real-bin", 0o700);
    symlink(f.image(), "usr/local/bin", "real-bin");
    let image = EmptyDest;
    let root = SourceRoot {
        dir: f.ctx(),
        ignore: None,
        kind: SourceKind::Context,
    };
    let mut req = request(
        vec![CopySource::Path("tool".into())],
        root,
        "/usr/local/bin/",
        &image,
    );
    req.link = true;
    copy(&req, f.out()).unwrap();
    // With --link the destination path contains only directories, made fresh.
    assert_eq!(
        paths(f.out()),
        [
            "/usr",
            "/usr/local",
            "/usr/local/bin",
            "/usr/local/bin/tool"
        ]
    );
    assert!(f.layer()["/usr/local/bin"].starts_with("d 755"));
}

#[test]
fn missing_layer_directory_is_an_error() {
    let f = Fixture::new();
    file(f.ctx(), "x", "x", 0o644);
    let image = EmptyDest;
    let root = SourceRoot {
        dir: f.ctx(),
        ignore: None,
        kind: SourceKind::Context,
    };
    let req = request(vec![CopySource::Path("x".into())], root, "/x", &image);
    let err = copy(&req, &f.out().join("missing")).unwrap_err();
    assert!(err.to_string().starts_with("open layer directory"), "{err}");
}
