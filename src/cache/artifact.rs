//! The registry cache artifact: what `--cache-to type=registry,ref=REF` pushes and
//! `--cache-from type=registry,ref=REF` reads, as bytes (the network is the caller's).
//!
//! REF names an OCI image index whose one manifest (or, with `image-manifest=true`, that
//! manifest alone) has a config blob of media type [`CONFIG_MEDIA_TYPE`] holding the cache
//! records — the same records as the store's and a cache directory's, keys to layer
//! descriptors — and the cached layers as its layers: the image's own blobs, so a registry
//! that has the image stores nothing twice. `--cache-to type=inline` puts the same config
//! document into the image config's [`INLINE_LABEL`]. Everything here is pure: the
//! `type=registry` keys, the config, manifest and index documents written with a stable key
//! order, and their checks on import (a foreign or tampered artifact is refused with the
//! reason).

use std::collections::BTreeMap;

use oci_spec::image::{Descriptor, Digest};
use serde::{Deserialize, Serialize};

use super::mount_cache::{take_keys, valid_name, MountExport, MountRecord};
use super::record::Record;
use crate::domain::reference::Reference;

/// The media type of the config blob of a builder cache artifact.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.builder.cache.config.v1+json";
/// The version of the config document this build writes and reads.
pub const CONFIG_VERSION: u32 = 1;
/// The image config label of `--cache-to type=inline`: the config document, as text.
pub const INLINE_LABEL: &str = "builder.cache.v1";

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Which steps `--cache-to` exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    /// `mode=min` (the default): the steps whose results make up the target's image.
    Min,
    /// `mode=max`: every step of every stage the build ran or reused.
    Max,
}

/// The layer compression `compression=` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `gzip`.
    Gzip,
    /// `zstd`.
    Zstd,
    /// `uncompressed`.
    Uncompressed,
}

impl Compression {
    /// The compression of a layer of media type `media_type`.
    pub fn of(media_type: &str) -> Compression {
        if media_type.ends_with("zstd") {
            Compression::Zstd
        } else if media_type.ends_with("gzip") {
            Compression::Gzip
        } else {
            Compression::Uncompressed
        }
    }

    /// Its name as `compression=` writes it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Uncompressed => "uncompressed",
        }
    }
}

/// A `type=registry` cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryCache {
    /// `ref=`: where the artifact is (`latest` when it names no tag).
    pub reference: Reference,
    /// `mode=` (`--cache-to`).
    pub mode: CacheMode,
    /// `compression=` (`--cache-to`): the layers must already be so (they are the image's).
    pub compression: Option<Compression>,
    /// `oci-mediatypes=` (`--cache-to`, default true): OCI index and manifest, else Docker's.
    pub oci_mediatypes: bool,
    /// `image-manifest=` (`--cache-to`): push the manifest alone, without an index.
    pub image_manifest: bool,
    /// `ignore-error=` (`--cache-to`): an export failure is a warning.
    pub ignore_error: bool,
    /// `cache-mounts=` (`--cache-to`): the cache mounts to export with the steps.
    pub mounts: Option<MountExport>,
}

/// The keys of `type=registry` (`keys`, lower-case names): `ref=` always; for `--cache-to`
/// (`export`) also `mode`, `compression`, `oci-mediatypes`, `image-manifest`,
/// `ignore-error`. Anything else is refused, naming it.
pub fn registry_spec(
    flag: &str,
    export: bool,
    keys: &[(String, String)],
) -> Result<RegistryCache, String> {
    let mut keys = keys.to_vec();
    let mounts = if export {
        take_keys(flag, &mut keys)?
    } else {
        None
    };
    let mut reference = None;
    let mut opts = Options::default();
    for (key, value) in &keys {
        match key.as_str() {
            "ref" => reference = Some(value.clone()),
            _ if export => opts.set(flag, key, value)?,
            other => {
                return Err(format!(
                    "unknown key {other:?} for {flag} type=registry; it takes: ref"
                ))
            }
        }
    }
    if opts.image_manifest && !opts.oci_mediatypes {
        return Err(format!(
            "{flag} image-manifest=true needs oci-mediatypes=true (a Docker manifest cannot \
             carry the cache config)"
        ));
    }
    let Some(reference) = reference.filter(|r| !r.is_empty()) else {
        return Err(format!("{flag} type=registry needs ref=NAME[:TAG]"));
    };
    let reference =
        Reference::parse(&reference).map_err(|e| format!("{flag} ref={reference:?}: {}", e.0))?;
    if export && reference.digest().is_some() {
        return Err(format!(
            "{flag} ref={reference}: a cache is pushed under a tag, not a digest"
        ));
    }
    Ok(RegistryCache {
        reference,
        mode: opts.mode,
        compression: opts.compression,
        oci_mediatypes: opts.oci_mediatypes,
        image_manifest: opts.image_manifest,
        ignore_error: opts.ignore_error,
        mounts,
    })
}

/// The `--cache-to type=registry` keys other than `ref`.
struct Options {
    mode: CacheMode,
    compression: Option<Compression>,
    oci_mediatypes: bool,
    image_manifest: bool,
    ignore_error: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: CacheMode::Min,
            compression: None,
            oci_mediatypes: true,
            image_manifest: false,
            ignore_error: false,
        }
    }
}

