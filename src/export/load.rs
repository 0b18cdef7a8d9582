//! `builder load`: an OCI archive (an OCI layout as a tar) or a docker archive (`docker save`,
//! old or new style, or skopeo's `docker-archive:`) into the store. A gzip-compressed archive,
//! or one on stdin, is first copied to a temp file in the scratch directory (the tar is read
//! by seeking). An archive with `oci-layout` and `index.json` is read as OCI (Docker 25+
//! writes both forms; the index keeps the manifest digest), otherwise `manifest.json` is read
//! (see [`super::docker_load`]).
//!
//! Names come from `io.containerd.image.name`, else from `org.opencontainers.image.ref.name`
//! when it is a full name (a bare tag like `latest` names no repository), or from `RepoTags`.
//! The caller sets them in the name index: every blob is committed by then.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use oci_spec::image::{Descriptor, Digest};

use super::docker_load::import_docker_archive;
use super::error::{ExportError, Result};
use super::import::{import_image, import_index, read_index};
use super::tarindex::TarIndex;
use crate::image::index::{ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME};
use crate::image::{read_image, select_manifest, ImageDescriptor, Platform, PlatformExt};
use crate::store::{BlobStore, Reference};

/// An image `load` put into the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// Its manifest and config (for a multi-platform image, the host's or the first
    /// platform's image).
    pub descriptor: ImageDescriptor,
    /// The index of a multi-platform image kept whole: the names point at it.
    pub index: Option<Descriptor>,
    /// The names the archive gives it (may be empty).
    pub names: Vec<Reference>,
    /// When it was created, from its config.
    pub created: Option<String>,
}

/// How to load.
#[derive(Debug, Clone)]
pub struct LoadOptions<'a> {
    /// The platform taken from a multi-platform image; `None` keeps the whole index when
    /// the archive holds every platform's image (else the host's platform is taken).
    pub platform: Option<Platform>,
    /// Where a temp copy of a compressed or piped archive may go (the store root is a good
    /// place: same filesystem, room for blobs).
    pub scratch_dir: &'a Path,
}

/// A name from an index entry's annotations, as described in the module docs.
fn entry_name(
    annotations: Option<&std::collections::HashMap<String, String>>,
) -> Option<Reference> {
    let a = annotations?;
    if let Some(name) = a.get(ANNOTATION_IMAGE_NAME) {
        if let Ok(r) = Reference::parse(name) {
            return Some(r.without_digest());
        }
    }
    let refname = a.get(ANNOTATION_REF_NAME)?;
    if refname.contains('/') || refname.contains(':') {
        return Reference::parse(refname)
            .ok()
            .filter(|r| r.tag().is_some())
            .map(|r| r.without_digest());
    }
    None
}

/// Load the archive at `input` (`-` reads stdin) into `store`.
pub fn load_archive(
    input: &Path,
    store: &dyn BlobStore,
    opts: &LoadOptions<'_>,
) -> Result<Vec<LoadedImage>> {
    let (_temp, path) = materialize(input, opts.scratch_dir)?;
    let path = path.as_deref().unwrap_or(input);
    let index = TarIndex::open(path)?;
    if index.contains("oci-layout") && index.contains("index.json") {
        load_oci(&index, store, opts.platform.as_ref())
    } else if index.contains("manifest.json") {
        import_docker_archive(&index, store)
    } else {
        Err(ExportError::invalid(
            input,
            "not an OCI archive or a docker archive (it has no index.json or manifest.json)",
        ))
    }
}

