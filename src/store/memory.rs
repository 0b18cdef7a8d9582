//! [`MemStore`]: an in-memory [`BlobStore`] for tests, with the same visibility and
//! digest-check rules as the real store.

use std::collections::BTreeMap;
use std::io::{self, Cursor, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use oci_spec::image::Digest;

use super::digest::{require_sha256, Sha256};
use super::error::{Result, StoreError};
use super::{BlobInfo, BlobStore, BlobWriter};

/// The blobs, keyed by digest string.
type Blobs = BTreeMap<String, (Digest, Arc<Vec<u8>>)>;

/// Blobs in memory, keyed by digest string.
#[derive(Debug, Default, Clone)]
pub struct MemStore {
    blobs: Arc<Mutex<Blobs>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        MemStore::default()
    }

    fn map(&self) -> MutexGuard<'_, Blobs> {
        // A panic elsewhere while holding the lock leaves the map consistent (every update is
        // a single insert or remove), so a poisoned lock is still usable.
        crate::domain::lock(&self.blobs)
    }

    fn get(&self, digest: &Digest) -> Result<Arc<Vec<u8>>> {
        require_sha256(digest)?;
        self.map()
            .get(digest.as_ref())
            .map(|(_, b)| Arc::clone(b))
            .ok_or_else(|| StoreError::BlobNotFound(digest.clone()))
    }
}

impl BlobStore for MemStore {
    fn writer(&self) -> Result<Box<dyn BlobWriter + '_>> {
        Ok(Box::new(MemBlobWriter {
            buf: Vec::new(),
            store: self,
        }))
    }

    fn open(&self, digest: &Digest) -> Result<Box<dyn io::Read + Send>> {
        let blob = self.get(digest)?;
        Ok(Box::new(Cursor::new(blob.as_ref().clone())))
    }

    fn has(&self, digest: &Digest) -> Result<bool> {
        require_sha256(digest)?;
        Ok(self.map().contains_key(digest.as_ref()))
    }

    fn size(&self, digest: &Digest) -> Result<u64> {
        Ok(self.get(digest)?.len() as u64)
    }

    fn delete(&self, digest: &Digest) -> Result<bool> {
        require_sha256(digest)?;
        Ok(self.map().remove(digest.as_ref()).is_some())
    }

    fn list(&self) -> Result<Vec<Digest>> {
        Ok(self.map().values().map(|(d, _)| d.clone()).collect())
    }
}

/// A blob being written into a [`MemStore`].
struct MemBlobWriter<'a> {
    buf: Vec<u8>,
    store: &'a MemStore,
}

impl Write for MemBlobWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl BlobWriter for MemBlobWriter<'_> {
    fn written(&self) -> u64 {
        self.buf.len() as u64
    }

    fn commit(self: Box<Self>, expected: Option<&Digest>) -> Result<BlobInfo> {
        let mut h = Sha256::new();
        h.update(&self.buf);
        let digest = h.finish();
        if let Some(expected) = expected {
            if *expected != digest {
                return Err(StoreError::DigestMismatch {
                    expected: expected.clone(),
                    actual: digest,
                });
            }
        }
        let info = BlobInfo {
            digest: digest.clone(),
            size: self.buf.len() as u64,
        };
        self.store
            .map()
            .insert(digest.to_string(), (digest, Arc::new(self.buf)));
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::digest::sha256;

    #[test]
    fn behaves_like_the_real_store() {
        let store = MemStore::new();
        let info = store.put_bytes(b"abc").unwrap();
        assert_eq!(info.digest, sha256(b"abc"));
        assert_eq!(store.read_all(&info.digest).unwrap(), b"abc");
        assert_eq!(store.size(&info.digest).unwrap(), 3);
        assert_eq!(store.list().unwrap(), vec![info.digest.clone()]);
        {
            let mut w = store.writer().unwrap();
            w.write_all(b"dropped").unwrap();
        }
        assert_eq!(store.list().unwrap().len(), 1);
        let err = store.put(&mut &b"x"[..], Some(&sha256(b"y"))).unwrap_err();
        assert!(matches!(err, StoreError::DigestMismatch { .. }));
        assert_eq!(store.list().unwrap().len(), 1);
        assert!(store.delete(&info.digest).unwrap());
        assert!(matches!(
            store.open(&info.digest),
            Err(StoreError::BlobNotFound(_))
        ));
    }
}
