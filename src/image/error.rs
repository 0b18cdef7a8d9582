//! The image module's error type.

use crate::store::StoreError;

/// A failure reading or writing an image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A JSON document of the image is malformed.
    #[error("parse {what}")]
    Json {
        /// Which document (`image config`, `manifest sha256:…`).
        what: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A manifest or index blob is not what it should be.
    #[error("{digest} is not a usable image: {reason}")]
    Invalid {
        /// The blob.
        digest: String,
        /// What is wrong.
        reason: String,
    },
    /// An image index has no manifest for the wanted platform.
    #[error("image {digest} has no manifest for platform {platform}; it has: {available}")]
    NoMatchingPlatform {
        /// The index.
        digest: String,
        /// The platform wanted.
        platform: String,
        /// The platforms it has.
        available: String,
    },
    /// A platform string does not parse.
    #[error("invalid platform {0:?}: expected os/arch[/variant]")]
    InvalidPlatform(String),
}

/// Result with [`ImageError`].
pub type Result<T, E = ImageError> = std::result::Result<T, E>;
