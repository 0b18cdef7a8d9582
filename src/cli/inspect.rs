//! `builder inspect NAME`: print an image's config and manifest as JSON; for a
//! multi-platform image, its index and each platform's manifest and config. `Id` is the
//! config digest (Docker's image id). `--format` applies a template to the fields of
//! `docker image inspect` instead (see [`docker_view`]).

use std::path::Path;

use clap::Args;
use serde_json::{json, Value};

use super::sizes::Sizer;
use super::template::Format;
use crate::error::{Error, Result};
use crate::image::multi::index_manifests;
use crate::image::{find_image, read_image, select_manifest, Image, Platform, PlatformExt};
use crate::store::{BlobStore, DirStore, Reference, Resolved};
use oci_spec::image::Descriptor;

/// Arguments of `builder inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The image in the local store: a name (`app:1.2`), a digest or a digest prefix.
    pub name: String,
    /// Print a template over `docker image inspect`'s fields (`{{.Id}}`, `{{.Config.Env}}`,
    /// `{{json .Config}}`) instead of the JSON document.
    #[arg(short, long, value_name = "TEMPLATE")]
    pub format: Option<String>,
}

/// The top-level fields of [`docker_view`], which `--format` may start with.
const FIELDS: [&str; 14] = [
    "Id",
    "RepoTags",
    "RepoDigests",
    "Parent",
    "Comment",
    "Created",
    "Author",
    "Config",
    "Architecture",
    "Variant",
    "Os",
    "Size",
    "RootFS",
    "Metadata",
];

/// Run `builder inspect`: one JSON object with the image's names, manifest digest, media
/// type, and the manifest and config documents as stored; with `--format`, a template over
/// [`docker_view`], or with `--format json` that view as `docker image inspect` prints it.
pub fn run(args: &InspectArgs, root: Option<&Path>) -> Result<()> {
    let format = match args.format.as_deref().map(str::trim) {
        Some("table") => return Err(Error::Usage("inspect --format takes no table".into())),
        f => Format::parse(f, &FIELDS, "").map_err(Error::Usage)?,
    };
    let store = super::open_store(root)?;
    let found = find_image(&store, &store.images(), &args.name)?;
    if !matches!(format, Format::Default) {
        let digest = select_manifest(&store, &found.record.digest, &Platform::host())?;
        let image = read_image(&store, &digest)?;
        let view = docker_view(&store, &found, &image)?;
        match format {
            Format::Template(t) => outln!("{}", t.render(&view).map_err(Error::Usage)?),
            _ => {
                let all = json!([view]);
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&all).unwrap_or_else(|_| all.to_string())
                );
            }
        }
        return Ok(());
    }
    if let Some(children) = index_manifests(&store, &found.record.digest)? {
        let out = index_json(&store, &found, &children)?;
        outln!(
            "{}",
            serde_json::to_string_pretty(&out).unwrap_or_else(|_| out.to_string())
        );
        return Ok(());
    }
    let image = read_image(&store, &found.record.digest)?;
    // Both documents parsed when the image was read, so they are valid JSON.
    let manifest: Value = serde_json::from_slice(&image.manifest_bytes).unwrap_or(Value::Null);
    let config: Value = serde_json::from_slice(&image.config_bytes).unwrap_or(Value::Null);
    let out = json!({
        "Id": image.descriptor.config.digest().to_string(),
        "names": found.names,
        "digest": image.descriptor.digest().to_string(),
        "mediaType": image.descriptor.manifest.media_type().to_string(),
        "size": image.size(),
        "manifest": manifest,
        "config": config,
    });
    outln!(
        "{}",
        serde_json::to_string_pretty(&out).unwrap_or_else(|_| out.to_string())
    );
    Ok(())
}

/// A multi-platform image: its names, index digest, media type and index document, and per
/// platform the digest, manifest and config.
fn index_json(
    store: &DirStore,
    found: &Resolved,
    children: &[(Platform, Descriptor)],
) -> Result<Value> {
    let bytes = store.read_all(&found.record.digest)?;
    let mut platforms = Vec::with_capacity(children.len());
    for (platform, d) in children {
        let image = read_image(store, d.digest())?;
        platforms.push(json!({
            "Id": image.descriptor.config.digest().to_string(),
            "platform": platform.to_string(),
            "digest": d.digest().to_string(),
            "size": image.size(),
            "manifest": serde_json::from_slice::<Value>(&image.manifest_bytes).unwrap_or(Value::Null),
            "config": serde_json::from_slice::<Value>(&image.config_bytes).unwrap_or(Value::Null),
        }));
    }
    Ok(json!({
        "names": found.names,
        "digest": found.record.digest.to_string(),
        "mediaType": found.record.media_type,
        "index": serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
        "platforms": platforms,
    }))
}

/// The keys `docker image inspect` always gives `Config`; those the image lacks are null.
const CONFIG_KEYS: [&str; 12] = [
    "User",
    "ExposedPorts",
    "Env",
    "Cmd",
    "Healthcheck",
    "ArgsEscaped",
    "Volumes",
    "WorkingDir",
    "Entrypoint",
    "OnBuild",
    "Labels",
    "StopSignal",
];

/// An image as `docker image inspect` shows it, for `--format`: `Id` is the config digest,
/// `RepoTags` the short names, `RepoDigests` `repository@manifest-digest`, `Size` the
/// uncompressed size, `Config` the config's `config` object.
fn docker_view(store: &DirStore, found: &Resolved, image: &Image) -> Result<Value> {
    let config: Value = serde_json::from_slice(&image.config_bytes).unwrap_or(Value::Null);
    let mut exec = config.get("config").cloned().unwrap_or_else(|| json!({}));
    if let Value::Object(map) = &mut exec {
        for key in CONFIG_KEYS {
            map.entry(key).or_insert(Value::Null);
        }
        map.entry("Shell").or_insert(Value::Null);
    }
    let mut tags = Vec::new();
    let mut digests = Vec::new();
    for name in &found.names {
        let Ok(r) = Reference::parse(name) else {
            continue;
        };
        if r.tag().is_some() {
            tags.push(r.familiar());
        }
        let repo_digest = format!("{}@{}", r.familiar_name(), found.record.digest);
        if !digests.contains(&repo_digest) {
            digests.push(repo_digest);
        }
    }
    let mut sizer = Sizer::new(store);
    let size = sizer.image(image)?;
    sizer.finish();
    let text = |key: &str| config.get(key).cloned().unwrap_or_else(|| json!(""));
    Ok(json!({
        "Id": image.descriptor.config.digest().to_string(),
        "RepoTags": tags,
        "RepoDigests": digests,
        "Parent": "",
        "Comment": "",
        "Created": text("created"),
        "Author": text("author"),
        "Config": exec,
        "Architecture": text("architecture"),
        "Variant": text("variant"),
        "Os": text("os"),
        "Size": size,
        "RootFS": {
            "Type": config.pointer("/rootfs/type").cloned().unwrap_or_else(|| json!("layers")),
            "Layers": config.pointer("/rootfs/diff_ids").cloned().unwrap_or_else(|| json!([])),
        },
        "Metadata": {"LastTagTime": ""},
    }))
}
