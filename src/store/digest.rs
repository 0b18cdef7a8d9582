//! SHA-256 for the whole project: the layer pipeline (diff_id and blob digest in one pass), the
//! blob store, cache keys and context hashing all hash through [`Sha256`], and every digest is
//! an [`oci_spec::image::Digest`].
//!
//! The hash comes from `ring`. Measured on 256 MiB in 1 MiB chunks, release build, on the
//! project machine (x86_64 with SHA-NI, the `sha_ni` cpu flag):
//!
//! | implementation | with SHA-NI | SHA-NI masked off |
//! |---|---|---|
//! | `sha2` 0.10 | 1780 MB/s | 360 MB/s (`force-soft`) |
//! | `ring` 0.17 | 1790 MB/s | (cannot be masked) |
//! | `aws-lc-rs` 1.19 | 1800 MB/s | 510 MB/s (`OPENSSL_ia32cap`) |
//!
//! With SHA-NI the three are equal. Without it the assembly of ring / aws-lc (the same
//! OpenSSL-lineage AVX2 code) is about 1.4x faster than `sha2`'s portable code, and ring builds
//! with only a C compiler and far faster than aws-lc, so ring it is.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use oci_spec::image::{Digest, DigestAlgorithm, Sha256Digest};

use super::error::{Result, StoreError};

/// A streaming SHA-256 hasher.
///
/// ```
/// use builder::store::digest::Sha256;
/// let mut h = Sha256::new();
/// h.update(b"hello ");
/// h.update(b"world");
/// assert_eq!(
///     h.finish().to_string(),
///     "sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
/// );
/// ```
#[derive(Clone)]
pub struct Sha256 {
    ctx: ring::digest::Context,
}

impl Sha256 {
    /// A hasher over no bytes yet.
    pub fn new() -> Self {
        Sha256 {
            ctx: ring::digest::Context::new(&ring::digest::SHA256),
        }
    }

    /// Hash more bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
    }

    /// The digest of everything hashed so far.
    pub fn finish(self) -> Digest {
        let out = self.ctx.finish();
        sha256_digest_from_bytes(out.as_ref())
    }

    /// The digest of everything hashed so far, leaving the hasher usable.
    pub fn current(&self) -> Digest {
        self.clone().finish()
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Sha256::new()
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sha256")
    }
}

/// Writing into a hasher hashes the bytes, so `io::copy(&mut reader, &mut hasher)` works.
impl Write for Sha256 {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The SHA-256 digest of `data`.
pub fn sha256(data: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update(data);
    h.finish()
}

/// A digest from the 32 raw bytes of a SHA-256 hash.
fn sha256_digest_from_bytes(bytes: &[u8]) -> Digest {
    let hex = hex::encode(bytes);
    // 32 bytes always encode to 64 lowercase hex characters, which is a valid sha256 digest.
    let parsed = Sha256Digest::from_str(&hex).expect("hex of a sha-256 hash is a valid digest");
    Digest::from(parsed)
}

/// The typed digest `sha256:<hex>` from its 64 lowercase hex characters.
pub fn sha256_digest_from_hex(hex: &str) -> Result<Digest> {
    Sha256Digest::from_str(hex)
        .map(Digest::from)
        .map_err(|e| StoreError::InvalidDigest {
            value: hex.to_string(),
            reason: e.to_string(),
        })
}

/// Parse `algorithm:hex`, accepting only sha256 (the one algorithm the store keeps).
pub fn parse_sha256_digest(s: &str) -> Result<Digest> {
    let digest = Digest::from_str(s).map_err(|e| StoreError::InvalidDigest {
        value: s.to_string(),
        reason: e.to_string(),
    })?;
    require_sha256(&digest)?;
    Ok(digest)
}

/// Fail with [`StoreError::UnsupportedDigest`] unless `digest` is a sha256 digest.
pub fn require_sha256(digest: &Digest) -> Result<()> {
    if *digest.algorithm() == DigestAlgorithm::Sha256 {
        Ok(())
    } else {
        Err(StoreError::UnsupportedDigest(digest.clone()))
    }
}

/// A reader or writer that hashes and counts the bytes passing through it, from or to
/// `inner`.
///
/// As a writer ([`HashingWriter`]) in the layer pipeline it sits in front of the compressor,
/// so the uncompressed tar's digest (the diff_id) is known in the same pass that writes the
/// compressed blob.
#[derive(Debug)]
pub struct Hashing<T> {
    inner: T,
    hasher: Sha256,
    count: u64,
}

/// A writer that hashes and counts the bytes that pass through it to `inner`.
pub type HashingWriter<W> = Hashing<W>;

/// A reader that hashes and counts the bytes read through it from `inner`.
pub type HashingReader<R> = Hashing<R>;

impl<T> Hashing<T> {
    /// Wrap `inner`.
    pub fn new(inner: T) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Bytes passed through so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The digest of the bytes passed through so far.
    pub fn digest(&self) -> Digest {
        self.hasher.current()
    }

    /// The inner reader or writer.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The inner reader or writer, mutably (bytes moved directly through it are not hashed).
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Stop: the inner reader or writer, the digest and the count of everything passed.
    pub fn finish(self) -> (T, Digest, u64) {
        (self.inner, self.hasher.finish(), self.count)
    }

    /// Hash and count the first `n` bytes of `buf` (all of it if `n` is out of range).
    fn record(&mut self, buf: &[u8], n: usize) {
        let passed = buf.get(..n).unwrap_or(buf);
        self.hasher.update(passed);
        self.count += passed.len() as u64;
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.record(buf, n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.record(buf, n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn known_vectors() {
        assert_eq!(sha256(b"").to_string(), EMPTY);
        assert_eq!(
            sha256(b"abc").to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut h = Sha256::new();
        for chunk in data.chunks(997) {
            h.update(chunk);
        }
        assert_eq!(h.current(), sha256(&data));
        assert_eq!(h.finish(), sha256(&data));
    }

    #[test]
    fn hashing_writer_hashes_and_counts() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"hello ").unwrap();
        w.write_all(b"world").unwrap();
        assert_eq!(w.count(), 11);
        let (inner, digest, count) = w.finish();
        assert_eq!(inner, b"hello world");
        assert_eq!(count, 11);
        assert_eq!(digest, sha256(b"hello world"));
    }

    #[test]
    fn hashing_reader_hashes_and_counts() {
        let mut r = HashingReader::new(&b"some bytes"[..]);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        let (_, digest, count) = r.finish();
        assert_eq!(count, 10);
        assert_eq!(digest, sha256(b"some bytes"));
    }

    #[test]
    fn digest_helpers() {
        let hex = &EMPTY[7..];
        let d = sha256_digest_from_hex(hex).unwrap();
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(d.digest(), hex);
        assert!(sha256_digest_from_hex("abc").is_err());
        assert!(sha256_digest_from_hex(&hex.to_uppercase()).is_err());
        assert_eq!(parse_sha256_digest(EMPTY).unwrap(), d);
        assert!(matches!(
            parse_sha256_digest(&format!("sha512:{}", "a".repeat(128))),
            Err(StoreError::UnsupportedDigest(_))
        ));
        assert!(parse_sha256_digest("sha256:xyz").is_err());
    }
}
