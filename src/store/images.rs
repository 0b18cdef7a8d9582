//! The image index: which image (manifest digest) each name in the store points at.
//!
//! It is one JSON file, `ROOT/images.json`, with names in canonical form as keys (sorted):
//!
//! ```json
//! {
//!   "version": 1,
//!   "images": {
//!     "docker.io/library/app:latest": {
//!       "digest": "sha256:…", "mediaType": "application/vnd.oci.image.manifest.v1+json",
//!       "size": 528, "created": "2024-01-02T03:04:05Z"
//!     }
//!   }
//! }
//! ```
//!
//! Readers just read the file. Writers take the exclusive flock on `ROOT/images.lock`, read,
//! change, and replace the file atomically, so concurrent builders lose no update and a
//! `kill -9` leaves the old or the new index, never a torn one. One file (not one per name)
//! keeps listing a single read and makes multi-name updates (`-t a -t b`) atomic together.
//! Callers set a name only after every blob of the image is committed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::image::Digest;
use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use super::error::{Result, StoreError};
use super::lock::FileLock;
use crate::domain::reference::Reference;

/// Version of the index file format.
const VERSION: u32 = 1;

/// What a name points at: the image's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRecord {
    /// Digest of the manifest.
    pub digest: Digest,
    /// Media type of the manifest (OCI or Docker v2s2).
    pub media_type: String,
    /// Size of the manifest in bytes.
    pub size: u64,
    /// When the image was created (RFC 3339, from its config), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct IndexFile {
    version: u32,
    #[serde(default)]
    images: BTreeMap<String, ImageRecord>,
}

/// An image found by [`NameIndex::resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The image's manifest.
    pub record: ImageRecord,
    /// Every name pointing at this manifest, sorted.
    pub names: Vec<String>,
}

/// The name index of a store root.
#[derive(Debug, Clone)]
pub struct NameIndex {
    path: PathBuf,
    lock: PathBuf,
}

/// The canonical form of an image name given on a command line (`app` ->
/// `docker.io/library/app:latest`).
pub fn canonical_name(name: &str) -> Result<String> {
    Reference::parse(name)
        .map(|r| r.to_string())
        .map_err(|e| StoreError::InvalidName {
            name: name.to_string(),
            reason: e.0,
        })
}

/// Like [`canonical_name`], but refusing digests: a name to set must be `repo:tag`.
fn settable_name(name: &str) -> Result<String> {
    let r = Reference::parse(name).map_err(|e| StoreError::InvalidName {
        name: name.to_string(),
        reason: e.0,
    })?;
    if r.digest().is_some() {
        return Err(StoreError::InvalidName {
            name: name.to_string(),
            reason: "a name with a digest cannot be given to an image; use a tag".into(),
        });
    }
    Ok(r.to_string())
}

impl NameIndex {
    /// The index of the store at `root` (the files are created on first write).
    pub fn new(root: &Path) -> Self {
        NameIndex {
            path: root.join("images.json"),
            lock: root.join("images.lock"),
        }
    }

