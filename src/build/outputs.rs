//! The back of a build, and the `-o` values it is asked for ([`parse`], which `cli/` calls
//! once): the solved stage becomes an image in the store (once per variant the outputs ask
//! for: media-type family, and with `force-compression=true` every layer in the output's
//! compression, base layers included), named by every `-t` and each `type=image` output's
//! `name=`; then each `-o` is written by [`crate::export`], and `--iidfile` /
//! `--metadata-file` last. Nothing is written to any
//! destination before the whole build has succeeded, and each destination is written to a
//! temporary path and renamed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::diff::Compression;
use crate::error::{Error, Result};
use crate::export::{self, Destination, ExportInput, OutputSpec, OutputType};
use crate::graph::Platform;
use crate::image::{self, ImageDescriptor, LayerCompression, ManifestFormat};
use crate::progress::{self, Reporter};
use crate::solve::layer::for_format;
use crate::solve::{LayerSettings, StageResult};
use crate::store::atomic::write_atomic;
use crate::store::{BlobStore, ImageRecord, NameIndex};
use oci_spec::image::Descriptor;

/// The parsed `-o` values of a build and what they ask of the layers.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// Every output, in command-line order.
    pub specs: Vec<OutputSpec>,
    /// How new layers are compressed (the one `compression=` the outputs agree on).
    pub compression: Compression,
    /// `compression-level=`.
    pub level: Option<i32>,
    /// Some output asked for `rewrite-timestamp=true`.
    pub rewrite_timestamp: bool,
    /// `--annotation` values, for the manifests and the index written.
    pub annotations: super::annotations::Annotations,
}

/// Parse the `-o` values (and `--push`); refuse what cannot be done before any work.
pub fn parse(specs: &[String], push: bool) -> Result<Outputs> {
    let specs = export::parse_outputs(specs, push)?;
    if specs
        .iter()
        .filter(|s| s.dest == Destination::Stdout)
        .count()
        > 1
    {
        return Err(Error::Usage(
            "only one output can go to standard output (dest=-)".into(),
        ));
    }
    // Every output shares the build's layers: what shapes them must agree.
    let chosen = agree(&specs, "compression=", |s| s.compression)?;
    let compression = match chosen.unwrap_or_default() {
        LayerCompression::Gzip => Compression::Gzip,
        LayerCompression::Zstd => Compression::Zstd,
        LayerCompression::Uncompressed => Compression::Uncompressed,
    };
    let level = agree(&specs, "compression-level=", |s| s.compression_level)?;
    if let Some(level) = level {
        check_level(level, compression)?;
    }
    let rewrite = agree(&specs, "rewrite-timestamp=", |s| {
        (s.kind != OutputType::Cacheonly).then_some(s.rewrite_timestamp)
    })?;
    check_store_variants(&specs)?;
    Ok(Outputs {
        specs,
        compression,
        level: level.map(|l| i32::try_from(l).unwrap_or(i32::MAX)),
        rewrite_timestamp: rewrite.unwrap_or(false),
        annotations: Default::default(),
    })
}

/// The one value of `key` the outputs that give it agree on.
fn agree<T: PartialEq + Copy>(
    specs: &[OutputSpec],
    key: &str,
    value: impl Fn(&OutputSpec) -> Option<T>,
) -> Result<Option<T>> {
    let mut chosen = None;
    for v in specs.iter().filter_map(value) {
        match chosen {
            Some(prev) if prev != v => {
                return Err(Error::Usage(format!(
                    "outputs with different {key} in one build are not supported yet"
                )))
            }
            _ => chosen = Some(v),
        }
    }
    Ok(chosen)
}

