//! What a store holds, for garbage collection and `builder du`: one scan of the store
//! root into an [`Inventory`] of sizes and references, which [`super::gc_plan`] then reasons
//! about without touching the disk again.
//!
//! What it scans is the store root as [`super`]'s module docs lay it out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use oci_spec::image::Digest;

use super::atomic::TEMP_PREFIX;
use super::digest::sha256;
use super::gc::GcError;
use super::walk::Walker;
use super::{BlobStore, DirStore, StoreError};
use crate::cache::CacheStore;
use crate::image::manifest::{parse_manifest_or_index, ManifestOrIndex};
use crate::image::ImageConfig;
use crate::snapshot::DirSnapshotter;

/// One cache record.
#[derive(Debug, Clone)]
pub(crate) struct RecordItem {
    /// Its key.
    pub key: Digest,
    /// Its layer blob (`sha256:…`), if the step made a layer.
    pub blob: Option<String>,
    /// The chain id of its snapshot (`sha256:…`), if the step made a layer.
    pub chain: Option<String>,
    /// Its last use.
    pub last_used: SystemTime,
    /// Bytes of the record file.
    pub bytes: u64,
    /// What the step was.
    pub description: String,
}

/// A committed snapshot.
#[derive(Debug, Clone)]
pub(crate) struct SnapItem {
    /// Its parent's name.
    pub parent: Option<String>,
    /// Bytes of its own directory.
    pub bytes: u64,
    /// When it was made.
    pub mtime: SystemTime,
    /// Its directory.
    pub path: PathBuf,
}

/// A flattened tree, a cache mount, a kept download or a kept Git repository.
#[derive(Debug, Clone)]
pub(crate) struct DirItem {
    /// Bytes.
    pub bytes: u64,
    /// When it was made or last changed.
    pub mtime: SystemTime,
    /// Its directory.
    pub path: PathBuf,
}

/// Scratch of a build: a RUN work directory, a prepared snapshot, a temp file.
#[derive(Debug, Clone)]
pub(crate) struct Leftover {
    /// Where it is.
    pub path: PathBuf,
    /// Bytes.
    pub bytes: u64,
}

/// Everything in one store, with sizes and references.
#[derive(Debug, Default)]
pub(crate) struct Inventory {
    /// Cache records.
    pub records: Vec<RecordItem>,
    /// Blobs by digest (`sha256:…`), with their bytes.
    pub blobs: BTreeMap<String, u64>,
    /// Committed snapshots by name.
    pub snapshots: BTreeMap<String, SnapItem>,
    /// Flattened trees by top chain id (`sha256:…`; other names as they are).
    pub trees: BTreeMap<String, DirItem>,
    /// Cache mounts by directory name.
    pub mounts: BTreeMap<String, DirItem>,
    /// Kept downloads of ADD's URLs by directory name (one per URL).
    pub downloads: BTreeMap<String, DirItem>,
    /// Kept bare repositories of ADD's Git sources by directory name (one per remote).
    pub git_repos: BTreeMap<String, DirItem>,
    /// Scratch of builds (removable only when no build runs).
    pub leftovers: Vec<Leftover>,
    /// Blobs that named images need.
    pub image_blobs: BTreeSet<String>,
    /// Chain ids of named images' layers.
    pub image_chains: BTreeSet<String>,
    /// Everything else (indexes, lock files, stat caches), never removed.
    pub other: u64,
}

impl Inventory {
    /// Bytes of every blob.
    pub fn blob_bytes(&self) -> u64 {
        self.blobs.values().sum()
    }

    /// Bytes of every snapshot.
    pub fn snapshot_bytes(&self) -> u64 {
        self.snapshots.values().map(|s| s.bytes).sum()
    }

    /// Bytes of every flattened tree.
    pub fn tree_bytes(&self) -> u64 {
        self.trees.values().map(|t| t.bytes).sum()
    }

    /// Bytes of every cache mount.
    pub fn mount_bytes(&self) -> u64 {
        self.mounts.values().map(|m| m.bytes).sum()
    }

    /// Bytes of every kept download.
    pub fn download_bytes(&self) -> u64 {
        self.downloads.values().map(|d| d.bytes).sum()
    }

    /// Bytes of every kept Git repository (with its lock file).
    pub fn git_repo_bytes(&self) -> u64 {
        self.git_repos.values().map(|g| g.bytes).sum()
    }

    /// Bytes of every record file.
    pub fn record_bytes(&self) -> u64 {
        self.records.iter().map(|r| r.bytes).sum()
    }

    /// Bytes of every leftover.
    pub fn leftover_bytes(&self) -> u64 {
        self.leftovers.iter().map(|l| l.bytes).sum()
    }

    /// Everything the store takes.
    pub fn total(&self) -> u64 {
        self.blob_bytes()
            + self.snapshot_bytes()
            + self.tree_bytes()
            + self.mount_bytes()
            + self.download_bytes()
            + self.git_repo_bytes()
            + self.record_bytes()
            + self.leftover_bytes()
            + self.other
    }
}

