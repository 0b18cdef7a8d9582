//! `builder pull NAME`: fetch an image into the local store.

use clap::Args;

use crate::error::{Error, Result};

/// Arguments of `builder pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Image reference (`busybox` means `docker.io/library/busybox:latest`).
    pub name: String,
    /// Platform to select from a multi-platform image (default: the host's).
    #[arg(long, value_name = "os/arch[/variant]")]
    pub platform: Option<String>,
}

/// Run `builder pull`.
pub fn run(_args: &PullArgs) -> Result<()> {
    Err(Error::NotImplemented("pull (registries)"))
}
