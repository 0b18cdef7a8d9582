//! Snapshots: the file-system states a build stacks, and the safe way layers get into them.
//!
//! Pipeline stage: between the store (layer blobs) and the steps that run on a root file
//! system. Inputs are layer tars (plain, gzip or zstd) and step outputs; outputs are
//! directories usable as overlay lower directories, or a flattened rootfs.
//!
//! - [`Snapshotter`] (containerd vocabulary): `prepare` a writable upper directory on a
//!   parent, `commit` it under a name, `view` a snapshot as its chain of lower directories
//!   (top first), `remove`. [`DirSnapshotter`] keeps them as plain directories.
//! - [`unpack`] writes one layer into a fresh directory in overlay form (whiteout = char
//!   device 0/0, opaque = `user.overlay.opaque=y`; overlay is always mounted with
//!   `userxattr`); [`apply`] flattens layers into one plain tree (`type=local` output,
//!   `COPY --from` an image).
//!
//! - [`mount_overlay`] mounts a chain with an upper directory for a RUN step (folding long
//!   chains); [`StepRoot`] picks overlay or, where it does not work, a copy of the chain
//!   ([`flatten`]), as [`Backend::detect`] decides once per process.
//!
//! Invariant: nothing a layer contains can make either function write outside its
//! destination (see `unpack.rs` for the rules and the tests for the malicious corpus).

mod copy;
mod decompress;
mod dir;
mod entry;
mod error;
mod fsops;
mod overlay;
mod rootfs;
mod unpack;

use std::path::PathBuf;

pub use copy::{flatten, is_opaque, is_whiteout};
pub use decompress::decompress;
pub(crate) use dir::remove_tree;
pub use dir::{DirSnapshotter, SnapshotEntry};
pub use error::{Result, SnapshotError};
pub use overlay::{mount_overlay, OverlayMount};
pub use rootfs::{Backend, Changes, StepRoot};
pub use unpack::{apply, unpack, Owners, UnpackOptions, UnpackStats};

/// The name of a committed, read-only snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SnapshotId(String);

impl SnapshotId {
    /// The id of the committed snapshot `name` (for [`Snapshotter`] implementations).
    pub fn new(name: impl Into<String>) -> SnapshotId {
        SnapshotId(name.into())
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A prepared, writable snapshot: the upper directory a step fills, on top of `parent`.
#[derive(Debug)]
pub struct Active {
    key: String,
    parent: Option<SnapshotId>,
    /// The directory that receives the step's changes (overlay `upperdir`, or the COPY
    /// destination); after the step it *is* the change set.
    pub upper: PathBuf,
    /// Overlay's `workdir` (same file system as `upper`).
    pub work: PathBuf,
}

impl Active {
    /// A prepared snapshot `key` on `parent` whose changes go to `upper` (overlay's work
    /// directory `work` beside it), as a [`Snapshotter`] implementation hands it out.
    pub fn new(key: String, parent: Option<SnapshotId>, upper: PathBuf, work: PathBuf) -> Active {
        Active {
            key,
            parent,
            upper,
            work,
        }
    }

    /// The snapshot this one is prepared on.
    pub fn parent(&self) -> Option<&SnapshotId> {
        self.parent.as_ref()
    }

    /// The key of this prepared snapshot (unique while it lives).
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Where snapshots live: every step prepares one, fills it, and commits it.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use builder::snapshot::{unpack, DirSnapshotter, Snapshotter, UnpackOptions};
/// let snaps = DirSnapshotter::new("/tmp/snaps".as_ref())?;
/// let active = snaps.prepare(None)?;
/// unpack(std::fs::File::open("/tmp/layer.tar.gz")?, &active.upper, &UnpackOptions::default())?;
/// let base = snaps.commit(active, "sha256-abc")?;
/// let lowers = snaps.view(&base)?; // top first, ready for lowerdir=
/// # Ok(()) }
/// ```
pub trait Snapshotter: Send + Sync {
    /// A fresh, empty upper directory on top of `parent` (`None`: on nothing).
    fn prepare(&self, parent: Option<&SnapshotId>) -> Result<Active>;
    /// Freeze `active` as the snapshot `name` (letters, digits, `.`, `_`, `-`, `:`). If
    /// `name` already exists, the existing snapshot is kept and `active` discarded.
    fn commit(&self, active: Active, name: &str) -> Result<SnapshotId>;
    /// Discard a prepared snapshot.
    fn abort(&self, active: Active) -> Result<()>;
    /// The committed snapshot `name`, if there is one.
    fn get(&self, name: &str) -> Result<Option<SnapshotId>>;
    /// The directories that make up `id`, top first: its own, then its parent's, and so
    /// on (overlay `lowerdir` order).
    fn view(&self, id: &SnapshotId) -> Result<Vec<PathBuf>>;
    /// Delete a committed snapshot (the caller makes sure no child still needs it).
    fn remove(&self, id: &SnapshotId) -> Result<()>;
}

#[cfg(test)]
mod tests;
