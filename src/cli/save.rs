//! `builder save NAME... -o FILE [--format oci|docker]`: write images from the local store to
//! a tarball for air-gapped hosts. The file appears only when it is complete.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::error::Result;
use crate::export::{write_docker_archive, write_oci_archive, Destination, ExportImage};
use crate::image::find_image;
use crate::store::{Reference, Resolved};

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
    /// Images in the local store: names (`app:1.2`), digests or digest prefixes. A name is
    /// kept in the archive; an image given by digest goes in without one.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// The tarball to write; `-` writes to standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// The tarball's format: an OCI archive, or what `docker load` accepts.
    #[arg(long, value_enum, default_value = "oci")]
    pub format: SaveFormat,
}

/// The name `query` gives the image in the archive: itself when it is one of the image's names,
/// none when it is a digest or an id prefix (as `docker save` does).
fn carried_name(query: &str, found: &Resolved) -> Option<Reference> {
    let r = Reference::parse(query).ok()?;
    if r.digest().is_some() {
        return None;
    }
    found.names.contains(&r.to_string()).then_some(r)
}

/// Run `builder save`.
pub fn run(args: &SaveArgs, root: Option<&Path>) -> Result<()> {
    let store = super::open_store(root)?;
    let names = store.images();
    let mut images: Vec<ExportImage> = Vec::new();
    for query in &args.names {
        let found = find_image(&store, &names, query)?;
        let name = carried_name(query, &found);
        let digest = found.record.digest;
        let image = match images.iter_mut().position(|i| i.manifest == digest) {
            Some(i) => &mut images[i],
            None => {
                images.push(ExportImage {
                    manifest: digest,
                    names: Vec::new(),
                });
                images
                    .last_mut()
                    .ok_or(crate::error::Error::Usage("no image to save".into()))?
            }
        };
        if let Some(name) = name {
            if !image.names.contains(&name) {
                image.names.push(name);
            }
        }
    }
    let dest = if args.output == Path::new("-") {
        Destination::Stdout
    } else {
        Destination::Path(args.output.clone())
    };
    match args.format {
        SaveFormat::Oci => write_oci_archive(&store, &images, &dest)?,
        SaveFormat::Docker => write_docker_archive(&store, &images, &dest)?,
    }
    Ok(())
}
