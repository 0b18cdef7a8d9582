//! Image manifests: building one from a config descriptor and layer descriptors, in OCI or
//! Docker v2s2 media types, writing it as BuildKit does (three-space indent), and reading
//! manifests and indexes back with oci-spec's types.

use std::collections::HashMap;

use oci_spec::image::{
    Descriptor, Digest, ImageIndex, ImageManifest, ImageManifestBuilder, MediaType,
};
use serde::Deserialize;

use super::error::{ImageError, Result};
use crate::store::digest::sha256;

/// Docker v2s2 manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker v2s2 manifest list media type.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker v2s2 config media type.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker v2s2 gzip layer media type.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker v2s2 uncompressed layer media type.
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// Which media types an image is written with (`oci-mediatypes=true|false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ManifestFormat {
    /// `application/vnd.oci.image.manifest.v1+json` and friends.
    #[default]
    Oci,
    /// `application/vnd.docker.distribution.manifest.v2+json` and friends.
    Docker,
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayerCompression {
    /// A plain tar.
    Uncompressed,
    /// gzip.
    #[default]
    Gzip,
    /// zstd.
    Zstd,
}

impl ManifestFormat {
    /// The manifest's media type.
    pub fn manifest_media_type(self) -> MediaType {
        match self {
            ManifestFormat::Oci => MediaType::ImageManifest,
            ManifestFormat::Docker => MediaType::Other(DOCKER_MANIFEST.into()),
        }
    }

    /// The index's media type.
    pub fn index_media_type(self) -> MediaType {
        match self {
            ManifestFormat::Oci => MediaType::ImageIndex,
            ManifestFormat::Docker => MediaType::Other(DOCKER_MANIFEST_LIST.into()),
        }
    }

    /// The config's media type.
    pub fn config_media_type(self) -> MediaType {
        match self {
            ManifestFormat::Oci => MediaType::ImageConfig,
            ManifestFormat::Docker => MediaType::Other(DOCKER_CONFIG.into()),
        }
    }

    /// A layer's media type. Docker has no zstd type; like BuildKit, zstd layers keep the OCI
    /// type.
    pub fn layer_media_type(self, compression: LayerCompression) -> MediaType {
        match (self, compression) {
            (ManifestFormat::Oci, LayerCompression::Uncompressed) => MediaType::ImageLayer,
            (ManifestFormat::Oci, LayerCompression::Gzip) => MediaType::ImageLayerGzip,
            (_, LayerCompression::Zstd) => MediaType::ImageLayerZstd,
            (ManifestFormat::Docker, LayerCompression::Uncompressed) => {
                MediaType::Other(DOCKER_LAYER.into())
            }
            (ManifestFormat::Docker, LayerCompression::Gzip) => {
                MediaType::Other(DOCKER_LAYER_GZIP.into())
            }
        }
    }

    /// The format a manifest media type belongs to.
    pub fn of_media_type(media_type: &MediaType) -> Option<Self> {
        match media_type.to_string().as_str() {
            "application/vnd.oci.image.manifest.v1+json" => Some(ManifestFormat::Oci),
            DOCKER_MANIFEST => Some(ManifestFormat::Docker),
            _ => None,
        }
    }
}

/// A manifest over `config` and `layers` (bottom first). With the Docker format layer
/// annotations are dropped, as BuildKit does.
pub fn build_manifest(
    format: ManifestFormat,
    config: Descriptor,
    layers: Vec<Descriptor>,
    annotations: Option<HashMap<String, String>>,
) -> Result<ImageManifest> {
    let layers = match format {
        ManifestFormat::Oci => layers,
        ManifestFormat::Docker => layers
            .into_iter()
            .map(|mut l| {
                l.set_annotations(None);
                l
            })
            .collect(),
    };
    let mut builder = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(format.manifest_media_type())
        .config(config)
        .layers(layers);
    if let Some(a) = annotations.filter(|a| !a.is_empty()) {
        builder = builder.annotations(a);
    }
    builder.build().map_err(|e| ImageError::Invalid {
        digest: "new manifest".into(),
        reason: e.to_string(),
    })
}

/// The bytes of a manifest, as BuildKit writes them (Go JSON, three-space indent).
pub fn manifest_json(manifest: &ImageManifest) -> Vec<u8> {
    super::json::to_vec_indent(manifest, "   ")
}

/// The bytes of an index (compact Go JSON; annotations sorted).
pub fn index_json(index: &ImageIndex) -> Vec<u8> {
    super::json::to_vec(index)
}

/// The descriptor of `bytes` as a blob of `media_type`.
pub fn descriptor_of(media_type: MediaType, bytes: &[u8]) -> Descriptor {
    Descriptor::new(media_type, bytes.len() as u64, sha256(bytes))
}

