//! [`DirStore`]: the real blob store, one file per blob under `ROOT/blobs/sha256/<hex>`.
//!
//! A blob is written to a temp file beside its final name while it is hashed, then fsynced,
//! made read-only, renamed into place and the directory fsynced. Two writers of the same blob
//! both succeed: the second rename replaces identical content, or is skipped when the blob is
//! already there.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use oci_spec::image::Digest;
use tempfile::NamedTempFile;

use super::atomic::{self, TEMP_PREFIX};
use super::digest::{require_sha256, sha256_digest_from_hex, HashingWriter};
use super::error::{Result, StoreError};
use super::images::NameIndex;
use super::{BlobInfo, BlobStore, BlobWriter};

/// The blob store in a directory (the `--root`).
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
    blobs: PathBuf,
}

impl DirStore {
    /// Open the store at `root`, creating `root/blobs/sha256` if needed (the root itself
    /// private, see [`super::prepare_root`]).
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        super::prepare_root(&root)?;
        let blobs = root.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs)
            .map_err(|e| StoreError::io("create store directory", &blobs, e))?;
        Ok(DirStore { root, blobs })
    }

    /// The store root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The image name index of this store (`ROOT/images.json`).
    pub fn images(&self) -> NameIndex {
        NameIndex::new(&self.root)
    }

    /// Where the blob `digest` lives (whether or not it is there).
    pub fn blob_path(&self, digest: &Digest) -> Result<PathBuf> {
        require_sha256(digest)?;
        // oci-spec guarantees a sha256 digest is 64 lowercase hex characters: a safe file name.
        Ok(self.blobs.join(digest.digest()))
    }

    /// Remove temp files older than `age` that crashed writers left behind; returns how many.
    pub fn remove_stale_temp_files(&self, age: Duration) -> Result<usize> {
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in read_dir(&self.blobs)? {
            let name = entry.file_name();
            if !name.to_string_lossy().starts_with(TEMP_PREFIX) {
                continue;
            }
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| now.duration_since(t).unwrap_or_default() >= age)
                .unwrap_or(false);
            if old && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    let rd = std::fs::read_dir(dir).map_err(|e| StoreError::io("list", dir, e))?;
    rd.collect::<io::Result<Vec<_>>>()
        .map_err(|e| StoreError::io("list", dir, e))
}

impl BlobStore for DirStore {
    fn writer(&self) -> Result<Box<dyn BlobWriter + '_>> {
        let tmp = atomic::temp_file_in(&self.blobs)?;
        Ok(Box::new(DirBlobWriter {
            file: HashingWriter::new(BufWriter::with_capacity(1 << 20, tmp)),
            store: self,
        }))
    }

    fn open(&self, digest: &Digest) -> Result<Box<dyn io::Read + Send>> {
        let path = self.blob_path(digest)?;
        match File::open(&path) {
            Ok(f) => Ok(Box::new(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::BlobNotFound(digest.clone()))
            }
            Err(e) => Err(StoreError::io("open blob", path, e)),
        }
    }

    fn has(&self, digest: &Digest) -> Result<bool> {
        let path = self.blob_path(digest)?;
        match std::fs::symlink_metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io("look up blob", path, e)),
        }
    }

    fn size(&self, digest: &Digest) -> Result<u64> {
        let path = self.blob_path(digest)?;
        match std::fs::metadata(&path) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::BlobNotFound(digest.clone()))
            }
            Err(e) => Err(StoreError::io("look up blob", path, e)),
        }
    }

    fn delete(&self, digest: &Digest) -> Result<bool> {
        let path = self.blob_path(digest)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io("delete blob", path, e)),
        }
    }

    fn list(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for entry in read_dir(&self.blobs)? {
            let name = entry.file_name();
            // Temp files and strays are not blobs.
            if let Some(d) = name.to_str().and_then(|n| sha256_digest_from_hex(n).ok()) {
                out.push(d);
            }
        }
        out.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
        Ok(out)
    }

    fn local_path(&self, digest: &Digest) -> Option<PathBuf> {
        self.blob_path(digest).ok()
    }
}

/// A blob being written into a [`DirStore`].
struct DirBlobWriter<'a> {
    file: HashingWriter<BufWriter<NamedTempFile>>,
    store: &'a DirStore,
}

