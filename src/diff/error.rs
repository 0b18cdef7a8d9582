//! What writing or reading a layer can fail with.

use std::path::PathBuf;

/// A failure while turning a snapshot directory into a layer, or while summarizing one.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// A file of the change set could not be read.
    #[error("read {}", path.display())]
    Read {
        /// The file, as found on disk.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file changed size while it was being archived.
    #[error("file {} changed while writing the layer (expected {expected} bytes)", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
        /// The size it had when it was stat'ed.
        expected: u64,
    },
    /// The overlay upper directory uses a feature the differ cannot express.
    #[error("overlay {feature} at {} is not supported by the layer differ", path.display())]
    Overlay {
        /// The feature (`redirect_dir`, `metacopy`).
        feature: &'static str,
        /// The directory or file carrying it.
        path: PathBuf,
    },
    /// A file name cannot be stored in a tar header.
    #[error("cannot store {} in a layer: {reason}", path.display())]
    Name {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
    /// Writing the layer stream (compressor or sink) failed.
    #[error("write layer")]
    Write(#[source] std::io::Error),
    /// A layer tar could not be read back.
    #[error("read layer tar")]
    ReadTar(#[source] std::io::Error),
}

/// Result with [`DiffError`].
pub type Result<T, E = DiffError> = std::result::Result<T, E>;
