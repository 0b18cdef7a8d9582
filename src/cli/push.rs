//! `builder push NAME [DEST]`: push an image from the local store to a registry (to DEST, or
//! to NAME's own registry and repository). Prints the manifest digest, which is the
//! registry's, and writes it to `--iidfile`. `--all-tags REPOSITORY` pushes every tag of
//! that repository in the store, each to its own name, as `docker push --all-tags`.

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
    /// Push every tag of the repository NAME (given without a tag) that the store has,
    /// each under its own name; prints a digest per tag.
    #[arg(short, long, conflicts_with_all = ["dest", "iidfile"])]
    pub all_tags: bool,
}

/// Run `builder push`.
pub fn run(args: &PushArgs, root: Option<&Path>) -> Result<()> {
    if args.all_tags {
        return push_all_tags(args, root);
    }
    let dest_text = args.dest.as_deref().unwrap_or(&args.name);
    let dest = Reference::parse(dest_text)
        .map_err(|e| Error::Usage(format!("invalid destination {dest_text:?}: {e}")))?;
    let store = super::open_store(root)?;
    let found = find_image(&store, &store.images(), &args.name)?;
    let report = push_one(args, &store, &found.record.digest, &dest)?;
    if let Some(path) = &args.iidfile {
        write_file(&Destination::Path(path.clone()), |w| {
            w.write_all(report.as_ref().as_bytes()).map_err(|e| {
                crate::export::ExportError::from(crate::store::StoreError::io("write", path, e))
            })
        })?;
    }
    Ok(())
}

/// `--all-tags`: push every store name of NAME's repository that has a tag, in name order.
fn push_all_tags(args: &PushArgs, root: Option<&Path>) -> Result<()> {
    let repo = Reference::parse_named(&args.name)
        .map_err(|e| Error::Usage(format!("invalid repository {:?}: {e}", args.name)))?;
    if repo.tag().is_some() || repo.digest().is_some() {
        return Err(Error::Usage(format!(
            "--all-tags takes a repository without tag or digest, not {:?}",
            args.name
        )));
    }
    let store = super::open_store(root)?;
    let mut tagged = Vec::new();
    for (name, record) in store.images().list()? {
        let Ok(r) = Reference::parse(&name) else {
            continue;
        };
        if r.name() == repo.name() && r.tag().is_some() && r.digest().is_none() {
            tagged.push((r, record.digest));
        }
    }
    if tagged.is_empty() {
        return Err(crate::store::StoreError::ImageNotFound(format!(
            "{} (no tag of that repository is in the store)",
            repo.name()
        ))
        .into());
    }
    for (dest, digest) in &tagged {
        push_one(args, &store, digest, dest)?;
    }
    Ok(())
}

/// Push one image to `dest`; prints the pushed manifest digest and returns it.
fn push_one(
    args: &PushArgs,
    store: &crate::store::DirStore,
    digest: &oci_spec::image::Digest,
    dest: &Reference,
) -> Result<oci_spec::image::Digest> {
    let mut auth = Auth::from_env();
    if args.insecure {
        auth = auth.insecure();
    }
    let report = push_image(store, digest, dest, &PushOptions { auth })?;
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
    Ok(report.digest)
}
