//! Push: an image in the store -> its config and layers (each looked for first, mounted from
//! a known source repository of the same registry, else streamed up from the store file) ->
//! its manifest, byte for byte with its own media type (Docker v2s2 for images written with
//! Docker media types), so the digest printed is the digest the registry stores. An index
//! (a multi-platform image) pushes every platform's image by digest first, then itself.

use oci_spec::image::{Descriptor, Digest};

use super::error::{RegistryError, Result};
use super::parallel;
use super::session::Session;
use super::sources::BlobSources;
use super::upload::{push_blob, put_manifest, BlobOutcome};
use super::{Auth, Progress};
use crate::image::multi::{index_descriptor, index_manifests};
use crate::image::{read_image, Platform};
use crate::store::{BlobStore, DirStore, Reference};

/// How many blobs upload at once.
pub const PARALLEL_UPLOADS: usize = 3;

/// How to push.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Transport and credentials.
    pub auth: Auth,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// The manifest digest, as the registry stores it.
    pub digest: Digest,
    /// Where it went (canonical form).
    pub reference: String,
    /// Blobs uploaded.
    pub uploaded: Vec<Digest>,
    /// Blobs mounted from another repository.
    pub mounted: Vec<Digest>,
    /// Blobs the registry already had.
    pub existed: Vec<Digest>,
}

/// Push the image `manifest` from `store` to `dest`; see [`super::push()`].
pub fn push_image(
    store: &DirStore,
    manifest: &Digest,
    dest: &Reference,
    opts: &PushOptions,
) -> Result<PushReport> {
    push_image_with(store, manifest, dest, opts, &super::silent)
}

/// [`push_image`], telling `progress` how far each blob upload is.
pub fn push_image_with(
    store: &DirStore,
    manifest: &Digest,
    dest: &Reference,
    opts: &PushOptions,
    progress: Progress<'_>,
) -> Result<PushReport> {
    if let Some(children) = index_manifests(store, manifest)? {
        return push_index(store, (manifest, &children), dest, opts, progress);
    }
    let image = read_image(store, manifest)?;
    if let Some(pinned) = dest.digest() {
        if pinned != manifest {
            return Err(RegistryError::InvalidReference {
                reference: dest.to_string(),
                reason: format!("the image to push is {manifest}, not the digest named"),
            });
        }
    }
    let session = Session::new(dest.domain(), &opts.auth)?;
    let repo = dest.path();
    let sources = BlobSources::new(store.root());
    let mut blobs: Vec<(Digest, u64)> = vec![(
        image.descriptor.config.digest().clone(),
        image.descriptor.config.size(),
    )];
    for layer in image.manifest.layers() {
        if !blobs.iter().any(|(d, _)| d == layer.digest()) {
            blobs.push((layer.digest().clone(), layer.size()));
        }
    }
    let outcomes = parallel::map(&blobs, PARALLEL_UPLOADS, |(digest, size)| {
        let from = sources.repo_on(session.registry(), digest, repo);
        push_blob(
            &session,
            repo,
            digest,
            *size,
            store,
            from.as_deref(),
            progress,
        )
    })?;
    let reference = manifest_reference(dest);
    let media_type = image.descriptor.manifest.media_type().to_string();
    let digest = put_manifest(
        &session,
        repo,
        &reference,
        &media_type,
        &image.manifest_bytes,
    )?;
    let mut report = PushReport {
        digest: digest.clone(),
        reference: dest.to_string(),
        uploaded: Vec::new(),
        mounted: Vec::new(),
        existed: Vec::new(),
    };
    for ((d, _), outcome) in blobs.iter().zip(outcomes) {
        match outcome {
            BlobOutcome::Uploaded => report.uploaded.push(d.clone()),
            BlobOutcome::Mounted => report.mounted.push(d.clone()),
            BlobOutcome::Existed => report.existed.push(d.clone()),
        }
    }
    let mut all: Vec<Digest> = blobs.into_iter().map(|(d, _)| d).collect();
    all.push(digest);
    sources.record(session.registry(), repo, &all);
    Ok(report)
}

/// The reference a manifest is put under: `dest`'s tag, else its digest, else `latest`.
fn manifest_reference(dest: &Reference) -> String {
    match (dest.tag(), dest.digest()) {
        (Some(t), _) => t.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => crate::domain::reference::DEFAULT_TAG.to_string(),
    }
}

/// Push a multi-platform image: every platform's image by its digest, then the index
/// `index` (with its `children`) under `dest`, byte for byte.
fn push_index(
    store: &DirStore,
    (index, children): (&Digest, &[(Platform, Descriptor)]),
    dest: &Reference,
    opts: &PushOptions,
    progress: Progress<'_>,
) -> Result<PushReport> {
    if let Some(pinned) = dest.digest() {
        if pinned != index {
            return Err(RegistryError::InvalidReference {
                reference: dest.to_string(),
                reason: format!("the image to push is {index}, not the digest named"),
            });
        }
    }
    let mut report = PushReport {
        digest: index.clone(),
        reference: dest.to_string(),
        uploaded: Vec::new(),
        mounted: Vec::new(),
        existed: Vec::new(),
    };
    for (_, child) in children {
        let text = format!("{}/{}@{}", dest.domain(), dest.path(), child.digest());
        let by_digest = Reference::parse(&text).map_err(|e| RegistryError::InvalidReference {
            reference: text.clone(),
            reason: e.0,
        })?;
        let pushed = push_image_with(store, child.digest(), &by_digest, opts, progress)?;
        report.uploaded.extend(pushed.uploaded);
        report.mounted.extend(pushed.mounted);
        report.existed.extend(pushed.existed);
    }
    let bytes = store.read_all(index)?;
    let media_type = index_descriptor(store, index)?
        .map_or(oci_spec::image::MediaType::ImageIndex, |d| {
            d.media_type().clone()
        });
    let session = Session::new(dest.domain(), &opts.auth)?;
    let reference = manifest_reference(dest);
    report.digest = put_manifest(
        &session,
        dest.path(),
        &reference,
        media_type.as_ref(),
        &bytes,
    )?;
    Ok(report)
}