/// `compression-level=N` must fit the compression the layers get (another output's
/// `compression=` may choose it).
fn check_level(level: u32, compression: Compression) -> Result<()> {
    let max = match compression {
        Compression::Zstd => 22,
        Compression::Gzip => 9,
        Compression::Uncompressed => {
            return Err(Error::Usage(
                "compression-level= has no effect with compression=uncompressed".into(),
            ))
        }
    };
    if level > max {
        return Err(Error::Usage(format!(
            "compression-level={level} is out of range 0-{max} for the layers' compression"
        )));
    }
    Ok(())
}

/// The `-t` names name one image in the store: `type=image` outputs without `name=` must
/// not ask for different ones (media types, `force-compression`).
fn check_store_variants(specs: &[OutputSpec]) -> Result<()> {
    let mut unnamed = specs
        .iter()
        .filter(|s| s.kind == OutputType::Image && s.names.is_empty())
        .map(variant);
    if let Some(first) = unnamed.next() {
        if unnamed.any(|v| v != first) {
            return Err(Error::Usage(
                "type=image outputs without name= name the same -t tags, so they must agree on \
                 oci-mediatypes= and force-compression=; give each a name="
                    .into(),
            ));
        }
    }
    Ok(())
}

/// `rewrite-timestamp=true` clamps times to `SOURCE_DATE_EPOCH`: without one there is
/// nothing to clamp to.
pub fn check_epoch(outputs: &Outputs, source_date_epoch: Option<i64>) -> Result<()> {
    if outputs.rewrite_timestamp && source_date_epoch.is_none() {
        return Err(Error::Usage(
            "rewrite-timestamp=true needs SOURCE_DATE_EPOCH: set it in the environment or \
             with --build-arg SOURCE_DATE_EPOCH=SECONDS"
                .into(),
        ));
    }
    Ok(())
}

impl Outputs {
    /// How the solver writes new layers for these outputs.
    pub fn layer_settings(&self, source_date_epoch: Option<i64>) -> LayerSettings {
        LayerSettings {
            compression: self.compression,
            level: self.level,
            source_date_epoch: source_date_epoch.filter(|_| self.rewrite_timestamp),
        }
    }

    /// The image the `-t` names name in the store: the first `type=image` output's variant,
    /// else the first image output's, else OCI media types and base layers as they are.
    fn store_variant(&self) -> Variant {
        let image = |kind: Option<OutputType>| {
            self.specs
                .iter()
                .find(|s| kind.map_or(s.kind.is_image(), |k| s.kind == k))
        };
        image(Some(OutputType::Image))
            .or_else(|| image(None))
            .map_or((ManifestFormat::Oci, false), variant)
    }

    fn needs_rootfs(&self) -> bool {
        self.specs
            .iter()
            .any(|s| matches!(s.kind, OutputType::Local | OutputType::Tar))
    }
}

/// Which image an output carries: its media types, and whether every layer is in the
/// output's compression (`force-compression=true`).
type Variant = (ManifestFormat, bool);

/// The variant of the image `spec` carries.
fn variant(spec: &OutputSpec) -> Variant {
    (spec.manifest_format(), spec.force_compression)
}

/// The image in the store, in each variant the outputs ask for: one image manifest each,
/// or for a multi-platform build one index each.
#[derive(Debug, Clone)]
pub struct Written {
    /// The image the store names and `--iidfile` reports (a manifest or an index).
    pub primary: Descriptor,
    /// The config of the primary image (`None` for an index).
    pub config: Option<Descriptor>,
    /// The image's creation time, which its names record.
    created: Option<String>,
    primary_variant: Variant,
    others: Vec<(Variant, Descriptor)>,
}

impl Written {
    /// The image `spec` carries.
    pub fn for_spec(&self, spec: &OutputSpec) -> &Descriptor {
        self.for_variant(variant(spec))
    }

    fn for_variant(&self, v: Variant) -> &Descriptor {
        if v == self.primary_variant {
            return &self.primary;
        }
        self.others
            .iter()
            .find(|(w, _)| *w == v)
            .map_or(&self.primary, |(_, d)| d)
    }

