//! Garbage collection of a store: `builder prune` and the store cap.
//!
//! [`prune`] waits for running builds (the exclusive `gc.lock`, see `guard.rs`), scans the
//! store ([`super::inventory`]), decides what goes ([`super::gc_plan`]) and removes it in an
//! order that keeps the store usable if the prune itself is killed: records first (a
//! record never points at a removed blob for long, and one that does is a miss), then
//! snapshots children before parents, flattened trees, blobs, cache mounts, kept
//! downloads, kept Git repositories, and the scratch that dead builds left. A snapshot,
//! tree, cache mount, download or Git repository is first renamed into `ROOT/trash/` (one
//! atomic step: it is complete or absent), then deleted; the next prune empties whatever a
//! killed one left there. A Git repository goes only with its lock file held (a repository
//! someone holds is in use and stays), and its lock file with it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use super::gc_plan::{self as plan, Selection};
use super::guard;
use super::inventory::{self, Inventory};
use super::lock::FileLock;
use super::usage::{record_usage, RecordUsage};
use super::StoreError;
use crate::cache::{CacheError, CacheStore};
use crate::snapshot::{remove_tree, SnapshotError};

/// A failure to scan or prune a store.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// The store (blobs, names, locks) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The cache records could not be read.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// A named image cannot be read, so what it needs is unknown: nothing is pruned.
    #[error("{}: {reason}", GcError::damaged_text(name, digest))]
    DamagedImage {
        /// The image's name.
        name: String,
        /// The blob that cannot be read.
        digest: String,
        /// Why.
        reason: String,
    },
    /// A file operation failed.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl GcError {
    fn damaged_text(name: &str, digest: &str) -> String {
        format!(
            "image {name} ({digest}) cannot be read, so what it needs is unknown (remove \
             the name with `builder rmi` to prune anyway)"
        )
    }
}

impl From<SnapshotError> for GcError {
    fn from(e: SnapshotError) -> Self {
        match e {
            SnapshotError::Io {
                action,
                path,
                source,
            } => GcError::Io {
                action,
                path,
                source,
            },
            other => GcError::Io {
                action: "read snapshots",
                path: PathBuf::new(),
                source: std::io::Error::other(other.to_string()),
            },
        }
    }
}

impl From<GcError> for crate::error::Error {
    fn from(e: GcError) -> Self {
        use crate::error::Error;
        match e {
            GcError::Store(s) | GcError::Cache(CacheError::Store(s)) => Error::Store(s),
            GcError::Cache(CacheError::Io {
                action,
                path,
                source,
            })
            | GcError::Io {
                action,
                path,
                source,
            } => Error::Io {
                action,
                path,
                source,
            },
            GcError::DamagedImage {
                name,
                digest,
                reason,
            } => Error::Io {
                action: "cannot prune:",
                path: PathBuf::from(GcError::damaged_text(&name, &digest)),
                source: std::io::Error::other(reason),
            },
        }
    }
}

/// What to prune (`builder prune` flags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneOptions {
    /// `--all`: also the snapshots and flattened trees of named images (remade from their
    /// blobs when needed) and the RUN cache mounts.
    pub all: bool,
    /// `--keep-storage`: remove least recently used first, stopping once the store takes
    /// at most this many bytes (`None`: no limit, remove everything chosen).
    pub keep_storage: Option<u64>,
    /// `--filter until=`: only what has not been used for at least this long.
    pub until: Option<Duration>,
}

/// What a prune removed.
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    /// The cache records removed, least recently used first.
    pub removed: Vec<RecordUsage>,
    /// Number of cache records removed.
    pub records: usize,
    /// Number of blobs removed.
    pub blobs: usize,
    /// Number of snapshots removed.
    pub snapshots: usize,
    /// Number of flattened trees removed.
    pub trees: usize,
    /// Number of RUN cache mounts removed.
    pub mounts: usize,
    /// Number of kept downloads of ADD's URLs removed.
    pub downloads: usize,
    /// Number of kept repositories of ADD's Git sources removed.
    pub git_repos: usize,
    /// Number of leftovers of dead builds removed (work directories, temp files).
    pub leftovers: usize,
    /// Bytes freed.
    pub bytes: u64,
    /// What could not be removed, one message each (the rest was removed).
    pub failures: Vec<String>,
}