fn load_oci(
    index: &TarIndex,
    store: &dyn BlobStore,
    platform: Option<&Platform>,
) -> Result<Vec<LoadedImage>> {
    let idx = read_index(index)?;
    // One image per digest (with the size its entry gives), its names in index order.
    let mut groups: Vec<(Digest, u64, Vec<Reference>)> = Vec::new();
    for entry in idx.manifests() {
        let name = entry_name(entry.annotations().as_ref());
        let pos = match groups.iter().position(|(d, _, _)| d == entry.digest()) {
            Some(p) => p,
            None => {
                groups.push((entry.digest().clone(), entry.size(), Vec::new()));
                groups.len() - 1
            }
        };
        if let (Some(name), Some((_, _, names))) = (name, groups.get_mut(pos)) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    if groups.is_empty() {
        return Err(ExportError::invalid(
            index.path(),
            "the archive holds no image",
        ));
    }
    let host = Platform::host();
    let mut out = Vec::new();
    for (digest, size, names) in groups {
        let whole = match platform {
            Some(_) => None,
            None => import_index(index, &digest, Some(size), store)?,
        };
        let manifest = match &whole {
            // Shown as the host's image, or the first one listed.
            Some(_) => select_manifest(store, &digest, &host).or_else(|_| {
                let first = crate::image::multi::index_manifests(store, &digest)?
                    .and_then(|c| c.first().map(|(_, d)| d.digest().clone()));
                first.ok_or_else(|| ExportError::invalid(index.path(), "an empty index"))
            })?,
            None => import_image(index, &digest, Some(size), platform.unwrap_or(&host), store)?,
        };
        let image = read_image(store, &manifest)?;
        out.push(LoadedImage {
            descriptor: image.descriptor,
            index: whole,
            names,
            created: image.config.created,
        });
    }
    Ok(out)
}

/// The compression an archive or layer starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Magic {
    /// No known compression (a tar, or anything else).
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
    /// bzip2.
    Bzip2,
    /// xz.
    Xz,
}

impl Magic {
    /// Recognise the first bytes of a stream.
    pub(crate) fn of(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Magic::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Magic::Zstd
        } else if head.starts_with(b"BZh") {
            Magic::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Magic::Xz
        } else {
            Magic::None
        }
    }
}

/// A seekable, uncompressed copy of `input` when it is stdin or gzip-compressed: the temp
/// file (removed on drop) and its path; `None` when `input` can be read as it is.
fn materialize(
    input: &Path,
    scratch: &Path,
) -> Result<(Option<tempfile::TempPath>, Option<std::path::PathBuf>)> {
    let stdin = input == Path::new("-");
    let reader: Box<dyn Read> = if stdin {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(input).map_err(|e| ExportError::io("open", input, e))?)
    };
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let head = reader
        .fill_buf()
        .map_err(|e| ExportError::io("read", input, e))?;
    let magic = Magic::of(head);
    match magic {
        Magic::None if !stdin => return Ok((None, None)),
        Magic::None | Magic::Gzip => {}
        other => {
            return Err(ExportError::invalid(
                input,
                format!("the archive is {other:?}-compressed; decompress it first (gzip and plain tar are read)"),
            ))
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-load-")
        .tempfile_in(scratch)
        .map_err(|e| ExportError::io("create temp file in", scratch, e))?;
    let (file, path) = tmp.into_parts();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let copied = if magic == Magic::Gzip {
        std::io::copy(&mut flate2::bufread::MultiGzDecoder::new(reader), &mut out)
    } else {
        std::io::copy(&mut reader, &mut out)
    };
    copied
        .and_then(|_| out.flush())
        .map_err(|e| ExportError::io("decompress", input, e))?;
    let p = path.to_path_buf();
    Ok((Some(path), Some(p)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ann(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_from_annotations() {
        let name = |a: &[(&str, &str)]| entry_name(Some(&ann(a))).map(|r| r.to_string());
        assert_eq!(
            name(&[
                (ANNOTATION_IMAGE_NAME, "app:v1"),
                (ANNOTATION_REF_NAME, "v1")
            ])
            .as_deref(),
            Some("docker.io/library/app:v1")
        );
        assert_eq!(
            name(&[(ANNOTATION_REF_NAME, "busybox:latest")]).as_deref(),
            Some("docker.io/library/busybox:latest")
        );
        assert_eq!(
            name(&[(ANNOTATION_REF_NAME, "localhost:5000/x")]).as_deref(),
            Some("localhost:5000/x:latest")
        );
        assert_eq!(name(&[(ANNOTATION_REF_NAME, "latest")]), None);
        assert_eq!(entry_name(None), None);
    }

    #[test]
    fn magic_numbers() {
        assert_eq!(Magic::of(&[0x1f, 0x8b, 8]), Magic::Gzip);
        assert_eq!(Magic::of(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Magic::Zstd);
        assert_eq!(Magic::of(b"BZh9"), Magic::Bzip2);
        assert_eq!(Magic::of(&[0xfd, b'7', b'z', b'X', b'Z', 0]), Magic::Xz);
        assert_eq!(Magic::of(b"ustar"), Magic::None);
        assert_eq!(Magic::of(b""), Magic::None);
    }
}