impl Write for DirBlobWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl BlobWriter for DirBlobWriter<'_> {
    fn written(&self) -> u64 {
        self.file.count()
    }

    fn commit(self: Box<Self>, expected: Option<&Digest>) -> Result<BlobInfo> {
        let (file, digest, count) = self.file.finish();
        let tmp = file
            .into_inner()
            .map_err(|e| StoreError::io("write blob", self.store.blobs.clone(), e.into_error()))?;
        if let Some(expected) = expected {
            if *expected != digest {
                // `tmp` is dropped here, which deletes it.
                return Err(StoreError::DigestMismatch {
                    expected: expected.clone(),
                    actual: digest,
                });
            }
        }
        let dest = self.store.blob_path(&digest)?;
        let info = BlobInfo {
            digest,
            size: count,
        };
        if dest.exists() {
            // Same name, same content: someone else committed it first.
            return Ok(info);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o444))
                .map_err(|e| StoreError::io("make read-only", tmp.path(), e))?;
        }
        atomic::persist(tmp, &dest)?;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::atomic::dir_names;
    use crate::store::digest::sha256;

    #[test]
    fn put_open_has_size_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path()).unwrap();
        let info = store.put_bytes(b"hello").unwrap();
        assert_eq!(info.digest, sha256(b"hello"));
        assert_eq!(info.size, 5);
        assert!(store.has(&info.digest).unwrap());
        assert_eq!(store.size(&info.digest).unwrap(), 5);
        assert_eq!(store.read_all(&info.digest).unwrap(), b"hello");
        assert_eq!(store.list().unwrap(), vec![info.digest.clone()]);
        let path = store.local_path(&info.digest).unwrap();
        assert!(path.ends_with(format!("blobs/sha256/{}", info.digest.digest())));
        assert!(store.delete(&info.digest).unwrap());
        assert!(!store.delete(&info.digest).unwrap());
        assert!(!store.has(&info.digest).unwrap());
        assert!(matches!(
            store.open(&info.digest),
            Err(StoreError::BlobNotFound(_))
        ));
    }

    #[test]
    fn aborted_writer_leaves_no_blob_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path()).unwrap();
        {
            let mut w = store.writer().unwrap();
            w.write_all(&vec![7u8; 3 << 20]).unwrap();
            assert_eq!(w.written(), 3 << 20);
            assert_eq!(dir_names(&dir.path().join("blobs/sha256")).len(), 1);
        }
        assert!(dir_names(&dir.path().join("blobs/sha256")).is_empty());
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn digest_mismatch_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path()).unwrap();
        let wrong = sha256(b"something else");
        let err = store.put(&mut &b"content"[..], Some(&wrong)).unwrap_err();
        assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");
        assert!(err
            .to_string()
            .starts_with("digest mismatch: expected sha256:"));
        assert!(dir_names(&dir.path().join("blobs/sha256")).is_empty());
        let right = sha256(b"content");
        assert_eq!(
            store
                .put(&mut &b"content"[..], Some(&right))
                .unwrap()
                .digest,
            right
        );
    }

    #[test]
    fn concurrent_writers_of_the_same_blob_both_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path()).unwrap();
        let data: Vec<u8> = (0..(2u32 << 20)).map(|i| (i % 253) as u8).collect();
        // Interleave two writers by hand, then race eight threads.
        let mut a = store.writer().unwrap();
        let mut b = store.writer().unwrap();
        a.write_all(&data[..1000]).unwrap();
        b.write_all(&data).unwrap();
        a.write_all(&data[1000..]).unwrap();
        let ib = b.commit(None).unwrap();
        let ia = a.commit(Some(&sha256(&data))).unwrap();
        assert_eq!(ia, ib);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let mut w = store.writer().unwrap();
                    for chunk in data.chunks(65_536) {
                        w.write_all(chunk).unwrap();
                    }
                    assert_eq!(w.commit(None).unwrap(), ia);
                });
            }
        });
        assert_eq!(store.list().unwrap(), vec![ia.digest.clone()]);
        assert_eq!(store.read_all(&ia.digest).unwrap(), data);
        assert_eq!(dir_names(&dir.path().join("blobs/sha256")).len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn blobs_are_read_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path()).unwrap();
        let info = store.put_bytes(b"x").unwrap();
        let meta = std::fs::metadata(store.blob_path(&info.digest).unwrap()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o444);
    }

    #[test]
    fn list_ignores_temp_files_and_strays_and_stale_temps_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path()).unwrap();
        let blobs = dir.path().join("blobs/sha256");
        std::fs::write(blobs.join(".tmp-crashed"), b"half").unwrap();
        std::fs::write(blobs.join("README"), b"stray").unwrap();
        let info = store.put_bytes(b"ok").unwrap();
        assert_eq!(store.list().unwrap(), vec![info.digest]);
        assert_eq!(
            store
                .remove_stale_temp_files(Duration::from_secs(3600))
                .unwrap(),
            0
        );
        assert_eq!(store.remove_stale_temp_files(Duration::ZERO).unwrap(), 1);
        assert!(!blobs.join(".tmp-crashed").exists());
    }

    #[test]
    fn other_algorithms_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path()).unwrap();
        let d: Digest = format!("sha512:{}", "a".repeat(128)).parse().unwrap();
        assert!(matches!(
            store.has(&d),
            Err(StoreError::UnsupportedDigest(_))
        ));
    }
}