impl Options {
    /// Take `key=value`, or refuse it naming the key.
    fn set(&mut self, flag: &str, key: &str, value: &str) -> Result<(), String> {
        let boolean = || match value.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("{flag} {key}={value:?}: expected true or false")),
        };
        match key {
            "mode" => {
                self.mode = match value {
                    "min" => CacheMode::Min,
                    "max" => CacheMode::Max,
                    other => return Err(format!("{flag} mode={other:?}: expected min or max")),
                }
            }
            "compression" => self.compression = Some(compression(flag, value)?),
            "oci-mediatypes" => self.oci_mediatypes = boolean()?,
            "image-manifest" => self.image_manifest = boolean()?,
            "ignore-error" => self.ignore_error = boolean()?,
            other => {
                return Err(format!(
                    "unknown key {other:?} for {flag} type=registry; it takes: ref, mode, \
                     compression, oci-mediatypes, image-manifest, ignore-error, cache-mounts, \
                     cache-mounts-max-size"
                ))
            }
        }
        Ok(())
    }
}

fn compression(flag: &str, value: &str) -> Result<Compression, String> {
    match value {
        "gzip" => Ok(Compression::Gzip),
        "zstd" => Ok(Compression::Zstd),
        "uncompressed" => Ok(Compression::Uncompressed),
        other => Err(format!(
            "{flag} compression={other:?}: expected gzip, zstd or uncompressed"
        )),
    }
}

/// The config blob: the records, sorted by key.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheConfig {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    records: Vec<Record>,
    /// Exported cache mounts, their blobs among the layers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    mounts: Vec<MountRecord>,
}

/// The config blob holding `records` (sorted by key, so the same records give the same
/// bytes).
pub fn config_bytes(records: &[Record]) -> Result<Vec<u8>, serde_json::Error> {
    config_bytes_with_mounts(records, &[])
}

/// The config blob holding `records` and the cache mounts `mounts` (sorted by name).
pub fn config_bytes_with_mounts(
    records: &[Record],
    mounts: &[MountRecord],
) -> Result<Vec<u8>, serde_json::Error> {
    let mut mounts = mounts.to_vec();
    mounts.sort_by(|a, b| a.mount.name.cmp(&b.mount.name));
    mounts.dedup_by(|a, b| a.mount.name == b.mount.name);
    let mut records = records.to_vec();
    records.sort_by(|a, b| a.key.as_ref().cmp(b.key.as_ref()));
    records.dedup_by(|a, b| a.key == b.key);
    serde_json::to_vec(&CacheConfig {
        schema_version: CONFIG_VERSION,
        records,
        mounts,
    })
}

/// The manifest of an artifact: its media type and bytes. With `oci` false, Docker's
/// media types (layers renamed, blobs unchanged).
pub fn manifest_bytes(
    config: &Descriptor,
    layers: &[Descriptor],
    oci: bool,
) -> Result<(&'static str, Vec<u8>), serde_json::Error> {
    let media_type = if oci { OCI_MANIFEST } else { DOCKER_MANIFEST };
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| {
            let mt = l.media_type().to_string();
            let mt = if oci { mt } else { docker_layer_type(&mt) };
            serde_json::json!({"mediaType": mt, "digest": l.digest(), "size": l.size()})
        })
        .collect();
    let doc = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": CONFIG_MEDIA_TYPE,
            "digest": config.digest(),
            "size": config.size(),
        },
        "layers": layers,
    });
    Ok((media_type, serde_json::to_vec(&doc)?))
}

fn docker_layer_type(oci: &str) -> String {
    match Compression::of(oci) {
        Compression::Gzip => "application/vnd.docker.image.rootfs.diff.tar.gzip".into(),
        Compression::Uncompressed => "application/vnd.docker.image.rootfs.diff.tar".into(),
        // Docker has no zstd layer type; BuildKit keeps the OCI one.
        Compression::Zstd => oci.to_string(),
    }
}

/// The index pointing at the manifest `digest` (`size` bytes, of `media_type`).
pub fn index_bytes(
    media_type: &str,
    digest: &Digest,
    size: u64,
    oci: bool,
) -> Result<(&'static str, Vec<u8>), serde_json::Error> {
    let index_type = if oci { OCI_INDEX } else { DOCKER_LIST };
    let doc = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": index_type,
        "manifests": [{"mediaType": media_type, "digest": digest, "size": size}],
    });
    Ok((index_type, serde_json::to_vec(&doc)?))
}

/// Whether `media_type` is an index (OCI or Docker's list).
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

#[derive(Deserialize)]
struct IndexDoc {
    manifests: Vec<Descriptor>,
}

/// How a reason for refusing an artifact ends when the artifact is simply not a builder
/// cache (an image without inline records, another tool's cache): a notice, not an error.
pub const FOREIGN: &str = "not a builder cache";

/// Whether `reason` says the artifact is not a builder cache (rather than a damaged one).
pub fn is_foreign(reason: &str) -> bool {
    reason.ends_with(FOREIGN)
}

