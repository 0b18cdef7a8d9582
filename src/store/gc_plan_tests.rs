//! Tests of what a prune chooses, on hand-made inventories.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::*;
use crate::store::digest::sha256;
use crate::store::inventory::{DirItem, RecordItem, SnapItem};

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + secs)
}

/// A store where records `r1` (chain `c1`, blob `b1`) <- `r2` (`c2`, `b2`) <- `r3`
/// (`c3`, `b3`) stack on a base snapshot `c0` (blob `b0`, a named image's only layer), and
/// `r4` (`c4`, `b4`) sits on `c0` too. Each blob is 100 bytes, each snapshot 1000; the
/// records were last used at 10, 20, 30 and 40.
fn store() -> Inventory {
    let mut inv = Inventory::default();
    for b in ["b0", "b1", "b2", "b3", "b4"] {
        inv.blobs.insert(b.into(), 100);
    }
    for (name, parent) in [
        ("c0", None),
        ("c1", Some("c0")),
        ("c2", Some("c1")),
        ("c3", Some("c2")),
        ("c4", Some("c0")),
    ] {
        inv.snapshots.insert(
            name.into(),
            SnapItem {
                parent: parent.map(String::from),
                bytes: 1000,
                mtime: at(0),
                path: PathBuf::from(name),
            },
        );
    }
    for (i, used) in [10, 20, 30, 40].into_iter().enumerate() {
        let n = i + 1;
        inv.records.push(RecordItem {
            key: sha256(format!("r{n}").as_bytes()),
            blob: Some(format!("b{n}")),
            chain: Some(format!("c{n}")),
            last_used: at(used),
            bytes: 1,
            description: format!("step {n}"),
        });
    }
    inv.image_blobs.insert("b0".into());
    inv.image_chains.insert("c0".into());
    inv
}

fn opts(all: bool, keep_storage: Option<u64>, until: Option<u64>) -> PruneOptions {
    PruneOptions {
        all,
        keep_storage,
        until: until.map(Duration::from_secs),
    }
}

