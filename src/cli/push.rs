//! `builder push NAME [DEST]`: push an image from the local store to a registry.

use clap::Args;

use crate::error::{Error, Result};

/// Arguments of `builder push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Image in the local store.
    pub name: String,
    /// Destination reference (default: NAME).
    pub dest: Option<String>,
    /// Write the pushed manifest digest to this file.
    #[arg(long, value_name = "PATH")]
    pub iidfile: Option<std::path::PathBuf>,
}

/// Run `builder push`.
pub fn run(_args: &PushArgs) -> Result<()> {
    Err(Error::NotImplemented("push (registries)"))
}
