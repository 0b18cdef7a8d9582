//! The docker archive (`type=docker`, `builder save --format docker`) as current Docker's
//! `docker save` writes it: an OCI layout (so `oci-archive:` readers and Docker 25+ use the
//! index) plus `manifest.json` (`[{Config, RepoTags, Layers}]` with paths into `blobs/`) and
//! `repositories` for older loaders. Layers stay as stored (gzip, or plain tar): `docker load`
//! and skopeo's `docker-archive:` decompress them and check them against the config's
//! `rootfs.diff_ids`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::error::Result;
use super::layout_write::{collect, write_dir, write_tar, ExportImage, LayoutContent};
use super::spec::Destination;
use super::tarball::blob_path;
use crate::image::json;
use crate::image::Image;
use crate::store::BlobStore;

/// One image in `manifest.json`, in the field order Docker writes.
#[derive(Debug, Serialize)]
struct ManifestItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags")]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// Add `manifest.json` and `repositories` for `images` (in the order given) to `content`.
fn add_docker_files(content: &mut LayoutContent, images: &[ExportImage], read: &[Image]) {
    let mut items = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (img, image) in images.iter().zip(read) {
        let tags: Vec<String> = img.names.iter().map(|n| n.familiar()).collect();
        if let Some(top) = image.config.rootfs.diff_ids.last() {
            for name in &img.names {
                if let Some(tag) = name.tag() {
                    repositories
                        .entry(name.familiar_name())
                        .or_default()
                        .insert(tag.to_string(), top.digest().to_string());
                }
            }
        }
        items.push(ManifestItem {
            config: blob_path(image.manifest.config().digest()),
            repo_tags: (!tags.is_empty()).then_some(tags),
            layers: image
                .manifest
                .layers()
                .iter()
                .map(|l| blob_path(l.digest()))
                .collect(),
        });
    }
    let mut manifest = json::to_vec(&items);
    manifest.push(b'\n');
    content.files.insert("manifest.json", manifest);
    if !repositories.is_empty() {
        let mut repos = json::to_vec(&repositories);
        repos.push(b'\n');
        content.files.insert("repositories", repos);
    }
}

/// Refuse a multi-platform image: a docker archive holds one image per name.
fn refuse_indexes(store: &dyn BlobStore, images: &[ExportImage]) -> Result<()> {
    for img in images {
        if crate::image::multi::index_manifests(store, &img.manifest)?.is_some() {
            return Err(super::ExportError::DockerIndex(img.manifest.to_string()));
        }
    }
    Ok(())
}

/// Write `images` as a docker archive tarball to `dest` (`type=docker`).
pub fn write_docker_archive(
    store: &dyn BlobStore,
    images: &[ExportImage],
    dest: &Destination,
) -> Result<()> {
    refuse_indexes(store, images)?;
    let (mut content, read) = collect(store, images)?;
    add_docker_files(&mut content, images, &read);
    super::dest::write_file(dest, |out| write_tar(store, &content, out))
}

/// Write `images` as an unpacked docker archive directory (`type=docker,tar=false`).
pub fn write_docker_dir(store: &dyn BlobStore, images: &[ExportImage], dir: &Path) -> Result<()> {
    refuse_indexes(store, images)?;
    let (mut content, read) = collect(store, images)?;
    add_docker_files(&mut content, images, &read);
    write_dir(store, &content, dir)
}
