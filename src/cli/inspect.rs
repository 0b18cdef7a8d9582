//! `builder inspect NAME`: print an image's config and manifest as JSON.

use clap::Args;

use crate::error::{Error, Result};

/// Arguments of `builder inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Image name or digest in the local store.
    pub name: String,
}

/// Run `builder inspect`.
pub fn run(_args: &InspectArgs) -> Result<()> {
    Err(Error::NotImplemented("inspect (the local store)"))
}
