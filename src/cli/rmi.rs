//! `builder rmi NAME...`: remove image names from the store.

use clap::Args;

use crate::error::{Error, Result};

/// Arguments of `builder rmi`.
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Image names to remove.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// Run `builder rmi`.
pub fn run(_args: &RmiArgs) -> Result<()> {
    Err(Error::NotImplemented("rmi (the local store)"))
}
