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
    let layers = img
        .manifest
        .layers()
        .iter()
        .zip(&img.config.rootfs.diff_ids)
        .map(|(desc, diff_id)| Layer {
            descriptor: desc.clone(),
            diff_id: diff_id.clone(),
            snapshot: None,
            pending: None,
            image: Some(label.clone()),
        })
        .collect();
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

impl StoreImages<'_> {
    fn config_of(&self, digest: &Digest, platform: &Platform) -> Option<graph::ImageConfig> {
        let manifest = image::select_manifest(self.store, digest, platform).ok()?;
        let img = image::read_image(self.store, &manifest).ok()?;
        let text = String::from_utf8(img.config_bytes).ok()?;
        graph::ImageConfig::from_json(&text).ok()
    }
}

impl BaseImages for StoreImages<'_> {
    fn config(&self, reference: &str, platform: &Platform) -> Option<graph::ImageConfig> {
        let record = self.names.get(reference).ok()??;
        self.config_of(&record.digest, platform)
    }

    fn context_config(&self, name: &str, platform: &Platform) -> Option<graph::ImageConfig> {
        match self.contexts.get(name)? {
            NamedContext::Image(digest) => self.config_of(digest, platform),
            NamedContext::Dir(_) => None,
        }
    }
}
