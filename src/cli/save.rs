//! `builder save NAME... -o FILE [--format oci|docker]`: write images to a tarball.

use clap::{Args, ValueEnum};

use crate::error::{Error, Result};

/// Tarball formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SaveFormat {
    /// OCI image layout as a tar archive.
    Oci,
    /// A tarball `docker load` and `podman load` accept.
    Docker,
}

/// Arguments of `builder save`.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Images in the local store.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// The tarball to write.
    #[arg(short, long, value_name = "FILE")]
    pub output: std::path::PathBuf,
    /// Tarball format.
    #[arg(long, value_enum, default_value = "oci")]
    pub format: SaveFormat,
}

/// Run `builder save`.
pub fn run(_args: &SaveArgs) -> Result<()> {
    Err(Error::NotImplemented("save (the local store)"))
}