/// A manifest or index blob, told apart by its content.
#[derive(Debug, Clone)]
pub enum ManifestOrIndex {
    /// An image manifest.
    Manifest(Box<ImageManifest>),
    /// An index (manifest list) of per-platform manifests.
    Index(Box<ImageIndex>),
}

/// Parse a manifest or an index blob (OCI or Docker); `digest` names it in errors.
pub fn parse_manifest_or_index(digest: &Digest, bytes: &[u8]) -> Result<ManifestOrIndex> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        #[serde(default)]
        media_type: Option<String>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
        #[serde(default)]
        layers: Option<serde_json::Value>,
    }
    let invalid = |reason: String| ImageError::Invalid {
        digest: digest.to_string(),
        reason,
    };
    let probe: Probe =
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("not JSON: {e}")))?;
    let is_index = match probe.media_type.as_deref() {
        Some("application/vnd.oci.image.index.v1+json") | Some(DOCKER_MANIFEST_LIST) => true,
        Some("application/vnd.oci.image.manifest.v1+json") | Some(DOCKER_MANIFEST) => false,
        Some(other) if probe.layers.is_none() && probe.manifests.is_none() => {
            return Err(invalid(format!("unsupported media type {other}")))
        }
        _ => probe.manifests.is_some() && probe.layers.is_none(),
    };
    if is_index {
        serde_json::from_slice(bytes)
            .map(|i| ManifestOrIndex::Index(Box::new(i)))
            .map_err(|e| invalid(format!("bad index: {e}")))
    } else {
        serde_json::from_slice(bytes)
            .map(|m| ManifestOrIndex::Manifest(Box::new(m)))
            .map_err(|e| invalid(format!("bad manifest: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_desc(format: ManifestFormat) -> Descriptor {
        descriptor_of(format.config_media_type(), b"{}")
    }

    #[test]
    fn oci_manifest_is_written_like_buildkit() {
        let layer = descriptor_of(
            ManifestFormat::Oci.layer_media_type(LayerCompression::Gzip),
            b"layer",
        );
        let m = build_manifest(
            ManifestFormat::Oci,
            config_desc(ManifestFormat::Oci),
            vec![layer],
            None,
        )
        .unwrap();
        let text = String::from_utf8(manifest_json(&m)).unwrap();
        let want = format!(
            "{{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n   \"config\": {{\n      \"mediaType\": \"application/vnd.oci.image.config.v1+json\",\n      \"digest\": \"{}\",\n      \"size\": 2\n   }},\n   \"layers\": [\n      {{\n         \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n         \"digest\": \"{}\",\n         \"size\": 5\n      }}\n   ]\n}}",
            sha256(b"{}"),
            sha256(b"layer")
        );
        assert_eq!(text, want);
        match parse_manifest_or_index(&sha256(text.as_bytes()), text.as_bytes()).unwrap() {
            ManifestOrIndex::Manifest(back) => assert_eq!(*back, m),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn docker_media_types_and_no_layer_annotations() {
        let f = ManifestFormat::Docker;
        let mut layer = descriptor_of(f.layer_media_type(LayerCompression::Gzip), b"l");
        layer.set_annotations(Some([("a".to_string(), "b".to_string())].into()));
        let m = build_manifest(f, config_desc(f), vec![layer], None).unwrap();
        let text = String::from_utf8(manifest_json(&m)).unwrap();
        assert!(text.contains(DOCKER_MANIFEST), "{text}");
        assert!(text.contains(DOCKER_CONFIG), "{text}");
        assert!(text.contains(DOCKER_LAYER_GZIP), "{text}");
        assert!(!text.contains("annotations"), "{text}");
        assert_eq!(
            ManifestFormat::of_media_type(&f.manifest_media_type()),
            Some(f)
        );
        assert_eq!(
            f.layer_media_type(LayerCompression::Zstd),
            MediaType::ImageLayerZstd
        );
    }

    #[test]
    fn tells_indexes_from_manifests() {
        let d = sha256(b"x");
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            parse_manifest_or_index(&d, index).unwrap(),
            ManifestOrIndex::Index(_)
        ));
        let list =
            format!(r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_LIST}","manifests":[]}}"#);
        assert!(matches!(
            parse_manifest_or_index(&d, list.as_bytes()).unwrap(),
            ManifestOrIndex::Index(_)
        ));
        let err = parse_manifest_or_index(&d, b"[1]").unwrap_err();
        assert!(err.to_string().contains("is not a usable image"), "{err}");
        let err = parse_manifest_or_index(&d, br#"{"mediaType":"text/plain"}"#).unwrap_err();
        assert!(err.to_string().contains("unsupported media type"), "{err}");
    }
}
