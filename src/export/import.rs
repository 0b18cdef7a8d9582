//! Copying an image out of an OCI layout (a directory, or a tar being loaded) into the store:
//! the manifest, or the index and the manifest it holds for the wanted platform, then the
//! config and layers. Every blob is checked against the size its descriptor gives before it is
//! read and against its digest while it streams into the store (a mismatch stores nothing);
//! blobs the store already has are not read again, but their size is checked all the same.
//! A manifest whose layers are not one per `rootfs.diff_ids` entry of its config is refused
//! before any layer is copied. The manifest is stored last, so an image is complete in the
//! store before anything names it. (Each layer's diff_id is checked when it is unpacked.)

use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, Digest, ImageIndex};

use super::error::{ExportError, Result};
use super::tarball::blob_path;
use super::tarindex::TarIndex;
use crate::image::manifest::{parse_manifest_or_index, ManifestOrIndex};
use crate::image::{select_manifest, ImageConfig, ImageError, Platform};
use crate::store::digest::{require_sha256, sha256};
use crate::store::{BlobStore, StoreError};

/// The largest manifest, index or config read into memory.
pub(crate) const MAX_JSON: u64 = 8 << 20;
/// Indexes nested deeper than this are refused.
const MAX_DEPTH: usize = 4;

/// Where a layout's files come from.
pub(crate) trait LayoutSource {
    /// The layout or archive, for messages.
    fn location(&self) -> &Path;

    /// Open the file at `rel` (`index.json`, `blobs/sha256/<hex>`): a reader and its size, or
    /// `None` if it is absent.
    fn open(&self, rel: &str) -> Result<Option<(Box<dyn Read + Send>, u64)>>;
}

/// A layout directory on disk.
pub(crate) struct DirSource(pub PathBuf);

impl LayoutSource for DirSource {
    fn location(&self) -> &Path {
        &self.0
    }

    fn open(&self, rel: &str) -> Result<Option<(Box<dyn Read + Send>, u64)>> {
        let path = self.0.join(rel);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ExportError::io("open", &path, e)),
        };
        let meta = file
            .metadata()
            .map_err(|e| ExportError::io("stat", &path, e))?;
        if !meta.is_file() {
            return Err(ExportError::invalid(
                &self.0,
                format!("{rel} is not a file"),
            ));
        }
        Ok(Some((Box::new(file), meta.len())))
    }
}

impl LayoutSource for TarIndex {
    fn location(&self) -> &Path {
        self.path()
    }

    fn open(&self, rel: &str) -> Result<Option<(Box<dyn Read + Send>, u64)>> {
        self.open_member(rel)
    }
}