    fn read(&self) -> Result<IndexFile> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| StoreError::CorruptIndex {
                    path: self.path.clone(),
                    source,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(IndexFile {
                version: VERSION,
                images: BTreeMap::new(),
            }),
            Err(e) => Err(StoreError::io("read image index", &self.path, e)),
        }
    }

    /// Change the index under the lock: `change` sees the current names and edits them; its
    /// result is returned, and the file is rewritten only if `change` succeeds.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, ImageRecord>) -> Result<T>,
    ) -> Result<T> {
        let _lock = FileLock::exclusive(&self.lock)?;
        let mut file = self.read()?;
        let out = change(&mut file.images)?;
        file.version = VERSION;
        let mut bytes = serde_json::to_vec_pretty(&file).map_err(|e| {
            StoreError::io("encode image index", &self.path, std::io::Error::other(e))
        })?;
        bytes.push(b'\n');
        write_atomic(&self.path, &bytes)?;
        Ok(out)
    }

    /// Every name and what it points at, sorted by name.
    pub fn list(&self) -> Result<BTreeMap<String, ImageRecord>> {
        Ok(self.read()?.images)
    }

    /// What `name` (any Docker spelling) points at.
    pub fn get(&self, name: &str) -> Result<Option<ImageRecord>> {
        let key = canonical_name(name)?;
        Ok(self.read()?.images.remove(&key))
    }

    /// Point `name` at `record`; returns what it pointed at before.
    pub fn set(&self, name: &str, record: ImageRecord) -> Result<Option<ImageRecord>> {
        let key = settable_name(name)?;
        self.update(|images| Ok(images.insert(key, record)))
    }

    /// Point every name in `names` at `record`, in one update.
    pub fn set_all(&self, names: &[String], record: &ImageRecord) -> Result<()> {
        let keys = names
            .iter()
            .map(|n| settable_name(n))
            .collect::<Result<Vec<_>>>()?;
        self.update(|images| {
            for key in keys {
                images.insert(key, record.clone());
            }
            Ok(())
        })
    }

    /// Remove `name`; returns what it pointed at, or [`StoreError::ImageNotFound`].
    pub fn remove(&self, name: &str) -> Result<ImageRecord> {
        let key = canonical_name(name)?;
        self.update(|images| {
            images
                .remove(&key)
                .ok_or_else(|| StoreError::ImageNotFound(name.to_string()))
        })
    }

    /// Find an image by name (`app`, `app:1`, `docker.io/library/app:latest`), by digest
    /// (`sha256:<hex>`, `name@sha256:<hex>`) or by a unique digest prefix (`3f2a`,
    /// `sha256:3f2a`). A name wins over a digest prefix, as in Docker.
    pub fn resolve(&self, query: &str) -> Result<Resolved> {
        let images = self.read()?.images;
        let found = |digest: &str| -> Option<Resolved> {
            let names: Vec<String> = images
                .iter()
                .filter(|(_, r)| r.digest.as_ref() == digest)
                .map(|(n, _)| n.clone())
                .collect();
            let record = images.get(names.first()?)?.clone();
            Some(Resolved { record, names })
        };
        if let Ok(r) = Reference::parse(query) {
            if let Some(d) = r.digest() {
                return found(d.as_ref())
                    .ok_or_else(|| StoreError::ImageNotFound(query.to_string()));
            }
            if let Some(record) = images.get(&r.to_string()) {
                return Ok(found(record.digest.as_ref()).unwrap_or(Resolved {
                    record: record.clone(),
                    names: vec![r.to_string()],
                }));
            }
        }
        let hex = query.strip_prefix("sha256:").unwrap_or(query);
        let is_hex = !hex.is_empty()
            && hex.len() <= 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if is_hex {
            let mut digests: Vec<&str> = images
                .values()
                .map(|r| r.digest.as_ref())
                .filter(|d| {
                    d.strip_prefix("sha256:")
                        .is_some_and(|h| h.starts_with(hex))
                })
                .collect();
            digests.sort_unstable();
            digests.dedup();
            match digests.as_slice() {
                [one] => {
                    if let Some(r) = found(one) {
                        return Ok(r);
                    }
                }
                [] => {}
                many => {
                    return Err(StoreError::AmbiguousImage {
                        prefix: query.to_string(),
                        candidates: many.iter().map(|d| d.to_string()).collect(),
                    })
                }
            }
        }
        Err(StoreError::ImageNotFound(query.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::digest::sha256;

    fn record(content: &[u8]) -> ImageRecord {
        ImageRecord {
            digest: sha256(content),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: content.len() as u64,
            created: Some("2024-01-02T03:04:05Z".into()),
        }
    }

    #[test]
    fn set_get_list_remove() {
        let dir = tempfile::tempdir().unwrap();
        let idx = NameIndex::new(dir.path());
        assert!(idx.list().unwrap().is_empty());
        let a = record(b"a");
        assert_eq!(idx.set("app", a.clone()).unwrap(), None);
        assert_eq!(
            idx.get("docker.io/library/app:latest").unwrap(),
            Some(a.clone())
        );
        assert_eq!(idx.get("app:latest").unwrap(), Some(a.clone()));
        assert_eq!(idx.get("app:2").unwrap(), None);
        let b = record(b"b");
        assert_eq!(idx.set("app", b.clone()).unwrap(), Some(a));
        idx.set_all(&["localhost:5000/x".into(), "other:1".into()], &b)
            .unwrap();
        let names: Vec<String> = idx.list().unwrap().into_keys().collect();
        assert_eq!(
            names,
            [
                "docker.io/library/app:latest",
                "docker.io/library/other:1",
                "localhost:5000/x:latest"
            ]
        );
        assert_eq!(idx.remove("other:1").unwrap(), b);
        assert!(matches!(
            idx.remove("other:1"),
            Err(StoreError::ImageNotFound(_))
        ));
        let text = std::fs::read_to_string(dir.path().join("images.json")).unwrap();
        assert!(text.contains("\"mediaType\""), "{text}");
    }

    #[test]
    fn names_with_digests_or_bad_syntax_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let idx = NameIndex::new(dir.path());
        let d = sha256(b"x");
        let err = idx.set(&format!("app@{d}"), record(b"x")).unwrap_err();
        assert!(err.to_string().contains("use a tag"), "{err}");
        let err = idx.set("Bad Name", record(b"x")).unwrap_err();
        assert!(err.to_string().starts_with("invalid image name"), "{err}");
        assert!(!dir.path().join("images.json").exists());
    }

    #[test]
    fn resolve_by_name_digest_and_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let idx = NameIndex::new(dir.path());
        let a = record(b"a");
        idx.set("app", a.clone()).unwrap();
        idx.set("app:v1", a.clone()).unwrap();
        let by_name = idx.resolve("app").unwrap();
        assert_eq!(by_name.record, a);
        assert_eq!(
            by_name.names,
            ["docker.io/library/app:latest", "docker.io/library/app:v1"]
        );
        let hex = a.digest.digest().to_string();
        assert_eq!(idx.resolve(a.digest.as_ref()).unwrap().record, a);
        assert_eq!(idx.resolve(&hex[..12]).unwrap().record, a);
        assert_eq!(
            idx.resolve(&format!("sha256:{}", &hex[..5]))
                .unwrap()
                .record,
            a
        );
        assert_eq!(idx.resolve(&format!("app@{}", a.digest)).unwrap().record, a);
        assert!(matches!(
            idx.resolve("nothing"),
            Err(StoreError::ImageNotFound(_))
        ));
        // Two images, and a prefix both share: ambiguous.
        let mut i = 0u32;
        let (b, c) = loop {
            let b = record(format!("b{i}").as_bytes());
            let c = record(format!("c{i}").as_bytes());
            if b.digest.digest()[..1] == c.digest.digest()[..1] {
                break (b, c);
            }
            i += 1;
        };
        idx.set("b", b.clone()).unwrap();
        idx.set("c", c).unwrap();
        let prefix = &b.digest.digest()[..1];
        assert!(matches!(
            idx.resolve(prefix),
            Err(StoreError::AmbiguousImage { .. })
        ));
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for t in 0..8 {
                let root = dir.path().to_path_buf();
                s.spawn(move || {
                    let idx = NameIndex::new(&root);
                    for i in 0..25 {
                        let name = format!("app{t}:v{i}");
                        idx.set(&name, record(name.as_bytes())).unwrap();
                    }
                });
            }
        });
        let all = NameIndex::new(dir.path()).list().unwrap();
        assert_eq!(all.len(), 200);
        for t in 0..8 {
            for i in 0..25 {
                let name = format!("app{t}:v{i}");
                let key = format!("docker.io/library/{name}");
                assert_eq!(all[&key], record(name.as_bytes()));
            }
        }
    }

    #[test]
    fn corrupt_index_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("images.json"), b"{not json").unwrap();
        let err = NameIndex::new(dir.path()).list().unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
}
