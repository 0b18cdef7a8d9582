//! Prune and usage on a real store directory: a named image, cache records with
//! snapshots stacked on its base, flattened trees, a cache mount and a dead build's
//! scratch.

use std::path::Path;
use std::time::{Duration, SystemTime};

use oci_spec::image::{Descriptor, Digest, MediaType};

use super::*;
use crate::cache::{Record, RecordLayer};
use crate::image::{write_image, ImageConfig, ManifestFormat};
use crate::snapshot::{DirSnapshotter, Snapshotter};
use crate::store::digest::sha256;
use crate::store::{build_guard, usage};
use crate::store::{BlobStore, DirStore};

struct Fixture {
    root: tempfile::TempDir,
    base_chain: String,
    /// (key, blob, chain) of each record, oldest first.
    records: Vec<(Digest, Digest, String)>,
}

fn snapshot(snaps: &DirSnapshotter, parent: Option<&str>, name: &str, bytes: usize) {
    let parent = parent.map(|p| snaps.get(p).unwrap().unwrap());
    let active = snaps.prepare(parent.as_ref()).unwrap();
    std::fs::write(active.upper.join("data"), vec![7u8; bytes]).unwrap();
    snaps.commit(active, name).unwrap();
}

fn chain(parent: &str, diff_id: &Digest) -> String {
    sha256(format!("{parent} {diff_id}").as_bytes()).to_string()
}

/// A named image `app` with one layer (its snapshot committed), and three records whose
/// snapshots stack on it: r0 <- r1 <- r2, last used 300, 200 and 100 seconds ago.
fn fixture() -> Fixture {
    let root = tempfile::tempdir().unwrap();
    let store = DirStore::new(root.path()).unwrap();
    let snaps = DirSnapshotter::new(&root.path().join("snapshotter")).unwrap();
    let base_blob = store.put_bytes(&vec![1u8; 20_000]).unwrap();
    let base_diff = sha256(b"base diff");
    let mut config = ImageConfig::scratch("linux", "amd64", None);
    config.push_layer(base_diff.clone(), "COPY . /", None);
    let layer = base_blob.descriptor(MediaType::ImageLayerGzip);
    let img = write_image(&store, &config, &[layer], ManifestFormat::Oci).unwrap();
    store.images().set("app", img.record(None)).unwrap();
    let base_chain = base_diff.to_string();
    snapshot(&snaps, None, &base_chain, 10_000);

    let cache = CacheStore::new(root.path());
    let mut records = Vec::new();
    let mut parent = base_chain.clone();
    for i in 0..3u8 {
        let blob = store.put_bytes(&vec![i + 10; 30_000]).unwrap();
        let diff = sha256(&[i]);
        let name = chain(&parent, &diff);
        snapshot(&snaps, Some(&parent), &name, 40_000);
        let key = sha256(format!("step {i}").as_bytes());
        cache
            .put(&Record {
                key: key.clone(),
                layer: Some(RecordLayer {
                    descriptor: Descriptor::new(
                        MediaType::ImageLayerGzip,
                        blob.size,
                        blob.digest.clone(),
                    ),
                    diff_id: diff,
                    chain_id: name.parse().unwrap(),
                    uncompressed_stand_in: false,
                }),
                created: "2026-01-01T00:00:00Z".into(),
                description: format!("[{}/3] RUN step {i}", i + 1),
            })
            .unwrap();
        let path = cache
            .dir()
            .join("records")
            .join(format!("{}.json", key.digest()));
        let used = SystemTime::now() - Duration::from_secs(300 - 100 * u64::from(i));
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(used)
            .unwrap();
        records.push((key, blob.digest, name.clone()));
        parent = name;
    }
    Fixture {
        root,
        base_chain,
        records,
    }
}

fn exists(root: &Path, rel: &str) -> bool {
    root.join(rel).exists()
}

fn snap(chain: &str) -> String {
    format!("snapshotter/snapshots/{chain}/fs")
}

