//! `builder inspect NAME`: print an image's config and manifest as JSON.

use std::path::Path;

use clap::Args;
use serde_json::{json, Value};

use crate::error::Result;
use crate::image::{find_image, read_image};

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
