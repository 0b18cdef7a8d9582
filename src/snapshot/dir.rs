//! The directory snapshotter: committed snapshots are plain directories with a parent
//! pointer, ready to be stacked as overlay lower directories.
//!
//! ```text
//! ROOT/snapshots/NAME/fs       the snapshot's own files (a layer's worth, overlay form)
//! ROOT/snapshots/NAME/parent   the parent's NAME (absent for a base snapshot)
//! ROOT/active/KEY/fs           a prepared upper directory being filled
//! ROOT/active/KEY/work         overlay's work directory for it
//! ```
//!
//! Commit is one `rename(2)` of `active/KEY` to `snapshots/NAME`, so a snapshot is either
//! complete or absent, even after `kill -9`; when two builds commit the same NAME, the
//! first wins and the second's copy is discarded.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{Result, SnapshotError};
use super::fsops::{self, Root};
use super::{Active, SnapshotId, Snapshotter};

/// Longest chain followed before assuming a parent cycle.
const MAX_CHAIN: usize = 4096;

/// Snapshots as directories under one root.
#[derive(Debug)]
pub struct DirSnapshotter {
    root: PathBuf,
    counter: AtomicU64,
}

impl DirSnapshotter {
    /// Use (and create if needed) `root`.
    pub fn new(root: &Path) -> Result<Self> {
        for sub in ["snapshots", "active"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir)
                .map_err(|source| io_err("create snapshot directory", &dir, source))?;
        }
        Ok(DirSnapshotter {
            root: root.to_path_buf(),
            counter: AtomicU64::new(0),
        })
    }

    fn snapshot_dir(&self, name: &str) -> PathBuf {
        self.root.join("snapshots").join(name)
    }

    /// Every committed snapshot with its parent and directory, sorted by name (for
    /// garbage collection; entries that are not snapshots are skipped).
    pub fn list(&self) -> Result<Vec<SnapshotEntry>> {
        let mut out = Vec::new();
        for name in dir_names(&self.root.join("snapshots"))? {
            let dir = self.snapshot_dir(&name);
            if check_name(&name).is_err() || !dir.join("fs").is_dir() {
                continue;
            }
            let parent = self.parent_of(&name)?;
            out.push(SnapshotEntry { name, parent, dir });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The directories of prepared snapshots that were neither committed nor aborted (a
    /// step in progress, or one a killed build left behind).
    pub fn prepared(&self) -> Result<Vec<PathBuf>> {
        let active = self.root.join("active");
        Ok(dir_names(&active)?
            .into_iter()
            .map(|n| active.join(n))
            .collect())
    }

    fn parent_of(&self, name: &str) -> Result<Option<String>> {
        let file = self.snapshot_dir(name).join("parent");
        match fs::read_to_string(&file) {
            Ok(s) => Ok(Some(s.trim().to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(io_err("read snapshot parent", &file, source)),
        }
    }
}

impl Snapshotter for DirSnapshotter {
    fn prepare(&self, parent: Option<&SnapshotId>) -> Result<Active> {
        if let Some(p) = parent {
            if !self.snapshot_dir(p.as_str()).join("fs").is_dir() {
                return Err(SnapshotError::NotFound(p.as_str().to_string()));
            }
        }
        let key = format!(
            "{}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
            self.counter.fetch_add(1, Ordering::Relaxed)
        );
        let dir = self.root.join("active").join(&key);
        let (upper, work) = (dir.join("fs"), dir.join("work"));
        for d in [&upper, &work] {
            fs::create_dir_all(d)
                .map_err(|source| io_err("create snapshot directory", d, source))?;
        }
        if let Some(p) = parent {
            let file = dir.join("parent");
            fs::write(&file, p.as_str())
                .map_err(|source| io_err("write snapshot parent", &file, source))?;
        }
        Ok(Active {
            key,
            parent: parent.cloned(),
            upper,
            work,
        })
    }

    fn commit(&self, active: Active, name: &str) -> Result<SnapshotId> {
        check_name(name)?;
        let dir = self.root.join("active").join(&active.key);
        remove_tree(&dir.join("work"))?;
        let dest = self.snapshot_dir(name);
        match fs::rename(&dir, &dest) {
            Ok(()) => Ok(SnapshotId(name.to_string())),
            Err(e) if dest.join("fs").is_dir() => {
                // Someone committed the same snapshot first: theirs is as good as ours.
                let _ = e;
                remove_tree(&dir)?;
                Ok(SnapshotId(name.to_string()))
            }
            Err(source) => Err(io_err("commit snapshot", &dest, source)),
        }
    }

    fn abort(&self, active: Active) -> Result<()> {
        remove_tree(&self.root.join("active").join(&active.key))
    }

    fn get(&self, name: &str) -> Result<Option<SnapshotId>> {
        check_name(name)?;
        Ok(self
            .snapshot_dir(name)
            .join("fs")
            .is_dir()
            .then(|| SnapshotId(name.to_string())))
    }

    fn view(&self, id: &SnapshotId) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let mut cur = Some(id.as_str().to_string());
        while let Some(name) = cur {
            check_name(&name)?;
            let fs_dir = self.snapshot_dir(&name).join("fs");
            if !fs_dir.is_dir() {
                return Err(SnapshotError::NotFound(name));
            }
            if out.len() >= MAX_CHAIN {
                return Err(SnapshotError::InvalidName(format!(
                    "{name} (parent chain too long)"
                )));
            }
            out.push(fs_dir);
            cur = self.parent_of(&name)?;
        }
        Ok(out)
    }

    fn remove(&self, id: &SnapshotId) -> Result<()> {
        check_name(id.as_str())?;
        remove_tree(&self.snapshot_dir(id.as_str()))
    }
}

/// A committed snapshot, as [`DirSnapshotter::list`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotEntry {
    /// Its name (a chain id).
    pub name: String,
    /// Its parent's name (`None` for a base snapshot).
    pub parent: Option<String>,
    /// Its directory (`snapshots/NAME`: `fs` and `parent`).
    pub dir: PathBuf,
}

/// The entry names of `dir` (none when it does not exist).
fn dir_names(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(io_err("list snapshots in", dir, source)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| io_err("list snapshots in", dir, source))?;
        if let Some(name) = entry.file_name().to_str() {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

/// Names become directory names: letters, digits, `.`, `_`, `-`, `:` only.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(SnapshotError::InvalidName(name.to_string()))
    }
}

/// Remove a directory tree (or a file) that may hold read-only directories or overlay
/// work files; never follows symlinks. Absent is fine.
pub(crate) fn remove_tree(path: &Path) -> Result<()> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(());
    };
    let root = match Root::open(parent) {
        Ok(r) => r,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(io_err("remove snapshot", path, source)),
    };
    fsops::remove_all(root.fd(), OsStr::new(name))
        .map_err(|source| io_err("remove snapshot", path, source))
}