fn blob(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.digest())
}

/// Leftovers of a build killed mid-RUN.
fn dead_build(root: &Path) {
    for d in [
        "run/step-abc/rootfs",
        "snapshotter/active/1-2-3/fs",
        "snapshotter/active/1-2-3/work/work",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("blobs/sha256/.tmp-half"), b"half a blob").unwrap();
    std::fs::write(root.join(".tmp-images"), b"{").unwrap();
    std::fs::create_dir_all(root.join("rootfs/.tmp-abc-1/etc")).unwrap();
    std::fs::create_dir_all(root.join("chunks")).unwrap();
    std::fs::write(root.join("chunks/.tmp-Ab12Cd"), b"builder-chunk-index 1\n").unwrap();
}

#[test]
fn a_default_prune_leaves_what_the_named_image_needs() {
    let f = fixture();
    let root = f.root.path();
    dead_build(root);
    std::fs::create_dir_all(root.join("rootfs/empty")).unwrap();
    std::fs::create_dir_all(root.join("cache-mounts/m1/data")).unwrap();
    std::fs::write(root.join("cache-mounts/m1.lock"), b"").unwrap();
    std::fs::create_dir_all(root.join("remote/http/u1")).unwrap();
    std::fs::write(root.join("remote/http/u1/record.json"), vec![b'x'; 9000]).unwrap();
    let before = usage(root).unwrap();
    assert_eq!(before.records.len(), 3);
    // Most recently used first; each the size of its blob and its own snapshot.
    assert_eq!(before.records[0].description, "[3/3] RUN step 2");
    assert!(before
        .records
        .iter()
        .all(|r| r.reclaimable && r.size >= 70_000));
    assert!(before.reclaimable >= 3 * 70_000, "{before:?}");
    assert!(before.scratch > 0 && before.mounts > 0, "{before:?}");
    assert!(before.downloads >= 9000, "{before:?}");

    let report = prune(root, &PruneOptions::default()).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!((report.records, report.blobs, report.snapshots), (3, 3, 3));
    assert_eq!(report.trees, 1);
    assert_eq!(report.mounts, 0);
    assert_eq!(report.downloads, 1);
    assert!(!exists(root, "remote/http/u1"));
    assert_eq!(report.leftovers, 6);
    assert_eq!(report.removed.len(), 3);
    assert_eq!(report.removed[0].description, "[1/3] RUN step 0");
    for (_, b, c) in &f.records {
        assert!(!exists(root, &blob(b)) && !exists(root, &snap(c)));
    }
    assert!(exists(root, &snap(&f.base_chain)));
    assert!(exists(root, "cache-mounts/m1/data"));
    for gone in [
        "run/step-abc",
        "snapshotter/active/1-2-3",
        "blobs/sha256/.tmp-half",
        ".tmp-images",
        "rootfs/.tmp-abc-1",
        "chunks/.tmp-Ab12Cd",
        "rootfs/empty",
    ] {
        assert!(!exists(root, gone), "{gone}");
    }
    assert_eq!(std::fs::read_dir(root.join("trash")).unwrap().count(), 0);
    // The named image is whole.
    let store = DirStore::new(root).unwrap();
    let img = store.images().get("app").unwrap().unwrap();
    crate::image::read_image(&store, &img.digest).unwrap();
    let after = usage(root).unwrap();
    assert!(after.records.is_empty());
    assert!(after.total < before.total);
    assert_eq!(before.total - after.total, report.bytes);
    assert_eq!(after.blobs_reclaimable, 0);
}

