//! The base images of a multi-platform build: each platform's bases resolved for it (a
//! name that holds another platform and came from a registry is pulled again for this
//! one), then, for each base that now has a manifest per platform, the store names an index
//! over them, so that every plan picks its own platform from the one name.

use std::collections::{BTreeMap, BTreeSet};

use oci_spec::image::Digest;

use super::super::{registry, BuildRequest, Inputs};
use crate::build::plan_failure;
use crate::dockerfile::ast::Span;
use crate::error::Result;
use crate::graph::{self, PlanOptions, Platform, Source};
use crate::image::manifest::ManifestFormat;
use crate::image::multi::{index_manifests, write_platform_index};
use crate::progress::Reporter;
use crate::solve::StoreImages;
use crate::store::{DirStore, ImageRecord, NameIndex, Reference};

/// Each base of a platform's build, with the platform it is read for (its stage's) and its
/// manifest for that platform.
pub(super) type Held = Vec<(String, Platform, Digest)>;

/// The bases `target`'s plan reads (with the lines naming them), each made available in the
/// store for the platform of the stage that reads it (`FROM --platform=$BUILDPLATFORM`
/// reads the host's); see [`registry::ensure_platform_images`]. The Dockerfile is planned
/// with the configs at hand first, so that its errors come before any pull.
pub(super) fn resolve(
    req: &BuildRequest,
    inputs: &Inputs,
    opts: &PlanOptions,
    (images, store): (&StoreImages<'_>, &DirStore),
    target: &Platform,
    reporter: &dyn Reporter,
) -> Result<(Vec<(String, Span)>, Held)> {
    let (label, text) = (inputs.label.as_str(), inputs.text.as_str());
    let bases = graph::base_images(&inputs.dockerfile, opts, images)
        .map_err(|e| plan_failure(label, text, &e))?;
    if bases.is_empty() {
        return Ok((bases, Vec::new()));
    }
    let plan =
        graph::plan(&inputs.dockerfile, opts, images).map_err(|e| plan_failure(label, text, &e))?;
    // Every platform a stage reads the base for (a base only `COPY --from` or a mount
    // reads is read for the target platform).
    let mut wanted: Vec<(String, Span, Platform)> = Vec::new();
    for (reference, span) in &bases {
        let mut platforms: Vec<Platform> = (plan.stages.iter())
            .filter(|s| matches!(&s.base, Source::Image(r) if r == reference))
            .map(|s| s.platform.clone())
            .collect();
        if platforms.is_empty() {
            platforms.push(target.clone());
        }
        platforms.sort();
        platforms.dedup();
        wanted.extend(platforms.into_iter().map(|p| (reference.clone(), *span, p)));
    }
    let held = registry::ensure_platform_images(
        &wanted,
        store,
        (req.pull, &req.policy.registry),
        reporter,
        (label, text),
    )?;
    Ok((bases, held))
}

/// Name an index over each base's per-platform manifests (all platforms' `held`) when it
/// was read for several platforms, with a manifest of its own for each, and the name does
/// not already list them all.
pub(super) fn name_indexes(store: &DirStore, names: &NameIndex, held: &[Held]) -> Result<()> {
    let mut by_reference: BTreeMap<&str, BTreeMap<String, (Digest, Platform)>> = BTreeMap::new();
    for (reference, platform, digest) in held.iter().flatten() {
        by_reference
            .entry(reference.as_str())
            .or_default()
            .insert(platform.to_string(), (digest.clone(), platform.clone()));
    }
    for (reference, platforms) in by_reference {
        let entries: Vec<(Digest, Platform)> = platforms.into_values().collect();
        let distinct: BTreeSet<&str> = entries.iter().map(|(d, _)| d.as_ref()).collect();
        let tagged = Reference::parse(reference).is_ok_and(|r| r.digest().is_none());
        if !tagged
            || entries.len() < 2
            || distinct.len() != entries.len()
            || lists_all(store, names, reference, &entries)
        {
            continue;
        }
        let mut listed = Vec::with_capacity(entries.len());
        let mut format = ManifestFormat::Oci;
        for (digest, platform) in entries {
            let image = crate::image::read_image(store, &digest)?;
            if image.descriptor.manifest.media_type() != &ManifestFormat::Oci.manifest_media_type()
            {
                format = ManifestFormat::Docker;
            }
            listed.push((image.descriptor.manifest, platform));
        }
        let index = write_platform_index(store, &listed, format, None)?;
        let record = ImageRecord {
            digest: index.digest().clone(),
            media_type: index.media_type().to_string(),
            size: index.size(),
            created: None,
        };
        names.set(reference, record)?;
    }
    Ok(())
}

/// Whether the store's name `reference` is an index listing every manifest of `entries`.
fn lists_all(
    store: &DirStore,
    names: &NameIndex,
    reference: &str,
    entries: &[(Digest, Platform)],
) -> bool {
    let Ok(Some(record)) = names.get(reference) else {
        return false;
    };
    match index_manifests(store, &record.digest) {
        Ok(Some(children)) => entries
            .iter()
            .all(|(d, _)| children.iter().any(|(_, c)| c.digest() == d)),
        _ => false,
    }
}
