//! Deterministic tarballs of an OCI layout or docker archive: ustar headers with owner 0:0,
//! mtime 0, mode 0755 for directories and 0644 for files, no user or group names, so the same
//! image always gives the same bytes. Blobs stream from the store straight into the archive
//! (see [`append_blob`]) and are never held in memory whole.

use std::io::{self, Read, Write};

use oci_spec::image::Digest;
use tar::{EntryType, Header};

use super::error::{ExportError, Result};
use crate::store::digest::HashingReader;
use crate::store::{BlobStore, StoreError};

/// The path of a blob inside a layout: `blobs/sha256/<hex>`.
pub fn blob_path(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm(), digest.digest())
}

/// A tar being written with fixed metadata.
pub(crate) struct TarWriter<W: Write> {
    builder: tar::Builder<W>,
}

fn header(kind: EntryType, size: u64, mode: u32) -> Header {
    let mut h = Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

impl<W: Write> TarWriter<W> {
    /// Start a tar on `out`.
    pub(crate) fn new(out: W) -> Self {
        let mut builder = tar::Builder::new(out);
        builder.mode(tar::HeaderMode::Deterministic);
        TarWriter { builder }
    }

    /// A directory entry (`path` ends without `/`; the tar gets `path/`).
    pub(crate) fn dir(&mut self, path: &str) -> io::Result<()> {
        let mut h = header(EntryType::Directory, 0, 0o755);
        self.builder
            .append_data(&mut h, format!("{path}/"), io::empty())
    }

    /// A file whose content is `bytes`.
    pub(crate) fn file(&mut self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let mut h = header(EntryType::Regular, bytes.len() as u64, 0o644);
        self.builder.append_data(&mut h, path, bytes)
    }

    /// A file of exactly `size` bytes read from `data`; a shorter or longer stream is an
    /// error (the archive would be corrupt).
    pub(crate) fn file_from(&mut self, path: &str, size: u64, data: impl Read) -> io::Result<()> {
        let mut h = header(EntryType::Regular, size, 0o644);
        let mut counted = CountingReader {
            inner: data.take(size),
            count: 0,
        };
        self.builder.append_data(&mut h, path, &mut counted)?;
        if counted.count != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{path}: expected {size} bytes, read {}", counted.count),
            ));
        }
        Ok(())
    }

    /// Write the end-of-archive blocks and return the writer.
    pub(crate) fn finish(self) -> io::Result<W> {
        self.builder.into_inner()
    }
}

struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Append the blob `digest` from `store` at `blobs/sha256/<hex>`, streaming it and checking on
/// the way that its content still hashes to its name.
pub(crate) fn append_blob<W: Write>(
    tar: &mut TarWriter<W>,
    store: &dyn BlobStore,
    digest: &Digest,
) -> Result<()> {
    let size = store.size(digest)?;
    let mut reader = HashingReader::new(store.open(digest)?);
    let path = blob_path(digest);
    tar.file_from(&path, size, &mut reader)
        .map_err(|e| ExportError::io("write blob into archive", &path, e))?;
    check_digest(digest, reader.digest())
}

/// Stream the blob `digest` from `store` into `out`, checking its digest; returns its size.
///
/// ```
/// use builder::store::{BlobStore, MemStore};
/// let store = MemStore::new();
/// let info = store.put_bytes(b"layer").unwrap();
/// let mut out = Vec::new();
/// assert_eq!(builder::export::copy_blob(&store, &info.digest, &mut out).unwrap(), 5);
/// assert_eq!(out, b"layer");
/// ```
pub fn copy_blob(store: &dyn BlobStore, digest: &Digest, out: &mut dyn Write) -> Result<u64> {
    let mut reader = HashingReader::new(store.open(digest)?);
    let n = io::copy(&mut reader, out)
        .map_err(|e| ExportError::io("copy blob", blob_path(digest), e))?;
    check_digest(digest, reader.digest())?;
    Ok(n)
}

fn check_digest(expected: &Digest, actual: Digest) -> Result<()> {
    if *expected == actual {
        Ok(())
    } else {
        Err(StoreError::DigestMismatch {
            expected: expected.clone(),
            actual,
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    fn members(bytes: &[u8]) -> Vec<(String, u64, u32, u64)> {
        let mut ar = tar::Archive::new(bytes);
        ar.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    h.size().unwrap(),
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn fixed_metadata_and_streamed_blobs() {
        let store = MemStore::new();
        let info = store.put_bytes(b"blob content").unwrap();
        let mut tar = TarWriter::new(Vec::new());
        tar.dir("blobs").unwrap();
        append_blob(&mut tar, &store, &info.digest).unwrap();
        tar.file("oci-layout", b"{}").unwrap();
        let bytes = tar.finish().unwrap();
        let m = members(&bytes);
        assert_eq!(m[0], ("blobs/".to_string(), 0, 0o755, 0));
        assert_eq!(m[1], (blob_path(&info.digest), 12, 0o644, 0));
        assert_eq!(m[2], ("oci-layout".to_string(), 2, 0o644, 0));
    }

    #[test]
    fn short_streams_are_errors() {
        let mut tar = TarWriter::new(Vec::new());
        let err = tar.file_from("x", 10, &b"short"[..]).unwrap_err();
        assert!(
            err.to_string().contains("expected 10 bytes, read 5"),
            "{err}"
        );
    }

    #[test]
    fn copy_blob_checks_the_digest() {
        let store = MemStore::new();
        let info = store.put_bytes(b"abc").unwrap();
        let mut out = Vec::new();
        assert_eq!(copy_blob(&store, &info.digest, &mut out).unwrap(), 3);
        let missing = crate::store::digest::sha256(b"nope");
        assert!(copy_blob(&store, &missing, &mut out)
            .unwrap_err()
            .to_string()
            .contains("not found"));
    }
}
