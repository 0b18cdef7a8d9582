//! Loading a docker archive by its `manifest.json` (`[{Config, RepoTags, Layers}]`), as old
//! `docker save` and skopeo's `docker-archive:` write it: the config is stored as it is (so
//! its digest is Docker's image id), each layer (a plain tar, or gzip) streams into the store
//! while its uncompressed digest is computed in the same pass and checked against the config's
//! `rootfs.diff_ids` (a mismatch stores nothing), and an OCI manifest over them is made with
//! the media type each layer really has.

use std::io::{BufRead, BufReader, Write};

use oci_spec::image::{Descriptor, Digest};
use serde::Deserialize;

use super::error::{ExportError, Result};
use super::import::{read_small, LayoutSource};
use super::load::{LoadedImage, Magic};
use super::tarindex::TarIndex;
use crate::image::manifest::{build_manifest, manifest_json};
use crate::image::{ImageConfig, ImageDescriptor, LayerCompression, ManifestFormat};
use crate::store::digest::{sha256, Sha256};
use crate::store::{BlobStore, Reference};

/// One image of `manifest.json`.
#[derive(Debug, Deserialize)]
struct ManifestItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Option<Vec<String>>,
}

/// Load every image `manifest.json` lists.
pub(crate) fn import_docker_archive(
    index: &TarIndex,
    store: &dyn BlobStore,
) -> Result<Vec<LoadedImage>> {
    let invalid = |reason: String| ExportError::invalid(index.path(), reason);
    let bytes =
        read_small(index, "manifest.json")?.ok_or_else(|| invalid("no manifest.json".into()))?;
    let items: Vec<ManifestItem> =
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("manifest.json: {e}")))?;
    if items.is_empty() {
        return Err(invalid("manifest.json lists no image".into()));
    }
    items
        .iter()
        .map(|item| import_item(index, item, store))
        .collect()
}

fn import_item(
    index: &TarIndex,
    item: &ManifestItem,
    store: &dyn BlobStore,
) -> Result<LoadedImage> {
    let invalid = |reason: String| ExportError::invalid(index.path(), reason);
    let names = item
        .repo_tags
        .iter()
        .flatten()
        .map(|t| {
            Reference::parse(t)
                .map_err(|e| invalid(format!("RepoTags has an invalid name {t:?}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let config_bytes = read_small(index, &item.config)?
        .ok_or_else(|| invalid(format!("the config {} is missing", item.config)))?;
    let config = ImageConfig::from_json(&config_bytes)?;
    let layers = item.layers.as_deref().unwrap_or_default();
    let diff_ids = &config.rootfs.diff_ids;
    if layers.len() != diff_ids.len() {
        return Err(invalid(format!(
            "{} lists {} layers but its config has {} diff_ids",
            item.config,
            layers.len(),
            diff_ids.len()
        )));
    }
    let mut descriptors = Vec::new();
    for (path, diff_id) in layers.iter().zip(diff_ids) {
        descriptors.push(import_layer(index, path, diff_id, store)?);
    }
    let format = ManifestFormat::Oci;
    let config_desc = store
        .put_bytes(&config_bytes)?
        .descriptor(format.config_media_type());
    debug_assert_eq!(config_desc.digest(), &sha256(&config_bytes));
    let manifest = build_manifest(format, config_desc.clone(), descriptors, None)?;
    let manifest_bytes = manifest_json(&manifest);
    let manifest_desc = store
        .put_bytes(&manifest_bytes)?
        .descriptor(format.manifest_media_type());
    Ok(LoadedImage {
        descriptor: ImageDescriptor {
            manifest: manifest_desc,
            config: config_desc,
        },
        index: None,
        names,
        created: config.created,
    })
}

/// A writer that sends every byte to two writers.
struct Tee<'a, A: Write, B: Write> {
    a: &'a mut A,
    b: &'a mut B,
}

impl<A: Write, B: Write> Write for Tee<'_, A, B> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.a.write_all(buf)?;
        self.b.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.a.flush()?;
        self.b.flush()
    }
}

/// Stream the layer at `path` into the store, checking its uncompressed digest is `diff_id`.
fn import_layer(
    index: &TarIndex,
    path: &str,
    diff_id: &Digest,
    store: &dyn BlobStore,
) -> Result<Descriptor> {
    let invalid = |reason: String| ExportError::invalid(index.path(), reason);
    let (reader, _) = index
        .open(path)?
        .ok_or_else(|| invalid(format!("the layer {path} is missing")))?;
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let head = reader
        .fill_buf()
        .map_err(|e| ExportError::io("read layer", index.path().join(path), e))?;
    let compression = match Magic::of(head) {
        Magic::None => LayerCompression::Uncompressed,
        Magic::Gzip => LayerCompression::Gzip,
        other => {
            return Err(invalid(format!(
            "the layer {path} is {other:?}-compressed; only plain and gzip layers can be checked"
        )))
        }
    };
    let media_type = ManifestFormat::Oci.layer_media_type(compression);
    if compression == LayerCompression::Uncompressed && store.has(diff_id)? {
        // The store already holds exactly this content under this digest.
        let size = store.size(diff_id)?;
        return Ok(Descriptor::new(media_type, size, diff_id.clone()));
    }
    let io = |e| ExportError::io("read layer", index.path().join(path), e);
    let mut blob = store.writer()?;
    let actual = match compression {
        LayerCompression::Gzip => {
            let mut decoder = flate2::write::MultiGzDecoder::new(Sha256::new());
            std::io::copy(
                &mut reader,
                &mut Tee {
                    a: &mut blob,
                    b: &mut decoder,
                },
            )
            .map_err(io)?;
            decoder.finish().map_err(io)?.finish()
        }
        _ => {
            let mut hasher = Sha256::new();
            std::io::copy(
                &mut reader,
                &mut Tee {
                    a: &mut blob,
                    b: &mut hasher,
                },
            )
            .map_err(io)?;
            hasher.finish()
        }
    };
    if actual != *diff_id {
        return Err(invalid(format!(
            "the layer {path} does not match the config: its content is {actual}, the config says {diff_id}"
        )));
    }
    let info = blob.commit(None)?;
    Ok(info.descriptor(media_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tee_writes_both() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        Tee {
            a: &mut a,
            b: &mut b,
        }
        .write_all(b"xy")
        .unwrap();
        assert_eq!((a.as_slice(), b.as_slice()), (&b"xy"[..], &b"xy"[..]));
    }
}
