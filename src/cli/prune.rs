//! `builder prune`: free build cache and unreferenced blobs.

use clap::Args;

use crate::error::{Error, Result};

/// Arguments of `builder prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all cache, not only unreferenced entries.
    #[arg(long)]
    pub all: bool,
    /// Keep this much storage (e.g. `10GB`).
    #[arg(long, value_name = "SIZE")]
    pub keep_storage: Option<String>,
}

/// Run `builder prune`.
pub fn run(_args: &PruneArgs) -> Result<()> {
    Err(Error::NotImplemented("prune (the build cache)"))
}