/// The chain ids of `diff_ids` (OCI image spec), as strings.
pub(crate) fn chain_ids(diff_ids: &[Digest]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in diff_ids {
        let next = match out.last() {
            None => d.to_string(),
            Some(parent) => sha256(format!("{parent} {d}").as_bytes()).to_string(),
        };
        out.push(next);
    }
    out
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Whether `name` is what a kept Git repository is called: the sha256 hex of its remote.
fn is_repo_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The entries of `dir` (none when it is missing or unreadable), sorted.
fn entries(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = rd
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.to_string(), e.path())))
        .collect();
    out.sort();
    out
}

/// Mark what the image (or index) `name` at `digest` needs: its blobs and its chain ids.
/// A missing blob ends the walk there (the image was already broken); one that cannot be
/// read, or a named blob that is not a manifest or index, stops the prune: what the image
/// needs would be unknown.
fn walk_image(
    store: &DirStore,
    name: &str,
    digest: &Digest,
    inv: &mut Inventory,
    depth: usize,
) -> Result<(), GcError> {
    if !inv.image_blobs.insert(digest.to_string()) || depth > 8 {
        return Ok(());
    }
    let damaged = |reason: String| GcError::DamagedImage {
        name: name.to_string(),
        digest: digest.to_string(),
        reason,
    };
    let bytes = match store.read_all(digest) {
        Ok(b) => b,
        Err(StoreError::BlobNotFound(_)) => return Ok(()),
        Err(e) => return Err(damaged(crate::progress::chain(&e))),
    };
    match parse_manifest_or_index(digest, &bytes) {
        Ok(ManifestOrIndex::Index(index)) => {
            for m in index.manifests() {
                walk_image(store, name, m.digest(), inv, depth + 1)?;
            }
        }
        Ok(ManifestOrIndex::Manifest(manifest)) => {
            let config = manifest.config().digest();
            inv.image_blobs.insert(config.to_string());
            for layer in manifest.layers() {
                inv.image_blobs.insert(layer.digest().to_string());
            }
            // Without its config only the snapshots go unprotected: they are remade.
            let diff_ids = store
                .read_all(config)
                .ok()
                .and_then(|b| ImageConfig::from_json(&b).ok())
                .map(|c| c.rootfs.diff_ids)
                .unwrap_or_default();
            inv.image_chains.extend(chain_ids(&diff_ids));
        }
        Err(e) if depth == 0 => return Err(damaged(crate::progress::chain(&e))),
        Err(_) => {}
    }
    Ok(())
}

/// Scan the store at `root`.
pub(crate) fn scan(root: &Path) -> Result<Inventory, GcError> {
    let mut scanner = Scanner {
        root,
        inv: Inventory::default(),
        walker: Walker::new(),
    };
    let store = DirStore::new(root)?;
    let names = store.images().list()?;
    for (name, record) in &names {
        walk_image(&store, name, &record.digest, &mut scanner.inv, 0)?;
    }
    scanner.records()?;
    scanner.blobs(&store)?;
    scanner.snapshots()?;
    scanner.trees();
    scanner.mounts();
    scanner.downloads();
    scanner.git_repos();
    scanner.scratch();
    scanner.other();
    Ok(scanner.inv)
}

/// One scan in progress: the store root, what is found so far, and the walker that
/// counts every hard-linked file once across the whole scan (so the order of the
/// steps below is the order sizes are attributed in).
struct Scanner<'a> {
    /// The store root.
    root: &'a Path,
    /// What is found so far.
    inv: Inventory,
    /// Sizes, each inode counted once.
    walker: Walker,
}

