//! Cache-mount contents in a `type=local` build cache directory: `--cache-to
//! type=local,dest=DIR,cache-mounts=...` writes each chosen cache mount the build used as
//! a deterministic layer blob (`blobs/sha256/`) and a record
//! (`builder-cache/mounts/<name>.json`, [`MountRecord`]); `--cache-from type=local,src=DIR`
//! restores one the store lacks ([`LocalMounts`]), the blob verified against its digest and
//! diff_id while it is unpacked into the new, still hidden, cache directory.
//!
//! A mount is read under a shared lock on its `cache-mounts/<name>.lock`, so a build using
//! it with `sharing=locked` cannot change it mid-export; one whose files add up to more
//! than `cache-mounts-max-size` is skipped with a warning.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::cache::exchange::CacheExportError;
use crate::cache::mount_cache::{valid_name, MountExport, MountRecord, MountSource, UsedMount};
use crate::diff::{write_layer, LayerOptions};
use crate::snapshot::{unpack, UnpackOptions};
use crate::store::atomic::write_atomic;
use crate::store::digest::HashingReader;
use crate::store::lock::FileLock;
use crate::store::{BlobStore, DirStore};

pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn record_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("builder-cache")
        .join("mounts")
        .join(format!("{name}.json"))
}

fn blob_dir(dir: &Path) -> PathBuf {
    dir.join("blobs").join("sha256")
}

/// What happened to one chosen cache mount.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Exported {
    /// Written (its id).
    Written(String),
    /// Skipped: why, for a warning.
    Skipped(String),
}

/// A chosen cache mount as a layer: its record and its blob (a temp file), or why not.
enum Made {
    Layer(Box<MountRecord>, tempfile::NamedTempFile),
    Skipped(String),
}

/// Write the cache mounts of `used` that `opts` chooses, from the store's `caches`
/// directory, into the cache directory `dir` (whose layout the step export made).
pub(super) fn export(
    dir: &Path,
    caches: &Path,
    used: &[UsedMount],
    opts: &MountExport,
) -> Result<Vec<Exported>, CacheExportError> {
    let fail = |e: BoxError| CacheExportError::new(dir.display().to_string(), e);
    std::fs::create_dir_all(dir.join("builder-cache").join("mounts"))
        .map_err(|e| fail(e.into()))?;
    let blobs = blob_dir(dir);
    std::fs::create_dir_all(&blobs).map_err(|e| fail(e.into()))?;
    let mut out = Vec::new();
    for mount in used.iter().filter(|m| opts.wants(&m.id)) {
        match make_layer(caches, mount, opts.max_size, &blobs).map_err(fail)? {
            Made::Skipped(why) => out.push(Exported::Skipped(why)),
            Made::Layer(record, tmp) => {
                let dest = blobs.join(record.layer.digest().digest());
                if !dest.exists() {
                    // Readable by whoever imports the directory, as its other blobs are
                    // (a temporary file is made 0600).
                    use std::os::unix::fs::PermissionsExt;
                    tmp.as_file()
                        .set_permissions(std::fs::Permissions::from_mode(0o644))
                        .map_err(|e| fail(e.into()))?;
                    crate::store::atomic::persist(tmp, &dest).map_err(|e| fail(e.into()))?;
                }
                let bytes = serde_json::to_vec(&record).map_err(|e| fail(e.into()))?;
                write_atomic(&record_path(dir, &mount.name), &bytes).map_err(|e| fail(e.into()))?;
                out.push(Exported::Written(mount.id.clone()));
            }
        }
    }
    Ok(out)
}

/// The cache mounts of `used` that `opts` chooses as layers put into `store`, for a
/// registry cache: their records, and what was skipped (for warnings).
pub(super) fn into_store(
    store: &DirStore,
    caches: &Path,
    used: &[UsedMount],
    opts: &MountExport,
) -> Result<(Vec<MountRecord>, Vec<Exported>), BoxError> {
    let (mut records, mut done) = (Vec::new(), Vec::new());
    for mount in used.iter().filter(|m| opts.wants(&m.id)) {
        match make_layer(caches, mount, opts.max_size, store.root())? {
            Made::Skipped(why) => done.push(Exported::Skipped(why)),
            Made::Layer(record, tmp) => {
                let mut file = tmp.reopen()?;
                store.put(&mut file, Some(record.layer.digest()))?;
                done.push(Exported::Written(mount.id.clone()));
                records.push(*record);
            }
        }
    }
    Ok((records, done))
}

/// Write the cache mount `mount` of `caches` as a layer blob into a temp file in `tmp_dir`
/// under a shared lock on the mount; skipped when gone or bigger than `max_size`.
fn make_layer(
    caches: &Path,
    mount: &UsedMount,
    max_size: u64,
    tmp_dir: &Path,
) -> Result<Made, BoxError> {
    let source = caches.join(&mount.name);
    let _lock = FileLock::shared(&caches.join(format!("{}.lock", mount.name)))?;
    if !source.is_dir() {
        return Ok(Made::Skipped(format!(
            "cache mount {:?} is no longer in the store",
            mount.id
        )));
    }
    let size = tree_size(&source)?;
    if size > max_size {
        return Ok(Made::Skipped(format!(
            "cache mount {:?} holds {size} bytes, more than cache-mounts-max-size \
             ({max_size}): not exported",
            mount.id
        )));
    }
    let tmp = tempfile::NamedTempFile::new_in(tmp_dir)?;
    let mut sink = BufWriter::new(tmp.as_file());
    let info = write_layer(&source, &LayerOptions::default(), &mut sink)?;
    sink.flush()?;
    drop(sink);
    let layer =
        oci_spec::image::Descriptor::new(info.media_type.into(), info.size, info.digest.clone());
    let record = MountRecord {
        mount: mount.clone(),
        layer,
        diff_id: info.diff_id,
    };
    Ok(Made::Layer(Box::new(record), tmp))
}

