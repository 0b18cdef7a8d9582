//! What unpacking a layer or managing snapshots can fail with.

use std::path::PathBuf;

/// A failure of the snapshot store or of unpacking a layer into it.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A layer entry breaks the safety rules (escapes the root, goes through a symlink,
    /// whiteout of `..`, ...). Nothing was written for it.
    #[error("layer entry {entry:?}: {problem}")]
    Rejected {
        /// The entry's name as stored in the layer.
        entry: String,
        /// What is wrong, in a user's words.
        problem: String,
    },
    /// A layer entry could not be written.
    #[error("layer entry {entry:?}: {action}")]
    Entry {
        /// The entry's name as stored in the layer.
        entry: String,
        /// What was being done (`create file`, `set owner`).
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The layer stream is not a readable tar.
    #[error("read layer")]
    Read(#[source] std::io::Error),
    /// The uncompressed layer does not hash to the diff_id its image config gives.
    #[error("the uncompressed layer is {actual}, but the image config's diff_id is {expected}")]
    DiffIdMismatch {
        /// The digest the image config gives (`rootfs.diff_ids`).
        expected: Box<oci_spec::image::Digest>,
        /// The digest of what the layer holds.
        actual: Box<oci_spec::image::Digest>,
    },
    /// A file-system operation of the snapshot store failed.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done (`create snapshot directory`).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No snapshot has this id.
    #[error("snapshot {0} not found")]
    NotFound(String),
    /// A snapshot id or name that cannot be a directory name.
    #[error("invalid snapshot name {0:?}")]
    InvalidName(String),
}

/// Result with [`SnapshotError`].
pub type Result<T, E = SnapshotError> = std::result::Result<T, E>;
