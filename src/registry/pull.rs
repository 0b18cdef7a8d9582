//! Pull: reference -> manifest (an index or manifest list picks the platform) -> config and
//! layers streamed into the store in parallel, each checked -> the image named in the store.
//!
//! Invariants: every blob is committed only after its size and digest check out, and the
//! name is set only after every blob of the image is committed, so an interrupted or failed
//! pull leaves at most some verified, unnamed blobs. Blobs already in the store are not
//! downloaded again, but must be the size the manifest gives; a manifest chosen from an
//! index must be the size the index gives; an image whose layers are not one per
//! `rootfs.diff_ids` entry of its config is refused before any layer is downloaded and is
//! never named. (Each layer's diff_id is checked when it is unpacked.)

use oci_spec::image::{Descriptor, Digest, DigestAlgorithm};

use super::error::{RegistryError, Result};
use super::fetch::{download_blob, get_manifest, is_index, is_manifest};
use super::parallel;
use super::session::Session;
use super::sources::BlobSources;
use super::{Auth, Progress};
use crate::image::manifest::{parse_manifest_or_index, ManifestOrIndex};
use crate::image::{read_image, select_manifest, Platform};
use crate::store::{BlobStore, DirStore, Reference};

/// How many blobs download at once.
pub const PARALLEL_DOWNLOADS: usize = 4;

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullReport {
    /// The manifest of the image for the platform (the image's id in the store).
    pub manifest: Digest,
    /// The index (manifest list) the manifest was chosen from, if the reference named one.
    pub index: Option<Digest>,
    /// The name set in the store (`None` for a reference by digest only).
    pub name: Option<String>,
    /// Blobs downloaded.
    pub downloaded: Vec<Digest>,
    /// Blobs the store already had.
    pub reused: Vec<Digest>,
}

/// Check that a pinned digest is one the store can keep.
fn require_sha256(reference: &Reference) -> Result<()> {
    match reference.digest() {
        Some(d) if d.algorithm() != &DigestAlgorithm::Sha256 => {
            Err(RegistryError::InvalidReference {
                reference: reference.to_string(),
                reason: "only sha256 digests are supported".into(),
            })
        }
        _ => Ok(()),
    }
}

/// Pull `reference` for `platform` into `store` and name it there; see [`super::pull()`].
pub fn pull_image(
    reference: &Reference,
    platform: &Platform,
    store: &DirStore,
    auth: &Auth,
) -> Result<PullReport> {
    pull_image_with(reference, platform, store, auth, &super::silent)
}

/// [`pull_image`], telling `progress` how far each blob download is.
pub fn pull_image_with(
    reference: &Reference,
    platform: &Platform,
    store: &DirStore,
    auth: &Auth,
    progress: Progress<'_>,
) -> Result<PullReport> {
    require_sha256(reference)?;
    let session = Session::new(reference.domain(), auth)?;
    let repo = reference.path();
    let (manifests, manifest, index) = fetch_manifests(&session, reference, platform, store)?;

    let bytes = store.read_all(&manifest)?;
    let parsed = match parse_manifest_or_index(&manifest, &bytes)? {
        ManifestOrIndex::Manifest(m) => m,
        ManifestOrIndex::Index(_) => return Err(unsupported(reference, "a nested index")),
    };
    // The config first: an image whose layers do not match it is refused before any layer
    // is fetched.
    let config = parsed.config().clone();
    let mut blobs: Vec<Descriptor> = Vec::new();
    let mut config_fetched = Vec::new();
    if store.has(config.digest())? {
        blobs.push(config);
    } else {
        download_blob(&session, repo, &config, store, progress)?;
        config_fetched.push(config);
    }
    read_image(store, &manifest)?.check_layer_count()?;
    blobs.extend(parsed.layers().iter().cloned());
    let (reused, mut missing) = split_stored(&session, store, blobs)?;
    download_all(&session, repo, &missing, store, progress)?;
    missing.splice(0..0, config_fetched);

    let name = name_image(store, reference, &manifest)?;
    let mut all: Vec<Digest> = manifests;
    all.extend(reused.iter().cloned());
    all.extend(missing.iter().map(|d| d.digest().clone()));
    BlobSources::new(store.root()).record(session.registry(), repo, &all);
    Ok(PullReport {
        manifest,
        index,
        name,
        downloaded: missing.iter().map(|d| d.digest().clone()).collect(),
        reused,
    })
}

