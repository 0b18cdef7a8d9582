//! Moving build cache between stores through a directory: `--cache-to type=local,dest=DIR`
//! writes the records of every step this build used, with their layer blobs, and
//! `--cache-from type=local,src=DIR` lets a build that misses in its own store find a step
//! there (a CI runner with a fresh store, a cache directory restored from an artifact).
//!
//! DIR is an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`) — its blobs
//! are the cached layers — plus `builder-cache/<key hex>.json`, one record per cache key in
//! the store's own format. Every file is written atomically and a record only after its
//! blob, so an interrupted export leaves a usable, smaller cache. An import copies the blob
//! into the store, verified against its digest, before the record, so a half-imported step
//! is never a hit. A registry cache (`type=registry,ref=REF`) is the same records in one
//! artifact ([`super::artifact`]), and `type=inline` the same records in the image config;
//! their network side is the build's. Every import source is a [`CacheSource`], tried in
//! order on a miss.

use std::path::{Path, PathBuf};

use oci_spec::image::Digest;

use super::artifact::{registry_spec, RegistryCache};
use super::mount_cache::{take_keys, MountExport};
use super::record::{CacheStore, Record};
use crate::store::atomic::{write_atomic, AtomicFile};
use crate::store::BlobStore;

/// A `--cache-from` / `--cache-to` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheSpec {
    /// `type=local`: a directory.
    Local(LocalCache),
    /// `type=registry` (or a bare reference): an artifact in a registry (or an image
    /// pushed with `type=inline`).
    Registry(RegistryCache),
    /// `--cache-to type=inline`: the records in the image config.
    Inline,
}

/// A `type=local` cache directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCache {
    /// The directory.
    pub dir: PathBuf,
    /// `--cache-to` only: the cache mounts to export with the steps.
    pub mounts: Option<MountExport>,
}

impl CacheSpec {
    /// `type=local` with the directory `dir` and no cache mounts.
    pub fn local(dir: impl Into<PathBuf>) -> CacheSpec {
        CacheSpec::Local(LocalCache {
            dir: dir.into(),
            mounts: None,
        })
    }
}

/// Where a build that misses in its own store may find a step.
pub trait CacheSource: std::fmt::Debug + Send + Sync {
    /// Copy the step `key` into `store` and `records` (the blob, verified, before the
    /// record); whether there was a usable one. Trouble is a miss, never an error.
    fn import(&self, key: &Digest, store: &dyn BlobStore, records: &CacheStore) -> bool;
}

/// A `--cache-from type=local,src=DIR` directory.
#[derive(Debug, Clone)]
pub struct LocalSource(pub PathBuf);

impl CacheSource for LocalSource {
    fn import(&self, key: &Digest, store: &dyn BlobStore, records: &CacheStore) -> bool {
        import(&self.0, key, store, records)
    }
}

/// Parse a `--cache-from` (`export == false`: `src=`) or `--cache-to` (`dest=`) value, as
/// buildx writes them (`type=local,src=DIR`; a bare value is a registry reference). Every
/// key is used or refused: `type=local` takes `src=` (`--cache-from`) or `dest=` and
/// `mode=max` (`--cache-to`, which always writes every step this build used);
/// `type=registry` takes the keys of [`registry_spec`].
pub fn parse_spec(spec: &str, export: bool) -> Result<CacheSpec, String> {
    let flag = if export { "--cache-to" } else { "--cache-from" };
    let mut kind = None;
    let mut keys = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("type") => kind = Some(v.to_string()),
            Some((k, v)) => keys.push((k.trim().to_ascii_lowercase(), v.to_string())),
            // `cache-mounts=ID1,ID2`: the ids after the first.
            None if keys.last().is_some_and(|(k, _)| k == "cache-mounts") => {
                if let Some((_, ids)) = keys.last_mut() {
                    ids.push(';');
                    ids.push_str(part);
                }
            }
            None if kind.is_none() && keys.is_empty() => {
                kind = Some("registry".to_string());
                keys.push(("ref".to_string(), part.to_string()));
            }
            None => return Err(format!("invalid {flag} value {spec:?}: expected KEY=VALUE")),
        }
    }
    let dir_key = if export { "dest" } else { "src" };
    match kind.as_deref() {
        Some("local") => local_spec(flag, dir_key, &keys),
        Some("registry") => registry_spec(flag, export, &keys).map(CacheSpec::Registry),
        Some("inline") => inline_spec(flag, export, &keys),
        Some(other @ ("gha" | "s3" | "azblob")) => Err(format!(
            "{flag} type={other} is not supported yet; use type=local or type=registry"
        )),
        Some(other) => Err(format!(
            "unknown {flag} type {other:?}: expected local or registry"
        )),
        None => Err(format!("{flag} {spec:?} has no type=")),
    }
}

