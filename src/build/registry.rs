//! The registry side of a build: base images the target names (`FROM`, `COPY --from`,
//! `RUN --mount from=`) that are not in the local store are pulled before the build is
//! planned (all of them with `--pull`), and `--push` / `-o type=registry` push the result under every
//! name once the build has succeeded.

use oci_spec::image::Digest;

use crate::build::outputs::{Outputs, Written};
use crate::dockerfile::ast::Span;
use crate::error::{Error, Result};
use crate::export::OutputType;
use crate::graph::Platform;
use crate::progress::{self, Reporter};
use crate::registry::{self, Auth, PushOptions};
use crate::store::{BlobStore, DirStore, Reference};

/// Make every image of `references` (with the Dockerfile lines that name it, see
/// [`crate::graph::base_images`]) available in the store: kept when it is there (unless
/// `always_pull`), pulled otherwise. A failure quotes the line of `dockerfile` (its label
/// and text) that names the image.
pub fn ensure_images(
    references: Vec<(String, Span)>,
    store: &DirStore,
    platform: &Platform,
    (always_pull, auth): (bool, &Auth),
    reporter: &dyn Reporter,
    (label, text): (&str, &str),
) -> Result<()> {
    for (reference, span) in references {
        let parsed = Reference::parse(&reference)
            .map_err(|e| Error::Usage(format!("invalid image reference {reference:?}: {e}")))?;
        let named = store.images().get(&reference)?;
        // An index the store names (a multi-platform build's bases) without this platform
        // is pulled for it.
        let lacking = named
            .as_ref()
            .is_some_and(|r| index_lacks(store, &r.digest, platform));
        if !always_pull && named.is_some() && !lacking {
            continue;
        }
        let title = format!("[internal] load metadata for {reference}");
        progress::vertex(reporter, &title, |id| {
            let bytes = |blob: &Digest, done: u64, size: u64| {
                reporter.progress(id, blob.as_ref(), done, Some(size))
            };
            registry::ensure_image_with(&parsed, platform, store, auth, always_pull, &bytes)
        })
        .map_err(|e| super::diagnose::missing_image(label, text, &reference, span, e))?;
    }
    Ok(())
}

/// For one platform of a multi-platform build: make every image of `references` available
/// in the store for the platform given with it (the platform of the stage that reads it),
/// and return each one's manifest for it. A name that holds the platform (an index listing
/// it, or an image whose config says it) is kept; one that holds another platform and came
/// from a registry is pulled again for this one (the name then points at what was pulled,
/// until the build names an index over the platforms); a missing one is pulled. A pull
/// that fails keeps the image the store has (its FROM warns with
/// `InvalidBaseImagePlatform`); without one the build fails quoting the line.
pub fn ensure_platform_images(
    references: &[(String, Span, Platform)],
    store: &DirStore,
    (always_pull, auth): (bool, &Auth),
    reporter: &dyn Reporter,
    (label, text): (&str, &str),
) -> Result<Vec<(String, Platform, Digest)>> {
    let mut out = Vec::with_capacity(references.len());
    for (reference, span, platform) in references {
        let named = store.images().get(reference)?.map(|r| r.digest);
        let held = named
            .as_ref()
            .and_then(|d| manifest_for(store, d, platform));
        let kept = named.as_ref().map(|d| {
            crate::image::select_manifest(store, d, platform).unwrap_or_else(|_| d.clone())
        });
        let pulled_before = named.as_ref().is_some_and(|d| came_from_registry(store, d));
        let manifest = match (held, kept) {
            (Some(m), _) if !always_pull => m,
            // Made or loaded here: nowhere to pull another platform from.
            (_, Some(kept)) if !pulled_before && !always_pull => kept,
            (_, kept) => match (pull_for(reference, platform, store, auth, reporter), kept) {
                (Ok(m), _) => m,
                (Err(_), Some(kept)) => kept,
                (Err(e), None) => {
                    return Err(super::diagnose::missing_image(
                        label, text, reference, *span, e,
                    ))
                }
            },
        };
        out.push((reference.clone(), platform.clone(), manifest));
    }
    Ok(out)
}

/// Pull `reference` for `platform` (one progress vertex); its manifest.
fn pull_for(
    reference: &str,
    platform: &Platform,
    store: &DirStore,
    auth: &Auth,
    reporter: &dyn Reporter,
) -> Result<Digest> {
    let parsed = Reference::parse(reference)
        .map_err(|e| Error::Usage(format!("invalid image reference {reference:?}: {e}")))?;
    let title = format!("[internal] load metadata for {reference}");
    let report = progress::vertex(reporter, &title, |id| {
        let bytes = |blob: &Digest, done: u64, size: u64| {
            reporter.progress(id, blob.as_ref(), done, Some(size))
        };
        registry::pull_image_with(&parsed, platform, store, auth, &bytes)
    })?;
    Ok(report.manifest)
}

