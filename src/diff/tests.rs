//! Layer writer tests: golden summaries, determinism, overlay semantics, and a round trip
//! through `snapshot::unpack`.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, Timespec, Timestamps, XattrFlags, CWD};

use super::*;
use crate::snapshot::{self, UnpackOptions};

pub(crate) fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

pub(crate) fn set_mtime(path: &Path, secs: i64) {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let times = Timestamps {
        last_access: t,
        last_modification: t,
    };
    rustix::fs::utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW).unwrap();
}

pub(crate) fn setx(path: &Path, key: &str, value: &[u8]) {
    rustix::fs::lsetxattr(path, key, value, XattrFlags::empty()).unwrap();
}

pub(crate) fn whiteout(path: &Path) {
    rustix::fs::mknodat(CWD, path, FileType::CharacterDevice, Mode::empty(), 0).unwrap();
}

fn write(path: &Path, data: &[u8], mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Every mtime under `root` (not `root` itself) set to `secs`, deepest first.
pub(crate) fn settle(root: &Path, secs: i64) {
    let mut all = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p.clone());
            }
            all.push(p);
        }
    }
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in all {
        set_mtime(&p, secs);
    }
}

/// A tree with every kind of file a COPY can produce (devices only as root).
pub(crate) fn every_kind(root: &Path) {
    write(&root.join("bin/tool"), b"#!/bin/sh\necho hi\n", 0o4755);
    symlink("tool", root.join("bin/tool-link")).unwrap();
    write(&root.join("etc/app.conf"), b"key=value\n", 0o644);
    setx(&root.join("etc/app.conf"), "user.comment", b"hello");
    fs::hard_link(root.join("etc/app.conf"), root.join("etc/hard")).unwrap();
    write(&root.join("empty"), b"", 0o600);
    fs::create_dir_all(root.join("run")).unwrap();
    rustix::fs::mknodat(
        CWD,
        root.join("run/fifo"),
        FileType::Fifo,
        Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    fs::set_permissions(root.join("run/fifo"), fs::Permissions::from_mode(0o644)).unwrap();
    let split = format!("deep/{}/{}", "d".repeat(120), "f".repeat(90));
    write(&root.join(split), b"split ustar name\n", 0o644);
    let pax = format!("deep/{}/f", "p".repeat(160));
    write(&root.join(pax), b"pax name\n", 0o644);
    write(&root.join("unicode/h\u{e9}llo.txt"), b"bonjour\n", 0o644);
    symlink(
        format!("../{}", "t".repeat(150)),
        root.join("unicode/long-link"),
    )
    .unwrap();
    fs::create_dir_all(root.join("sticky")).unwrap();
    fs::set_permissions(root.join("sticky"), fs::Permissions::from_mode(0o1777)).unwrap();
    for d in ["bin", "etc", "run", "deep", "unicode"] {
        fs::set_permissions(root.join(d), fs::Permissions::from_mode(0o755)).unwrap();
    }
    settle(root, 1_600_000_000);
}

pub(crate) fn layer(root: &Path, opts: &LayerOptions<'_>) -> (LayerInfo, Vec<u8>) {
    let mut blob = Vec::new();
    let info = write_layer(root, opts, &mut blob).unwrap();
    (info, blob)
}

fn plain() -> LayerOptions<'static> {
    LayerOptions {
        compression: Compression::Uncompressed,
        ..LayerOptions::default()
    }
}

/// The summary with our own ids shown as `0:0`, so goldens hold for any user.
fn summary(blob: &[u8]) -> String {
    let ids = format!(
        " {}:{}",
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw()
    );
    summarize(blob).unwrap().replace(&ids, " 0:0")
}

pub(crate) fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/layers")
        .join(name);
    if std::env::var_os("BUILDER_BLESS").is_some() {
        fs::write(&path, actual).unwrap();
    }
    let expected = fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden {}; run with BUILDER_BLESS=1",
            path.display()
        )
    });
    assert_eq!(
        actual, expected,
        "golden {name} differs (BUILDER_BLESS=1 rewrites it)"
    );
}

#[test]
fn every_kind_golden() {
    let t = tempfile::tempdir().unwrap();
    every_kind(t.path());
    let (info, blob) = layer(t.path(), &plain());
    golden("every-kind.txt", &summary(&blob));
    assert_eq!(info.digest, info.diff_id);
    assert_eq!(info.size, blob.len() as u64);
    assert_eq!(info.uncompressed_size, blob.len() as u64);
    assert_eq!(info.media_type, "application/vnd.oci.image.layer.v1.tar");
    assert_eq!(info.size % 512, 0);
}

