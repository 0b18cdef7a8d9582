//! Writing images from the store as an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/<hex>`): as a tar ([`write_oci_archive`]), as a directory ([`write_oci_dir`]),
//! and as the docker archive that is the same layout plus `manifest.json` and `repositories`
//! ([`write_docker_archive`], see [`super::docker`]).
//!
//! `index.json` has one entry per name of each image, annotated with
//! `org.opencontainers.image.ref.name` (the tag) and `io.containerd.image.name` (the full name),
//! as BuildKit and containerd write them; an image without names gets one plain entry. Blob
//! content is checked against its digest on the way out.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use oci_spec::image::{Descriptor, Digest};

use super::dest::{write_file, StagedDir};
use super::error::{ExportError, Result};
use super::spec::Destination;
use super::tarball::{append_blob, blob_path, TarWriter};
use crate::image::index::{build_index, index_entries, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME};
use crate::image::manifest::index_json;
use crate::image::multi::{index_descriptor, index_manifests};
use crate::image::{read_image, Image};
use crate::store::atomic::write_atomic;
use crate::store::{BlobStore, Reference};

/// The content of the `oci-layout` file.
pub const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// An image to export: its manifest in the store, and the names it carries (may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportImage {
    /// The manifest digest: an image manifest, or the index of a multi-platform image.
    pub manifest: Digest,
    /// Its names, in canonical form.
    pub names: Vec<Reference>,
}

