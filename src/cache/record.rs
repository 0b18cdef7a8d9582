//! Cache records on disk: one JSON file per cache key, written atomically, listed for
//! pruning, locked per key while a step is being computed.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use oci_spec::image::{Descriptor, Digest};
use serde::{Deserialize, Serialize};

use crate::store::atomic::write_atomic;
use crate::store::lock::FileLock;
use crate::store::StoreError;

/// A failure reading or writing the build cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// A file operation on the cache failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A filesystem operation failed.
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

/// The layer a cached step made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordLayer {
    /// The blob in the store (media type, digest, size).
    pub descriptor: Descriptor,
    /// Its uncompressed digest.
    pub diff_id: Digest,
    /// The chain id of the image up to and including this layer (the snapshot's name).
    pub chain_id: Digest,
    /// The blob is the plain tar, written in place of the compressed one the key asks for
    /// by a stage whose layers reach no output: only such a stage reuses it as it is
    /// (another writes the compressed blob first, so that its image has that).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub uncompressed_stand_in: bool,
}

/// What one step produced, stored under its cache key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The cache key (sha256 of the step's explicit input encoding).
    pub key: Digest,
    /// The layer, or `None` for a step that changed nothing.
    pub layer: Option<RecordLayer>,
    /// When the step ran (RFC 3339): reused as the history entry's `created` on a hit,
    /// so a fully cached rebuild gives the same image.
    pub created: String,
    /// The progress name of the step (`[2/3] COPY data/ /data/`), for `builder du`.
    pub description: String,
}

/// A record and when it was last used.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The record.
    pub record: Record,
    /// Its file's mtime: the last build that made or reused it.
    pub last_used: SystemTime,
    /// Where it is stored.
    pub path: PathBuf,
}

/// Held while a step with this key is computed; dropping it (or the process dying) lets
/// the next build in.
#[derive(Debug)]
pub struct StepLock {
    _lock: FileLock,
}

/// The records of one store root (`ROOT/cache`).
#[derive(Debug, Clone)]
pub struct CacheStore {
    dir: PathBuf,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CacheError {
    let path = path.to_path_buf();
    move |source| CacheError::Io {
        action,
        path,
        source,
    }
}

impl CacheStore {
    /// The cache of the store at `root` (directories are made on first write).
    pub fn new(root: &Path) -> CacheStore {
        CacheStore {
            dir: root.join("cache"),
        }
    }

    /// `ROOT/cache`: other cache state (stat caches, explanations) lives beside the records.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn records(&self) -> PathBuf {
        self.dir.join("records")
    }

    fn path_of(&self, key: &Digest) -> PathBuf {
        self.records().join(format!("{}.json", key.digest()))
    }

    /// The record of `key`, its last use refreshed; `None` when there is none or it cannot
    /// be read (a damaged record is a miss, never an error).
    pub fn get(&self, key: &Digest) -> Option<Record> {
        let path = self.path_of(key);
        let bytes = std::fs::read(&path).ok()?;
        let record: Record = serde_json::from_slice(&bytes).ok()?;
        if &record.key != key {
            return None;
        }
        if let Ok(f) = std::fs::File::options().write(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        Some(record)
    }

    /// Store `record` (atomically; an existing record of the same key is replaced).
    pub fn put(&self, record: &Record) -> Result<(), CacheError> {
        let dir = self.records();
        std::fs::create_dir_all(&dir).map_err(io("create directory", &dir))?;
        let bytes = serde_json::to_vec(record).map_err(|e| CacheError::Io {
            action: "encode cache record",
            path: self.path_of(&record.key),
            source: std::io::Error::other(e),
        })?;
        write_atomic(&self.path_of(&record.key), &bytes)?;
        Ok(())
    }

    /// Wait for, then hold, the lock of `key`.
    pub fn lock(&self, key: &Digest) -> Result<StepLock, CacheError> {
        let dir = self.dir.join("locks");
        std::fs::create_dir_all(&dir).map_err(io("create directory", &dir))?;
        let lock = FileLock::exclusive(&dir.join(format!("{}.lock", key.digest())))?;
        Ok(StepLock { _lock: lock })
    }

    /// Every readable record, in no particular order.
    pub fn list(&self) -> Result<Vec<Listed>, CacheError> {
        let dir = self.records();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("read directory", &dir)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io("read directory", &dir))?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let Ok(record) = serde_json::from_slice::<Record>(&bytes) else {
                continue;
            };
            let last_used = entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            out.push(Listed {
                record,
                last_used,
                path,
            });
        }
        Ok(out)
    }

    /// Delete the record of `key` (absent is fine).
    pub fn remove(&self, key: &Digest) -> Result<(), CacheError> {
        let path = self.path_of(key);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("remove", &path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::digest::sha256;

    fn record(key: &Digest) -> Record {
        Record {
            key: key.clone(),
            layer: None,
            created: "2026-01-01T00:00:00Z".into(),
            description: "[1/2] COPY a /a".into(),
        }
    }

    #[test]
    fn records_round_trip_and_are_listed() {
        let t = tempfile::tempdir().unwrap();
        let cache = CacheStore::new(t.path());
        let key = sha256(b"step");
        assert_eq!(cache.get(&key), None);
        cache.put(&record(&key)).unwrap();
        assert_eq!(cache.get(&key), Some(record(&key)));
        let listed = cache.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].record.key, key);
        cache.remove(&key).unwrap();
        assert_eq!(cache.get(&key), None);
        cache.remove(&key).unwrap();
    }

    #[test]
    fn a_damaged_record_is_a_miss() {
        let t = tempfile::tempdir().unwrap();
        let cache = CacheStore::new(t.path());
        let key = sha256(b"step");
        cache.put(&record(&key)).unwrap();
        std::fs::write(cache.path_of(&key), b"{\"key\":").unwrap();
        assert_eq!(cache.get(&key), None);
        assert!(cache.list().unwrap().is_empty());
    }

    #[test]
    fn a_record_under_another_key_is_a_miss() {
        let t = tempfile::tempdir().unwrap();
        let cache = CacheStore::new(t.path());
        let (a, b) = (sha256(b"a"), sha256(b"b"));
        cache.put(&record(&a)).unwrap();
        std::fs::copy(cache.path_of(&a), cache.path_of(&b)).unwrap();
        assert_eq!(cache.get(&b), None);
    }
}