fn names(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn a_default_prune_keeps_only_what_named_images_need() {
    let inv = store();
    let s = select(&inv, &opts(false, None, None), at(100));
    assert_eq!(s.records, [0, 1, 2, 3]);
    assert_eq!(names(&s.blobs), ["b1", "b2", "b3", "b4"]);
    // Children before parents: c3 before c2 before c1.
    assert_eq!(names(&s.snapshots), ["c3", "c2", "c1", "c4"]);
    assert_eq!(s.kept_bytes, 100 + 1000);
}

#[test]
fn the_parent_snapshot_of_a_kept_record_survives() {
    let inv = store();
    // Records unused for 75 s go: r1 (used at 10) and r2 (20); r3 (30) stays, and with it
    // its parents c2 and c1 although their records are gone.
    let s = select(&inv, &opts(false, None, Some(75)), at(100));
    assert_eq!(s.records, [0, 1]);
    assert_eq!(names(&s.blobs), ["b1", "b2"]);
    assert!(s.snapshots.is_empty(), "{:?}", s.snapshots);
}

#[test]
fn keep_storage_removes_the_least_recently_used_first() {
    let inv = store();
    let everything = inv.total();
    assert_eq!(everything, 5 * 100 + 5 * 1000 + 4);
    // Enough room for all: nothing goes.
    let s = select(&inv, &opts(false, Some(everything), None), at(100));
    assert!(s.records.is_empty() && s.blobs.is_empty() && s.snapshots.is_empty());
    assert_eq!(s.kept_bytes, everything);
    // Removing r1 frees only its blob (c1 is still c3's ancestor); r2 likewise; r3 then
    // frees b3 and c3, c2, c1 (and each its one-byte record file). The limit below needs
    // r1, r2 and r3 gone, not r4.
    let limit = everything - 300 - 3000 - 3;
    let s = select(&inv, &opts(false, Some(limit), None), at(100));
    assert_eq!(s.records, [0, 1, 2]);
    assert_eq!(names(&s.blobs), ["b1", "b2", "b3"]);
    assert_eq!(names(&s.snapshots), ["c3", "c2", "c1"]);
    assert_eq!(s.kept_bytes, limit);
    // A limit one byte lower also takes r4.
    let s = select(&inv, &opts(false, Some(limit - 1), None), at(100));
    assert_eq!(s.records, [0, 1, 2, 3]);
    // Order is by last use, not by position: make r4 the oldest.
    let mut inv = store();
    inv.records[3].last_used = at(1);
    let s = select(&inv, &opts(false, Some(everything - 1), None), at(100));
    assert_eq!(s.records, [3]);
    assert_eq!(names(&s.snapshots), ["c4"]);
}

#[test]
fn until_and_keep_storage_combine() {
    let inv = store();
    // Only r1 and r2 are old enough; even a tiny limit cannot take r3 or r4.
    let s = select(&inv, &opts(false, Some(1), Some(75)), at(100));
    assert_eq!(s.records, [0, 1]);
}

#[test]
fn all_also_removes_named_images_snapshots_trees_and_cache_mounts() {
    let mut inv = store();
    let tree = |t: u64| DirItem {
        bytes: 500,
        mtime: at(t),
        path: PathBuf::new(),
    };
    inv.trees.insert("c0".into(), tree(0));
    inv.trees.insert("c3".into(), tree(0));
    inv.trees.insert("empty".into(), tree(0));
    inv.mounts.insert("m".into(), tree(50));
    let s = select(&inv, &opts(false, None, None), at(100));
    assert_eq!(names(&s.trees), ["c3", "empty"]);
    assert!(s.mounts.is_empty());
    let s = select(&inv, &opts(true, None, None), at(100));
    assert_eq!(s.records, [0, 1, 2, 3]);
    assert_eq!(names(&s.snapshots), ["c3", "c2", "c1", "c4", "c0"]);
    assert_eq!(names(&s.trees), ["c0", "c3", "empty"]);
    assert_eq!(names(&s.mounts), ["m"]);
    // The named image's blob stays whatever happens.
    assert_eq!(names(&s.blobs), ["b1", "b2", "b3", "b4"]);
    assert_eq!(s.kept_bytes, 100);
    // With --all, a kept record still keeps its ancestors, the named image's base too.
    let s = select(&inv, &opts(true, None, Some(65)), at(100));
    assert_eq!(s.records, [0, 1, 2]);
    assert_eq!(names(&s.snapshots), ["c3", "c2", "c1"]);
    assert!(s.mounts.is_empty(), "the mount was used 50 s ago");
}

#[test]
fn broken_chains_and_dangling_records_go() {
    let mut inv = store();
    // c1's parent is gone (a crash in an older prune): c1, c2 and c3 are useless.
    inv.snapshots.remove("c0");
    inv.image_chains.clear();
    inv.image_blobs.clear();
    // r4's blob is gone: the record is useless whatever the filters say.
    inv.blobs.remove("b4");
    let s = select(&inv, &opts(false, Some(u64::MAX), None), at(100));
    assert_eq!(s.records, [3]);
    assert_eq!(names(&s.snapshots), ["c3", "c2", "c1", "c4"]);
    // No image and no record needs b0 any more.
    assert_eq!(names(&s.blobs), ["b0"]);
}

#[test]
fn records_without_a_layer_are_candidates_too() {
    let mut inv = store();
    inv.records.push(RecordItem {
        key: sha256(b"env"),
        blob: None,
        chain: None,
        last_used: at(5),
        bytes: 1,
        description: "ENV".into(),
    });
    let s = select(&inv, &opts(false, None, Some(92)), at(100));
    assert_eq!(s.records, [4]);
    assert!(s.blobs.is_empty() && s.snapshots.is_empty());
}

#[test]
fn kept_downloads_are_candidates_of_a_plain_prune() {
    let mut inv = store();
    let download = |t: u64| DirItem {
        bytes: 70,
        mtime: at(t),
        path: PathBuf::new(),
    };
    inv.downloads.insert("old".into(), download(5));
    inv.downloads.insert("new".into(), download(95));
    assert_eq!(inv.total(), 5 * 100 + 5 * 1000 + 4 + 140);
    let s = select(&inv, &opts(false, None, None), at(100));
    assert_eq!(names(&s.downloads), ["new", "old"]);
    assert_eq!(s.kept_bytes, 100 + 1000);
    // Used 95 s ago: the old one goes, the new one stays.
    let s = select(&inv, &opts(false, None, Some(50)), at(100));
    assert_eq!(names(&s.downloads), ["old"]);
    // The least recently used first: the old download (used at 5) before r1 (at 10).
    let s = select(&inv, &opts(false, Some(inv.total() - 1), None), at(100));
    assert_eq!(names(&s.downloads), ["old"]);
    assert!(s.records.is_empty());
}

#[test]
fn kept_git_repositories_are_candidates_of_a_plain_prune() {
    let mut inv = store();
    let repo = |t: u64| DirItem {
        bytes: 300,
        mtime: at(t),
        path: PathBuf::new(),
    };
    inv.git_repos.insert("old".into(), repo(5));
    inv.git_repos.insert("new".into(), repo(95));
    assert_eq!(inv.total(), 5 * 100 + 5 * 1000 + 4 + 600);
    let s = select(&inv, &opts(false, None, None), at(100));
    assert_eq!(names(&s.git_repos), ["new", "old"]);
    assert_eq!(s.kept_bytes, 100 + 1000);
    // Used 95 s ago: the old one goes, the new one stays.
    let s = select(&inv, &opts(false, None, Some(50)), at(100));
    assert_eq!(names(&s.git_repos), ["old"]);
    // The least recently used first: the old repository (used at 5) before r1 (at 10),
    // and it alone makes what stays fit.
    let s = select(&inv, &opts(false, Some(inv.total() - 1), None), at(100));
    assert_eq!(names(&s.git_repos), ["old"]);
    assert!(s.records.is_empty());
    // One byte less to keep: the next least recently used (r1) goes too, not the new one.
    let s = select(&inv, &opts(false, Some(inv.total() - 301), None), at(100));
    assert_eq!(names(&s.git_repos), ["old"]);
    assert_eq!(s.records, [0]);
}