fn io_err(action: &'static str, path: &Path, source: io::Error) -> SnapshotError {
    SnapshotError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn snapshots_chain_commit_and_remove() {
        let t = tempfile::tempdir().unwrap();
        let snaps = DirSnapshotter::new(t.path()).unwrap();
        let a = snaps.prepare(None).unwrap();
        fs::write(a.upper.join("base"), "b").unwrap();
        let base = snaps.commit(a, "base").unwrap();
        let b = snaps.prepare(Some(&base)).unwrap();
        assert_eq!(b.parent(), Some(&base));
        assert!(b.work.is_dir());
        fs::write(b.upper.join("top"), "t").unwrap();
        let top = snaps.commit(b, "sha256:top").unwrap();
        let lowers = snaps.view(&top).unwrap();
        assert_eq!(lowers.len(), 2);
        assert!(lowers[0].join("top").is_file());
        assert!(lowers[1].join("base").is_file());
        assert_eq!(snaps.get("base").unwrap(), Some(base.clone()));
        assert_eq!(snaps.get("nope").unwrap(), None);

        // The same name committed twice: the first stays.
        let again = snaps.prepare(Some(&base)).unwrap();
        fs::write(again.upper.join("other"), "o").unwrap();
        assert_eq!(snaps.commit(again, "sha256:top").unwrap(), top);
        assert!(snaps.view(&top).unwrap()[0].join("top").is_file());
        assert_eq!(fs::read_dir(t.path().join("active")).unwrap().count(), 0);

        let gone = snaps.prepare(None).unwrap();
        snaps.abort(gone).unwrap();
        assert_eq!(fs::read_dir(t.path().join("active")).unwrap().count(), 0);

        snaps.remove(&base).unwrap();
        assert!(matches!(snaps.view(&top), Err(SnapshotError::NotFound(_))));
        assert!(matches!(
            snaps.prepare(Some(&base)),
            Err(SnapshotError::NotFound(_))
        ));
        for bad in ["", "..", "a/b", "x y"] {
            assert!(
                matches!(snaps.get(bad), Err(SnapshotError::InvalidName(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn list_names_parents_and_prepared_lists_uncommitted() {
        let t = tempfile::tempdir().unwrap();
        let snaps = DirSnapshotter::new(t.path()).unwrap();
        let base = snaps
            .commit(snaps.prepare(None).unwrap(), "sha256:base")
            .unwrap();
        snaps
            .commit(snaps.prepare(Some(&base)).unwrap(), "sha256:top")
            .unwrap();
        let pending = snaps.prepare(Some(&base)).unwrap();
        fs::create_dir(t.path().join("snapshots/stray")).unwrap();
        let listed = snaps.list().unwrap();
        let names: Vec<(&str, Option<&str>)> = listed
            .iter()
            .map(|e| (e.name.as_str(), e.parent.as_deref()))
            .collect();
        assert_eq!(
            names,
            [("sha256:base", None), ("sha256:top", Some("sha256:base"))]
        );
        assert_eq!(listed[1].dir, t.path().join("snapshots/sha256:top"));
        assert_eq!(
            snaps.prepared().unwrap(),
            [t.path().join("active").join(pending.key())]
        );
        remove_tree(&t.path().join("active").join(pending.key())).unwrap();
        assert!(snaps.prepared().unwrap().is_empty());
    }

    #[test]
    fn removing_a_snapshot_with_read_only_directories_works() {
        let t = tempfile::tempdir().unwrap();
        let snaps = DirSnapshotter::new(t.path()).unwrap();
        let a = snaps.prepare(None).unwrap();
        fs::create_dir(a.upper.join("ro")).unwrap();
        fs::write(a.upper.join("ro/f"), "x").unwrap();
        fs::set_permissions(a.upper.join("ro"), fs::Permissions::from_mode(0o500)).unwrap();
        let id = snaps.commit(a, "ro").unwrap();
        snaps.remove(&id).unwrap();
        assert!(!Path::new(&t.path().join("snapshots/ro")).exists());
    }
}