#[test]
fn digests_are_deterministic_and_consistent() {
    let t = tempfile::tempdir().unwrap();
    every_kind(t.path());
    let (plain_info, plain_blob) = layer(t.path(), &plain());
    for compression in [Compression::Gzip, Compression::Zstd] {
        let opts = LayerOptions {
            compression,
            ..LayerOptions::default()
        };
        let (a, blob_a) = layer(t.path(), &opts);
        let (b, blob_b) = layer(t.path(), &opts);
        assert_eq!(a, b, "{compression:?} twice");
        assert_eq!(blob_a, blob_b);
        assert_eq!(a.diff_id, plain_info.diff_id);
        assert_ne!(a.digest, a.diff_id);
        assert_eq!(a.digest, crate::store::digest::sha256(&blob_a));
        assert_eq!(a.size, blob_a.len() as u64);
        assert_eq!(a.media_type, compression.media_type());
        let mut unpacked = Vec::new();
        std::io::Read::read_to_end(
            &mut snapshot::decompress(&blob_a[..]).unwrap(),
            &mut unpacked,
        )
        .unwrap();
        assert_eq!(unpacked, plain_blob);
    }
    assert_eq!(
        plain_info.diff_id,
        crate::store::digest::sha256(&plain_blob)
    );
}

#[test]
fn mtimes_are_clamped_to_source_date_epoch() {
    let t = tempfile::tempdir().unwrap();
    write(&t.path().join("new"), b"n", 0o644);
    write(&t.path().join("old"), b"o", 0o644);
    set_mtime(&t.path().join("new"), 2_000_000_000);
    set_mtime(&t.path().join("old"), 1_000);
    let opts = LayerOptions {
        source_date_epoch: Some(1_500_000_000),
        ..plain()
    };
    let (_, blob) = layer(t.path(), &opts);
    let mut ar = tar::Archive::new(&blob[..]);
    let times: Vec<(String, u64)> = ar
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().display().to_string(),
                e.header().mtime().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        times,
        vec![("new".into(), 1_500_000_000), ("old".into(), 1_000)]
    );
    // A clamp changes the digest; the same clamp does not.
    let (a, _) = layer(t.path(), &opts);
    let (b, _) = layer(t.path(), &plain());
    assert_ne!(a.diff_id, b.diff_id);
    assert_eq!(a, layer(t.path(), &opts).0);
}

/// An overlay upper directory after a RUN: deletions, an opaque directory, a stub.
fn upper_dir(root: &Path) {
    write(&root.join("etc/resolv.conf"), b"", 0o644); // the sandbox's stub
    write(&root.join("etc/hosts"), b"127.0.0.1 app\n", 0o644); // written by the step
    fs::create_dir_all(root.join("tmp")).unwrap();
    whiteout(&root.join("tmp/old"));
    whiteout(&root.join("tmp/never-existed"));
    write(&root.join("var/cache/new.txt"), b"fresh\n", 0o644);
    setx(&root.join("var/cache"), "user.overlay.opaque", b"y");
    write(&root.join("var/brand-new/file"), b"x\n", 0o644);
    setx(&root.join("var/brand-new"), "user.overlay.opaque", b"y");
    write(&root.join("usr/bin/app"), b"app\n", 0o755);
    setx(
        &root.join("usr/bin/app"),
        "user.overlay.origin",
        b"\x00\xfb",
    );
    setx(&root.join("usr/bin/app"), "user.keep", b"1");
    fs::create_dir_all(root.join("mnt/cache")).unwrap(); // a bind/cache mount target
    settle(root, 1_600_000_000);
}

fn below(path: &Path) -> bool {
    !matches!(
        path.to_str(),
        Some("/tmp/never-existed") | Some("/var/brand-new") | Some("/var/brand-new/file")
    )
}

fn stub(path: &Path, meta: &fs::Metadata) -> bool {
    match path.to_str() {
        Some("/etc/resolv.conf") | Some("/etc/hosts") => meta.is_file() && meta.len() == 0,
        Some("/mnt/cache") => meta.is_dir(),
        _ => false,
    }
}

#[test]
fn overlay_upper_golden() {
    let t = tempfile::tempdir().unwrap();
    upper_dir(t.path());
    let opts = LayerOptions {
        exists_below: Some(&below),
        exclude: Some(&stub),
        ..plain()
    };
    let (_, blob) = layer(t.path(), &opts);
    golden("overlay-upper.txt", &summary(&blob));
}

#[test]
fn without_callbacks_every_whiteout_and_stub_is_kept() {
    let t = tempfile::tempdir().unwrap();
    upper_dir(t.path());
    let (_, blob) = layer(t.path(), &plain());
    let s = summary(&blob);
    assert!(s.contains("W /tmp/never-existed\n"), "{s}");
    assert!(s.contains("O /var/brand-new\n"), "{s}");
    assert!(s.contains("A f /etc/resolv.conf"), "{s}");
}

#[test]
fn shared_whiteout_inodes_stay_whiteouts() {
    // overlayfs links whiteouts to one shared inode (Linux 5.8+): never a hard link entry.
    let t = tempfile::tempdir().unwrap();
    whiteout(&t.path().join("a"));
    fs::hard_link(t.path().join("a"), t.path().join("b")).unwrap();
    assert_eq!(fs::symlink_metadata(t.path().join("b")).unwrap().nlink(), 2);
    let (_, blob) = layer(t.path(), &plain());
    assert_eq!(summary(&blob), "W /a\nW /b\n");
}

