//! The network side of a registry build cache ([`crate::cache::artifact`] is its format).
//!
//! `--cache-from type=registry,ref=REF`: at build start the artifact's manifest and config
//! (small) are fetched, digest-checked and parsed; a foreign or tampered one fails the
//! build naming the cause, before anything is written to the store; one that is not there
//! (or a registry that cannot be reached) is a one-line notice and the build goes on cold.
//! On a step's miss, a record of the artifact makes it a hit: its layer is downloaded into
//! the store (digest-checked) before the record is written, as a local import does.
//! A cache mount the store lacks is restored from the artifact's cache-mount records: its
//! blob downloaded into the store (digest-checked), then unpacked as a local one is.
//!
//! `--cache-to type=inline` writes the records of the image's own steps into a label of
//! its config ([`artifact::INLINE_LABEL`]); `--cache-from IMAGE` reads them from there.
//!
//! `--cache-to type=registry,ref=REF`: the layers of the exported records are pushed (a
//! layer the registry has is skipped, one of another repository of the registry is
//! mounted), then the config, then the manifest and, unless `image-manifest=true`, an index
//! naming it under REF's tag — one atomic manifest PUT, so builds exporting to one REF at
//! once leave one complete artifact.

use std::collections::BTreeMap;
use std::sync::Arc;

use oci_spec::image::{Descriptor, Digest, MediaType};

use super::cache_mounts::{self, LocalMounts};
use crate::cache::artifact::{self, CacheMode, Compression, RegistryCache};
use crate::cache::exchange::{CacheImportError, CacheSource, CacheSpec, LocalSource};
use crate::cache::mount_cache::{MountRecord, MountSource};
use crate::cache::{BuildCache, CacheStore, Record};
use crate::error::Result;
use crate::progress::{self, Reporter};
use crate::registry::fetch::{download_blob, get_manifest};
use crate::registry::session::Session;
use crate::registry::sources::BlobSources;
use crate::registry::upload::{push_blob, put_manifest};
use crate::registry::{silent, Auth, RegistryError};
use crate::store::digest::sha256;
use crate::store::{BlobStore, DirStore, MemStore, Reference};

/// The largest config accepted (records are a few hundred bytes each).
const MAX_CONFIG: u64 = 64 << 20;

/// The `--cache-from` sources of steps and of cache mounts.
pub(super) type Sources = (Vec<Box<dyn CacheSource>>, Vec<Box<dyn MountSource>>);

/// The `--cache-from` sources of `specs`, in order: directories as they are, registry
/// artifacts fetched and checked now (one not found is a notice, and left out). A
/// registry's cache-mount blobs are downloaded into `store` when restored.
pub(super) fn sources(
    specs: &[CacheSpec],
    store: &DirStore,
    auth: &Auth,
    reporter: &dyn Reporter,
) -> Result<Sources> {
    let mut out: Vec<Box<dyn CacheSource>> = Vec::new();
    let mut mounts: Vec<Box<dyn MountSource>> = Vec::new();
    for spec in specs {
        match spec {
            CacheSpec::Local(local) => {
                out.push(Box::new(LocalSource(local.dir.clone())));
                mounts.push(Box::new(LocalMounts(local.dir.clone())));
            }
            // Refused by the parser; nothing to read.
            CacheSpec::Inline => {}
            CacheSpec::Registry(cache) => {
                if let Some(source) = open_registry(&cache.reference, store, auth, reporter)? {
                    let source = Shared(Arc::new(source));
                    out.push(Box::new(source.clone()));
                    mounts.push(Box::new(source));
                }
            }
        }
    }
    Ok((out, mounts))
}

/// A registry artifact's records and cache mounts, and how to reach its layers.
struct RegistrySource {
    session: Session,
    repo: String,
    records: BTreeMap<String, Record>,
    mounts: Vec<MountRecord>,
    store: DirStore,
}

/// One [`RegistrySource`], as a source of steps and of cache mounts.
#[derive(Debug, Clone)]
struct Shared(Arc<RegistrySource>);

impl std::fmt::Debug for RegistrySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrySource")
            .field("registry", &self.session.registry())
            .field("repo", &self.repo)
            .field("records", &self.records.len())
            .field("mounts", &self.mounts.len())
            .finish()
    }
}

impl CacheSource for Shared {
    fn import(&self, key: &Digest, store: &dyn BlobStore, records: &CacheStore) -> bool {
        let source = &self.0;
        let Some(record) = source.records.get(key.as_ref()) else {
            return false;
        };
        if let Some(layer) = &record.layer {
            let d = &layer.descriptor;
            let have = store.has(d.digest()).unwrap_or(false);
            if !have && download_blob(&source.session, &source.repo, d, store, &silent).is_err() {
                return false;
            }
        }
        records.put(record).is_ok()
    }
}