#[test]
fn keep_storage_and_until_keep_the_most_recently_used() {
    let f = fixture();
    let root = f.root.path();
    // Records unused for 150 s or more: r0 and r1; r2 stays, and so do the snapshots of
    // r0 and r1 under it.
    let until = PruneOptions {
        until: Some(Duration::from_secs(150)),
        ..PruneOptions::default()
    };
    let report = prune(root, &until).unwrap();
    assert_eq!((report.records, report.blobs, report.snapshots), (2, 2, 0));
    let cache = CacheStore::new(root);
    let (k2, b2, c2) = &f.records[2];
    assert!(cache.get(k2).is_some());
    assert!(exists(root, &blob(b2)) && exists(root, &snap(c2)));
    assert!(exists(root, &snap(&f.records[0].2)));

    // A limit just under the total takes the last record.
    let total = usage(root).unwrap().total;
    let report = prune(
        root,
        &PruneOptions {
            keep_storage: Some(total - 1),
            ..PruneOptions::default()
        },
    )
    .unwrap();
    assert_eq!((report.records, report.blobs, report.snapshots), (1, 1, 3));
    assert!(usage(root).unwrap().total < total);
}

#[test]
fn all_removes_every_snapshot_but_no_named_blob() {
    let f = fixture();
    let root = f.root.path();
    std::fs::create_dir_all(root.join("cache-mounts/m1/data")).unwrap();
    let report = prune(
        root,
        &PruneOptions {
            all: true,
            ..PruneOptions::default()
        },
    )
    .unwrap();
    assert_eq!((report.records, report.snapshots, report.mounts), (3, 4, 1));
    let snaps = DirSnapshotter::new(&root.join("snapshotter")).unwrap();
    assert!(snaps.list().unwrap().is_empty());
    let store = DirStore::new(root).unwrap();
    let img = store.images().get("app").unwrap().unwrap();
    let image = crate::image::read_image(&store, &img.digest).unwrap();
    for layer in image.manifest.layers() {
        assert!(store.has(layer.digest()).unwrap());
    }
    // Three blobs stay: manifest, config, layer.
    assert_eq!(store.list().unwrap().len(), 3);
}

#[test]
fn the_end_of_a_build_sweeps_dead_temp_files_only_when_no_other_build_runs() {
    let f = fixture();
    let root = f.root.path();
    std::fs::create_dir_all(root.join("chunks")).unwrap();
    let temps = ["chunks/.tmp-Ab12Cd", "blobs/sha256/.tmp-half"];
    for t in temps {
        std::fs::write(root.join(t), b"half").unwrap();
    }
    std::fs::write(root.join("chunks/index-of-a-blob"), b"kept").unwrap();
    let quiet = crate::progress::Quiet::default();
    // Another build runs: its temp files may be these.
    let other = build_guard(root).unwrap();
    crate::store::enforce_cap(
        root,
        build_guard(root).unwrap(),
        crate::store::max_cache(),
        &quiet,
    );
    assert!(temps.iter().all(|t| exists(root, t)));
    drop(other);
    crate::store::enforce_cap(
        root,
        build_guard(root).unwrap(),
        crate::store::max_cache(),
        &quiet,
    );
    assert!(temps.iter().all(|t| !exists(root, t)));
    assert!(exists(root, "chunks/index-of-a-blob"));
    assert_eq!(CacheStore::new(root).list().unwrap().len(), 3);
}

#[test]
fn prune_waits_for_running_builds() {
    let f = fixture();
    let root = f.root.path().to_path_buf();
    let build = build_guard(&root).unwrap();
    std::thread::scope(|s| {
        let pruning = s.spawn(|| prune(&root, &PruneOptions::default()).map(|r| r.records));
        std::thread::sleep(Duration::from_millis(500));
        assert!(!pruning.is_finished(), "prune did not wait");
        drop(build);
        assert_eq!(pruning.join().unwrap().unwrap(), 3);
    });
}

