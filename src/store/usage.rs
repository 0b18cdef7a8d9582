//! `builder du`: what the store takes, per cache record and in total, and how much a
//! plain `builder prune` would free.
//!
//! A record's size is its layer blob plus its own snapshot directory (the files its step
//! changed), not the layers below it. Sizes are allocated blocks, each hard-linked file
//! counted once (see `walk.rs`). Nothing is locked: the numbers are a snapshot taken while
//! builds may run.

use std::path::Path;
use std::time::SystemTime;

use oci_spec::image::Digest;

use super::gc::{GcError, PruneOptions};
use super::gc_plan as plan;
use super::guard;
use super::inventory::{self, Inventory};

/// One cache record in `builder du`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordUsage {
    /// Its cache key.
    pub key: Digest,
    /// Bytes of its layer blob and its own snapshot.
    pub size: u64,
    /// Whether pruning it frees something (false when a named image holds both its blob
    /// and its snapshot).
    pub reclaimable: bool,
    /// Its last use.
    pub last_used: SystemTime,
    /// The step (`[2/3] COPY data/ /data/`).
    pub description: String,
}

/// What a store takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// The cache records, most recently used first.
    pub records: Vec<RecordUsage>,
    /// Bytes of the record files themselves.
    pub record_files: u64,
    /// Bytes of all blobs.
    pub blobs: u64,
    /// Bytes of the blobs no named image needs.
    pub blobs_reclaimable: u64,
    /// Bytes of all snapshots.
    pub snapshots: u64,
    /// Bytes of all flattened trees.
    pub trees: u64,
    /// Bytes of the RUN cache mounts.
    pub mounts: u64,
    /// Bytes of the kept downloads of ADD's URLs.
    pub downloads: u64,
    /// Bytes of the kept repositories of ADD's Git sources.
    pub git_repos: u64,
    /// Bytes of build scratch: work directories and temp files of running builds, or
    /// leftovers of dead ones.
    pub scratch: u64,
    /// Bytes of everything else (indexes, locks, stat caches).
    pub other: u64,
    /// Bytes a plain `builder prune` would free now.
    pub reclaimable: u64,
    /// Bytes of the whole store.
    pub total: u64,
}

/// The usage of record `i` of `inv`.
pub(crate) fn record_usage(inv: &Inventory, i: usize) -> RecordUsage {
    let Some(r) = inv.records.get(i) else {
        return RecordUsage {
            key: crate::store::digest::sha256(b""),
            size: 0,
            reclaimable: false,
            last_used: SystemTime::UNIX_EPOCH,
            description: String::new(),
        };
    };
    let blob = r.blob.as_ref();
    let chain = r.chain.as_ref();
    let size = blob.and_then(|b| inv.blobs.get(b)).copied().unwrap_or(0)
        + chain
            .and_then(|c| inv.snapshots.get(c))
            .map_or(0, |s| s.bytes);
    let held = blob.map_or(true, |b| inv.image_blobs.contains(b))
        && chain.map_or(true, |c| inv.image_chains.contains(c));
    RecordUsage {
        key: r.key.clone(),
        size,
        reclaimable: blob.is_none() || !held,
        last_used: r.last_used,
        description: r.description.clone(),
    }
}

/// The usage of the store at `root`.
pub fn usage(root: &Path) -> Result<Usage, GcError> {
    let inv = inventory::scan(root)?;
    let selection = plan::select(&inv, &PruneOptions::default(), SystemTime::now());
    // Scratch is reclaimable only when no build is running (it is then a dead build's).
    let idle = guard::try_exclusive(root)?.is_some();
    let total = inv.total();
    let mut reclaimable = total.saturating_sub(selection.kept_bytes);
    if !idle {
        reclaimable = reclaimable.saturating_sub(inv.leftover_bytes());
    }
    let mut records: Vec<RecordUsage> = (0..inv.records.len())
        .map(|i| record_usage(&inv, i))
        .collect();
    records.sort_by(|a, b| {
        b.last_used
            .cmp(&a.last_used)
            .then_with(|| a.key.as_ref().cmp(b.key.as_ref()))
    });
    Ok(Usage {
        records,
        record_files: inv.record_bytes(),
        blobs: inv.blob_bytes(),
        blobs_reclaimable: selection
            .blobs
            .iter()
            .filter_map(|b| inv.blobs.get(b))
            .sum(),
        snapshots: inv.snapshot_bytes(),
        trees: inv.tree_bytes(),
        mounts: inv.mount_bytes(),
        downloads: inv.download_bytes(),
        git_repos: inv.git_repo_bytes(),
        scratch: inv.leftover_bytes(),
        other: inv.other,
        reclaimable,
        total,
    })
}