/// Read a small file of the layout whole; `None` if absent.
pub(crate) fn read_small(src: &dyn LayoutSource, rel: &str) -> Result<Option<Vec<u8>>> {
    let Some((reader, size)) = src.open(rel)? else {
        return Ok(None);
    };
    if size > MAX_JSON {
        return Err(ExportError::invalid(
            src.location(),
            format!("{rel} is too large ({size} bytes)"),
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    reader
        .take(MAX_JSON)
        .read_to_end(&mut bytes)
        .map_err(|e| ExportError::io("read", src.location().join(rel), e))?;
    Ok(Some(bytes))
}

/// The layout's `index.json` (after checking `oci-layout`).
pub(crate) fn read_index(src: &dyn LayoutSource) -> Result<ImageIndex> {
    let invalid = |reason: String| ExportError::invalid(src.location(), reason);
    let layout = read_small(src, "oci-layout")?
        .ok_or_else(|| invalid("not an OCI image layout: no oci-layout file".into()))?;
    let version: serde_json::Value = serde_json::from_slice(&layout)
        .map_err(|e| invalid(format!("oci-layout is not JSON: {e}")))?;
    if version.get("imageLayoutVersion").and_then(|v| v.as_str()) != Some("1.0.0") {
        return Err(invalid(
            "unsupported oci-layout version (expected imageLayoutVersion 1.0.0)".into(),
        ));
    }
    let index = read_small(src, "index.json")?
        .ok_or_else(|| invalid("not an OCI image layout: no index.json".into()))?;
    serde_json::from_slice(&index).map_err(|e| invalid(format!("index.json: {e}")))
}

/// A JSON blob of the layout, checked against its digest and, when a descriptor gave
/// one, its size.
fn read_json_blob(src: &dyn LayoutSource, digest: &Digest, size: Option<u64>) -> Result<Vec<u8>> {
    require_sha256(digest)?;
    let rel = blob_path(digest);
    let bytes = read_small(src, &rel)?.ok_or_else(|| missing(src, digest, "manifest"))?;
    check_size(src, digest, "manifest", size, bytes.len() as u64)?;
    let actual = sha256(&bytes);
    if actual != *digest {
        return Err(StoreError::DigestMismatch {
            expected: digest.clone(),
            actual,
        }
        .into());
    }
    Ok(bytes)
}

fn missing(src: &dyn LayoutSource, digest: &Digest, what: &str) -> ExportError {
    ExportError::invalid(
        src.location(),
        format!("the {what} blob {digest} is missing"),
    )
}

/// Fail unless a blob of `actual` bytes is the size its descriptor gives (`expected`).
fn check_size(
    src: &dyn LayoutSource,
    digest: &Digest,
    what: &str,
    expected: Option<u64>,
    actual: u64,
) -> Result<()> {
    match expected {
        Some(expected) if expected != actual => Err(ExportError::invalid(
            src.location(),
            format!(
                "the {what} blob {digest} is {actual} bytes, but its descriptor says {expected}"
            ),
        )),
        _ => Ok(()),
    }
}

/// Stream the blob `desc` names from the layout into the store (checked), unless it is
/// there.
fn copy_in(
    src: &dyn LayoutSource,
    desc: &Descriptor,
    what: &str,
    store: &dyn BlobStore,
) -> Result<()> {
    let digest = desc.digest();
    require_sha256(digest)?;
    if store.has(digest)? {
        return check_size(src, digest, what, Some(desc.size()), store.size(digest)?);
    }
    let (reader, size) = src
        .open(&blob_path(digest))?
        .ok_or_else(|| missing(src, digest, what))?;
    check_size(src, digest, what, Some(desc.size()), size)?;
    let info = store.put(&mut reader.take(desc.size()), Some(digest))?;
    check_size(src, digest, what, Some(desc.size()), info.size)
}

/// Import every platform's image of the index under `digest`, then the index; returns the
/// index's descriptor. `None` when `digest` is an image manifest, or when the layout lacks
/// some platform's image (archives often hold one platform of an index): then
/// [`import_image`] takes one platform.
pub(crate) fn import_index(
    src: &dyn LayoutSource,
    digest: &Digest,
    size: Option<u64>,
    store: &dyn BlobStore,
) -> Result<Option<Descriptor>> {
    let bytes = read_json_blob(src, digest, size)?;
    let ManifestOrIndex::Index(index) = parse_manifest_or_index(digest, &bytes)? else {
        return Ok(None);
    };
    for child in index.manifests() {
        let Some(platform) = child.platform() else {
            return Ok(None);
        };
        let platform = Platform::new(
            &platform.os().to_string(),
            &platform.architecture().to_string(),
            platform.variant().as_deref().unwrap_or(""),
        );
        match import_image(src, child.digest(), Some(child.size()), &platform, store) {
            Ok(got) if got == *child.digest() => {}
            _ => return Ok(None),
        }
    }
    let info = store.put(&mut &bytes[..], Some(digest))?;
    let media_type = index
        .media_type()
        .clone()
        .unwrap_or(oci_spec::image::MediaType::ImageIndex);
    Ok(Some(Descriptor::new(media_type, info.size, digest.clone())))
}

/// Import the image under `digest` (a manifest, or an index from which the manifest for
/// `platform` is taken) into `store`; returns the image manifest's digest. `size` is the
/// one the layout's index gives for `digest`, if it does.
pub(crate) fn import_image(
    src: &dyn LayoutSource,
    digest: &Digest,
    size: Option<u64>,
    platform: &Platform,
    store: &dyn BlobStore,
) -> Result<Digest> {
    let mut current = digest.clone();
    let mut current_size = size;
    for _ in 0..MAX_DEPTH {
        let bytes = read_json_blob(src, &current, current_size)?;
        match parse_manifest_or_index(&current, &bytes)? {
            ManifestOrIndex::Index(index) => {
                store.put_bytes(&bytes)?;
                let chosen = select_manifest(store, &current, platform)?;
                current_size = index
                    .manifests()
                    .iter()
                    .find(|d| *d.digest() == chosen)
                    .map(|d| d.size());
                current = chosen;
            }
            ManifestOrIndex::Manifest(manifest) => {
                copy_in(src, manifest.config(), "config", store)?;
                let config = ImageConfig::from_json(&store.read_all(manifest.config().digest())?)?;
                let (layers, diff_ids) = (manifest.layers().len(), config.rootfs.diff_ids.len());
                if layers != diff_ids {
                    return Err(ImageError::Invalid {
                        digest: current.to_string(),
                        reason: format!("{layers} layers but {diff_ids} diff_ids in its config"),
                    }
                    .into());
                }
                for layer in manifest.layers() {
                    copy_in(src, layer, "layer", store)?;
                }
                store.put(&mut &bytes[..], Some(&current))?;
                return Ok(current);
            }
        }
    }
    Err(ExportError::invalid(
        src.location(),
        format!("indexes nested too deep under {digest}"),
    ))
}
