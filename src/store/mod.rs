//! The local store: a content-addressed blob store, the image name index, the file locks
//! that let concurrent builders share one store root, and the store's housekeeping: garbage
//! collection ([`prune`]), what it takes ([`usage`], for `builder du`), the store cap
//! ([`enforce_cap`]), the lock that keeps them away from running builds ([`build_guard`]),
//! and the sizes and durations they read and print ([`parse_size`], [`human_size`]).
//!
//! Layout of a store root (`--root`, see [`default_root`]):
//!
//! ```text
//! ROOT/blobs/sha256/<hex>       one file per blob, read-only, named by its sha256
//! ROOT/blobs/sha256/.tmp-*      blobs being written (left behind only by a crash)
//! ROOT/images.json              the image index: name -> manifest digest (see images); the
//!                               roots of garbage collection (their blobs are never removed)
//! ROOT/layer-sizes.json       uncompressed sizes of layer blobs (a memo, see layer_sizes)
//! ROOT/images.lock              flock held while the index is updated
//! ROOT/gc.lock                  shared by every build, exclusive for prune and the cap
//! ROOT/cache/records/*.json     cache records -> a layer blob and a snapshot (chain id)
//! ROOT/snapshotter/snapshots/N  committed snapshots, named by chain id, with parents
//! ROOT/rootfs/<hex>             flattened trees, named by their top chain id
//! ROOT/cache-mounts/<hex>       RUN --mount=type=cache directories
//! ROOT/chunks/<hex>             chunk indexes of large layer blobs (counted as other)
//! ROOT/remote/http/<hex>        ADD's URL downloads, one directory per URL (see `remote`)
//! ROOT/remote/git/<hex>         ADD's Git sources, one bare repository per remote, and
//! ROOT/remote/git/<hex>.lock    the flock its users hold (see `remote`); dated by the later
//!                               of the two (each use touches the lock file)
//! ROOT/remote/git/tmp/build-*   checkouts of running builds (or leftovers of dead ones)
//! ROOT/run/step-*, ROOT/snapshotter/active/*, .tmp-* / .new-* files, ROOT/trash/*
//!                               scratch of running builds, or leftovers of dead ones
//! ```
//!
//! Housekeeping reads what the layers above keep in the root (cache records, snapshots,
//! image manifests) only to find what is still reachable; it owns no format but the store's.
//!
//! The root is private to its owner (0700, see [`prepare_root`]): it holds the files of
//! every image, setuid programs among them.
//!
//! Invariants: a blob is visible only after it is complete, fsynced and renamed into place,
//! and its content always hashes to its name (a digest mismatch stores nothing); an image name
//! is visible only after the blobs it points at are committed. Every OS boundary is the
//! [`BlobStore`] trait, with [`DirStore`] for real and [`MemStore`] for tests.
//!
//! Inputs: bytes from the layer pipeline, base images and `builder load`. Outputs: blobs by
//! digest for `image`, `export` and the CLI.

pub mod atomic;
mod cap;
pub mod digest;
mod dir;
mod error;
mod gc;
mod gc_plan;
mod guard;
pub mod images;
mod inventory;
pub mod layer_sizes;
pub mod lock;
mod memory;
mod root;
pub mod sparse;
mod units;
mod usage;
mod walk;

use std::io::{self, Read, Write};
use std::path::PathBuf;

use oci_spec::image::{Descriptor, Digest, MediaType};

pub use crate::domain::reference::Reference;
pub use dir::DirStore;
pub use error::{Result, StoreError};
pub use images::{ImageRecord, NameIndex, Resolved};
pub use memory::MemStore;
pub use root::{default_root, prepare_root, secure_root, RootAccess};

pub use cap::{
    enforce_cap, keep_logs, keep_logs_from, max_cache, max_cache_from, KEEP_LOGS_ENV, MAX_CACHE_ENV,
};
pub use gc::{prune, GcError, PruneOptions, PruneReport};
pub use guard::{build_guard, BuildGuard};
pub use units::{human_ago, human_size, parse_duration, parse_size, SizeError};
pub use usage::{usage, RecordUsage, Usage};

/// Where ADD's URL downloads are kept, one directory per URL: cache that a plain prune
/// removes, least recently used first.
pub(crate) const DOWNLOADS: &str = "remote/http";

/// Where ADD's Git sources keep their bare repositories, one per remote with a lock file
/// beside it: cache that a plain prune removes, least recently used first, unless a build
/// holds the lock.
pub(crate) const GIT_REPOS: &str = "remote/git";

/// What a committed blob is: its digest and size (a descriptor without the media type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// `sha256:<hex>` of the content.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
}

impl BlobInfo {
    /// The OCI descriptor of this blob with `media_type`.
    pub fn descriptor(&self, media_type: MediaType) -> Descriptor {
        Descriptor::new(media_type, self.size, self.digest.clone())
    }
}

/// A blob being written: it hashes as it goes, and appears in the store only at
/// [`commit`](BlobWriter::commit). Dropping it without a commit discards everything written.
pub trait BlobWriter: Write + Send {
    /// Bytes written so far.
    fn written(&self) -> u64;

    /// Finish: check the digest against `expected` (if given), then make the blob visible.
    /// On a mismatch nothing is stored and [`StoreError::DigestMismatch`] is returned.
    fn commit(self: Box<Self>, expected: Option<&Digest>) -> Result<BlobInfo>;
}

/// A content-addressed blob store. Blobs are immutable and named by their sha256; writing the
/// same content twice (even from two processes at once) is harmless.
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Start writing a new blob.
    fn writer(&self) -> Result<Box<dyn BlobWriter + '_>>;

    /// Read a blob; [`StoreError::BlobNotFound`] if it is absent.
    fn open(&self, digest: &Digest) -> Result<Box<dyn Read + Send>>;

    /// Whether the blob is present.
    fn has(&self, digest: &Digest) -> Result<bool>;

    /// The size of a blob; [`StoreError::BlobNotFound`] if it is absent.
    fn size(&self, digest: &Digest) -> Result<u64>;

    /// Remove a blob; `false` if it was not there.
    fn delete(&self, digest: &Digest) -> Result<bool>;

    /// Every blob, sorted by digest.
    fn list(&self) -> Result<Vec<Digest>>;

    /// The blob's file, when the store keeps blobs as files (for hard links or reflinks by
    /// the exporters).
    fn local_path(&self, _digest: &Digest) -> Option<PathBuf> {
        None
    }

    /// Store everything `reader` yields; with `expected`, a mismatch stores nothing.
    fn put(&self, reader: &mut dyn Read, expected: Option<&Digest>) -> Result<BlobInfo> {
        let mut w = self.writer()?;
        io::copy(reader, &mut w).map_err(|e| StoreError::io("write blob", "<stream>", e))?;
        w.commit(expected)
    }

    /// Store `bytes`.
    fn put_bytes(&self, bytes: &[u8]) -> Result<BlobInfo> {
        let mut w = self.writer()?;
        w.write_all(bytes)
            .map_err(|e| StoreError::io("write blob", "<memory>", e))?;
        w.commit(None)
    }

    /// Read a whole blob into memory (for configs and manifests).
    fn read_all(&self, digest: &Digest) -> Result<Vec<u8>> {
        let mut r = self.open(digest)?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)
            .map_err(|e| StoreError::io("read blob", digest.to_string(), e))?;
        Ok(out)
    }
}
