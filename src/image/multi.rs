//! Multi-platform images: the index a build writes over its per-platform manifests (one
//! entry per platform, its `platform` field set), and reading such an index back as
//! `(platform, manifest)` pairs for listing, exporting and pushing.

use oci_spec::image::{Descriptor, Digest, MediaType, PlatformBuilder};

use super::manifest::{self, parse_manifest_or_index, ManifestFormat, ManifestOrIndex};
use super::{ImageError, Platform, Result};
use crate::store::BlobStore;

/// Write into `store` the index of `entries` (each platform's manifest) in the media types
/// of `format` (an OCI index, or a Docker manifest list), with `annotations`; returns its
/// descriptor.
pub fn write_platform_index(
    store: &dyn BlobStore,
    entries: &[(Descriptor, Platform)],
    format: ManifestFormat,
    annotations: Option<std::collections::HashMap<String, String>>,
) -> Result<Descriptor> {
    let mut listed = Vec::with_capacity(entries.len());
    for (manifest, platform) in entries {
        let mut builder = PlatformBuilder::default()
            .os(platform.os.as_str())
            .architecture(platform.architecture.as_str());
        if !platform.variant.is_empty() {
            builder = builder.variant(platform.variant.clone());
        }
        let p = builder.build().map_err(|e| ImageError::Invalid {
            digest: manifest.digest().to_string(),
            reason: format!("platform {platform}: {e}"),
        })?;
        let mut d = manifest.clone();
        d.set_platform(Some(p));
        listed.push(d);
    }
    let mut index = super::index::build_index(listed);
    index.set_media_type(Some(format.index_media_type()));
    index.set_annotations(annotations.filter(|a| !a.is_empty()));
    let bytes = manifest::index_json(&index);
    let info = store.put_bytes(&bytes)?;
    Ok(info.descriptor(format.index_media_type()))
}

/// The manifests of the index under `digest` with their platforms (an entry without one
/// is `unknown/unknown`); `None` when `digest` is an image manifest.
pub fn index_manifests(
    store: &dyn BlobStore,
    digest: &Digest,
) -> Result<Option<Vec<(Platform, Descriptor)>>> {
    let bytes = store.read_all(digest)?;
    let index = match parse_manifest_or_index(digest, &bytes)? {
        ManifestOrIndex::Manifest(_) => return Ok(None),
        ManifestOrIndex::Index(i) => i,
    };
    let entries = index
        .manifests()
        .iter()
        .map(|d| {
            let platform = match d.platform() {
                Some(p) => Platform::new(
                    &p.os().to_string(),
                    &p.architecture().to_string(),
                    p.variant().as_deref().unwrap_or(""),
                ),
                None => Platform::new("unknown", "unknown", ""),
            };
            (platform, d.clone())
        })
        .collect();
    Ok(Some(entries))
}

/// The descriptor of the index under `digest`, with the media type it declares (an OCI
/// index when it declares none); `None` when `digest` is an image manifest.
pub fn index_descriptor(store: &dyn BlobStore, digest: &Digest) -> Result<Option<Descriptor>> {
    let bytes = store.read_all(digest)?;
    Ok(match parse_manifest_or_index(digest, &bytes)? {
        ManifestOrIndex::Manifest(_) => None,
        ManifestOrIndex::Index(i) => Some(Descriptor::new(
            i.media_type().clone().unwrap_or(MediaType::ImageIndex),
            bytes.len() as u64,
            digest.clone(),
        )),
    })
}

/// `linux/arm/v7` as a directory name, as BuildKit names per-platform outputs:
/// `linux_arm_v7`.
pub fn platform_dir_name(platform: &Platform) -> String {
    platform.to_string().replace('/', "_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    #[test]
    fn index_lists_each_platform() {
        let store = MemStore::new();
        let amd = manifest::descriptor_of(ManifestFormat::Oci.manifest_media_type(), b"a");
        let arm = manifest::descriptor_of(ManifestFormat::Oci.manifest_media_type(), b"b");
        let entries = vec![
            (amd.clone(), Platform::new("linux", "amd64", "")),
            (arm.clone(), Platform::new("linux", "arm", "v7")),
        ];
        let index = write_platform_index(&store, &entries, ManifestFormat::Oci, None).unwrap();
        let text = String::from_utf8(store.read_all(index.digest()).unwrap()).unwrap();
        assert!(
            text.contains(r#""platform":{"architecture":"arm","os":"linux","variant":"v7"}"#),
            "{text}"
        );
        let back = index_manifests(&store, index.digest()).unwrap().unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].0.to_string(), "linux/amd64");
        assert_eq!(back[1].1.digest(), arm.digest());
        assert_eq!(platform_dir_name(&back[1].0), "linux_arm_v7");
        let desc = index_descriptor(&store, index.digest()).unwrap().unwrap();
        assert_eq!(desc, index);
    }
}