impl Scanner<'_> {
    /// Note `path` as scratch of a build, with its size.
    fn leftover(&mut self, path: PathBuf) {
        self.inv.leftovers.push(Leftover {
            bytes: self.walker.size(&path),
            path,
        });
    }

    /// Cache records; record files the cache cannot list are leftovers.
    fn records(&mut self) -> Result<(), GcError> {
        let listed = CacheStore::new(self.root).list()?;
        // Record files that cannot be read are misses forever: scratch to remove.
        for (name, path) in entries(&self.root.join("cache/records")) {
            if name.ends_with(".json") && !listed.iter().any(|l| l.path == path) {
                self.leftover(path);
            }
        }
        for listed in listed {
            let layer = listed.record.layer.as_ref();
            self.inv.records.push(RecordItem {
                key: listed.record.key.clone(),
                blob: layer.map(|l| l.descriptor.digest().to_string()),
                chain: layer.map(|l| l.chain_id.to_string()),
                last_used: listed.last_used,
                bytes: self.walker.size(&listed.path),
                description: listed.record.description.clone(),
            });
        }
        Ok(())
    }

    /// Every blob with its size.
    fn blobs(&mut self, store: &DirStore) -> Result<(), GcError> {
        for digest in store.list()? {
            let bytes = store
                .local_path(&digest)
                .map_or(0, |p| self.walker.size(&p));
            self.inv.blobs.insert(digest.to_string(), bytes);
        }
        Ok(())
    }

    /// Committed snapshots; prepared ones are leftovers.
    fn snapshots(&mut self) -> Result<(), GcError> {
        let snaps = DirSnapshotter::new(&self.root.join("snapshotter"))?;
        for entry in snaps.list()? {
            let item = SnapItem {
                parent: entry.parent,
                bytes: self.walker.size(&entry.dir),
                mtime: mtime(&entry.dir),
                path: entry.dir,
            };
            self.inv.snapshots.insert(entry.name, item);
        }
        for path in snaps.prepared()? {
            self.leftover(path);
        }
        Ok(())
    }

    /// Flattened trees under `rootfs/`; hidden entries there are leftovers.
    fn trees(&mut self) {
        for (name, path) in entries(&self.root.join("rootfs")) {
            if name.starts_with('.') {
                self.leftover(path);
                continue;
            }
            let key = match crate::store::digest::sha256_digest_from_hex(&name) {
                Ok(d) => d.to_string(),
                Err(_) => name,
            };
            let item = DirItem {
                bytes: self.walker.size(&path),
                mtime: mtime(&path),
                path,
            };
            self.inv.trees.insert(key, item);
        }
    }

    /// Cache mounts, dated by the later of the mount and its lock file; half-made ones are
    /// leftovers.
    fn mounts(&mut self) {
        let mounts = self.root.join("cache-mounts");
        for (name, path) in entries(&mounts) {
            if name.starts_with(".new-") {
                self.leftover(path);
            } else if !name.starts_with('.') && !name.ends_with(".lock") {
                let lock = mounts.join(format!("{name}.lock"));
                let item = DirItem {
                    bytes: self.walker.size(&path),
                    mtime: mtime(&path).max(mtime(&lock)),
                    path,
                };
                self.inv.mounts.insert(name, item);
            }
        }
    }

    /// Kept downloads, one directory per URL, dated by their last use; hidden entries
    /// there are leftovers.
    fn downloads(&mut self) {
        for (name, path) in entries(&self.root.join(super::DOWNLOADS)) {
            if name.starts_with('.') {
                self.leftover(path);
                continue;
            }
            let item = DirItem {
                bytes: self.walker.size(&path),
                mtime: mtime(&path),
                path,
            };
            self.inv.downloads.insert(name, item);
        }
    }

    /// Kept Git repositories, one bare repository per remote named by 64 hex digits, dated
    /// by the later of the repository and its lock file (which each use touches); hidden
    /// entries (half-made repositories) and the builds' checkouts under `tmp/` are
    /// leftovers. Lock files without a repository count as other.
    fn git_repos(&mut self) {
        let dir = self.root.join(super::GIT_REPOS);
        for (name, path) in entries(&dir) {
            if name.starts_with('.') {
                self.leftover(path);
            } else if name == "tmp" {
                for (_, checkout) in entries(&path) {
                    self.leftover(checkout);
                }
            } else if is_repo_name(&name) && path.is_dir() {
                let lock = path.with_extension("lock");
                let item = DirItem {
                    bytes: self.walker.size(&path) + self.walker.size(&lock),
                    mtime: mtime(&path).max(mtime(&lock)),
                    path,
                };
                self.inv.git_repos.insert(name, item);
            }
        }
    }

    /// RUN work directories, overlay probes, temp files and the trash: all leftovers.
    fn scratch(&mut self) {
        for (name, path) in entries(&self.root.join("run")) {
            if name.starts_with("step-") || name.starts_with(".overlay-probe-") {
                self.leftover(path);
            }
        }
        for dir in super::gc::TEMP_DIRS {
            for (name, path) in entries(&self.root.join(dir)) {
                if name.starts_with(TEMP_PREFIX) {
                    self.leftover(path);
                }
            }
        }
        for (_, path) in entries(&self.root.join("trash")) {
            self.leftover(path);
        }
    }

    /// The rest, walked once: what is counted above is left out.
    fn other(&mut self) {
        let root = self.root;
        let mut counted: Vec<PathBuf> = [
            "blobs/sha256",
            "snapshotter/snapshots",
            "snapshotter/active",
            "rootfs",
            "cache-mounts",
            super::DOWNLOADS,
            "run",
            "trash",
            "cache/records",
        ]
        .iter()
        .map(|p| root.join(p))
        .collect();
        counted.extend(self.inv.leftovers.iter().map(|l| l.path.clone()));
        for repo in self.inv.git_repos.values() {
            counted.push(repo.path.clone());
            counted.push(repo.path.with_extension("lock"));
        }
        self.inv.other = self.walker.size_excluding(root, &counted);
        // Cache-mount lock files are tiny and stay with their mounts; they count as other.
        for (name, path) in entries(&root.join("cache-mounts")) {
            if name.ends_with(".lock") {
                self.inv.other += self.walker.size(&path);
            }
        }
    }
}
