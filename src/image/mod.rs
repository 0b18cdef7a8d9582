//! OCI images in the local store: the config JSON (with Docker's extension fields), manifests
//! in OCI or Docker media types, indexes with ref-name annotations, and writing / reading an
//! image's blobs through a [`BlobStore`].
//!
//! Pipeline stage: after `solve` has committed the layer blobs, [`write_image`] puts the
//! config and manifest blobs and returns the manifest descriptor that names the image;
//! `export` and the CLI read images back with [`read_image`]. Base images loaded from layouts
//! and tarballs are read the same way. Every JSON document is deterministic (Go's encoding,
//! sorted maps), so the same content gives the same digests.

pub mod config;
mod error;
pub mod index;
pub mod json;
pub mod manifest;
pub mod multi;
pub mod platform;
pub mod time;

use oci_spec::image::{Descriptor, Digest, ImageManifest};

pub use config::{ExecConfig, Healthcheck, History, ImageConfig, RootFs};
pub use error::{ImageError, Result};
pub use manifest::{LayerCompression, ManifestFormat, ManifestOrIndex};
pub use platform::{Platform, PlatformExt};

use crate::store::{BlobStore, ImageRecord, NameIndex, Resolved, StoreError};

/// What names an image: its manifest's descriptor, and its config's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageDescriptor {
    /// The manifest (its digest is the image's id).
    pub manifest: Descriptor,
    /// The config.
    pub config: Descriptor,
}

impl ImageDescriptor {
    /// The manifest digest: the image's id.
    pub fn digest(&self) -> &Digest {
        self.manifest.digest()
    }

    /// The name-index record pointing at this image.
    pub fn record(&self, created: Option<String>) -> ImageRecord {
        ImageRecord {
            digest: self.manifest.digest().clone(),
            media_type: self.manifest.media_type().to_string(),
            size: self.manifest.size(),
            created,
        }
    }
}

/// An image read back from the store.
#[derive(Debug, Clone)]
pub struct Image {
    /// Its descriptors.
    pub descriptor: ImageDescriptor,
    /// The manifest.
    pub manifest: ImageManifest,
    /// The manifest's bytes, as stored.
    pub manifest_bytes: Vec<u8>,
    /// The config.
    pub config: ImageConfig,
    /// The config's bytes, as stored.
    pub config_bytes: Vec<u8>,
}

impl Image {
    /// Bytes of config and layers (compressed), as `builder images` shows.
    pub fn size(&self) -> u64 {
        self.descriptor.config.size() + self.manifest.layers().iter().map(|l| l.size()).sum::<u64>()
    }

    /// Fail unless the manifest lists exactly one layer per `rootfs.diff_ids` entry of the
    /// config (a mismatch is an image no layer can be checked in).
    pub fn check_layer_count(&self) -> Result<()> {
        let (layers, diff_ids) = (
            self.manifest.layers().len(),
            self.config.rootfs.diff_ids.len(),
        );
        if layers == diff_ids {
            return Ok(());
        }
        Err(ImageError::Invalid {
            digest: self.descriptor.manifest.digest().to_string(),
            reason: format!("{layers} layers but {diff_ids} diff_ids in its config"),
        })
    }
}

/// Put `config` and a manifest over `layers` (already in `store`, bottom first, one per
/// `config.rootfs.diff_ids` entry) into `store`; returns the image's descriptors. Name the
/// image only after this returns: then every blob it needs is committed.
pub fn write_image(
    store: &dyn BlobStore,
    config: &ImageConfig,
    layers: &[Descriptor],
    format: ManifestFormat,
) -> Result<ImageDescriptor> {
    write_image_annotated(store, config, layers, format, None)
}

/// [`write_image`] with `annotations` on the manifest.
pub fn write_image_annotated(
    store: &dyn BlobStore,
    config: &ImageConfig,
    layers: &[Descriptor],
    format: ManifestFormat,
    annotations: Option<std::collections::HashMap<String, String>>,
) -> Result<ImageDescriptor> {
    if layers.len() != config.rootfs.diff_ids.len() {
        return Err(ImageError::Invalid {
            digest: "new image".into(),
            reason: format!(
                "{} layers but {} diff_ids in the config",
                layers.len(),
                config.rootfs.diff_ids.len()
            ),
        });
    }
    for layer in layers {
        if !store.has(layer.digest())? {
            return Err(StoreError::BlobNotFound(layer.digest().clone()).into());
        }
    }
    let config_bytes = config.to_json();
    let config_desc = store
        .put_bytes(&config_bytes)?
        .descriptor(format.config_media_type());
    let manifest =
        manifest::build_manifest(format, config_desc.clone(), layers.to_vec(), annotations)?;
    let manifest_bytes = manifest::manifest_json(&manifest);
    let manifest_desc = store
        .put_bytes(&manifest_bytes)?
        .descriptor(format.manifest_media_type());
    Ok(ImageDescriptor {
        manifest: manifest_desc,
        config: config_desc,
    })
}

