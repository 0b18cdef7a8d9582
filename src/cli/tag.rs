//! `builder tag SRC DEST`: give an image in the store another name.

use clap::Args;

use crate::error::{Error, Result};

/// Arguments of `builder tag`.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// Existing image name or digest.
    pub src: String,
    /// New name.
    pub dest: String,
}

/// Run `builder tag`.
pub fn run(_args: &TagArgs) -> Result<()> {
    Err(Error::NotImplemented("tag (the local store)"))
}
