//! The temp files and directories an output is built in beside its destination, and the
//! sweep that removes those a killed build left behind.
//!
//! An output to `DIR/NAME` is built in `DIR/.tmp-NAME-XXXXXXXX` (eight random characters),
//! a file for a tarball and a directory for `type=local` or an OCI layout directory. Its
//! writer holds an exclusive `flock` on it from creation until it is renamed into place or
//! removed; the kernel drops that lock when the process dies, even after `kill -9`. So
//! before writing `DIR/NAME`, [`sweep`] removes every `DIR/.tmp-NAME-XXXXXXXX` whose lock it
//! can take (a dead build's) and leaves those whose lock is held (a running build's).
//! Nothing else in `DIR` is ever touched.
//!
//! A sweep may take a temp between its creation and its writer's lock; so a writer, once it
//! holds the lock, checks that the name still leads to its own file and else makes another.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use tempfile::{NamedTempFile, TempDir};

use super::error::{ExportError, Result};
use crate::store::atomic::{parent_dir, TEMP_PREFIX};

/// Random characters after the prefix.
const RANDOM_LEN: usize = 8;
/// The most of the destination's name that goes into a temp name (names are at most 255
/// bytes).
const NAME_BYTES: usize = 200;
/// How often a writer makes a new temp when a sweep took the previous one.
const TRIES: usize = 8;

/// `.tmp-NAME-` for the destination `dest`.
fn prefix(dest: &Path) -> OsString {
    let name = dest.file_name().map_or(&b"out"[..], |n| n.as_bytes());
    let name = &name[..name.len().min(NAME_BYTES)];
    let mut bytes = TEMP_PREFIX.as_bytes().to_vec();
    bytes.extend_from_slice(name);
    bytes.push(b'-');
    OsString::from_vec(bytes)
}

/// Whether `entry` is one of the temps of the destination whose prefix is `prefix`.
fn is_temp_of(entry: &OsStr, prefix: &OsStr) -> bool {
    let (entry, prefix) = (entry.as_bytes(), prefix.as_bytes());
    entry.len() == prefix.len() + RANDOM_LEN
        && entry.starts_with(prefix)
        && entry[prefix.len()..].iter().all(u8::is_ascii_alphanumeric)
}

fn builder(prefix: &OsStr) -> tempfile::Builder<'_, 'static> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix).rand_bytes(RANDOM_LEN);
    b
}

/// Lock `file` (the temp at `path`) for its writer; whether `path` still is that file.
fn lock_own(file: &File, path: &Path) -> Result<bool> {
    fs4::FileExt::lock(file).map_err(|e| ExportError::io("lock", path, e))?;
    let mine = file
        .metadata()
        .map_err(|e| ExportError::io("stat", path, e))?;
    Ok(match std::fs::symlink_metadata(path) {
        Ok(m) => m.dev() == mine.dev() && m.ino() == mine.ino(),
        Err(_) => false,
    })
}

fn swept(path: &Path) -> ExportError {
    ExportError::Destination {
        path: path.to_path_buf(),
        reason: "its temp file kept being removed by another build".into(),
    }
}

/// A temp file for the file output `dest` (mode 0666 less the umask), locked by this
/// process until it is dropped or persisted and closed.
pub(crate) fn temp_file(dest: &Path) -> Result<NamedTempFile> {
    let dir = parent_dir(dest);
    let prefix = prefix(dest);
    for _ in 0..TRIES {
        let tmp = builder(&prefix)
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .map_err(|e| ExportError::io("create temp file in", dir, e))?;
        if lock_own(tmp.as_file(), tmp.path())? {
            return Ok(tmp);
        }
        // A sweep removed it: dropping it removes nothing of ours.
        let _ = tmp.into_temp_path().keep();
    }
    Err(swept(dest))
}

/// A temp directory for the directory output `dest` (mode 0755), locked by this process
/// while the value lives.
#[derive(Debug)]
pub(crate) struct OwnedDir {
    /// The directory (removed on drop unless kept).
    pub dir: TempDir,
    /// The open directory that holds the lock.
    _lock: File,
}