    /// One index per variant over the images of `platforms` (each platform's
    /// [`write_variants`]), written into `store`.
    pub fn index(
        store: &dyn BlobStore,
        platforms: &[(Platform, Written)],
        annotations: Option<HashMap<String, String>>,
    ) -> Result<Written> {
        let first = platforms
            .first()
            .ok_or_else(|| Error::Usage("a multi-platform build with no platform".into()))?;
        let write = |v: Variant| -> Result<Descriptor> {
            let entries: Vec<_> = (platforms.iter())
                .map(|(p, w)| (w.for_variant(v).clone(), p.clone()))
                .collect();
            Ok(image::multi::write_platform_index(
                store,
                &entries,
                v.0,
                annotations.clone(),
            )?)
        };
        let primary_variant = first.1.primary_variant;
        let mut others = Vec::new();
        for (v, _) in &first.1.others {
            others.push((*v, write(*v)?));
        }
        Ok(Written {
            primary: write(primary_variant)?,
            config: None,
            created: first.1.created.clone(),
            primary_variant,
            others,
        })
    }
}

/// Write the image of `result` into `store` and name it `tags`, and every `type=image`
/// output's `name=` names.
pub fn write_images(
    store: &dyn BlobStore,
    names: &NameIndex,
    result: &StageResult,
    outputs: &Outputs,
    tags: &[String],
    reporter: &dyn Reporter,
) -> Result<Written> {
    progress::vertex(reporter, "exporting to image", |id| -> Result<Written> {
        let written = write_variants(store, result, outputs, (reporter, id))?;
        name_images(names, outputs, &written, tags, (reporter, id))?;
        Ok(written)
    })
}

/// Write the image of `result` into `store` in every variant the outputs ask for, unnamed,
/// logging to the vertex `id` of `reporter`.
pub fn write_variants(
    store: &dyn BlobStore,
    result: &StageResult,
    outputs: &Outputs,
    (reporter, id): (&dyn Reporter, progress::VertexId),
) -> Result<Written> {
    let forced = if outputs.specs.iter().any(|s| s.force_compression) {
        let c = (outputs.compression, outputs.level);
        Some(super::convert::force_compression(
            store,
            &result.layers,
            c.0,
            c.1,
        )?)
    } else {
        None
    };
    let platform = crate::domain::Platform::new(
        &result.config.os,
        &result.config.architecture,
        &result.config.variant,
    );
    let annotations = outputs.annotations.for_manifest(&platform);
    let write = |(format, force): Variant| -> Result<ImageDescriptor> {
        let layers: Vec<_> = match (&forced, force) {
            (Some(forced), true) => forced.iter().map(|d| for_format(d, format)).collect(),
            _ => (result.layers.iter())
                .map(|l| for_format(&l.descriptor, format))
                .collect(),
        };
        Ok(image::write_image_annotated(
            store,
            &result.config,
            &layers,
            format,
            annotations.clone(),
        )?)
    };
    reporter.log(id, "exporting layers done");
    let primary_variant = outputs.store_variant();
    let primary = write(primary_variant)?;
    reporter.log(id, &format!("exporting manifest {}", primary.digest()));
    reporter.log(id, &format!("exporting config {}", primary.config.digest()));
    let mut others: Vec<(Variant, Descriptor)> = Vec::new();
    for v in outputs.specs.iter().map(variant) {
        if v != primary_variant && !others.iter().any(|(w, _)| *w == v) {
            others.push((v, write(v)?.manifest));
        }
    }
    Ok(Written {
        primary: primary.manifest,
        config: Some(primary.config),
        created: result.config.created.clone(),
        primary_variant,
        others,
    })
}

