//! `builder inspect NAME`: print an image's config and manifest as JSON; for a
//! multi-platform image, its index and each platform's manifest and config.

use std::path::Path;

use clap::Args;
use serde_json::{json, Value};

use crate::error::Result;
use crate::image::multi::index_manifests;
use crate::image::{find_image, read_image, Platform};
use crate::store::BlobStore;
use oci_spec::image::Descriptor;

/// Arguments of `builder inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The image in the local store: a name (`app:1.2`), a digest or a digest prefix.
    pub name: String,
}

/// Run `builder inspect`: one JSON object with the image's names, manifest digest, media
/// type, and the manifest and config documents as stored.
pub fn run(args: &InspectArgs, root: Option<&Path>) -> Result<()> {
    let store = super::open_store(root)?;
    let found = find_image(&store, &store.images(), &args.name)?;
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
    store: &crate::store::DirStore,
    found: &crate::store::Resolved,
    children: &[(Platform, Descriptor)],
) -> Result<Value> {
    let bytes = store.read_all(&found.record.digest)?;
    let mut platforms = Vec::with_capacity(children.len());
    for (platform, d) in children {
        let image = read_image(store, d.digest())?;
        platforms.push(json!({
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
