//! `force-compression=true`: the image's layers in the output's compression, base layers
//! included. A layer already in that compression is kept as it is (BuildKit keeps a blob
//! that already has the asked-for compression); any other is decompressed from the store
//! and compressed again ([`crate::diff::recompress`]) into a new blob, whose diff_id must be
//! the layer's. Without `force-compression`, base layers keep the compression they came in
//! (BuildKit reuses base blobs as they are).

use oci_spec::image::Descriptor;

use crate::diff::{self, Compression};
use crate::error::{Error, Result};
use crate::image::ManifestFormat;
use crate::solve::layer::{compression_of, layer_compression, Layer};
use crate::store::BlobStore;

/// The descriptors (OCI media types) of `layers` with every blob in `compression`, writing
/// the blobs that are not into `store`.
pub fn force_compression(
    store: &dyn BlobStore,
    layers: &[Layer],
    compression: Compression,
    level: Option<i32>,
) -> Result<Vec<Descriptor>> {
    layers
        .iter()
        .map(|layer| {
            if compression_of(layer.descriptor.media_type()) == layer_compression(compression) {
                Ok(layer.descriptor.clone())
            } else {
                convert(store, layer, compression, level)
            }
        })
        .collect()
}

/// One layer's blob compressed again, stored, as a descriptor with the OCI media type.
fn convert(
    store: &dyn BlobStore,
    layer: &Layer,
    compression: Compression,
    level: Option<i32>,
) -> Result<Descriptor> {
    let from = layer.descriptor.digest();
    let what = match &layer.image {
        Some(image) => format!("layer {from} of {image}"),
        None => format!("layer {from}"),
    };
    let blob = store.open(from)?;
    let mut writer = store.writer()?;
    let info = diff::recompress(blob, compression, level, &mut writer).map_err(|e| {
        let rendered = format!(
            "ERROR: force-compression: recompress {what}: {}",
            crate::progress::chain(&e)
        );
        Error::build(rendered, e)
    })?;
    if info.diff_id != layer.diff_id {
        return Err(Error::Build {
            rendered: format!(
                "ERROR: force-compression: recompress {what}: its tar is {} but the image \
                 config says {}",
                info.diff_id, layer.diff_id
            ),
            cause: None,
        });
    }
    let blob = writer.commit(Some(&info.digest))?;
    let media_type = ManifestFormat::Oci.layer_media_type(layer_compression(compression));
    Ok(Descriptor::new(media_type, blob.size, blob.digest))
}