#[test]
fn a_damaged_named_image_stops_the_prune_and_damaged_records_go() {
    let f = fixture();
    let root = f.root.path();
    let store = DirStore::new(root).unwrap();
    let junk = store.put_bytes(b"not a manifest").unwrap();
    let mut record = store.images().get("app").unwrap().unwrap();
    record.digest = junk.digest;
    store.images().set("broken", record).unwrap();
    let err = prune(root, &PruneOptions::default()).unwrap_err();
    assert!(matches!(err, GcError::DamagedImage { .. }), "{err}");
    assert!(err.to_string().contains("builder rmi"), "{err}");
    let top: crate::error::Error = err.into();
    assert!(top
        .to_string()
        .starts_with("cannot prune: image docker.io/library/broken:latest"));
    // Nothing was removed.
    assert_eq!(CacheStore::new(root).list().unwrap().len(), 3);
    store.images().remove("broken").unwrap();

    let damaged = root
        .join("cache/records")
        .join(format!("{}.json", "a".repeat(64)));
    std::fs::write(&damaged, b"{\"key\":").unwrap();
    let report = prune(
        root,
        &PruneOptions {
            keep_storage: Some(u64::MAX),
            ..PruneOptions::default()
        },
    )
    .unwrap();
    assert_eq!((report.records, report.leftovers), (0, 1));
    assert!(!damaged.exists());
    assert_eq!(CacheStore::new(root).list().unwrap().len(), 3);
}

/// A kept Git repository named `name` (a 64-hex directory with a bare repository's files
/// and its lock file beside it), last used `ago` seconds ago.
fn git_repo(root: &Path, name: &str, ago: u64) -> std::path::PathBuf {
    let dir = root.join(crate::store::GIT_REPOS).join(name);
    std::fs::create_dir_all(dir.join("objects/pack")).unwrap();
    std::fs::write(dir.join("HEAD"), b"ref: refs/heads/master\n").unwrap();
    std::fs::write(dir.join("objects/pack/p.pack"), vec![3u8; 50_000]).unwrap();
    let lock = dir.with_extension("lock");
    std::fs::write(&lock, b"").unwrap();
    let used = SystemTime::now() - Duration::from_secs(ago);
    for p in [&dir, &lock] {
        std::fs::File::open(p).unwrap().set_modified(used).unwrap();
    }
    dir
}

#[test]
fn kept_git_repositories_are_counted_and_pruned_unless_in_use() {
    let f = fixture();
    let root = f.root.path();
    let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
    let old = git_repo(root, &a, 1000);
    let busy = git_repo(root, &b, 900);
    let recent = git_repo(root, &c, 10);
    let git = root.join(crate::store::GIT_REPOS);
    // A half-made repository and a dead build's checkout are scratch.
    std::fs::create_dir_all(git.join(".init-x/objects")).unwrap();
    std::fs::create_dir_all(git.join("tmp/build-dead/checkout-1")).unwrap();
    let before = usage(root).unwrap();
    assert!(before.git_repos >= 3 * 50_000, "{before:?}");
    assert!(before.reclaimable >= 3 * 50_000, "{before:?}");
    // A build holds the second one's lock.
    let held = crate::store::lock::FileLock::exclusive(&busy.with_extension("lock")).unwrap();
    let until = PruneOptions {
        until: Some(Duration::from_secs(500)),
        ..PruneOptions::default()
    };
    let report = prune(root, &until).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.git_repos, 1);
    assert!(!old.exists() && !old.with_extension("lock").exists());
    assert!(busy.join("HEAD").exists() && recent.join("HEAD").exists());
    assert!(!git.join(".init-x").exists() && !git.join("tmp/build-dead").exists());
    drop(held);
    let after = usage(root).unwrap();
    assert_eq!(before.total - after.total, report.bytes);
    assert!(after.git_repos >= 2 * 50_000 && after.git_repos < before.git_repos);
    // Once free, a plain prune takes the rest.
    let report = prune(root, &PruneOptions::default()).unwrap();
    assert_eq!(report.git_repos, 2);
    assert_eq!(usage(root).unwrap().git_repos, 0);
    let left: Vec<_> = std::fs::read_dir(&git).unwrap().flatten().collect();
    assert!(left.iter().all(|e| e.file_name() == "tmp"), "{left:?}");
}
