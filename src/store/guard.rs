//! The store-wide lock that keeps garbage collection away from running builds:
//! `ROOT/gc.lock`.
//!
//! Every build (and every `pull` or `load`, which also write unnamed blobs for a while)
//! holds a *shared* lock on it from start to end ([`build_guard`]); `prune` and the store
//! cap take it *exclusive*. So a prune never removes what a running build uses, and
//! whatever a build left behind when the prune gets the lock (a RUN work directory, a
//! prepared snapshot, a half-written blob) belongs to a build that is dead: the kernel
//! drops a `flock` with its process, even after `kill -9`.
//!
//! Lock order, to rule out deadlocks: `gc.lock` first, then `images.lock`.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::lock::FileLock;
use super::{Result, StoreError};

/// How long a prune waits quietly for running builds (or a build for a prune) before
/// saying so.
const QUIET_WAIT: Duration = Duration::from_millis(300);

/// `ROOT/gc.lock`.
fn lock_path(root: &Path) -> PathBuf {
    root.join("gc.lock")
}

fn open(root: &Path) -> Result<File> {
    std::fs::create_dir_all(root).map_err(|e| StoreError::io("create store directory", root, e))?;
    let path = lock_path(root);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| StoreError::io("open lock file", &path, e))
}

/// Held by a build from start to end: while any guard is alive, garbage collection waits.
#[derive(Debug)]
pub struct BuildGuard {
    file: File,
}

impl Drop for BuildGuard {
    fn drop(&mut self) {
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

/// Take the shared lock a build holds (see the module docs); waits while a prune runs,
/// saying so on stderr.
pub fn build_guard(root: &Path) -> Result<BuildGuard> {
    let file = open(root)?;
    let path = lock_path(root);
    let started = std::time::Instant::now();
    // `builder du` holds the lock for an instant to see whether builds run: no message
    // for that.
    while started.elapsed() < QUIET_WAIT {
        match fs4::FileExt::try_lock_shared(&file) {
            Ok(()) => return Ok(BuildGuard { file }),
            Err(fs4::TryLockError::WouldBlock) => {
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(fs4::TryLockError::Error(e)) => return Err(StoreError::io("lock", path, e)),
        }
    }
    eprintln!("waiting for a prune of the build cache to finish");
    fs4::FileExt::lock_shared(&file).map_err(|e| StoreError::io("lock", &path, e))?;
    Ok(BuildGuard { file })
}

/// The exclusive lock of a prune: waits for running builds, saying so on stderr when that
/// takes more than a moment.
pub(crate) fn exclusive(root: &Path) -> Result<FileLock> {
    open(root)?;
    let path = lock_path(root);
    let started = std::time::Instant::now();
    loop {
        if let Some(lock) = FileLock::try_exclusive(&path)? {
            return Ok(lock);
        }
        if started.elapsed() >= QUIET_WAIT {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    eprintln!("waiting for running builds to finish");
    FileLock::exclusive(&path)
}

/// The exclusive lock if no build runs; `None` if one does.
pub(crate) fn try_exclusive(root: &Path) -> Result<Option<FileLock>> {
    open(root)?;
    FileLock::try_exclusive(&lock_path(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_share_and_exclude_gc() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("store");
        let a = build_guard(&root).unwrap();
        let b = build_guard(&root).unwrap();
        assert!(try_exclusive(&root).unwrap().is_none());
        drop(a);
        assert!(try_exclusive(&root).unwrap().is_none());
        drop(b);
        let gc = try_exclusive(&root).unwrap().expect("no build runs");
        drop(gc);
        let gc = exclusive(&root).unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| build_guard(&root).map(|_| ()));
            std::thread::sleep(Duration::from_millis(100));
            assert!(!waiter.is_finished());
            drop(gc);
            waiter.join().unwrap().unwrap();
        });
    }
}
