//! `builder pull NAME`: fetch an image (the host's platform, or `--platform`, from a
//! multi-platform image) from its registry into the local store and name it there.

use std::path::Path;

use clap::Args;

use crate::error::{Error, Result};
use crate::image::{Platform, PlatformExt};
use crate::registry::{pull_image, Auth};
use crate::store::Reference;

/// Arguments of `builder pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// The image: `busybox` means docker.io/library/busybox:latest; a tag or `@sha256:...`
    /// digest may follow, e.g. `localhost:5000/base:1.0`.
    pub name: String,
    /// The platform to take from a multi-platform image, e.g. `linux/arm64`
    /// [default: the host's].
    #[arg(long, value_name = "os/arch[/variant]")]
    pub platform: Option<String>,
    /// Use plain HTTP for this registry (registries on localhost and 127.0.0.1 always do;
    /// BUILDER_INSECURE_REGISTRIES lists others).
    #[arg(long)]
    pub insecure: bool,
    /// Print only the image's name, no progress.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Run `builder pull`.
pub fn run(args: &PullArgs, root: Option<&Path>) -> Result<()> {
    let reference = Reference::parse(&args.name)
        .map_err(|e| Error::Usage(format!("invalid reference {:?}: {e}", args.name)))?;
    let platform = match &args.platform {
        Some(p) => Platform::parse_full(p)?,
        None => Platform::host(),
    };
    let mut auth = Auth::from_env();
    if args.insecure {
        auth = auth.insecure();
    }
    let store = super::open_store(root)?;
    let report = pull_image(&reference, &platform, &store, &auth)?;
    if !args.quiet {
        if let Some(index) = &report.index {
            outln!("Index: {index}");
        }
        outln!("Digest: {}", report.manifest);
        outln!(
            "Status: {} blob(s) downloaded, {} already in the store",
            report.downloaded.len(),
            report.reused.len()
        );
    }
    outln!("{reference}");
    Ok(())
}