/// The one manifest of an artifact's index `bytes`.
pub fn index_entry(bytes: &[u8]) -> Result<Descriptor, String> {
    let index: IndexDoc =
        serde_json::from_slice(bytes).map_err(|e| format!("the index does not parse: {e}"))?;
    let mut builder = index.manifests.into_iter().filter(|m| {
        matches!(
            m.media_type().to_string().as_str(),
            OCI_MANIFEST | DOCKER_MANIFEST
        )
    });
    match (builder.next(), builder.next()) {
        (Some(m), None) => Ok(m),
        _ => Err("the index does not list exactly one image manifest: \
                  not a builder cache"
            .into()),
    }
}

#[derive(Deserialize)]
struct ManifestDoc {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// The config descriptor and layers of a manifest's `bytes`.
pub fn manifest_parts(bytes: &[u8]) -> Result<(Descriptor, Vec<Descriptor>), String> {
    let doc: ManifestDoc =
        serde_json::from_slice(bytes).map_err(|e| format!("the manifest does not parse: {e}"))?;
    Ok((doc.config, doc.layers))
}

/// Whether a config of `media_type` is an image's (whose [`INLINE_LABEL`] may hold records).
pub fn is_image_config(media_type: &str) -> bool {
    media_type == "application/vnd.oci.image.config.v1+json"
        || media_type == "application/vnd.docker.container.image.v1+json"
}

/// The records an image config's [`INLINE_LABEL`] holds (`--cache-to type=inline`), each
/// layer one of the image's `layers`.
pub fn inline_records(
    config: &[u8],
    layers: &[Descriptor],
) -> Result<BTreeMap<String, Record>, String> {
    #[derive(Deserialize)]
    struct Image {
        #[serde(default)]
        config: Option<Exec>,
    }
    #[derive(Deserialize)]
    struct Exec {
        #[serde(rename = "Labels", default)]
        labels: Option<BTreeMap<String, String>>,
    }
    let image: Image = serde_json::from_slice(config)
        .map_err(|e| format!("its image config does not parse: {e}"))?;
    let label = image
        .config
        .and_then(|c| c.labels)
        .and_then(|mut l| l.remove(INLINE_LABEL));
    match label {
        Some(text) => parse_config(text.as_bytes(), layers),
        None => Err(format!(
            "it is an image without a {INLINE_LABEL} label: not a builder cache"
        )),
    }
}

/// The config descriptor and layers of an artifact's manifest `bytes`; refused unless
/// its config is a builder cache config.
pub fn parse_manifest(bytes: &[u8]) -> Result<(Descriptor, Vec<Descriptor>), String> {
    let doc: ManifestDoc =
        serde_json::from_slice(bytes).map_err(|e| format!("the manifest does not parse: {e}"))?;
    let media_type = doc.config.media_type().to_string();
    if media_type != CONFIG_MEDIA_TYPE {
        return Err(format!(
            "its config is {media_type}, not {CONFIG_MEDIA_TYPE}: not a builder cache"
        ));
    }
    Ok((doc.config, doc.layers))
}

/// The records of the config `bytes`, by key, each layer one of `layers` (same digest and
/// size): anything else is refused as a tampered artifact.
pub fn parse_config(
    bytes: &[u8],
    layers: &[Descriptor],
) -> Result<BTreeMap<String, Record>, String> {
    let config: CacheConfig = serde_json::from_slice(bytes)
        .map_err(|e| format!("its cache records do not parse: {e}"))?;
    if config.schema_version != CONFIG_VERSION {
        return Err(format!(
            "its cache records are version {}, this build reads version {CONFIG_VERSION}",
            config.schema_version
        ));
    }
    let mut by_key = BTreeMap::new();
    for record in config.records {
        if let Some(layer) = &record.layer {
            let d = &layer.descriptor;
            let listed = layers
                .iter()
                .any(|l| l.digest() == d.digest() && l.size() == d.size());
            if !listed {
                return Err(format!(
                    "the record of {} names layer {}, which the manifest does not list",
                    record.key,
                    d.digest()
                ));
            }
        }
        by_key.insert(record.key.to_string(), record);
    }
    Ok(by_key)
}

/// The cache mounts of the config `bytes` (one [`parse_config`] accepted), each blob one of
/// `layers` and each name a cache mount's: anything else is refused as tampered.
pub fn parse_mounts(bytes: &[u8], layers: &[Descriptor]) -> Result<Vec<MountRecord>, String> {
    let config: CacheConfig = serde_json::from_slice(bytes)
        .map_err(|e| format!("its cache records do not parse: {e}"))?;
    for m in &config.mounts {
        let d = &m.layer;
        let listed = layers
            .iter()
            .any(|l| l.digest() == d.digest() && l.size() == d.size());
        if !listed || !valid_name(&m.mount.name) {
            return Err(format!(
                "the cache mount {:?} names layer {} or directory {:?}, which the artifact \
                 cannot hold",
                m.mount.id,
                d.digest(),
                m.mount.name
            ));
        }
    }
    Ok(config.mounts)
}

#[cfg(test)]
#[path = "artifact_tests.rs"]
mod tests;
