//! COPY from a snapshot chain read in place (`COPY --from=stage`): the merged view is what
//! is copied, and unchanged files are links to the snapshot's own inodes, never a hard
//! link the source did not have.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::*;

/// Copies `sources` from the chain `lowers` (top first) to `dest` in an empty image.
fn copy_layers(
    lowers: &[PathBuf],
    out: &Path,
    sources: &[&str],
    dest: &str,
    tweak: impl FnOnce(&mut CopyRequest<'_>),
) -> CopyStats {
    let image = EmptyDest;
    let root = SourceRoot {
        dir: &lowers[0],
        ignore: None,
        kind: SourceKind::Stage("build".into()),
    };
    let sources = sources
        .iter()
        .map(|s| CopySource::Path(s.to_string()))
        .collect();
    let mut req = request(sources, root, dest, &image);
    req.src_layers = Some(lowers);
    tweak(&mut req);
    copy(&req, out).unwrap()
}

fn ino(path: &Path) -> u64 {
    fs::symlink_metadata(path).unwrap().ino()
}

#[test]
fn merged_view_is_copied_and_unchanged_files_are_linked() {
    let t = tempfile::tempdir().unwrap();
    let (low, up, out) = (
        t.path().join("low"),
        t.path().join("up"),
        t.path().join("out"),
    );
    file(&low, "out/a", "low a", 0o644);
    file(&low, "out/b", "low b", 0o600);
    file(&low, "out/sub/c", "c", 0o755);
    file(&up, "out/a", "up a", 0o644);
    file(&up, "out/d", "d", 0o644);
    symlink(&up, "out/l", "a");
    dir(&low, "other", 0o755);
    fs::create_dir_all(&out).unwrap();
    let lowers = vec![up.clone(), low.clone()];
    let stats = copy_layers(&lowers, &out, &["/out"], "/app", |_| {});
    let l = summary(&out);
    assert!(l["/app/a"].ends_with(" up a"), "{l:?}");
    assert!(l["/app/b"].starts_with("f 600 ") && l["/app/b"].ends_with(" low b"));
    assert!(l["/app/sub/c"].starts_with("f 755 "));
    assert_eq!(l["/app/l"], "l -> a");
    assert_eq!(paths(&out).len(), 7, "{l:?}");
    assert_eq!(stats.files, 4);
    if is_root() {
        // Owner, mode and times are the source's: the same inode.
        assert_eq!(ino(&out.join("app/a")), ino(&up.join("out/a")));
        assert_eq!(ino(&out.join("app/b")), ino(&low.join("out/b")));
        assert_eq!(stats.linked, 4);
    } else {
        assert_eq!(
            stats.linked, 0,
            "owners are not applied, so nothing is linked"
        );
    }
}

#[test]
fn changed_metadata_is_copied_not_linked() {
    let t = tempfile::tempdir().unwrap();
    let (low, out) = (t.path().join("low"), t.path().join("out"));
    file(&low, "f", "x", 0o644);
    fs::create_dir_all(&out).unwrap();
    let lowers = vec![low.clone()];
    let stats = copy_layers(&lowers, &out, &["/f"], "/f", |r| {
        r.chmod = Some(Chmod::parse("755").unwrap());
    });
    assert_eq!(stats.linked, 0);
    assert_ne!(ino(&out.join("f")), ino(&low.join("f")));
    assert_eq!(fs::metadata(low.join("f")).unwrap().mode() & 0o7777, 0o644);
    assert_eq!(fs::metadata(out.join("f")).unwrap().mode() & 0o7777, 0o755);
}

#[test]
fn an_inode_shared_by_two_layers_gives_two_files() {
    if !is_root() {
        eprintln!("skipping: links are only made when owners are applied (root)");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (low, up, out) = (
        t.path().join("low"),
        t.path().join("up"),
        t.path().join("out"),
    );
    file(&low, "d/a", "same", 0o644);
    dir(&up, "d", 0o755);
    // An earlier copy linked the lower file into the upper layer: two files of the image.
    fs::hard_link(low.join("d/a"), up.join("d/b")).unwrap();
    // A real hard link inside one layer stays one.
    file(&up, "d/h1", "h", 0o644);
    fs::hard_link(up.join("d/h1"), up.join("d/h2")).unwrap();
    fs::create_dir_all(&out).unwrap();
    let lowers = vec![up.clone(), low.clone()];
    let stats = copy_layers(&lowers, &out, &["/d"], "/x", |_| {});
    assert_ne!(ino(&out.join("x/a")), ino(&out.join("x/b")));
    assert_eq!(ino(&out.join("x/h1")), ino(&out.join("x/h2")));
    assert_eq!(stats.hardlinks, 1);
    assert_eq!(fs::read_to_string(out.join("x/b")).unwrap(), "same");
}

#[test]
fn whiteouts_in_the_chain_are_not_copied() {
    let t = tempfile::tempdir().unwrap();
    let (low, up, out) = (
        t.path().join("low"),
        t.path().join("up"),
        t.path().join("out"),
    );
    file(&low, "d/gone", "x", 0o644);
    file(&low, "d/kept", "x", 0o644);
    dir(&up, "d", 0o755);
    let made = nix::sys::stat::mknod(
        &up.join("d/gone"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        0,
    );
    if made.is_err() {
        eprintln!("skipping: mknod is not permitted");
        return;
    }
    fs::create_dir_all(&out).unwrap();
    let lowers = vec![up, low];
    copy_layers(&lowers, &out, &["/d/"], "/x/", |_| {});
    assert_eq!(paths(&out), ["/x", "/x/kept"]);
    let image = EmptyDest;
    let root = SourceRoot {
        dir: &lowers[0],
        ignore: None,
        kind: SourceKind::Stage("build".into()),
    };
    let mut req = request(vec![CopySource::Path("/d/gone".into())], root, "/y", &image);
    req.src_layers = Some(&lowers);
    let out2 = t.path().join("out2");
    fs::create_dir_all(&out2).unwrap();
    let err = copy(&req, &out2).unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
}