#[test]
fn redirect_and_metacopy_are_refused() {
    for (key, is_dir) in [
        ("user.overlay.redirect", true),
        ("trusted.overlay.metacopy", false),
    ] {
        if key.starts_with("trusted.") && !is_root() {
            continue;
        }
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x");
        if is_dir {
            fs::create_dir(&p).unwrap();
        } else {
            fs::write(&p, b"").unwrap();
        }
        setx(&p, key, b"y");
        let err = write_layer(t.path(), &plain(), Vec::new()).unwrap_err();
        assert!(matches!(err, DiffError::Overlay { .. }), "{err}");
        assert!(err.to_string().contains("not supported"), "{err}");
    }
}

#[test]
fn round_trip_through_unpack_is_identical() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    every_kind(&src);
    if is_root() {
        rustix::fs::mknodat(
            CWD,
            src.join("run/null"),
            FileType::CharacterDevice,
            Mode::from_raw_mode(0o666),
            rustix::fs::makedev(1, 3),
        )
        .unwrap();
        rustix::fs::mknodat(
            CWD,
            src.join("run/loop9"),
            FileType::BlockDevice,
            Mode::from_raw_mode(0o660),
            rustix::fs::makedev(7, 9),
        )
        .unwrap();
        std::os::unix::fs::lchown(src.join("etc/app.conf"), Some(1000), Some(1001)).unwrap();
        std::os::unix::fs::lchown(src.join("bin/tool-link"), Some(7), Some(8)).unwrap();
        std::os::unix::fs::lchown(src.join("sticky"), Some(3_000_000), Some(4)).unwrap();
        setx(&src.join("bin/tool"), "trusted.note", b"root only");
        settle(&src, 1_600_000_000);
    }
    for compression in [
        Compression::Gzip,
        Compression::Zstd,
        Compression::Uncompressed,
    ] {
        let opts = LayerOptions {
            compression,
            ..LayerOptions::default()
        };
        let (info, blob) = layer(&src, &opts);
        let dest = t.path().join(format!("dest-{compression:?}"));
        fs::create_dir(&dest).unwrap();
        let stats = snapshot::unpack(&blob[..], &dest, &UnpackOptions::default()).unwrap();
        assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
        assert_eq!(stats.entries, info.entries);
        let (again, _) = layer(&dest, &opts);
        assert_eq!(
            again.diff_id, info.diff_id,
            "{compression:?}: tree differs after round trip"
        );
        assert_eq!(again.digest, info.digest);
        let conf = fs::metadata(dest.join("etc/hard")).unwrap();
        assert_eq!(
            conf.ino(),
            fs::metadata(dest.join("etc/app.conf")).unwrap().ino()
        );
        assert_eq!(
            fs::metadata(dest.join("bin/tool")).unwrap().mode() & 0o7777,
            0o4755
        );
        assert_eq!(
            fs::read_link(dest.join("bin/tool-link")).unwrap(),
            Path::new("tool")
        );
        if is_root() {
            let m = fs::symlink_metadata(dest.join("etc/app.conf")).unwrap();
            assert_eq!((m.uid(), m.gid()), (1000, 1001));
            let m = fs::symlink_metadata(dest.join("sticky")).unwrap();
            assert_eq!((m.uid(), m.mode() & 0o7777), (3_000_000, 0o1777));
            let m = fs::symlink_metadata(dest.join("run/null")).unwrap();
            assert_eq!(m.rdev(), rustix::fs::makedev(1, 3));
        }
    }
}

#[test]
fn whiteouts_and_opaques_round_trip_in_overlay_form() {
    let t = tempfile::tempdir().unwrap();
    let upper = t.path().join("upper");
    upper_dir(&upper);
    let opts = LayerOptions {
        exists_below: Some(&below),
        exclude: Some(&stub),
        ..plain()
    };
    let (info, blob) = layer(&upper, &opts);
    let dest = t.path().join("lower");
    fs::create_dir(&dest).unwrap();
    let stats = snapshot::unpack(&blob[..], &dest, &UnpackOptions::default()).unwrap();
    assert_eq!((stats.whiteouts, stats.opaques), (1, 1));
    let wh = fs::symlink_metadata(dest.join("tmp/old")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &wh.file_type()
    ));
    assert_eq!(wh.rdev(), 0);
    let mut buf = [0u8; 8];
    let n =
        rustix::fs::lgetxattr(dest.join("var/cache"), "user.overlay.opaque", &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], b"y");
    // Writing the lower directory again gives the same layer (with the same callbacks).
    let (again, _) = layer(&dest, &opts);
    assert_eq!(again.diff_id, info.diff_id);
}
