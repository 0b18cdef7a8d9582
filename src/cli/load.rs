//! `builder load -i FILE`: import an OCI or docker tarball into the local store.

use clap::Args;

use crate::error::{Error, Result};

/// Arguments of `builder load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The tarball to read.
    #[arg(short, long, value_name = "FILE")]
    pub input: std::path::PathBuf,
}

/// Run `builder load`.
pub fn run(_args: &LoadArgs) -> Result<()> {
    Err(Error::NotImplemented("load (the local store)"))
}
