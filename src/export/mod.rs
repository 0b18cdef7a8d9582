//! Outputs and imports: images from the store written as an OCI layout (directory or tar) or a
//! docker archive, the final root filesystem as files or one tar, and the way back in (`builder
//! load` of OCI and docker archives, `oci-layout://` build contexts).
//!
//! Pipeline stage: last. After `image::write_image` has put the image in the store (with the
//! media types of [`OutputSpec::manifest_format`] and the layer compression the spec asks
//! for), the build calls [`write_output`] once per `-o`, with the manifest digest, the tags and,
//! for `type=local`/`type=tar`, the flattened root filesystem directory. `builder save` calls
//! [`write_oci_archive`] / [`write_docker_archive`] directly.
//!
//! Invariants: nothing appears at a destination unless it is complete (temp file or directory
//! beside it, fsync, rename; see [`dest`]); blobs stream from the store and are checked against
//! their digests on the way out and on the way in; archives are byte-for-byte deterministic;
//! an import never names an image before all of its blobs are committed.

mod dest;
pub mod docker;
mod engine;
mod docker_load;
mod error;
mod import;
pub mod layout;
mod layout_write;
mod leftover;
mod local_copy;
mod merge;
pub mod load;
pub mod rootfs;
pub mod spec;
mod tarball;
mod tarindex;

use std::path::Path;

use oci_spec::image::Digest;

pub use dest::{write_file, StagedDir};
pub use docker::{write_docker_archive, write_docker_dir};
pub use error::{ExportError, Result};
pub use layout::{import_layout, import_layout_index, import_layout_path, LayoutRef};
pub use layout_write::{write_oci_archive, write_oci_dir, ExportImage, OCI_LAYOUT};
pub use load::{load_archive, LoadOptions, LoadedImage};
pub use rootfs::{
    write_local, write_local_platforms, write_platforms_tar, write_rootfs_tar, RootfsOptions,
};
pub use spec::{parse_outputs, Destination, OutputSpec, OutputType};
pub use tarball::{blob_path, copy_blob};

use crate::store::BlobStore;

/// What a build hands to [`write_output`].
#[derive(Debug, Clone, Copy)]
pub struct ExportInput<'a> {
    /// The store holding the image.
    pub store: &'a dyn BlobStore,
    /// The image's manifest digest.
    pub manifest: &'a Digest,
    /// The `-t` names (an output's `name=` replaces them).
    pub tags: &'a [String],
    /// The flattened root filesystem, for `type=local` and `type=tar`.
    pub rootfs: Option<&'a Path>,
    /// `SOURCE_DATE_EPOCH`, which `rewrite-timestamp=true` clamps file times to.
    pub source_date_epoch: Option<i64>,
}

/// Write one `-o` output. `type=image` and `type=cacheonly` write nothing here (naming the
/// image in the store is the build's job); `type=registry` and `push=true` are refused here:
/// the build pushes them through [`crate::registry`] once every other output is written.
pub fn write_output(spec: &OutputSpec, input: &ExportInput<'_>) -> Result<()> {
    let image = || ExportImage::new(input.manifest.clone(), spec.names_or(input.tags));
    let rootfs = || {
        input.rootfs.ok_or_else(|| {
            ExportError::Unsupported(format!(
                "type={} without a root filesystem to export",
                spec.kind
            ))
        })
    };
    let opts = RootfsOptions {
        clamp_mtime: input.source_date_epoch.filter(|_| spec.rewrite_timestamp),
    };
    match (spec.kind, &spec.dest) {
        (OutputType::Oci, Destination::Path(dir)) if !spec.tar => {
            write_oci_dir(input.store, &[image()?], dir)
        }
        (OutputType::Oci, dest) => write_oci_archive(input.store, &[image()?], dest),
        (OutputType::Docker, Destination::Path(dir)) if !spec.tar => {
            write_docker_dir(input.store, &[image()?], dir)
        }
        (OutputType::Docker, dest) => write_docker_archive(input.store, &[image()?], dest),
        (OutputType::Local, Destination::Path(dir)) => write_local(rootfs()?, dir, &opts),
        (OutputType::Tar, dest) => write_rootfs_tar(rootfs()?, dest, &opts),
        (OutputType::Registry, _) | (OutputType::Image, _) if spec.push => Err(
            ExportError::Unsupported("pushing to a registry (type=registry, push=true)".into()),
        ),
        (OutputType::Image | OutputType::Cacheonly, _) => Ok(()),
        (kind, _) => Err(ExportError::Unsupported(format!(
            "type={kind} with this destination"
        ))),
    }
}