/// `type=inline`: `--cache-to` only, with no keys.
fn inline_spec(flag: &str, export: bool, keys: &[(String, String)]) -> Result<CacheSpec, String> {
    if !export {
        return Err(format!(
            "{flag} type=inline: name the image instead (--cache-from IMAGE)"
        ));
    }
    match keys.first() {
        Some((key, _)) => Err(format!(
            "unknown key {key:?} for {flag} type=inline; it takes none"
        )),
        None => Ok(CacheSpec::Inline),
    }
}

/// The keys of `type=local`: the directory (`dir_key`), and for `--cache-to` `mode=max`.
fn local_spec(flag: &str, dir_key: &str, keys: &[(String, String)]) -> Result<CacheSpec, String> {
    let mut keys = keys.to_vec();
    let mounts = if dir_key == "dest" {
        take_keys(flag, &mut keys)?
    } else {
        None
    };
    let mut dir = None;
    for (key, value) in &keys {
        match key.as_str() {
            k if k == dir_key => dir = Some(value.clone()),
            "mode" if dir_key == "dest" => match value.as_str() {
                "max" => {}
                "min" => {
                    return Err(format!(
                        "{flag} mode=min is not supported: the cache directory gets every \
                         step this build used (mode=max)"
                    ))
                }
                other => return Err(format!("{flag} mode={other:?}: expected max")),
            },
            other => {
                let takes = if dir_key == "dest" {
                    "dest, mode, cache-mounts, cache-mounts-max-size"
                } else {
                    "src"
                };
                return Err(format!(
                    "unknown key {other:?} for {flag} type=local; it takes: {takes}"
                ));
            }
        }
    }
    match dir {
        Some(d) if !d.is_empty() => Ok(CacheSpec::Local(LocalCache {
            dir: PathBuf::from(d),
            mounts,
        })),
        _ => Err(format!("{flag} type=local needs {dir_key}=DIR")),
    }
}

fn record_path(dir: &Path, key: &Digest) -> PathBuf {
    dir.join("builder-cache")
        .join(format!("{}.json", key.digest()))
}

fn blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("blobs").join("sha256").join(digest.digest())
}

/// Copy the step `key` from the cache directory `dir` into `store` and `records`; whether
/// there was a usable one. Anything wrong with the directory is a miss, never an error.
pub fn import(dir: &Path, key: &Digest, store: &dyn BlobStore, records: &CacheStore) -> bool {
    let Ok(bytes) = std::fs::read(record_path(dir, key)) else {
        return false;
    };
    let Ok(record) = serde_json::from_slice::<Record>(&bytes) else {
        return false;
    };
    if &record.key != key {
        return false;
    }
    if let Some(layer) = &record.layer {
        let digest = layer.descriptor.digest();
        if !store.has(digest).unwrap_or(false) {
            let Ok(mut file) = std::fs::File::open(blob_path(dir, digest)) else {
                return false;
            };
            if store.put(&mut file, Some(digest)).is_err() {
                return false;
            }
        }
    }
    records.put(&record).is_ok()
}