/// Read the image whose manifest is `manifest_digest`. An index is refused (pick a platform
/// first with [`select_manifest`]).
pub fn read_image(store: &dyn BlobStore, manifest_digest: &Digest) -> Result<Image> {
    let manifest_bytes = store.read_all(manifest_digest)?;
    let manifest = match manifest::parse_manifest_or_index(manifest_digest, &manifest_bytes)? {
        ManifestOrIndex::Manifest(m) => *m,
        ManifestOrIndex::Index(_) => {
            return Err(ImageError::Invalid {
                digest: manifest_digest.to_string(),
                reason: "it is an index of several platforms, not one image".into(),
            })
        }
    };
    let config_bytes = store.read_all(manifest.config().digest())?;
    if config_bytes.len() as u64 != manifest.config().size() {
        return Err(ImageError::Invalid {
            digest: manifest_digest.to_string(),
            reason: format!(
                "its config {} is {} bytes, but the manifest says {}",
                manifest.config().digest(),
                config_bytes.len(),
                manifest.config().size()
            ),
        });
    }
    let config = ImageConfig::from_json(&config_bytes)?;
    let media_type = manifest
        .media_type()
        .clone()
        .unwrap_or(ManifestFormat::Oci.manifest_media_type());
    let descriptor = ImageDescriptor {
        manifest: Descriptor::new(
            media_type,
            manifest_bytes.len() as u64,
            manifest_digest.clone(),
        ),
        config: manifest.config().clone(),
    };
    Ok(Image {
        descriptor,
        manifest,
        manifest_bytes,
        config,
        config_bytes,
    })
}

/// The manifest for `platform` under `digest`: `digest` itself if it is a manifest, or the
/// matching entry if it is an index.
pub fn select_manifest(
    store: &dyn BlobStore,
    digest: &Digest,
    platform: &Platform,
) -> Result<Digest> {
    let bytes = store.read_all(digest)?;
    let index = match manifest::parse_manifest_or_index(digest, &bytes)? {
        ManifestOrIndex::Manifest(_) => return Ok(digest.clone()),
        ManifestOrIndex::Index(i) => i,
    };
    let mut available = Vec::new();
    for entry in index.manifests() {
        let Some(p) = entry.platform() else { continue };
        let candidate = Platform::new(
            &p.os().to_string(),
            &p.architecture().to_string(),
            p.variant().as_deref().unwrap_or(""),
        );
        if platform.matches(&candidate) {
            return Ok(entry.digest().clone());
        }
        available.push(candidate.to_string());
    }
    Err(ImageError::NoMatchingPlatform {
        digest: digest.to_string(),
        platform: platform.to_string(),
        available: if available.is_empty() {
            "no platforms".into()
        } else {
            available.join(", ")
        },
    })
}

/// Find an image for a command line: by name or digest prefix through `names`, or by a full
/// manifest digest that is in `store` without a name.
pub fn find_image(store: &dyn BlobStore, names: &NameIndex, query: &str) -> Result<Resolved> {
    match names.resolve(query) {
        Ok(r) => Ok(r),
        Err(StoreError::ImageNotFound(q)) => {
            let digest = crate::store::digest::parse_sha256_digest(query)
                .map_err(|_| StoreError::ImageNotFound(q.clone()))?;
            if !store.has(&digest)? {
                return Err(StoreError::ImageNotFound(q).into());
            }
            if let Some(index) = multi::index_descriptor(store, &digest)? {
                let record = ImageRecord {
                    digest,
                    media_type: index.media_type().to_string(),
                    size: index.size(),
                    created: None,
                };
                return Ok(Resolved {
                    record,
                    names: Vec::new(),
                });
            }
            let image = read_image(store, &digest)?;
            Ok(Resolved {
                record: image.descriptor.record(image.config.created.clone()),
                names: Vec::new(),
            })
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
#[path = "image_tests.rs"]
mod tests;