impl MountSource for Shared {
    fn restore(&self, name: &str, dest: &std::path::Path) -> bool {
        let source = &self.0;
        let Some(record) = source.mounts.iter().find(|m| m.mount.name == name) else {
            return false;
        };
        let d = &record.layer;
        let have = source.store.has(d.digest()).unwrap_or(false);
        if !have && download_blob(&source.session, &source.repo, d, &source.store, &silent).is_err()
        {
            return false;
        }
        match source.store.open(d.digest()) {
            Ok(blob) => cache_mounts::unpack_checked(blob, record, dest).unwrap_or(false),
            Err(_) => false,
        }
    }
}

/// Fetch and check the artifact `reference` as the vertex `importing cache manifest from
/// REF`: `None` (said on the vertex) when it is not there or cannot be reached.
fn open_registry(
    reference: &Reference,
    store: &DirStore,
    auth: &Auth,
    reporter: &dyn Reporter,
) -> Result<Option<RegistrySource>> {
    let title = format!("importing cache manifest from {reference}");
    let refuse = |reason: String| CacheImportError {
        from: reference.to_string(),
        reason,
    };
    let found = progress::vertex(reporter, &title, |id| {
        let session = match Session::new(reference.domain(), auth) {
            Ok(s) => s,
            Err(e) => return Err(refuse(progress::chain(&e))),
        };
        match fetch_records(&session, reference) {
            Ok(Ok(records)) => Ok(Some((session, records))),
            // Not a builder cache (an image pushed without inline records, another
            // tool's cache): nothing to find there, as BuildKit goes on without it.
            Ok(Err(reason)) if artifact::is_foreign(&reason) => {
                reporter.log(id, &format!("{reference}: {reason}; building without it"));
                Ok(None)
            }
            Ok(Err(reason)) => Err(refuse(reason)),
            Err(e) if is_tampered(&e) => Err(refuse(progress::chain(&e))),
            Err(e) => {
                let what = match e {
                    RegistryError::NotFound { .. } => "not found".to_string(),
                    other => progress::chain(&other),
                };
                reporter.log(id, &format!("{reference}: {what}; building without it"));
                Ok(None)
            }
        }
    })?;
    Ok(found.map(|(session, (records, mounts))| RegistrySource {
        session,
        repo: reference.path().to_string(),
        records,
        mounts,
        store: store.clone(),
    }))
}

/// Whether a registry error says the artifact's bytes are not what they claim.
fn is_tampered(e: &RegistryError) -> bool {
    matches!(e, RegistryError::DigestMismatch { .. })
}

/// The records and cache mounts of an artifact.
type Found = (BTreeMap<String, Record>, Vec<MountRecord>);

/// The records and cache mounts of the artifact `reference`: the outer error is the
/// registry's, the inner one why the artifact is refused.
fn fetch_records(
    session: &Session,
    reference: &Reference,
) -> std::result::Result<std::result::Result<Found, String>, RegistryError> {
    let repo = reference.path();
    let name = match (reference.digest(), reference.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => crate::domain::reference::DEFAULT_TAG.to_string(),
    };
    let top = get_manifest(session, repo, &name, reference.digest())?;
    let manifest = if artifact::is_index(&top.media_type) {
        let entry = match artifact::index_entry(&top.bytes) {
            Ok(entry) => entry,
            Err(reason) => return Ok(Err(reason)),
        };
        let m = get_manifest(session, repo, entry.digest().as_ref(), Some(entry.digest()))?;
        if m.bytes.len() as u64 != entry.size() {
            return Ok(Err(format!(
                "manifest {} is {} bytes, the index says {}",
                entry.digest(),
                m.bytes.len(),
                entry.size()
            )));
        }
        m
    } else {
        top
    };
    let (config, layers) = match artifact::manifest_parts(&manifest.bytes) {
        Ok(parts) => parts,
        Err(reason) => return Ok(Err(reason)),
    };
    let media_type = config.media_type().to_string();
    let inline = artifact::is_image_config(&media_type);
    if !inline {
        // Refused here, before its config is downloaded, unless it is a cache config.
        if let Err(reason) = artifact::parse_manifest(&manifest.bytes) {
            return Ok(Err(reason));
        }
    }
    if config.size() > MAX_CONFIG {
        return Ok(Err(format!("its config is {} bytes", config.size())));
    }
    let memory = MemStore::new();
    download_blob(session, repo, &config, &memory, &silent)?;
    let bytes = memory.read_all(config.digest())?;
    Ok(if inline {
        artifact::inline_records(&bytes, &layers).map(|r| (r, Vec::new()))
    } else {
        artifact::parse_config(&bytes, &layers)
            .and_then(|r| Ok((r, artifact::parse_mounts(&bytes, &layers)?)))
    })
}

/// The `--cache-to type=inline` label: the records of the steps of the image built (as
/// `mode=min`) whose layers are the image's, for `--cache-from IMAGE`.
pub(super) fn inline_label(
    cache: &BuildCache,
    target: Option<usize>,
    image_layers: &[Digest],
) -> std::result::Result<(String, String), serde_json::Error> {
    let records: Vec<Record> = keys_for(CacheMode::Min, cache, target, image_layers)
        .iter()
        .filter_map(|k| cache.records.get(k))
        .filter(|r| {
            r.layer
                .as_ref()
                .map_or(true, |l| image_layers.contains(l.descriptor.digest()))
        })
        .collect();
    let text = String::from_utf8_lossy(&artifact::config_bytes(&records)?).into_owned();
    Ok((artifact::INLINE_LABEL.to_string(), text))
}

