//! Advisory file locks (`flock`) that serialise writers of shared store state between
//! processes. A lock is released when its [`FileLock`] is dropped, and by the kernel when the
//! process dies, so `kill -9` never leaves the store locked.
//!
//! Locks are per open file: a process that takes the same lock file twice waits for itself,
//! so take each lock once and keep the guard.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::error::{Result, StoreError};

/// A held lock on a file; unlocked on drop.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| StoreError::io("open lock file", path, e))
}

impl FileLock {
    /// Wait for, then hold, the exclusive lock on `path` (created if missing).
    pub fn exclusive(path: &Path) -> Result<Self> {
        let file = open(path)?;
        fs4::FileExt::lock(&file).map_err(|e| StoreError::io("lock", path, e))?;
        Ok(FileLock {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Wait for, then hold, a shared lock on `path` (created if missing).
    pub fn shared(path: &Path) -> Result<Self> {
        let file = open(path)?;
        fs4::FileExt::lock_shared(&file).map_err(|e| StoreError::io("lock", path, e))?;
        Ok(FileLock {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The exclusive lock if nobody holds the file; `None` if it is busy.
    pub fn try_exclusive(path: &Path) -> Result<Option<Self>> {
        let file = open(path)?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => Ok(Some(FileLock {
                file,
                path: path.to_path_buf(),
            })),
            Err(fs4::TryLockError::WouldBlock) => Ok(None),
            Err(fs4::TryLockError::Error(e)) => Err(StoreError::io("lock", path, e)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Closing the file releases the lock anyway; unlocking first is just prompt.
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        let held = FileLock::exclusive(&p).unwrap();
        assert_eq!(held.path(), p);
        assert!(FileLock::try_exclusive(&p).unwrap().is_none());
        drop(held);
        assert!(FileLock::try_exclusive(&p).unwrap().is_some());
    }

    #[test]
    fn shared_locks_coexist_but_exclude_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        let a = FileLock::shared(&p).unwrap();
        let b = FileLock::shared(&p).unwrap();
        assert!(FileLock::try_exclusive(&p).unwrap().is_none());
        drop((a, b));
        assert!(FileLock::try_exclusive(&p).unwrap().is_some());
    }
}