/// Prune the store at `root` as `opts` says (see the module docs); waits for running
/// builds first, saying so on stderr.
pub fn prune(root: &Path, opts: &PruneOptions) -> Result<PruneReport, GcError> {
    let _gc = guard::exclusive(root)?;
    prune_locked(root, opts)
}

/// With the gc lock held: hold the name locks too, scan, let `decide` look at the
/// inventory and choose the options (`None`: prune nothing), and prune.
fn prune_locked(root: &Path, opts: &PruneOptions) -> Result<PruneReport, GcError> {
    let _names = lock_names(root)?;
    let inv = inventory::scan(root)?;
    let selection = plan::select(&inv, opts, SystemTime::now());
    Ok(execute(root, &inv, &selection))
}

/// With the gc lock held, the locks of the root-level indexes: names cannot change under
/// a prune (`tag` of an unnamed image, `rmi`), and no writer of an index is between its
/// temp file and its rename.
pub(crate) fn lock_names(root: &Path) -> Result<[FileLock; 2], GcError> {
    Ok([
        FileLock::exclusive(&root.join("images.lock"))?,
        FileLock::exclusive(&root.join("blob-sources.lock"))?,
    ])
}

/// Store directories where writers keep `.tmp-*` files beside what they write, which a
/// killed writer leaves behind.
pub(crate) const TEMP_DIRS: [&str; 5] = ["", "blobs/sha256", "cache", "cache/records", "chunks"];

/// Of [`TEMP_DIRS`], those only a build (or a pull or load, all under the build guard)
/// writes in, so that a held gc lock alone says their temp files are dead.
const BUILD_TEMP_DIRS: [&str; 2] = ["blobs/sha256", "chunks"];

/// With the gc lock held: remove the temp files dead builds left in the blob and chunk
/// directories; returns how many. One directory read each, so cheap enough to run after
/// every build. Best effort: what cannot be removed stays for `builder prune`.
pub(crate) fn sweep_temp_files(root: &Path, _gc: &FileLock) -> usize {
    let mut removed = 0;
    for dir in BUILD_TEMP_DIRS {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let temp = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(crate::store::atomic::TEMP_PREFIX));
            if temp && remove_tree(&entry.path()).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

/// A name in `ROOT/trash/` that no other removal uses.
fn trash_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Remove the tree at `path` atomically as far as readers can tell: rename it into
/// `ROOT/trash/`, then delete it there.
fn discard(root: &Path, path: &Path) -> Result<(), String> {
    let trash = root.join("trash");
    let _ = std::fs::create_dir_all(&trash);
    let target = trash.join(trash_name());
    let doomed = match std::fs::rename(path, &target) {
        Ok(()) => target,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        // Another file system, or a rename refused: delete in place.
        Err(_) => path.to_path_buf(),
    };
    remove_tree(&doomed).map_err(|e| crate::progress::chain(&e))
}

/// Remove what `sel` chose from the store scanned as `inv`, in the order the module docs
/// give, and every leftover of dead builds.
pub(crate) fn execute(root: &Path, inv: &Inventory, sel: &Selection) -> PruneReport {
    let mut removal = Removal {
        root,
        inv,
        report: PruneReport::default(),
    };
    removal.records(&sel.records);
    removal.snapshots(&sel.snapshots);
    removal.trees(&sel.trees);
    removal.blobs(&sel.blobs);
    removal.mounts(&sel.mounts);
    removal.downloads(&sel.downloads);
    removal.git_repos(&sel.git_repos);
    removal.leftovers();
    removal.report
}

/// One prune's removals: the store, what its scan found, and what has gone so far.
struct Removal<'a> {
    /// The store root.
    root: &'a Path,
    /// The store as scanned.
    inv: &'a Inventory,
    /// What has been removed, and what could not be.
    report: PruneReport,
}