/// The keys `cache.mode` exports: every step the build made or reused (`max`), or those of
/// the target stage (`target`) and those whose layer is one of the image's (`min`).
pub(super) fn keys_for(
    mode: CacheMode,
    cache: &BuildCache,
    target: Option<usize>,
    image_layers: &[Digest],
) -> Vec<Digest> {
    let all = cache.used_keys();
    if mode == CacheMode::Max {
        return all;
    }
    let in_target = target.map(|t| cache.stage_keys(t)).unwrap_or_default();
    all.into_iter()
        .filter(|key| {
            in_target.contains(key)
                || cache.records.get(key).is_some_and(|r| {
                    r.layer
                        .is_some_and(|l| image_layers.contains(l.descriptor.digest()))
                })
        })
        .collect()
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Push the records of `keys` (those the store still has, with their blobs) and the cache
/// mounts `mounts` (their blobs in the store) as the artifact `cache`; returns how many
/// steps it holds.
pub(super) fn export(
    cache: &RegistryCache,
    (keys, mounts): (&[Digest], &[MountRecord]),
    store: &DirStore,
    records: &CacheStore,
    auth: &Auth,
) -> std::result::Result<usize, Failure> {
    let found: Vec<Record> = keys
        .iter()
        .filter_map(|k| records.get(k))
        .filter(|r| {
            r.layer
                .as_ref()
                .map_or(true, |l| store.has(l.descriptor.digest()).unwrap_or(false))
        })
        .collect();
    let mut layers: Vec<Descriptor> = Vec::new();
    for layer in found.iter().filter_map(|r| r.layer.as_ref()) {
        if !layers
            .iter()
            .any(|l| l.digest() == layer.descriptor.digest())
        {
            layers.push(layer.descriptor.clone());
        }
    }
    check_compression(cache.compression, &layers)?;
    for m in mounts {
        if !layers.iter().any(|l| l.digest() == m.layer.digest()) {
            layers.push(m.layer.clone());
        }
    }
    let config = artifact::config_bytes_with_mounts(&found, mounts)?;
    let memory = MemStore::new();
    let info = memory.put_bytes(&config)?;
    let config_desc = Descriptor::new(
        MediaType::Other(artifact::CONFIG_MEDIA_TYPE.into()),
        info.size,
        info.digest,
    );
    let reference = &cache.reference;
    let session = Session::new(reference.domain(), auth)?;
    let repo = reference.path();
    let sources = BlobSources::new(store.root());
    for layer in &layers {
        let from = sources.repo_on(session.registry(), layer.digest(), repo);
        let (digest, size) = (layer.digest(), layer.size());
        push_blob(
            &session,
            repo,
            digest,
            size,
            store,
            from.as_deref(),
            &silent,
        )?;
    }
    let (digest, size) = (config_desc.digest(), config_desc.size());
    push_blob(&session, repo, digest, size, &memory, None, &silent)?;
    put_artifact(&session, cache, &config_desc, &layers)?;
    let pushed: Vec<Digest> = layers.iter().map(|l| l.digest().clone()).collect();
    sources.record(session.registry(), repo, &pushed);
    Ok(found.len())
}

/// The manifest, then (unless `image-manifest=true`) the index, under the tag of `cache`.
fn put_artifact(
    session: &Session,
    cache: &RegistryCache,
    config: &Descriptor,
    layers: &[Descriptor],
) -> std::result::Result<(), Failure> {
    let repo = cache.reference.path();
    let tag = cache
        .reference
        .tag()
        .unwrap_or(crate::domain::reference::DEFAULT_TAG);
    let (media_type, manifest) = artifact::manifest_bytes(config, layers, cache.oci_mediatypes)?;
    if cache.image_manifest {
        put_manifest(session, repo, tag, media_type, &manifest)?;
        return Ok(());
    }
    let digest = sha256(&manifest);
    put_manifest(session, repo, digest.as_ref(), media_type, &manifest)?;
    let size = manifest.len() as u64;
    let (index_type, index) =
        artifact::index_bytes(media_type, &digest, size, cache.oci_mediatypes)?;
    put_manifest(session, repo, tag, index_type, &index)?;
    Ok(())
}

/// Refuse a `compression=` the layers do not have: they are the image's own blobs, pushed
/// as they are.
fn check_compression(
    wanted: Option<Compression>,
    layers: &[Descriptor],
) -> std::result::Result<(), Failure> {
    let Some(wanted) = wanted else { return Ok(()) };
    for layer in layers {
        let has = Compression::of(layer.media_type().as_ref());
        if has != wanted {
            return Err(format!(
                "layer {} is {}, not {}: cached layers are the image's own blobs; build \
                 with -o type=image,compression={} to cache {} layers",
                layer.digest(),
                has.name(),
                wanted.name(),
                wanted.name(),
                wanted.name()
            )
            .into());
        }
    }
    Ok(())
}