impl ExportImage {
    /// `manifest` named by each of `names` (any Docker spelling: `app`, `app:1`).
    pub fn new(manifest: Digest, names: &[String]) -> Result<Self> {
        let names = names
            .iter()
            .map(|n| {
                Reference::parse(n).map_err(|e| ExportError::Spec {
                    spec: format!("name={n}"),
                    reason: e.0,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ExportImage { manifest, names })
    }
}

/// Everything in a layout: the blobs, and the small files at the top.
pub(crate) struct LayoutContent {
    /// Every blob, deduplicated and sorted by digest.
    pub blobs: Vec<Digest>,
    /// Top-level files by name (`index.json`, `oci-layout`, ...).
    pub files: BTreeMap<&'static str, Vec<u8>>,
    /// The index entries (also serialised in `files["index.json"]`).
    pub entries: Vec<Descriptor>,
}

/// Read every image and gather the layout's content.
pub(crate) fn collect(
    store: &dyn BlobStore,
    images: &[ExportImage],
) -> Result<(LayoutContent, Vec<Image>)> {
    if images.is_empty() {
        return Err(ExportError::Unsupported("an output with no image".into()));
    }
    let mut blobs: BTreeMap<String, Digest> = BTreeMap::new();
    let mut entries = Vec::new();
    let mut read = Vec::new();
    for img in images {
        let mut add = |d: &Digest| {
            blobs.insert(d.to_string(), d.clone());
        };
        if let Some(children) = index_manifests(store, &img.manifest)? {
            // A multi-platform image: the index, then every platform's image.
            add(&img.manifest);
            for (_, child) in &children {
                add_image_blobs(&read_image(store, child.digest())?, &mut add);
            }
            let desc = index_descriptor(store, &img.manifest)?
                .ok_or_else(|| ExportError::Unsupported("an index that is not one".into()))?;
            entries.extend(index_entries(&desc, &img.names));
            continue;
        }
        let image = read_image(store, &img.manifest)?;
        add_image_blobs(&image, &mut add);
        entries.extend(index_entries(&image.descriptor.manifest, &img.names));
        read.push(image);
    }
    for d in blobs.values() {
        if !store.has(d)? {
            return Err(crate::store::StoreError::BlobNotFound(d.clone()).into());
        }
    }
    let mut files = BTreeMap::new();
    files.insert("oci-layout", OCI_LAYOUT.to_vec());
    files.insert("index.json", index_json(&build_index(entries.clone())));
    Ok((
        LayoutContent {
            blobs: blobs.into_values().collect(),
            files,
            entries,
        },
        read,
    ))
}

/// Add the manifest, config and layer digests of `image` with `add`.
fn add_image_blobs(image: &Image, add: &mut dyn FnMut(&Digest)) {
    add(image.descriptor.digest());
    add(image.manifest.config().digest());
    for layer in image.manifest.layers() {
        add(layer.digest());
    }
}

/// Write `content` as a tar: every member sorted by path, blobs streamed from `store`.
pub(crate) fn write_tar(
    store: &dyn BlobStore,
    content: &LayoutContent,
    out: &mut dyn Write,
) -> Result<()> {
    let io = |e| ExportError::io("write archive", "<archive>", e);
    let mut tar = TarWriter::new(out);
    tar.dir("blobs").map_err(io)?;
    tar.dir("blobs/sha256").map_err(io)?;
    for digest in &content.blobs {
        append_blob(&mut tar, store, digest)?;
    }
    for (name, bytes) in &content.files {
        tar.file(name, bytes).map_err(io)?;
    }
    tar.finish().map_err(io)?;
    Ok(())
}

/// Copy the blobs of `content` into `dir/blobs/sha256`, skipping those already there; each
/// one is written atomically and checked against its digest.
fn put_blobs(store: &dyn BlobStore, content: &LayoutContent, dir: &Path) -> Result<()> {
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).map_err(|e| ExportError::io("create directory", &blobs, e))?;
    for digest in &content.blobs {
        let path = dir.join(blob_path(digest));
        if path.exists() {
            continue;
        }
        let mut file = crate::store::atomic::AtomicFile::create(&path)?;
        super::tarball::copy_blob(store, digest, &mut file)?;
        file.commit()?;
    }
    Ok(())
}

/// Write `content` as a layout directory at `dest`: built beside it and renamed into place;
/// an existing layout gets the new blobs and its `index.json` entries of the same names
/// replaced, as BuildKit's OCI exporter does with `tar=false`.
pub(crate) fn write_dir(store: &dyn BlobStore, content: &LayoutContent, dest: &Path) -> Result<()> {
    let staged = StagedDir::new(dest)?;
    if !staged.dest_has_entries()? {
        put_blobs(store, content, staged.path())?;
        for (name, bytes) in &content.files {
            let path = staged.path().join(name);
            std::fs::write(&path, bytes).map_err(|e| ExportError::io("write", &path, e))?;
        }
        return staged.commit();
    }
    drop(staged);
    if !dest.join("oci-layout").is_file() || !dest.join("index.json").is_file() {
        return Err(ExportError::Destination {
            path: dest.to_path_buf(),
            reason: "it exists, is not empty and is not an OCI layout".into(),
        });
    }
    put_blobs(store, content, dest)?;
    let index_path = dest.join("index.json");
    let old = std::fs::read(&index_path).map_err(|e| ExportError::io("read", &index_path, e))?;
    let old: oci_spec::image::ImageIndex = serde_json::from_slice(&old)
        .map_err(|e| ExportError::invalid(&index_path, format!("not an image index: {e}")))?;
    let mut manifests: Vec<Descriptor> = old
        .manifests()
        .iter()
        .filter(|m| !content.entries.iter().any(|e| same_name(m, e)))
        .cloned()
        .collect();
    manifests.extend(content.entries.iter().cloned());
    for (name, bytes) in &content.files {
        if *name == "index.json" {
            continue;
        }
        write_atomic(&dest.join(name), bytes)?;
    }
    write_atomic(&index_path, &index_json(&build_index(manifests)))?;
    Ok(())
}

/// Whether two index entries carry the same name (so the new one replaces the old).
fn same_name(a: &Descriptor, b: &Descriptor) -> bool {
    let get = |d: &Descriptor, k: &str| d.annotations().as_ref().and_then(|m| m.get(k).cloned());
    let (ra, rb) = (get(a, ANNOTATION_REF_NAME), get(b, ANNOTATION_REF_NAME));
    ra.is_some() && ra == rb && get(a, ANNOTATION_IMAGE_NAME) == get(b, ANNOTATION_IMAGE_NAME)
}

/// Write `images` as an OCI layout tar to `dest` (`type=oci`).
pub fn write_oci_archive(
    store: &dyn BlobStore,
    images: &[ExportImage],
    dest: &Destination,
) -> Result<()> {
    let (content, _) = collect(store, images)?;
    write_file(dest, |out| write_tar(store, &content, out))
}

/// Write `images` as an OCI layout directory at `dir` (`type=oci,tar=false`).
pub fn write_oci_dir(store: &dyn BlobStore, images: &[ExportImage], dir: &Path) -> Result<()> {
    let (content, _) = collect(store, images)?;
    write_dir(store, &content, dir)
}