impl Removal<'_> {
    /// Note that `what` could not be removed.
    fn fail(&mut self, what: &str, cause: impl std::fmt::Display) {
        self.report.failures.push(format!("remove {what}: {cause}"));
    }

    /// The cache records at `chosen` (indexes into the inventory) with their lock files;
    /// the report lists them least recently used first.
    fn records(&mut self, chosen: &[usize]) {
        let cache = CacheStore::new(self.root);
        let mut removed: Vec<(SystemTime, RecordUsage)> = Vec::new();
        for &i in chosen {
            let Some(r) = self.inv.records.get(i) else {
                continue;
            };
            match cache.remove(&r.key) {
                Ok(()) => {
                    let lock = cache
                        .dir()
                        .join("locks")
                        .join(format!("{}.lock", r.key.digest()));
                    let _ = std::fs::remove_file(lock);
                    self.report.records += 1;
                    self.report.bytes += r.bytes;
                    removed.push((r.last_used, record_usage(self.inv, i)));
                }
                Err(e) => self.fail("cache record", crate::progress::chain(&e)),
            }
        }
        removed.sort_by_key(|(used, _)| *used);
        self.report.removed = removed.into_iter().map(|(_, r)| r).collect();
    }

    /// The snapshots named, in the order given (children before parents).
    fn snapshots(&mut self, chosen: &[String]) {
        for name in chosen {
            let Some(s) = self.inv.snapshots.get(name) else {
                continue;
            };
            match discard(self.root, &s.path) {
                Ok(()) => {
                    self.report.snapshots += 1;
                    self.report.bytes += s.bytes;
                }
                Err(e) => self.fail(&format!("snapshot {name}"), e),
            }
        }
    }

    /// The flattened trees named.
    fn trees(&mut self, chosen: &[String]) {
        for name in chosen {
            let Some(t) = self.inv.trees.get(name) else {
                continue;
            };
            match discard(self.root, &t.path) {
                Ok(()) => {
                    self.report.trees += 1;
                    self.report.bytes += t.bytes;
                }
                Err(e) => self.fail(&format!("flattened tree {name}"), e),
            }
        }
    }

    /// The blobs named (`sha256:…`); one already gone is no failure.
    fn blobs(&mut self, chosen: &[String]) {
        let blobs = self.root.join("blobs").join("sha256");
        for digest in chosen {
            let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
            match std::fs::remove_file(blobs.join(hex)) {
                Ok(()) => {
                    self.report.blobs += 1;
                    self.report.bytes += self.inv.blobs.get(digest).copied().unwrap_or(0);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => self.fail(&format!("blob {digest}"), e),
            }
        }
    }

    /// The RUN cache mounts named, each with its lock file.
    fn mounts(&mut self, chosen: &[String]) {
        let mounts = self.root.join("cache-mounts");
        for name in chosen {
            let Some(m) = self.inv.mounts.get(name) else {
                continue;
            };
            match discard(self.root, &m.path) {
                Ok(()) => {
                    let _ = std::fs::remove_file(mounts.join(format!("{name}.lock")));
                    self.report.mounts += 1;
                    self.report.bytes += m.bytes;
                }
                Err(e) => self.fail(&format!("cache mount {name}"), e),
            }
        }
    }

    /// The kept downloads named.
    fn downloads(&mut self, chosen: &[String]) {
        for name in chosen {
            let Some(d) = self.inv.downloads.get(name) else {
                continue;
            };
            match discard(self.root, &d.path) {
                Ok(()) => {
                    self.report.downloads += 1;
                    self.report.bytes += d.bytes;
                }
                Err(e) => self.fail(&format!("download {name}"), e),
            }
        }
    }

    /// The kept Git repositories named, each with its lock file; one whose lock someone
    /// holds is in use and stays.
    fn git_repos(&mut self, chosen: &[String]) {
        for name in chosen {
            let Some(g) = self.inv.git_repos.get(name) else {
                continue;
            };
            let lock_path = g.path.with_extension("lock");
            let lock = match FileLock::try_exclusive(&lock_path) {
                Ok(Some(lock)) => lock,
                Ok(None) => continue,
                Err(e) => {
                    self.fail(&format!("Git repository {name}"), e);
                    continue;
                }
            };
            match discard(self.root, &g.path) {
                Ok(()) => {
                    // Unlinked while held: whoever opens it next makes a new one (and a
                    // user that opened the old one sees it is gone, see `remote`).
                    let _ = std::fs::remove_file(&lock_path);
                    self.report.git_repos += 1;
                    self.report.bytes += g.bytes;
                }
                Err(e) => self.fail(&format!("Git repository {name}"), e),
            }
            drop(lock);
        }
    }

    /// Every leftover of dead builds.
    fn leftovers(&mut self) {
        for left in &self.inv.leftovers {
            match remove_tree(&left.path) {
                Ok(()) => {
                    self.report.leftovers += 1;
                    self.report.bytes += left.bytes;
                }
                Err(e) => self.fail(&left.path.display().to_string(), crate::progress::chain(&e)),
            }
        }
    }
}

#[cfg(test)]
#[path = "gc_tests.rs"]
mod tests;
