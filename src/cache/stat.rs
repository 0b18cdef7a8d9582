//! The stat cache of a build context: for each file already hashed, the stat fields it had
//! then (device, inode, size, mtime and ctime in ns, mode) and its content sha256, so that
//! digesting an unchanged context reads no file content.
//!
//! Pipeline stage: beside `cache`; filled and consulted by the COPY source digests
//! (`solve::copy::digest`), saved by the build when it ends. One file per context root, at
//! `ROOT/cache/stat/<sha256 of the canonical root path>` ([`StatCache::path_for`]).
//!
//! Invariants:
//! - a missing, foreign or damaged file is an empty cache, never an error;
//! - an entry is used only when every stat field matches, and only when the file had not
//!   been touched (mtime or ctime) within a second of its hashing ("racily clean" entries,
//!   as git calls them: a write in the same timestamp tick as the hashing would be
//!   invisible in the stat fields, so such entries are hashed again);
//! - saving is atomic (`store::atomic`) and does nothing when nothing changed; entries of
//!   files that a walk showed to be gone are dropped.
//!
//! The format is binary: a magic with the version, the entry count, the entries (path
//! length, path, the stat fields, the hashing time, the 32 digest bytes, little endian),
//! and a crc32 of all of it.

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oci_spec::image::Digest;

use crate::store::atomic::write_atomic;
use crate::store::digest::{sha256, sha256_digest_from_hex};
use crate::store::StoreError;

/// Magic and format version at the start of a stat cache file.
const MAGIC: &[u8; 8] = b"BSTATC01";

/// How long after its last change a file must have been hashed for its entry to be
/// trusted (covers filesystems with one-second timestamps).
const RACY_WINDOW: Duration = Duration::from_secs(1);

/// A failure saving a stat cache.
#[derive(Debug, thiserror::Error)]
pub enum StatCacheError {
    /// Writing the file failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A filesystem operation failed.
    #[error("{action} {}: {source}", path.display())]
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

/// The stat fields an entry is valid for (times in ns since the epoch; `mode` with the
/// file type bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatKey {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: i64,
    pub ctime: i64,
    pub mode: u32,
}

impl StatKey {
    /// The fields of an `lstat`.
    pub(crate) fn of(meta: &std::fs::Metadata) -> StatKey {
        StatKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: meta.mtime().saturating_mul(1_000_000_000) + meta.mtime_nsec(),
            ctime: meta.ctime().saturating_mul(1_000_000_000) + meta.ctime_nsec(),
            mode: meta.mode(),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    key: StatKey,
    /// When the content was hashed (ns since the epoch).
    hashed_at: i64,
    digest: [u8; 32],
    /// Looked up, inserted, or listed in a walk since loading.
    seen: bool,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Directories whose every child a walk has marked seen since loading.
    listed: HashSet<String>,
    dirty: bool,
}

/// A persistent map from a file's path (relative to a context root) and stat fields to its
/// content sha256. Shared by reference between threads (a mutex inside).
///
/// ```
/// use builder::cache::stat::StatCache;
/// let dir = tempfile::tempdir().unwrap();
/// let file = StatCache::path_for(&dir.path().join("cache"), dir.path());
/// let cache = StatCache::load(&file);
/// assert!(cache.is_empty());
/// cache.save().unwrap(); // nothing changed: nothing written
/// assert!(!file.exists());
/// ```
#[derive(Debug)]
pub struct StatCache {
    file: PathBuf,
    racy_window_ns: i64,
    inner: Mutex<Inner>,
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn digest_bytes(d: &Digest) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(d.digest(), &mut out).ok()?;
    Some(out)
}

/// The typed digest of 32 raw sha256 bytes.
fn digest_of_bytes(bytes: &[u8; 32]) -> Digest {
    match sha256_digest_from_hex(&hex::encode(bytes)) {
        Ok(d) => d,
        // 64 lowercase hex characters are always a valid sha256 digest.
        Err(_) => sha256(bytes),
    }
}

impl StatCache {
    /// Where the stat cache of the context at `context_root` lives: under `cache_dir`
    /// (`ROOT/cache`), `stat/<sha256 of the canonical root path>`.
    pub fn path_for(cache_dir: &Path, context_root: &Path) -> PathBuf {
        let canon = std::fs::canonicalize(context_root).unwrap_or_else(|_| context_root.into());
        let hash = sha256(canon.as_os_str().as_bytes());
        cache_dir.join("stat").join(hash.digest())
    }