/// The manifest under `digest` (itself, or an index's entry) whose config is for
/// `platform` (OS and architecture; the variant is not compared, as the base-platform
/// warning does not), with every blob in the store.
fn manifest_for(store: &DirStore, digest: &Digest, platform: &Platform) -> Option<Digest> {
    let manifest = crate::image::select_manifest(store, digest, platform).ok()?;
    let image = crate::image::read_image(store, &manifest).ok()?;
    let config = &image.config;
    let same = config.os == platform.os && config.architecture == platform.architecture;
    let complete = (image.manifest.layers().iter()).all(|l| store.has(l.digest()).unwrap_or(false));
    (same && complete).then_some(manifest)
}

/// Whether the image under `digest` (or an image its index lists) was pulled from (or
/// pushed to) a registry.
fn came_from_registry(store: &DirStore, digest: &Digest) -> bool {
    let sources = registry::sources::BlobSources::new(store.root());
    if sources.known(digest) {
        return true;
    }
    match crate::image::multi::index_manifests(store, digest) {
        Ok(Some(children)) => children.iter().any(|(_, d)| sources.known(d.digest())),
        _ => false,
    }
}

/// Whether `digest` is an index that lists no manifest for `platform`.
fn index_lacks(store: &DirStore, digest: &Digest, platform: &Platform) -> bool {
    matches!(
        crate::image::multi::index_manifests(store, digest),
        Ok(Some(_))
    ) && crate::image::select_manifest(store, digest, platform).is_err()
}

/// Whether [`ensure_images`] would pull any of `references`: with `always_pull`, any at all;
/// else one that the store does not name (or whose name cannot be looked up: pulling it
/// says why).
pub fn any_to_pull(references: &[(String, Span)], store: &DirStore, always_pull: bool) -> bool {
    let names = store.images();
    references
        .iter()
        .any(|(reference, _)| always_pull || !matches!(names.get(reference), Ok(Some(_))))
}

/// Whether any output pushes.
pub fn pushes(outputs: &Outputs) -> bool {
    outputs
        .specs
        .iter()
        .any(|s| s.push || s.kind == OutputType::Registry)
}

/// Refuse, before any work, a push that has no name to push to.
pub fn check_push_names(outputs: &Outputs, tags: &[String]) -> Result<()> {
    let unnamed = outputs
        .specs
        .iter()
        .filter(|s| s.push || s.kind == OutputType::Registry)
        .any(|s| s.names.is_empty() && tags.is_empty());
    if unnamed {
        return Err(Error::Usage(
            "pushing needs a name: give -t NAME or -o type=registry,name=NAME".into(),
        ));
    }
    Ok(())
}

/// Push the built image for every pushing output, under its `name=` names or else the `-t`
/// tags, with `auth`. The digest the registry reports must be the one the build made.
pub fn push_all(
    store: &DirStore,
    outputs: &Outputs,
    written: &Written,
    (tags, auth): (&[String], &Auth),
    reporter: &dyn Reporter,
) -> Result<()> {
    for spec in outputs
        .specs
        .iter()
        .filter(|s| s.push || s.kind == OutputType::Registry)
    {
        let names = if spec.names.is_empty() {
            tags
        } else {
            &spec.names[..]
        };
        if names.is_empty() {
            return Err(Error::Usage(
                "pushing needs a name: give -t NAME or -o type=registry,name=NAME".into(),
            ));
        }
        let image = written.for_spec(spec);
        let mut auth = auth.clone();
        if spec.registry_insecure {
            auth = auth.insecure();
        }
        let opts = PushOptions { auth };
        for name in names {
            let dest = Reference::parse(name)
                .map_err(|e| Error::Usage(format!("invalid image name {name:?}: {e}")))?;
            let title = format!("pushing {dest}");
            progress::vertex(reporter, &title, |id| -> Result<()> {
                let bytes = |blob: &Digest, done: u64, size: u64| {
                    reporter.progress(id, blob.as_ref(), done, Some(size))
                };
                let digest =
                    registry::push_image_with(store, image.digest(), &dest, &opts, &bytes)?.digest;
                reporter.log(id, &format!("pushed manifest {digest}"));
                Ok(())
            })?;
        }
    }
    Ok(())
}
