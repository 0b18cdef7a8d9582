//! `builder load [-i FILE]`: import an OCI or docker tarball (plain or gzip) into the local
//! store, then name its images; prints `Loaded image: NAME` per name, or `Loaded image ID:
//! DIGEST` for an image without one, as `docker load` does.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::{Error, Result};
use crate::export::{load_archive, LoadOptions};
use crate::image::{Platform, PlatformExt};
use crate::store::ImageRecord;

/// Arguments of `builder load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The tarball to read, plain or gzip-compressed [default: standard input].
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// The platform to take from a multi-platform archive, e.g. `linux/arm64`
    /// [default: the whole index when the archive holds every platform, else the host's].
    #[arg(long, value_name = "os/arch[/variant]")]
    pub platform: Option<String>,
    /// Print nothing (no `Loaded image:` lines).
    #[arg(short, long)]
    pub quiet: bool,
}

/// Run `builder load`.
pub fn run(args: &LoadArgs, root: Option<&Path>) -> Result<()> {
    let input = args.input.clone().unwrap_or_else(|| PathBuf::from("-"));
    if input == Path::new("-") && std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "requested load from stdin, but stdin is a terminal; give -i FILE".into(),
        ));
    }
    let platform = match &args.platform {
        Some(p) => Some(Platform::parse_full(p)?),
        None => None,
    };
    let store = super::open_store(root)?;
    let opts = LoadOptions {
        platform,
        scratch_dir: store.root(),
    };
    let loaded = load_archive(&input, &store, &opts)?;
    let index = store.images();
    for image in &loaded {
        let names: Vec<String> = image.names.iter().map(|n| n.to_string()).collect();
        if !names.is_empty() {
            let record = match &image.index {
                Some(whole) => ImageRecord {
                    digest: whole.digest().clone(),
                    media_type: whole.media_type().to_string(),
                    size: whole.size(),
                    created: image.created.clone(),
                },
                None => image.descriptor.record(image.created.clone()),
            };
            index.set_all(&names, &record)?;
        }
        if args.quiet {
            continue;
        }
        if image.names.is_empty() {
            let id = image
                .index
                .as_ref()
                .map_or(image.descriptor.digest(), |i| i.digest());
            outln!("Loaded image ID: {id}");
        }
        for name in &image.names {
            outln!("Loaded image: {}", name.familiar());
        }
    }
    Ok(())
}