    /// An empty cache that [`save`](StatCache::save)s to `file`.
    pub fn empty(file: &Path) -> StatCache {
        StatCache {
            file: file.to_path_buf(),
            racy_window_ns: RACY_WINDOW.as_nanos() as i64,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The cache saved in `file`; empty when it is missing, of another version, or damaged.
    pub fn load(file: &Path) -> StatCache {
        let cache = StatCache::empty(file);
        if let Ok(bytes) = std::fs::read(file) {
            if let Some(entries) = decode(&bytes) {
                cache.lock().entries = entries;
            }
        }
        cache
    }

    /// The file it is saved to.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets how long after its last change a file must have been hashed for its entry to
    /// be trusted (one second unless set; tests set zero).
    pub fn set_racy_window(&mut self, window: Duration) {
        self.racy_window_ns = i64::try_from(window.as_nanos()).unwrap_or(i64::MAX);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        crate::domain::lock(&self.inner)
    }

    /// The content digest of the file at `rel` if it was hashed with exactly these stat
    /// fields (from `lstat`) and the entry is not racily clean.
    pub fn lookup(&self, rel: &str, meta: &std::fs::Metadata) -> Option<Digest> {
        let raw = self.reader().lookup(rel, &StatKey::of(meta));
        raw.map(|b| digest_of_bytes(&b))
    }

    /// Holds the cache for a run of lookups (one lock for many files).
    pub(crate) fn reader(&self) -> StatReader<'_> {
        StatReader {
            inner: self.lock(),
            racy_window_ns: self.racy_window_ns,
        }
    }

    /// Records that the file at `rel`, with these stat fields (taken before reading it),
    /// has content digest `digest`.
    pub fn insert(&self, rel: &str, meta: &std::fs::Metadata, digest: &Digest) {
        if let Some(bytes) = digest_bytes(digest) {
            self.insert_raw(rel, StatKey::of(meta), bytes, now_ns());
        }
    }

    /// [`insert`](StatCache::insert) with the raw digest bytes and the time the hashing
    /// started (ns since the epoch).
    pub(crate) fn insert_raw(&self, rel: &str, key: StatKey, digest: [u8; 32], hashed_at: i64) {
        let entry = Entry {
            key,
            hashed_at,
            digest,
            seen: true,
        };
        let mut inner = self.lock();
        inner.entries.insert(rel.to_string(), entry);
        inner.dirty = true;
    }

    /// Marks `rel` as present (a walk listed it), so it survives the next save.
    pub(crate) fn mark_seen(&self, rel: &str) {
        if let Some(e) = self.lock().entries.get_mut(rel) {
            e.seen = true;
        }
    }

    /// Records that a walk listed directory `rel` and marked every child seen: entries
    /// directly below it that were not seen are gone and get dropped on save.
    pub(crate) fn mark_listed(&self, rel: &str) {
        let mut inner = self.lock();
        if !inner.listed.contains(rel) {
            inner.listed.insert(rel.to_string());
        }
    }

    /// Writes the cache to its file, atomically; does nothing when nothing changed. Entries
    /// of files that a walk found gone are dropped first.
    pub fn save(&self) -> Result<(), StatCacheError> {
        let mut inner = self.lock();
        let Inner {
            entries, listed, ..
        } = &mut *inner;
        let before = entries.len();
        entries.retain(|path, e| e.seen || !listed.contains(parent_of(path)));
        if entries.len() != before {
            inner.dirty = true;
        }
        if !inner.dirty {
            return Ok(());
        }
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StatCacheError::Io {
                action: "create directory",
                path: dir.to_path_buf(),
                source,
            })?;
        }
        write_atomic(&self.file, &encode(&inner.entries))?;
        inner.dirty = false;
        Ok(())
    }
}

/// A run of lookups under one lock; drop it before inserting.
pub(crate) struct StatReader<'a> {
    inner: MutexGuard<'a, Inner>,
    racy_window_ns: i64,
}

impl StatReader<'_> {
    /// See [`StatCache::lookup`].
    pub(crate) fn lookup(&mut self, rel: &str, key: &StatKey) -> Option<[u8; 32]> {
        let entry = self.inner.entries.get_mut(rel)?;
        entry.seen = true;
        let changed = key.mtime.max(key.ctime);
        if entry.key != *key || changed >= entry.hashed_at.saturating_sub(self.racy_window_ns) {
            return None;
        }
        Some(entry.digest)
    }
}

/// The directory part of a relative path ("" at the top).
fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Bytes per entry besides the path.
const FIXED: usize = 4 + 8 * 6 + 4 + 32;

fn encode(entries: &HashMap<String, Entry>) -> Vec<u8> {
    let paths: usize = entries.keys().map(String::len).sum();
    let mut out = Vec::with_capacity(16 + paths + entries.len() * FIXED);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for (path, e) in entries {
        out.extend_from_slice(&(path.len() as u32).to_le_bytes());
        out.extend_from_slice(path.as_bytes());
        for v in [e.key.dev, e.key.ino, e.key.size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [e.key.mtime, e.key.ctime, e.hashed_at] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&e.key.mode.to_le_bytes());
        out.extend_from_slice(&e.digest);
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Reads little-endian fields off a byte slice.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_le_bytes)
    }
}

fn decode(bytes: &[u8]) -> Option<HashMap<String, Entry>> {
    let body_len = bytes.len().checked_sub(4)?;
    let (body, crc) = bytes.split_at(body_len);
    if crc32fast::hash(body).to_le_bytes() != crc {
        return None;
    }
    let mut r = Reader { rest: body };
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let count = usize::try_from(r.u64()?).ok()?;
    if count > body.len() / FIXED {
        return None;
    }
    let mut entries = HashMap::with_capacity(count);
    for _ in 0..count {
        let len = r.u32()? as usize;
        let path = std::str::from_utf8(r.take(len)?).ok()?.to_string();
        let (dev, ino, size) = (r.u64()?, r.u64()?, r.u64()?);
        let (mtime, ctime, hashed_at) = (r.i64()?, r.i64()?, r.i64()?);
        let mode = r.u32()?;
        let digest = r.array()?;
        let key = StatKey {
            dev,
            ino,
            size,
            mtime,
            ctime,
            mode,
        };
        let entry = Entry {
            key,
            hashed_at,
            digest,
            seen: false,
        };
        entries.insert(path, entry);
    }
    r.rest.is_empty().then_some(entries)
}

#[cfg(test)]
#[path = "stat_tests.rs"]
mod tests;