/// Fetches the manifest `reference` names into `store`; for an index, also the manifest
/// it lists for `platform` (checked against the index's size). Returns the manifests
/// fetched, the image's manifest and the index it was chosen from.
fn fetch_manifests(
    session: &Session,
    reference: &Reference,
    platform: &Platform,
    store: &DirStore,
) -> Result<(Vec<Digest>, Digest, Option<Digest>)> {
    let repo = reference.path();
    let wanted = match (reference.digest(), reference.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => crate::domain::reference::DEFAULT_TAG.to_string(),
    };
    let top = get_manifest(session, repo, &wanted, reference.digest())?;
    store.put(&mut top.bytes.as_slice(), Some(&top.digest))?;
    let mut manifests = vec![top.digest.clone()];
    if !is_index(&top.media_type) {
        if is_manifest(&top.media_type) {
            return Ok((manifests, top.digest, None));
        }
        return Err(unsupported(reference, &top.media_type));
    }
    let chosen = select_manifest(store, &top.digest, platform)?;
    if !store.has(&chosen)? {
        let m = get_manifest(session, repo, chosen.as_ref(), Some(&chosen))?;
        if !is_manifest(&m.media_type) {
            return Err(unsupported(reference, &m.media_type));
        }
        let listed = listed_size(&top.bytes, &top.digest, &chosen)?;
        check_size(session, &chosen, listed, m.bytes.len() as u64)?;
        store.put(&mut m.bytes.as_slice(), Some(&m.digest))?;
    }
    manifests.push(chosen.clone());
    Ok((manifests, chosen, Some(top.digest)))
}

/// Splits `blobs` into those the store has (checked against their descriptor's size) and
/// those to download (each once).
fn split_stored(
    session: &Session,
    store: &DirStore,
    blobs: Vec<Descriptor>,
) -> Result<(Vec<Digest>, Vec<Descriptor>)> {
    let mut reused = Vec::new();
    let mut missing = Vec::new();
    for b in blobs {
        if store.has(b.digest())? {
            check_size(session, b.digest(), Some(b.size()), store.size(b.digest())?)?;
            reused.push(b.digest().clone());
        } else if !missing
            .iter()
            .any(|m: &Descriptor| m.digest() == b.digest())
        {
            missing.push(b);
        }
    }
    Ok((reused, missing))
}

/// Names the pulled image in the store when the reference has a tag and no digest; returns
/// the name set.
fn name_image(
    store: &DirStore,
    reference: &Reference,
    manifest: &Digest,
) -> Result<Option<String>> {
    let image = read_image(store, manifest)?;
    Ok(match (reference.tag(), reference.digest()) {
        (Some(_), None) => {
            let n = reference.to_string();
            store
                .images()
                .set(&n, image.descriptor.record(image.config.created.clone()))?;
            Some(n)
        }
        _ => None,
    })
}

/// The size the index `bytes` (digest `index`) gives its entry `chosen`.
fn listed_size(bytes: &[u8], index: &Digest, chosen: &Digest) -> Result<Option<u64>> {
    Ok(match parse_manifest_or_index(index, bytes)? {
        ManifestOrIndex::Index(i) => i
            .manifests()
            .iter()
            .find(|d| d.digest() == chosen)
            .map(|d| d.size()),
        ManifestOrIndex::Manifest(_) => None,
    })
}

/// Fail unless a blob of `actual` bytes is the size its descriptor gives (`expected`).
fn check_size(
    session: &Session,
    digest: &Digest,
    expected: Option<u64>,
    actual: u64,
) -> Result<()> {
    match expected {
        Some(expected) if expected != actual => Err(RegistryError::SizeMismatch {
            registry: session.registry().to_string(),
            digest: digest.clone(),
            expected,
            actual,
        }),
        _ => Ok(()),
    }
}

fn unsupported(reference: &Reference, media_type: &str) -> RegistryError {
    RegistryError::InvalidReference {
        reference: reference.to_string(),
        reason: format!("unsupported manifest type {media_type}"),
    }
}

/// Download `blobs`, up to [`PARALLEL_DOWNLOADS`] at once.
fn download_all(
    session: &Session,
    repo: &str,
    blobs: &[Descriptor],
    store: &dyn BlobStore,
    progress: Progress<'_>,
) -> Result<()> {
    parallel::map(blobs, PARALLEL_DOWNLOADS, |desc| {
        download_blob(session, repo, desc, store, progress).map(|_| ())
    })
    .map(|_| ())
}