/// Name the images of `written` in the store: every `-t` name, and every `type=image`
/// output's `name=` names; logged to the vertex `id` of `reporter`.
pub fn name_images(
    names: &NameIndex,
    outputs: &Outputs,
    written: &Written,
    tags: &[String],
    (reporter, id): (&dyn Reporter, progress::VertexId),
) -> Result<()> {
    for (group, image) in store_names(outputs, written, tags) {
        let record = ImageRecord {
            digest: image.digest().clone(),
            media_type: image.media_type().to_string(),
            size: image.size(),
            created: written.created.clone(),
        };
        names.set_all(&group, &record)?;
        for name in &group {
            reporter.log(id, &format!("naming to {}", canonical(name)));
        }
    }
    Ok(())
}

/// The names the store gives the build's images, with the image each names: the `-t`
/// names (the primary image), then the `name=` names of each `type=image` output (that
/// output's image); a later one wins.
fn store_names<'a>(
    outputs: &Outputs,
    written: &'a Written,
    tags: &[String],
) -> Vec<(Vec<String>, &'a Descriptor)> {
    let mut out = Vec::new();
    if !tags.is_empty() {
        out.push((tags.to_vec(), &written.primary));
    }
    for spec in outputs.specs.iter().filter(|s| s.kind == OutputType::Image) {
        if !spec.names.is_empty() {
            out.push((spec.names.clone(), written.for_spec(spec)));
        }
    }
    out
}

/// Write every `-o` output; `rootfs` flattens the result for `type=local`/`type=tar`.
pub fn export_all(
    store: &dyn BlobStore,
    outputs: &Outputs,
    written: &Written,
    tags: &[String],
    source_date_epoch: Option<i64>,
    rootfs: &dyn Fn() -> Result<PathBuf>,
    reporter: &dyn Reporter,
) -> Result<()> {
    let flat = if outputs.needs_rootfs() {
        Some(rootfs()?)
    } else {
        None
    };
    for spec in &outputs.specs {
        let title = match spec.kind {
            OutputType::Oci => "exporting to oci image format",
            OutputType::Docker => "exporting to docker image format",
            OutputType::Local => "copying files",
            OutputType::Tar => "sending tarball",
            _ => continue,
        };
        let image = written.for_spec(spec);
        let input = ExportInput {
            store,
            manifest: image.digest(),
            tags,
            rootfs: flat.as_deref(),
            source_date_epoch,
        };
        progress::vertex(reporter, title, |_| export::write_output(spec, &input))?;
    }
    Ok(())
}

/// The canonical form of a name for messages (the name as given when it does not parse).
fn canonical(name: &str) -> String {
    crate::store::images::canonical_name(name).unwrap_or_else(|_| name.to_string())
}

/// `--iidfile`: the image (manifest) digest, or the index digest of a multi-platform build.
pub fn write_iidfile(path: &Path, written: &Written) -> Result<()> {
    write_atomic(path, written.primary.digest().to_string().as_bytes())?;
    Ok(())
}

/// `--metadata-file`: BuildKit's keys for the image.
pub fn write_metadata(path: &Path, written: &Written, tags: &[String]) -> Result<()> {
    let m = &written.primary;
    let mut doc = serde_json::Map::new();
    if let Some(config) = &written.config {
        doc.insert(
            "containerimage.config.digest".into(),
            config.digest().to_string().into(),
        );
    }
    doc.insert(
        "containerimage.descriptor".into(),
        serde_json::json!({
            "mediaType": m.media_type().to_string(),
            "digest": m.digest().to_string(),
            "size": m.size(),
        }),
    );
    doc.insert(
        "containerimage.digest".into(),
        m.digest().to_string().into(),
    );
    if !tags.is_empty() {
        let names: Vec<String> = tags.iter().map(|t| canonical(t)).collect();
        doc.insert("image.name".into(), names.join(",").into());
    }
    let mut bytes =
        serde_json::to_vec_pretty(&serde_json::Value::Object(doc)).map_err(|source| {
            Error::Encode {
                what: "metadata",
                source,
            }
        })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)?;
    Ok(())
}

#[cfg(test)]
#[path = "outputs_tests.rs"]
mod tests;
