//! The export module's error type: bad `--output` specs, destinations that cannot be written,
//! and archives or layouts that cannot be imported, each with the path, name or digest
//! involved.

use std::path::PathBuf;

use crate::image::ImageError;
use crate::store::StoreError;

/// A failure writing an output or importing an archive or layout.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// An `--output` spec is malformed (a usage error).
    #[error("invalid output {spec:?}: {reason}")]
    Spec {
        /// The spec as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A filesystem operation failed.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done (`write`, `read archive`).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The destination cannot take this output.
    #[error("cannot write to {}: {reason}", path.display())]
    Destination {
        /// The destination.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// An archive or layout being imported is malformed or inconsistent.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The archive or layout.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A docker archive of a multi-platform image: `docker load` takes one image per
    /// name, and BuildKit's docker exporter refuses manifest lists too.
    #[error(
        "the docker exporter does not support exporting manifest lists: {0} is an index of \
         several platforms; export it with type=oci (or push it), or build one --platform \
         for type=docker"
    )]
    DockerIndex(String),
    /// An output type or feature that is recognised but not built yet.
    #[error("not supported yet: {0}")]
    Unsupported(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An image in the store could not be read or written.
    #[error(transparent)]
    Image(#[from] ImageError),
}

impl ExportError {
    /// Wrap an IO error with what was being done and the path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ExportError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// An archive or layout at `path` is unusable because of `reason`.
    pub fn invalid(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        ExportError::Invalid {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// Whether this is a usage error (a bad `--output` spec).
    pub fn is_usage(&self) -> bool {
        matches!(self, ExportError::Spec { .. })
    }
}

/// Result with [`ExportError`].
pub type Result<T, E = ExportError> = std::result::Result<T, E>;
