//! `builder push NAME [DEST]`: push an image from the local store to a registry (to DEST, or
//! to NAME's own registry and repository). Prints the manifest digest, which is the
//! registry's, and writes it to `--iidfile`.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::{Error, Result};
use crate::export::{write_file, Destination};
use crate::image::find_image;
use crate::registry::{push_image, Auth, PushOptions};
use crate::store::Reference;

/// Arguments of `builder push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The image in the local store (name, digest or digest prefix).
    pub name: String,
    /// Where to push it, e.g. `localhost:5000/app:1.2` [default: NAME].
    pub dest: Option<String>,
    /// Write the pushed manifest digest, `sha256:...`, to this file.
    #[arg(long, value_name = "PATH")]
    pub iidfile: Option<PathBuf>,
    /// Use plain HTTP for this registry (registries on localhost and 127.0.0.1 always do;
    /// BUILDER_INSECURE_REGISTRIES lists others).
    #[arg(long)]
    pub insecure: bool,
    /// Print only the pushed manifest digest.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Run `builder push`.
pub fn run(args: &PushArgs, root: Option<&Path>) -> Result<()> {
    let dest_text = args.dest.as_deref().unwrap_or(&args.name);
    let dest = Reference::parse(dest_text)
        .map_err(|e| Error::Usage(format!("invalid destination {dest_text:?}: {e}")))?;
    let store = super::open_store(root)?;
    let found = find_image(&store, &store.images(), &args.name)?;
    let mut auth = Auth::from_env();
    if args.insecure {
        auth = auth.insecure();
    }
    let report = push_image(&store, &found.record.digest, &dest, &PushOptions { auth })?;
    if !args.quiet {
        eprintln!(
            "Pushed {}: {} blob(s) uploaded, {} mounted, {} already present",
            report.reference,
            report.uploaded.len(),
            report.mounted.len(),
            report.existed.len()
        );
    }
    outln!("{}", report.digest);
    if let Some(path) = &args.iidfile {
        write_file(&Destination::Path(path.clone()), |w| {
            w.write_all(report.digest.as_ref().as_bytes()).map_err(|e| {
                crate::export::ExportError::from(crate::store::StoreError::io("write", path, e))
            })
        })?;
    }
    Ok(())
}
