//! The rootfs outputs on a small tree: order, kinds, modes, links, long names, clamped times.

use std::io::Read;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::time::{Duration, UNIX_EPOCH};

use super::*;

fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    fs::create_dir_all(r.join("bin")).unwrap();
    fs::create_dir_all(r.join("etc")).unwrap();
    fs::write(r.join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\n").unwrap();
    fs::write(r.join("bin/tool"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(r.join("bin/tool"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::hard_link(r.join("bin/tool"), r.join("bin/tool2")).unwrap();
    symlink("tool", r.join("bin/sh")).unwrap();
    symlink("/etc/../../outside", r.join("escape")).unwrap();
    let long = "d".repeat(120);
    fs::create_dir(r.join(&long)).unwrap();
    fs::write(r.join(&long).join("f".repeat(80)), b"long").unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(r.join("pipe"))
        .status()
        .is_ok_and(|s| s.success());
    assert!(fifo || !r.join("pipe").exists());
    let old = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    File::open(r.join("etc/passwd"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    dir
}

fn list(bytes: &[u8]) -> Vec<(String, EntryType, u32, u64, String)> {
    let mut ar = tar::Archive::new(bytes);
    ar.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                h.entry_type(),
                h.mode().unwrap(),
                h.mtime().unwrap(),
                e.link_name()
                    .unwrap()
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn tar_is_sorted_depth_first_with_links_and_long_names() {
    let root = tree();
    let mut out = Vec::new();
    write_rootfs_tar_to(root.path(), &RootfsOptions::default(), &mut out).unwrap();
    let entries = list(&out);
    let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    let long = "d".repeat(120);
    let long_file = format!("{long}/{}", "f".repeat(80));
    let mut expected = vec![
        "bin/",
        "bin/sh",
        "bin/tool",
        "bin/tool2",
        long.as_str(),
        long_file.as_str(),
        "escape",
        "etc/",
        "etc/passwd",
    ];
    let long_dir = format!("{long}/");
    expected[4] = long_dir.as_str();
    if root.path().join("pipe").exists() {
        expected.push("pipe");
    }
    assert_eq!(names, expected);
    let find = |n: &str| entries.iter().find(|e| e.0 == n).unwrap().clone();
    assert_eq!(find("bin/sh").1, EntryType::Symlink);
    assert_eq!(find("bin/sh").4, "tool");
    assert_eq!(find("escape").4, "/etc/../../outside");
    assert_eq!(find("bin/tool").1, EntryType::Regular);
    assert_eq!(find("bin/tool").2, 0o4755);
    assert_eq!(find("bin/tool2").1, EntryType::Link);
    assert_eq!(find("bin/tool2").4, "bin/tool");
    assert_eq!(find("etc/passwd").3, 1_000_000_000);
    if root.path().join("pipe").exists() {
        assert_eq!(find("pipe").1, EntryType::Fifo);
    }
    // The same tree gives the same bytes.
    let mut again = Vec::new();
    write_rootfs_tar_to(root.path(), &RootfsOptions::default(), &mut again).unwrap();
    assert_eq!(out, again);
}

#[test]
fn rewrite_timestamp_clamps_mtimes() {
    let root = tree();
    let mut out = Vec::new();
    let opts = RootfsOptions {
        clamp_mtime: Some(1_200_000_000),
    };
    write_rootfs_tar_to(root.path(), &opts, &mut out).unwrap();
    for e in list(&out) {
        assert!(e.3 <= 1_200_000_000, "{e:?}");
    }
    assert_eq!(
        list(&out).iter().find(|e| e.0 == "etc/passwd").unwrap().3,
        1_000_000_000
    );
}

#[test]
fn tar_output_is_atomic() {
    let root = tree();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("rootfs.tar");
    write_rootfs_tar(
        root.path(),
        &Destination::Path(dest.clone()),
        &RootfsOptions::default(),
    )
    .unwrap();
    let mut bytes = Vec::new();
    File::open(&dest).unwrap().read_to_end(&mut bytes).unwrap();
    assert!(list(&bytes).iter().any(|e| e.0 == "etc/passwd"));
    let missing = dir.path().join("nope");
    let other = dir.path().join("other.tar");
    assert!(write_rootfs_tar(
        &missing,
        &Destination::Path(other.clone()),
        &RootfsOptions::default()
    )
    .is_err());
    assert!(!other.exists());
}

#[test]
fn local_copies_content_modes_links_and_times() {
    let root = tree();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    write_local(root.path(), &dest, &RootfsOptions::default()).unwrap();
    assert_eq!(
        fs::read(dest.join("etc/passwd")).unwrap(),
        b"root:x:0:0::/root:/bin/sh\n"
    );
    let tool = fs::metadata(dest.join("bin/tool")).unwrap();
    assert_eq!(tool.mode() & 0o7777, 0o4755);
    let tool2 = fs::metadata(dest.join("bin/tool2")).unwrap();
    assert_eq!((tool.ino(), tool.nlink()), (tool2.ino(), 2));
    assert_eq!(
        fs::read_link(dest.join("bin/sh")).unwrap(),
        Path::new("tool")
    );
    assert_eq!(
        fs::read_link(dest.join("escape")).unwrap(),
        Path::new("/etc/../../outside")
    );
    assert_eq!(
        fs::metadata(dest.join("etc/passwd")).unwrap().mtime(),
        1_000_000_000
    );
    assert!(!dest.join("pipe").exists());
    let listed: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(listed.len(), 1, "no temp directory left behind");
}

#[test]
fn platforms_each_get_a_directory_in_the_tar_and_the_copy() {
    let (amd, arm) = (tree(), tree());
    fs::write(amd.path().join("arch"), b"amd64").unwrap();
    fs::write(arm.path().join("arch"), b"arm64").unwrap();
    let trees = vec![
        ("linux_amd64".to_string(), amd.path().to_path_buf()),
        ("linux_arm64".to_string(), arm.path().to_path_buf()),
    ];
    let out = tempfile::tempdir().unwrap();
    let tar_path = out.path().join("rootfs.tar");
    let opts = RootfsOptions::default();
    write_platforms_tar(&trees, &Destination::Path(tar_path.clone()), &opts).unwrap();
    let entries = list(&fs::read(&tar_path).unwrap());
    let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names.first(), Some(&"linux_amd64/"));
    assert!(names.contains(&"linux_amd64/arch"), "{names:?}");
    assert!(names.contains(&"linux_arm64/bin/tool2"), "{names:?}");
    // A hard link points within its own platform's tree.
    let link = entries
        .iter()
        .find(|e| e.0 == "linux_arm64/bin/tool2")
        .unwrap();
    assert_eq!(link.1, EntryType::Link);
    assert_eq!(link.4, "linux_arm64/bin/tool");
    let dest = out.path().join("local");
    write_local_platforms(&trees, &dest, &opts).unwrap();
    assert_eq!(fs::read(dest.join("linux_arm64/arch")).unwrap(), b"arm64");
    assert_eq!(fs::read(dest.join("linux_amd64/arch")).unwrap(), b"amd64");
}