/// Make an [`OwnedDir`] for `dest` in its (existing) parent.
pub(crate) fn temp_dir(dest: &Path) -> Result<OwnedDir> {
    let parent = parent_dir(dest);
    let prefix = prefix(dest);
    for _ in 0..TRIES {
        let dir = builder(&prefix)
            .permissions(std::fs::Permissions::from_mode(0o755))
            .tempdir_in(parent)
            .map_err(|e| ExportError::io("create temp directory in", parent, e))?;
        let lock =
            File::open(dir.path()).map_err(|e| ExportError::io("open directory", dir.path(), e))?;
        if lock_own(&lock, dir.path())? {
            return Ok(OwnedDir { dir, _lock: lock });
        }
        let _ = dir.keep();
    }
    Err(swept(dest))
}

/// Remove the temps of `dest` that no running build holds (see the module docs); returns
/// how many. Best effort: a temp that cannot be removed stays for the next sweep.
pub(crate) fn sweep(dest: &Path) -> usize {
    let dir = parent_dir(dest);
    let prefix = prefix(dest);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        if !is_temp_of(&entry.file_name(), &prefix) {
            continue;
        }
        let path = entry.path();
        let Ok(file) = File::open(&path) else {
            continue;
        };
        if fs4::FileExt::try_lock(&file).is_err() {
            continue;
        }
        let gone = match file.metadata() {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
            Err(e) => Err(e),
        };
        if gone.is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::atomic::dir_names;

    /// A temp as a killed build leaves it: named like ours, nobody holding its lock.
    fn dead_temp(dir: &Path, dest: &str, dir_kind: bool) -> std::path::PathBuf {
        let dest = dir.join(dest);
        if dir_kind {
            let d = temp_dir(&dest).unwrap().dir.keep();
            std::fs::write(d.join("half"), b"x").unwrap();
            d
        } else {
            temp_file(&dest).unwrap().into_temp_path().keep().unwrap()
        }
    }

    #[test]
    fn temps_are_named_after_the_destination() {
        let dir = tempfile::tempdir().unwrap();
        let f = temp_file(&dir.path().join("out.tar")).unwrap();
        let name = f.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(".tmp-out.tar-"), "{name}");
        assert_eq!(name.len(), ".tmp-out.tar-".len() + RANDOM_LEN);
        let long = "n".repeat(250);
        let d = temp_dir(&dir.path().join(&long)).unwrap();
        assert!(d.dir.path().file_name().unwrap().len() < 255);
    }

    #[test]
    fn sweep_removes_dead_temps_of_the_destination_only() {
        let dir = tempfile::tempdir().unwrap();
        dead_temp(dir.path(), "out.tar", false);
        dead_temp(dir.path(), "out.tar", true);
        dead_temp(dir.path(), "other.tar", false);
        for keep in [
            "out.tar",
            ".tmp-out.tar-mine",
            ".tmp-out.tar-x-12345678",
            "x",
        ] {
            std::fs::write(dir.path().join(keep), b"user").unwrap();
        }
        assert_eq!(sweep(&dir.path().join("out.tar")), 2);
        let names = dir_names(dir.path());
        assert_eq!(names.len(), 5, "{names:?}");
        assert!(names.iter().any(|n| n.starts_with(".tmp-other.tar-")));
        assert!(names.contains(&".tmp-out.tar-mine".to_string()));
    }

    #[test]
    fn sweep_keeps_temps_a_live_writer_holds() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        let file = temp_file(&dest).unwrap();
        let staged = temp_dir(&dest).unwrap();
        assert_eq!(sweep(&dest), 0);
        assert!(file.path().exists() && staged.dir.path().exists());
        drop(staged);
        let path = file.into_temp_path().keep().unwrap();
        // The writer's lock went with its file handle: now it is a dead build's.
        assert_eq!(sweep(&dest), 1);
        assert!(!path.exists());
    }
}
