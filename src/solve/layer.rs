//! Layers of a stage's image, and writing a step's change set as one: the upper directory
//! is streamed by [`crate::diff::write_layer`] straight into a [`crate::store::BlobWriter`]
//! (temp file, fsync, rename on commit), so the diff_id, the blob digest and the stored blob
//! come out of one pass.

use std::path::Path;

use oci_spec::image::{Descriptor, Digest, MediaType};

use super::error::{StepError, StepResult};
use crate::diff::{self, Compression, ExistsBelow, LayerOptions};
use crate::image::{LayerCompression, ManifestFormat};
use crate::snapshot::SnapshotId;
use crate::store::digest::Sha256;
use crate::store::BlobStore;

/// One layer of an image being built: base layers and the layers of this build's steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// The blob in the store (OCI media type; see [`for_format`]).
    pub descriptor: Descriptor,
    /// The uncompressed digest (`rootfs.diff_ids`).
    pub diff_id: Digest,
    /// The committed snapshot of the chain up to and including this layer, once it has
    /// been unpacked or made by a step (named by [`chain_ids`]).
    pub snapshot: Option<SnapshotId>,
}

/// How new layers are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerSettings {
    /// Blob compression (`compression=`).
    pub compression: Compression,
    /// `compression-level=`.
    pub level: Option<i32>,
    /// Clamp file times to this (`SOURCE_DATE_EPOCH` with `rewrite-timestamp=true`).
    pub source_date_epoch: Option<i64>,
}

/// Write the change set in `dir` as a layer blob into `store`.
pub fn write(store: &dyn BlobStore, dir: &Path, settings: &LayerSettings) -> StepResult<Layer> {
    write_changes(store, dir, settings, None)
}

/// Write the change set in `dir` (an overlay upper directory) as a layer blob into
/// `store`; with `exists_below`, whiteouts and opaque markers for paths absent below are
/// dropped.
pub fn write_changes(
    store: &dyn BlobStore,
    dir: &Path,
    settings: &LayerSettings,
    exists_below: Option<ExistsBelow<'_>>,
) -> StepResult<Layer> {
    let opts = LayerOptions {
        compression: settings.compression,
        level: settings.level,
        source_date_epoch: settings.source_date_epoch,
        exists_below,
        ..LayerOptions::default()
    };
    let mut writer = store.writer()?;
    let info = diff::write_layer(dir, &opts, &mut writer)?;
    let blob = writer.commit(Some(&info.digest))?;
    let media_type = ManifestFormat::Oci.layer_media_type(layer_compression(settings.compression));
    Ok(Layer {
        descriptor: Descriptor::new(media_type, blob.size, blob.digest),
        diff_id: info.diff_id,
        snapshot: None,
    })
}

/// The image crate's name for a compression.
pub fn layer_compression(c: Compression) -> LayerCompression {
    match c {
        Compression::Gzip => LayerCompression::Gzip,
        Compression::Zstd => LayerCompression::Zstd,
        Compression::Uncompressed => LayerCompression::Uncompressed,
    }
}

/// The compression a layer media type says its blob has (gzip when unknown).
pub fn compression_of(media_type: &MediaType) -> LayerCompression {
    let t = media_type.to_string();
    if t.ends_with("zstd") {
        LayerCompression::Zstd
    } else if t.ends_with(".tar") || t.ends_with("+tar") || t.ends_with("diff.tar") {
        LayerCompression::Uncompressed
    } else {
        LayerCompression::Gzip
    }
}

/// `desc` with the media type of `format` for the same compression (Docker and OCI name
/// the same blobs differently).
pub fn for_format(desc: &Descriptor, format: ManifestFormat) -> Descriptor {
    let mut out = desc.clone();
    out.set_media_type(format.layer_media_type(compression_of(desc.media_type())));
    if format == ManifestFormat::Docker {
        out.set_annotations(None);
    }
    out
}

/// The chain ids of `diff_ids` (OCI image spec): the first layer's is its diff_id, each
/// next one is `sha256(parent_chain_id + " " + diff_id)`.
pub fn chain_ids<'a>(diff_ids: impl IntoIterator<Item = &'a Digest>) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::new();
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => {
                let mut h = Sha256::new();
                h.update(format!("{parent} {d}").as_bytes());
                h.finish()
            }
        };
        out.push(next);
    }
    out
}

/// Whether `dir` has no entries (a step that changed nothing makes no layer).
pub fn is_empty_dir(dir: &Path) -> StepResult<bool> {
    let mut entries = std::fs::read_dir(dir).map_err(StepError::io("read layer directory", dir))?;
    Ok(entries.next().is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::digest::sha256;
    use crate::store::MemStore;

    #[test]
    fn chain_ids_follow_the_oci_spec() {
        let a = sha256(b"a");
        let b = sha256(b"b");
        let ids = chain_ids([&a, &b]);
        assert_eq!(ids[0], a);
        assert_eq!(ids[1], sha256(format!("{a} {b}").as_bytes()));
        assert!(chain_ids([]).is_empty());
    }

    #[test]
    fn writes_a_layer_into_the_store_and_names_its_media_type() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("f"), "x").unwrap();
        let store = MemStore::new();
        let layer = write(&store, t.path(), &LayerSettings::default()).unwrap();
        assert!(store.has(layer.descriptor.digest()).unwrap());
        assert_eq!(
            layer.descriptor.media_type().to_string(),
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        let docker = for_format(&layer.descriptor, ManifestFormat::Docker);
        assert_eq!(
            docker.media_type().to_string(),
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        );
        assert_eq!(
            compression_of(&MediaType::ImageLayerZstd),
            LayerCompression::Zstd
        );
        assert_eq!(
            compression_of(&MediaType::ImageLayer),
            LayerCompression::Uncompressed
        );
        assert!(!is_empty_dir(t.path()).unwrap());
    }
}
