//! The store's error type: every way reading or writing blobs, locks and the image index can
//! fail, with the path or digest involved.

use std::path::PathBuf;

use oci_spec::image::Digest;

/// A failure of the local store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done (`write blob`, `lock`).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Content did not hash to the digest it was promised to have; nothing was stored.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest the caller promised.
        expected: Digest,
        /// The digest of what was actually written.
        actual: Digest,
    },
    /// The blob is not in the store.
    #[error("blob {0} not found in the store")]
    BlobNotFound(Digest),
    /// A digest string is malformed.
    #[error("invalid digest {value:?}: {reason}")]
    InvalidDigest {
        /// The text given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The digest uses an algorithm other than sha256.
    #[error("unsupported digest algorithm in {0}: only sha256 is supported")]
    UnsupportedDigest(Digest),
    /// The image index file could not be parsed.
    #[error("read image index {}: the file is corrupt", path.display())]
    CorruptIndex {
        /// The index file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// No image has this name or digest.
    #[error("no such image: {0}")]
    ImageNotFound(String),
    /// A digest prefix matches more than one image.
    #[error("{prefix:?} matches several images: {}", candidates.join(", "))]
    AmbiguousImage {
        /// The prefix given.
        prefix: String,
        /// The digests it matches.
        candidates: Vec<String>,
    },
    /// An image name is not a valid reference.
    #[error("invalid image name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why it is invalid.
        reason: String,
    },
}

impl StoreError {
    /// Wrap an IO error with what was being done and the path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Result with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
