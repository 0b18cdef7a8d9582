//! `--build-context NAME=oci-layout://PATH[:TAG][@DIGEST]`: an image taken from an OCI layout
//! directory into the store, offline. The reference is read as buildx reads it (the path ends
//! at the first `:`; the tag defaults to `latest`); the image is chosen by digest if one is
//! given, else by the index entry whose `io.containerd.image.name`, then whose
//! `org.opencontainers.image.ref.name`, equals the tag, else the layout's only entry. An index
//! selects the manifest of the wanted platform.

use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, Digest};

use super::error::{ExportError, Result};
use super::import::{import_image, import_index, read_index, DirSource};
use crate::image::index::{ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME};
use crate::image::Platform;
use crate::store::digest::parse_sha256_digest;
use crate::store::BlobStore;

/// The scheme of an OCI layout build context.
pub const OCI_LAYOUT_SCHEME: &str = "oci-layout://";

/// A parsed `oci-layout://PATH[:TAG][@DIGEST]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutRef {
    /// The layout directory.
    pub path: PathBuf,
    /// The tag to look up (`latest` when none is given).
    pub tag: String,
    /// A manifest or index digest, which wins over the tag.
    pub digest: Option<Digest>,
}

impl LayoutRef {
    /// Parse a build-context value, with or without the `oci-layout://` scheme.
    ///
    /// ```
    /// use builder::export::layout::LayoutRef;
    /// let r = LayoutRef::parse("oci-layout:///srv/base:v1").unwrap();
    /// assert_eq!(r.path, std::path::Path::new("/srv/base"));
    /// assert_eq!(r.tag, "v1");
    /// assert_eq!(LayoutRef::parse("oci-layout://base").unwrap().tag, "latest");
    /// ```
    pub fn parse(value: &str) -> Result<Self> {
        let bad = |reason: String| ExportError::Spec {
            spec: value.to_string(),
            reason,
        };
        let rest = value.strip_prefix(OCI_LAYOUT_SCHEME).unwrap_or(value);
        let (rest, digest) = match rest.split_once('@') {
            Some((r, d)) => (
                r,
                Some(parse_sha256_digest(d).map_err(|e| bad(e.to_string()))?),
            ),
            None => (rest, None),
        };
        let (path, tag) = match rest.split_once(':') {
            Some((p, t)) => (p, t.to_string()),
            None => (rest, "latest".to_string()),
        };
        if path.is_empty() {
            return Err(bad("the oci-layout path is empty".into()));
        }
        Ok(LayoutRef {
            path: PathBuf::from(path),
            tag,
            digest,
        })
    }
}

/// The entry of a layout's index that `tag` names, as buildx looks it up.
fn find_by_tag<'a>(manifests: &'a [Descriptor], tag: &str) -> Option<&'a Descriptor> {
    let has = |d: &Descriptor, key: &str| {
        d.annotations()
            .as_ref()
            .and_then(|a| a.get(key))
            .is_some_and(|v| v == tag)
    };
    manifests
        .iter()
        .find(|d| has(d, ANNOTATION_IMAGE_NAME))
        .or_else(|| manifests.iter().find(|d| has(d, ANNOTATION_REF_NAME)))
        .or(match manifests {
            [only] => Some(only),
            _ => None,
        })
}

/// The tags a layout's entries carry, for messages.
fn tags_of(manifests: &[Descriptor]) -> String {
    let tags: Vec<String> = manifests
        .iter()
        .filter_map(|d| d.annotations().as_ref()?.get(ANNOTATION_REF_NAME).cloned())
        .collect();
    if tags.is_empty() {
        "no tagged images".into()
    } else {
        tags.join(", ")
    }
}

/// Copy the image `layout` names into `store` (the manifest for `platform` if it is an index)
/// and return its manifest digest: use it as the base image of `FROM NAME`.
pub fn import_layout(
    layout: &LayoutRef,
    platform: &Platform,
    store: &dyn BlobStore,
) -> Result<Digest> {
    let src = DirSource(layout.path.clone());
    let (digest, size) = layout_entry(layout, &src)?;
    import_image(&src, &digest, size, platform, store)
}

/// [`import_layout`], keeping an index whole when the layout holds every platform's image
/// (a multi-platform build picks from it per platform); else `platform`'s image.
pub fn import_layout_index(
    layout: &LayoutRef,
    platform: &Platform,
    store: &dyn BlobStore,
) -> Result<Digest> {
    let src = DirSource(layout.path.clone());
    let (digest, size) = layout_entry(layout, &src)?;
    match import_index(&src, &digest, size, store)? {
        Some(index) => Ok(index.digest().clone()),
        None => import_image(&src, &digest, size, platform, store),
    }
}

/// The digest and size (when the layout lists it) of the image `layout` names.
fn layout_entry(layout: &LayoutRef, src: &DirSource) -> Result<(Digest, Option<u64>)> {
    if !layout.path.is_dir() {
        return Err(ExportError::invalid(
            &layout.path,
            "no such OCI layout directory",
        ));
    }
    let index = read_index(src)?;
    let (digest, size) = match &layout.digest {
        Some(d) => {
            let listed = index.manifests().iter().find(|m| m.digest() == d);
            (d.clone(), listed.map(|m| m.size()))
        }
        None => {
            let entry = find_by_tag(index.manifests(), &layout.tag).ok_or_else(|| {
                ExportError::invalid(
                    &layout.path,
                    format!(
                        "no image tagged {:?} in the layout; it has: {}",
                        layout.tag,
                        tags_of(index.manifests())
                    ),
                )
            })?;
            (entry.digest().clone(), Some(entry.size()))
        }
    };
    Ok((digest, size))
}

/// [`import_layout`] for a path and a tag or digest (`latest`, `sha256:…`).
pub fn import_layout_path(
    path: &Path,
    tag_or_digest: &str,
    platform: &Platform,
    store: &dyn BlobStore,
) -> Result<Digest> {
    let (tag, digest) = if tag_or_digest.starts_with("sha256:") {
        let d = parse_sha256_digest(tag_or_digest).map_err(|e| ExportError::Spec {
            spec: tag_or_digest.to_string(),
            reason: e.to_string(),
        })?;
        ("latest".to_string(), Some(d))
    } else {
        (tag_or_digest.to_string(), None)
    };
    import_layout(
        &LayoutRef {
            path: path.to_path_buf(),
            tag,
            digest,
        },
        platform,
        store,
    )
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