/// Bytes of file content under `root` (symlinks not followed).
fn tree_size(root: &Path) -> Result<u64, BoxError> {
    let mut total = 0u64;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.is_file() {
                total = total.saturating_add(meta.len());
            }
        }
    }
    Ok(total)
}

/// A `--cache-from type=local,src=DIR` directory, as a source of cache mounts.
#[derive(Debug, Clone)]
pub(super) struct LocalMounts(pub PathBuf);

impl MountSource for LocalMounts {
    fn restore(&self, name: &str, dest: &Path) -> bool {
        restore(&self.0, name, dest).unwrap_or(false)
    }
}

/// Unpack the cache mount `name` of the cache directory `dir` into the empty `dest`;
/// whether there was a usable one (else `dest` may hold part of it: the caller clears it).
fn restore(dir: &Path, name: &str, dest: &Path) -> Result<bool, BoxError> {
    if !valid_name(name) {
        return Ok(false);
    }
    let Ok(bytes) = std::fs::read(record_path(dir, name)) else {
        return Ok(false);
    };
    let record: MountRecord = serde_json::from_slice(&bytes)?;
    if record.mount.name != name {
        return Ok(false);
    }
    let digest = record.layer.digest();
    crate::store::digest::require_sha256(digest)?;
    let file = File::open(blob_dir(dir).join(digest.digest()))?;
    unpack_checked(file, &record, dest)
}

/// Unpack the blob `blob` of the cache mount `record` into `dest`, checking its diff_id as
/// it is read and its digest and size at the end; whether it was the blob the record names.
pub(super) fn unpack_checked(
    blob: impl Read,
    record: &MountRecord,
    dest: &Path,
) -> Result<bool, BoxError> {
    let mut reader = HashingReader::new(blob);
    let opts = UnpackOptions {
        diff_id: Some(record.diff_id.clone()),
        ..Default::default()
    };
    unpack(&mut reader, dest, &opts)?;
    std::io::copy(&mut reader, &mut std::io::sink())?;
    let (_, got, size) = reader.finish();
    Ok(&got == record.layer.digest() && size == record.layer.size())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::mount_cache::MountSelection;

    fn mount(id: &str, name: &str) -> UsedMount {
        UsedMount {
            id: id.into(),
            name: name.into(),
            uid: 0,
            gid: 0,
            mode: 0o755,
        }
    }

    #[test]
    fn a_cache_mount_travels_and_a_damaged_blob_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let caches = t.path().join("caches");
        let (dl, big) = ("a".repeat(64), "b".repeat(64));
        std::fs::create_dir_all(caches.join(&dl).join("sub")).unwrap();
        std::fs::write(caches.join(&dl).join("sub/pkg"), b"package").unwrap();
        std::fs::create_dir_all(caches.join(&big)).unwrap();
        std::fs::write(caches.join(&big).join("blob"), vec![7u8; 4096]).unwrap();
        let used = [mount("dl", &dl), mount("big", &big), mount("other", &dl)];
        let dir = t.path().join("cache");
        let opts = MountExport {
            select: MountSelection::Ids(vec!["dl".into(), "big".into()]),
            max_size: 1024,
        };
        let got = export(&dir, &caches, &used, &opts).unwrap();
        assert_eq!(got[0], Exported::Written("dl".into()));
        assert!(matches!(&got[1], Exported::Skipped(w) if w.contains("max-size")));
        assert_eq!(got.len(), 2);
        assert!(!record_path(&dir, &big).exists());
        // Every blob of the directory is readable by others, the mounts' too.
        use std::os::unix::fs::PermissionsExt;
        for blob in std::fs::read_dir(blob_dir(&dir)).unwrap() {
            let mode = blob.unwrap().metadata().unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }

        let dest = t.path().join("restored");
        std::fs::create_dir(&dest).unwrap();
        assert!(restore(&dir, &dl, &dest).unwrap());
        assert_eq!(std::fs::read(dest.join("sub/pkg")).unwrap(), b"package");
        assert!(!restore(&dir, &big, &dest).unwrap());
        assert!(!restore(&dir, "../../etc", &dest).unwrap());

        // A tampered blob is refused.
        let bytes = std::fs::read(record_path(&dir, &dl)).unwrap();
        let record: MountRecord = serde_json::from_slice(&bytes).unwrap();
        let blob = blob_dir(&dir).join(record.layer.digest().digest());
        let mut data = std::fs::read(&blob).unwrap();
        data.extend_from_slice(b"trailing");
        std::fs::write(&blob, data).unwrap();
        let again = t.path().join("again");
        std::fs::create_dir(&again).unwrap();
        assert!(!LocalMounts(dir.clone()).restore(&dl, &again));
    }
}
