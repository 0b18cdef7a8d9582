//! What is kept of one URL's download under `<remote>/http/<sha256 of the URL>/`: the
//! content in a file named by its digest's hex, and `record.json` with what revalidates it
//! (`ETag`, `Last-Modified`) and what it is (digest, file name). The content is committed
//! (temp file, fsync, rename) before the record that names it, so a record never names
//! missing content; a record whose content is gone anyway is no record.
//!
//! The whole directory is one unit for `builder prune` (dated by its mtime, which each use
//! refreshes).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use tempfile::NamedTempFile;

use super::HttpError;
use crate::store::atomic::{persist, temp_file_in, write_atomic, TEMP_PREFIX};
use crate::store::digest::sha256;

/// The record file of a URL.
const RECORD: &str = "record.json";

/// What is known of a kept download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Record {
    /// The URL, its credentials masked (for people reading the store).
    pub url: String,
    /// `sha256:<hex>` of the content.
    pub digest: String,
    /// The file name the download gets in a directory.
    pub filename: String,
    /// The `ETag` the server sent, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The `Last-Modified` the server sent, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

/// The directory kept for one URL.
#[derive(Debug, Clone)]
pub(super) struct Kept {
    dir: PathBuf,
}

impl Kept {
    /// The directory of `url` under `http_dir` (named by the URL's digest, so no part of
    /// the URL is a path).
    pub fn of(http_dir: &Path, url: &str) -> Kept {
        let hex = sha256(url.as_bytes()).digest().to_string();
        Kept {
            dir: http_dir.join(hex),
        }
    }

    /// The record, when there is one whose content is on disk.
    pub fn load(&self) -> Option<Record> {
        let bytes = std::fs::read(self.dir.join(RECORD)).ok()?;
        let record: Record = serde_json::from_slice(&bytes).ok()?;
        self.content(&record.digest).is_file().then_some(record)
    }

    /// The content file of `digest`.
    pub fn content(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir.join(hex)
    }

    /// A temp file to download into, in this directory (created 0700 when missing).
    pub fn temp(&self) -> Result<NamedTempFile, HttpError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| HttpError::Io {
                action: "create",
                path: self.dir.clone(),
                source: e,
            })?;
        Ok(temp_file_in(&self.dir)?)
    }

    /// Commit `tmp` (content hashing to `record.digest`), then the record; content files
    /// of earlier records go.
    pub fn commit(&self, tmp: NamedTempFile, record: &Record) -> Result<PathBuf, HttpError> {
        let content = self.content(&record.digest);
        persist(tmp, &content)?;
        let at = self.dir.join(RECORD);
        let json = serde_json::to_vec_pretty(record).map_err(|e| HttpError::Io {
            action: "encode",
            path: at.clone(),
            source: e.into(),
        })?;
        write_atomic(&at, &json)?;
        self.remove_stale(&content);
        Ok(content)
    }

    /// Drop `tmp` and, when nothing else is kept for the URL, its directory.
    pub fn discard(&self, tmp: NamedTempFile) {
        drop(tmp);
        let _ = std::fs::remove_dir(&self.dir);
    }

    /// Note a use now (prune removes the least recently used first). Best effort.
    pub fn touch(&self) {
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.set_modified(SystemTime::now());
        }
    }

    /// Remove content files other than `current` (best effort; temp files of running
    /// downloads stay).
    fn remove_stale(&self, current: &Path) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name != RECORD && !name.starts_with(TEMP_PREFIX) && e.path() != current {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn record(digest: &str) -> Record {
        Record {
            url: "http://h/f".into(),
            digest: digest.into(),
            filename: "f".into(),
            etag: Some("\"v1\"".into()),
            last_modified: None,
        }
    }

    #[test]
    fn a_record_names_committed_content_and_replaces_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let kept = Kept::of(dir.path(), "http://h/f");
        assert!(kept.load().is_none());
        for body in [&b"one"[..], b"two"] {
            let mut tmp = kept.temp().unwrap();
            tmp.write_all(body).unwrap();
            let r = record(sha256(body).as_ref());
            let path = kept.commit(tmp, &r).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), body);
            assert_eq!(kept.load(), Some(r));
        }
        let mut names = crate::store::atomic::dir_names(&kept.dir);
        names.sort();
        let two = sha256(b"two").digest().to_string();
        assert_eq!(names, vec![two.clone(), RECORD.to_string()]);
        // A record whose content is gone is no record.
        std::fs::remove_file(kept.dir.join(two)).unwrap();
        assert!(kept.load().is_none());
    }

    #[test]
    fn urls_get_separate_directories() {
        let a = Kept::of(Path::new("/x"), "http://h/a");
        let b = Kept::of(Path::new("/x"), "http://h/b");
        assert_ne!(a.dir, b.dir);
        assert!(a.dir.starts_with("/x"));
    }
}
