//! `builder logout REGISTRY`: forget a registry's credentials in Docker's `config.json` (and
//! in its credential helper).

use clap::Args;

use crate::error::{Error, Result};
use crate::registry::login::logout;
use crate::registry::Auth;

/// Arguments of `builder logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry host whose credentials to remove, e.g. `ghcr.io`.
    pub registry: String,
}

/// Run `builder logout`.
pub fn run(args: &LogoutArgs) -> Result<()> {
    let config = Auth::from_env().config.ok_or_else(|| {
        Error::Usage("cannot find config.json: set $DOCKER_CONFIG or $HOME".into())
    })?;
    if logout(&args.registry, &config)? {
        outln!("Removing login credentials for {}", args.registry);
    } else {
        outln!("Not logged in to {}", args.registry);
    }
    Ok(())
}
