//! `builder images`: list images in the local store.

use clap::Args;

use crate::error::{Error, Result};

/// Arguments of `builder images`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Print only image digests.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Run `builder images`.
pub fn run(_args: &ImagesArgs) -> Result<()> {
    Err(Error::NotImplemented("images (the local store)"))
}
