//! Sparse files stay sparse: a GNU sparse entry (made by `tar --sparse`) in a base layer is
//! unpacked into its snapshot with its holes, and a `type=local` output of the image holds
//! it (and a COPY of another sparse file, and the same tar extracted by ADD) with holes
//! too, the content unchanged.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build_support::Work;
use crate::common::{have, run, store_tar_image, text};
use crate::run_support::{runners, Runner};

const MIB: u64 = 1 << 20;
const BIG: u64 = 64 * MIB;
const SMALL: u64 = 8 * MIB;
const DATA: &[u8] = b"hello sparse";

/// A tar made by GNU tar with `--sparse` of `names` among `big` (64 MiB, `DATA` at
/// 32 MiB) and `small` (8 MiB, `DATA` at 0 and at 4 MiB), both holes elsewhere.
fn gnu_sparse_tar(dir: &Path, names: &[&str]) -> Vec<u8> {
    let src = dir.join("sparse-src");
    std::fs::create_dir(&src).unwrap();
    for (name, size, at) in [
        ("big", BIG, vec![32 * MIB]),
        ("small", SMALL, vec![0, 4 * MIB]),
    ] {
        let f = File::create(src.join(name)).unwrap();
        f.set_len(size).unwrap();
        for off in at {
            f.write_all_at(DATA, off).unwrap();
        }
    }
    let tar = dir.join("sparse.tar");
    run(Command::new("tar")
        .args([
            "--sparse",
            "--format=gnu",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
        ])
        .arg("-C")
        .arg(&src)
        .arg("-cf")
        .arg(&tar)
        .args(names));
    std::fs::remove_dir_all(&src).unwrap();
    let bytes = std::fs::read(&tar).unwrap();
    std::fs::remove_file(&tar).unwrap();
    assert!(
        bytes.len() < 64 * 1024,
        "tar --sparse made {} bytes",
        bytes.len()
    );
    bytes
}

/// A workspace whose store holds the image `sparse`, with a Dockerfile on top of it.
fn workspace() -> Work {
    let w = Work::new();
    // ADD extracts this one in a step, whose layer holds it as a plain entry: the small
    // file only, to keep that layer small.
    let added = gnu_sparse_tar(&w.path("out"), &["small"]);
    std::fs::write(w.path("ctx/sparse.tar"), added).unwrap();
    let tar = gnu_sparse_tar(&w.path("out"), &["big", "small"]);
    store_tar_image(&w.root(), &tar, &["sparse"]);
    w.dockerfile("FROM sparse\nCOPY --from=sparse /small /copied\nADD sparse.tar /added/\n");
    w
}

/// `path` has `size` bytes, `DATA` at each of `at`, zeros between, and takes at most
/// 1 MiB on disk.
fn assert_sparse(path: &Path, size: u64, at: &[u64]) {
    let meta = std::fs::metadata(path).unwrap();
    assert_eq!(meta.len(), size, "{}", path.display());
    assert!(
        meta.blocks() * 512 <= MIB,
        "{} takes {} bytes on disk",
        path.display(),
        meta.blocks() * 512
    );
    let f = File::open(path).unwrap();
    let mut buf = [0u8; DATA.len()];
    for &off in at {
        f.read_exact_at(&mut buf, off).unwrap();
        assert_eq!(&buf, DATA, "{} at {off}", path.display());
    }
    let mut zeros = vec![1u8; 4096];
    f.read_exact_at(&mut zeros, 4096).unwrap();
    assert!(zeros.iter().all(|&b| b == 0), "{}", path.display());
}

/// The base layer's file in the snapshot store.
fn snapshot_file(root: &Path, name: &str) -> PathBuf {
    let snaps = root.join("snapshotter/snapshots");
    let found = std::fs::read_dir(&snaps)
        .unwrap()
        .map(|e| e.unwrap().path().join("fs").join(name))
        .find(|p| p.exists());
    found.unwrap_or_else(|| panic!("no snapshot holds {name}"))
}

fn assert_stays_sparse(w: &Work) {
    let root = w.root();
    assert_sparse(&snapshot_file(&root, "big"), BIG, &[32 * MIB]);
    let rootfs = w.path("out/rootfs");
    assert_sparse(&rootfs.join("big"), BIG, &[32 * MIB]);
    assert_sparse(&rootfs.join("small"), SMALL, &[0, 4 * MIB]);
    assert_sparse(&rootfs.join("copied"), SMALL, &[0, 4 * MIB]);
    assert_sparse(&rootfs.join("added/small"), SMALL, &[0, 4 * MIB]);
}

fn output_spec(w: &Work) -> String {
    format!("type=local,dest={}", w.path("out/rootfs").display())
}

#[test]
fn a_gnu_sparse_file_in_a_base_layer_stays_sparse() {
    let test = "a_gnu_sparse_file_stays_sparse";
    if !have(test, &["tar"]) {
        return;
    }
    for runner in runners(test) {
        let w = workspace();
        let spec = output_spec(&w);
        match runner {
            Runner::Me => {
                w.build_ok(&["-o", &spec]);
            }
            Runner::Rootless => {
                w.give_to_test_user();
                let out = w.builder_as_test_user(&["build", "-o", &spec, "ctx"]);
                assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
            }
        }
        assert_stays_sparse(&w);
    }
}
