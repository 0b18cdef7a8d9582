//! Images a build starts from, found in the local store: by normalised reference through
//! the store's name index, or by the digest a named context was imported as. The same
//! lookups feed the planner ([`StoreImages`], a [`BaseImages`]) and the solver
//! ([`load`], [`find`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use oci_spec::image::Digest;

use super::error::{StepError, StepResult};
use super::layer::Layer;
use super::{NamedContext, StageResult};
use crate::domain::reference::Reference;
use crate::graph::{self, BaseImages, Platform};
use crate::image;
use crate::store::{BlobStore, NameIndex};

/// The image under `digest` (a manifest, or an index to pick `platform` from) as a stage
/// result: its config as stored, and its layers.
pub fn load(
    store: &dyn BlobStore,
    digest: &Digest,
    platform: &Platform,
) -> StepResult<StageResult> {
    load_as(store, digest, platform, None)
}

/// [`load`], with `name` (`image busybox`, `build context base`) naming the image in
/// messages about its layers; without it the manifest digest alone does.
pub fn load_as(
    store: &dyn BlobStore,
    digest: &Digest,
    platform: &Platform,
    name: Option<&str>,
) -> StepResult<StageResult> {
    let manifest = image::select_manifest(store, digest, platform)?;
    let img = image::read_image(store, &manifest)?;
    img.check_layer_count()?;
    let label: Arc<str> = match name {
        Some(name) => format!("{name} (manifest {manifest})").into(),
        None => format!("image {manifest}").into(),
    };
    let mut layers: Vec<Layer> = Vec::new();
    for (desc, diff_id) in img
        .manifest
        .layers()
        .iter()
        .zip(&img.config.rootfs.diff_ids)
    {
        let mut layer = Layer::new(desc.clone(), diff_id.clone()).on(&layers);
        layer.image = Some(label.clone());
        layers.push(layer);
    }
    Ok(StageResult {
        config: img.config,
        layers,
    })
}

/// The image named `reference` (normalised) in the store; an error that says how to get
/// it there when it is absent.
pub fn find(
    store: &dyn BlobStore,
    names: &NameIndex,
    reference: &str,
    platform: &Platform,
) -> StepResult<StageResult> {
    match names.get(reference)? {
        Some(record) => {
            let name = format!("image {}", familiar(reference));
            load_as(store, &record.digest, platform, Some(&name))
        }
        None => {
            let familiar = familiar(reference);
            let name = familiar
                .split([':', '@'])
                .next()
                .unwrap_or(&familiar)
                .to_string();
            Err(StepError::ImageNotFound(familiar, name))
        }
    }
}

/// `reference` as users write it (`busybox`, not `docker.io/library/busybox:latest`).
fn familiar(reference: &str) -> String {
    Reference::parse(reference)
        .map(|r| r.familiar_short())
        .unwrap_or_else(|_| reference.to_string())
}

/// Base-image configs for the planner, from the store and the named contexts.
#[derive(Debug)]
pub struct StoreImages<'a> {
    /// The blobs.
    pub store: &'a dyn BlobStore,
    /// The names.
    pub names: &'a NameIndex,
    /// Named contexts.
    pub contexts: &'a BTreeMap<String, NamedContext>,
}

/// The config of the image under `digest` (a manifest, or an index to pick `platform`
/// from), as the planner reads it.
fn read_config(
    store: &dyn BlobStore,
    digest: &Digest,
    platform: &Platform,
) -> Result<graph::StageConfig, Box<dyn std::error::Error + Send + Sync>> {
    let manifest = image::select_manifest(store, digest, platform)?;
    let img = image::read_image(store, &manifest)?;
    let text = String::from_utf8(img.config_bytes).map_err(|e| {
        format!(
            "config {} is not UTF-8: {e}",
            img.manifest.config().digest()
        )
    })?;
    Ok(graph::StageConfig::from_json(&text)
        .map_err(|e| format!("config {}: {e}", img.manifest.config().digest()))?)
}

impl StoreImages<'_> {
    /// The config of the image named `reference` (normalised): `None` when the store has
    /// no such name (an unknown image), [`StepError::BaseImage`] naming the image and the
    /// cause when its name index entry, manifest or config cannot be read.
    pub fn base_config(
        &self,
        reference: &str,
        platform: &Platform,
    ) -> StepResult<Option<graph::StageConfig>> {
        let damaged = |source: Box<dyn std::error::Error + Send + Sync>| StepError::BaseImage {
            image: familiar(reference),
            source,
        };
        let Some(record) = self.names.get(reference).map_err(|e| damaged(e.into()))? else {
            return Ok(None);
        };
        read_config(self.store, &record.digest, platform)
            .map(Some)
            .map_err(damaged)
    }

    fn config_of(&self, digest: &Digest, platform: &Platform) -> Option<graph::StageConfig> {
        read_config(self.store, digest, platform).ok()
    }
}

/// The planner sees a damaged image as an unknown one; the build asks
/// [`StoreImages::base_config`] first, which says what is wrong.
impl BaseImages for StoreImages<'_> {
    fn config(&self, reference: &str, platform: &Platform) -> Option<graph::StageConfig> {
        self.base_config(reference, platform).ok().flatten()
    }

    fn context_config(&self, name: &str, platform: &Platform) -> Option<graph::StageConfig> {
        match self.contexts.get(name)? {
            NamedContext::Image(digest) => self.config_of(digest, platform),
            NamedContext::Dir(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ImageRecord, MemStore};

    /// A store naming `busybox` (a manifest whose config is not JSON) and `alpine` (a
    /// manifest that is not JSON).
    fn damaged_store(dir: &std::path::Path) -> (MemStore, NameIndex) {
        let store = MemStore::new();
        let config = store.put_bytes(b"not json").unwrap();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[]}}"#,
            config.digest, config.size
        );
        let names = NameIndex::new(dir);
        for (name, bytes) in [
            ("docker.io/library/busybox:latest", manifest.as_bytes()),
            ("docker.io/library/alpine:latest", b"{broken".as_slice()),
        ] {
            let blob = store.put_bytes(bytes).unwrap();
            let record = ImageRecord {
                digest: blob.digest,
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                size: blob.size,
                created: None,
            };
            names.set(name, record).unwrap();
        }
        (store, names)
    }

    #[test]
    fn a_damaged_base_image_is_an_error_naming_it_not_an_unknown_image() {
        let dir = tempfile::tempdir().unwrap();
        let (store, names) = damaged_store(dir.path());
        let contexts = BTreeMap::new();
        let images = StoreImages {
            store: &store,
            names: &names,
            contexts: &contexts,
        };
        let platform = Platform::linux_amd64();
        for (reference, familiar) in [
            ("docker.io/library/busybox:latest", "busybox"),
            ("docker.io/library/alpine:latest", "alpine"),
        ] {
            let err = images.base_config(reference, &platform).unwrap_err();
            let text = crate::progress::chain(&err);
            assert!(
                text.starts_with(&format!(
                    "image \"{familiar}\" in the local store cannot be read: "
                )),
                "{text}"
            );
            // The planner, which cannot take an error, sees an unknown image.
            assert!(images.config(reference, &platform).is_none());
        }
        let absent = images.base_config("docker.io/library/debian:latest", &platform);
        assert!(matches!(absent, Ok(None)));
    }
}