/// A failure writing a cache directory or pushing a registry cache.
#[derive(Debug, thiserror::Error)]
#[error("export build cache to {dest}")]
pub struct CacheExportError {
    dest: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl CacheExportError {
    /// Exporting to `dest` (a directory or a reference) failed because of `source`.
    pub fn new(dest: String, source: Box<dyn std::error::Error + Send + Sync>) -> Self {
        CacheExportError { dest, source }
    }
}

/// A `--cache-from` that names something that is not a usable builder cache.
#[derive(Debug, thiserror::Error)]
#[error("import build cache from {from}: {reason}")]
pub struct CacheImportError {
    /// What was named.
    pub from: String,
    /// Why it is refused.
    pub reason: String,
}

/// Write the records of `keys` (those the store still has) and their blobs into `dir`;
/// returns how many steps were written.
pub fn export(
    dir: &Path,
    keys: &[Digest],
    store: &dyn BlobStore,
    records: &CacheStore,
) -> Result<usize, CacheExportError> {
    let fail = |e: Box<dyn std::error::Error + Send + Sync>| CacheExportError {
        dest: dir.display().to_string(),
        source: e,
    };
    for sub in ["builder-cache", "blobs/sha256"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| fail(e.into()))?;
    }
    write_atomic(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .map_err(|e| fail(e.into()))?;
    if !dir.join("index.json").exists() {
        write_atomic(
            &dir.join("index.json"),
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
        )
        .map_err(|e| fail(e.into()))?;
    }
    let mut written = 0;
    for key in keys {
        let Some(record) = records.get(key) else {
            continue;
        };
        if let Some(layer) = &record.layer {
            let digest = layer.descriptor.digest();
            let dest = blob_path(dir, digest);
            if !dest.exists() {
                let mut reader = store.open(digest).map_err(|e| fail(e.into()))?;
                let mut out = AtomicFile::create(&dest).map_err(|e| fail(e.into()))?;
                std::io::copy(&mut reader, &mut out).map_err(|e| fail(e.into()))?;
                out.commit().map_err(|e| fail(e.into()))?;
            }
        }
        let bytes = serde_json::to_vec(&record).map_err(|e| fail(e.into()))?;
        write_atomic(&record_path(dir, key), &bytes).map_err(|e| fail(e.into()))?;
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::mount_cache::{MountSelection, DEFAULT_MAX_SIZE};
    use crate::cache::RecordLayer;
    use crate::store::digest::sha256;
    use crate::store::MemStore;
    use oci_spec::image::{Descriptor, MediaType};

    #[test]
    fn specs_parse_as_buildx_writes_them() {
        assert_eq!(
            parse_spec("type=local,src=/c", false),
            Ok(CacheSpec::local("/c"))
        );
        assert_eq!(
            parse_spec("type=local,dest=/c,mode=max", true),
            Ok(CacheSpec::local("/c"))
        );
        assert!(parse_spec("type=local", true)
            .unwrap_err()
            .contains("dest=DIR"));
        assert!(parse_spec("type=local,dest=/c", false)
            .unwrap_err()
            .contains("it takes: src"));
        assert!(parse_spec("type=local", false)
            .unwrap_err()
            .contains("src=DIR"));
        let bare = parse_spec("registry.example/app:cache", false).unwrap();
        let CacheSpec::Registry(bare) = bare else {
            panic!("a bare value is a registry reference")
        };
        assert_eq!(bare.reference.to_string(), "registry.example/app:cache");
        assert!(matches!(
            parse_spec("type=registry,ref=r/app", true),
            Ok(CacheSpec::Registry(_))
        ));
        assert!(parse_spec("type=floppy,dest=/c", true)
            .unwrap_err()
            .contains("unknown"));
    }

    /// Every key `type=local` takes changes the result, and every other one is refused,
    /// naming it.
    #[test]
    fn every_cache_key_is_used_or_refused() {
        let local = |d: &str| Ok(CacheSpec::local(d));
        let with_mounts = |select, max_size| {
            CacheSpec::Local(LocalCache {
                dir: "/a".into(),
                mounts: Some(MountExport { select, max_size }),
            })
        };
        // (spec, export, expected)
        let rows: &[(&str, bool, Result<CacheSpec, &str>)] = &[
            ("type=local,src=/a", false, Ok(CacheSpec::local("/a"))),
            ("type=local,src=/b", false, Ok(CacheSpec::local("/b"))),
            ("type=local,dest=/a", true, Ok(CacheSpec::local("/a"))),
            ("TYPE=local,Dest=/b", true, Ok(CacheSpec::local("/b"))),
            (
                "type=local,dest=/a,mode=max",
                true,
                Ok(CacheSpec::local("/a")),
            ),
            (
                "type=local,dest=/a,mode=min",
                true,
                Err("mode=min is not supported"),
            ),
            (
                "type=local,dest=/a,mode=all",
                true,
                Err("mode=\"all\": expected max"),
            ),
            (
                "type=local,src=/a,mode=max",
                false,
                Err("unknown key \"mode\""),
            ),
            (
                "type=local,dest=/a,src=/b",
                true,
                Err("unknown key \"src\""),
            ),
            (
                "type=local,src=/a,dest=/b",
                false,
                Err("unknown key \"dest\""),
            ),
            (
                "type=local,src=/a,digest=sha256:x",
                false,
                Err("unknown key \"digest\""),
            ),
            ("type=local,src=/a,tag=t", false, Err("takes: src")),
            (
                "type=local,dest=/a,compression=zstd",
                true,
                Err("takes: dest, mode"),
            ),
            (
                "type=local,dest=/a,oci-mediatypes=true",
                true,
                Err("oci-mediatypes"),
            ),
            (
                "type=local,dest=/a,ignore-error=true",
                true,
                Err("ignore-error"),
            ),
            (
                "type=local,dest=/a,image-manifest=true",
                true,
                Err("image-manifest"),
            ),
            (
                "type=local,dest=/a,cache-mounts=false",
                true,
                Ok(CacheSpec::local("/a")),
            ),
            (
                "type=local,dest=/a,cache-mounts=true",
                true,
                Ok(with_mounts(MountSelection::All, DEFAULT_MAX_SIZE)),
            ),
            (
                "type=local,dest=/a,cache-mounts=dl,apt,cache-mounts-max-size=2k",
                true,
                Ok(with_mounts(
                    MountSelection::Ids(vec!["dl".into(), "apt".into()]),
                    2048,
                )),
            ),
            (
                "type=local,dest=/a,cache-mounts-max-size=2k",
                true,
                Err("needs cache-mounts=true"),
            ),
            (
                "type=local,dest=/a,cache-mounts=true,cache-mounts-max-size=big",
                true,
                Err("expected a size"),
            ),
            (
                "type=local,dest=/a,cache-mounts=true,dl",
                true,
                Err("not both"),
            ),
            (
                "type=local,src=/a,cache-mounts=true",
                false,
                Err("unknown key \"cache-mounts\""),
            ),
            ("type=registry", true, Err("needs ref=NAME[:TAG]")),
            (
                "type=registry,ref=r/app,dest=/a",
                true,
                Err("unknown key \"dest\""),
            ),
            (
                "type=registry,ref=r/app,mode=max",
                false,
                Err("it takes: ref"),
            ),
            ("type=inline", true, Ok(CacheSpec::Inline)),
            ("type=inline", false, Err("--cache-from IMAGE")),
            ("type=inline,mode=max", true, Err("unknown key \"mode\"")),
            ("type=gha", true, Err("not supported yet")),
        ];
        for (spec, export, want) in rows {
            let got = parse_spec(spec, *export);
            match want {
                Ok(w) => assert_eq!(got.as_ref(), Ok(w), "{spec}"),
                Err(text) => {
                    let e = got.expect_err(spec);
                    assert!(e.contains(text), "{spec}: {e}");
                }
            }
        }
        assert_eq!(parse_spec("type=local,src=/c", false), local("/c"));
    }

    #[test]
    fn a_step_exported_from_one_store_is_imported_into_another() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (MemStore::new(), MemStore::new());
        let (ra, rb) = (
            CacheStore::new(&t.path().join("a")),
            CacheStore::new(&t.path().join("b")),
        );
        let blob = a.put_bytes(b"layer bytes").unwrap();
        let key = sha256(b"step");
        let record = Record {
            key: key.clone(),
            layer: Some(RecordLayer {
                descriptor: Descriptor::new(
                    MediaType::ImageLayerGzip,
                    blob.size,
                    blob.digest.clone(),
                ),
                diff_id: sha256(b"diff"),
                chain_id: sha256(b"chain"),
                uncompressed_stand_in: false,
            }),
            created: "2026-01-01T00:00:00Z".into(),
            description: "[2/2] COPY a /a".into(),
        };
        ra.put(&record).unwrap();
        let dir = t.path().join("shared");
        let other = sha256(b"not in the store");
        assert_eq!(
            export(&dir, &[key.clone(), other.clone()], &a, &ra).unwrap(),
            1
        );
        assert!(dir.join("oci-layout").exists());
        assert!(!import(&dir, &other, &b, &rb));
        assert!(import(&dir, &key, &b, &rb));
        assert!(b.has(&blob.digest).unwrap());
        assert_eq!(rb.get(&key), Some(record));
        // A damaged blob is a miss, and nothing is recorded.
        let (c, rc) = (MemStore::new(), CacheStore::new(&t.path().join("c")));
        std::fs::write(blob_path(&dir, &blob.digest), b"tampered").unwrap();
        assert!(!import(&dir, &key, &c, &rc));
        assert_eq!(rc.get(&key), None);
    }
}
