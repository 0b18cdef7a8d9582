//! Destinations that never show a partial output. A file is written to a temp file beside it,
//! fsynced and renamed ([`write_file`]); a directory is built in a temp directory beside it
//! and renamed into place ([`StagedDir`]). A failure or a crash leaves the destination as it
//! was; the temp a crash leaves (`.tmp-NAME-XXXXXXXX`) is removed by the next output to the
//! same destination, never while its build runs (see [`super::leftover`]).
//!
//! A directory destination that already exists and is not empty is merged into entry by entry
//! (each entry renamed into place), as BuildKit's local exporter writes into an existing
//! directory rather than replacing it: `-o .` must never delete the user's files.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::error::{ExportError, Result};
use super::leftover::{self, OwnedDir};
use super::merge::merge;
use super::spec::Destination;
use crate::store::atomic::{fsync_dir, parent_dir, AtomicFile};

/// Refuse a file destination that cannot be written: a directory, or a missing parent.
fn check_file_dest(path: &Path) -> Result<()> {
    let refuse = |reason: &str| ExportError::Destination {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if path.is_dir() {
        return Err(refuse("it is a directory; give a file name"));
    }
    if !parent_dir(path).is_dir() {
        return Err(refuse("its directory does not exist"));
    }
    Ok(())
}

/// Write a file output: `write` fills the stream, and the file appears at `dest` only if it
/// succeeds. [`Destination::Stdout`] streams to stdout, and refuses a terminal.
pub fn write_file(
    dest: &Destination,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    match dest {
        Destination::Path(path) => {
            check_file_dest(path)?;
            leftover::sweep(path);
            let mut file = AtomicFile::from_temp(leftover::temp_file(path)?, path);
            write(&mut file)?;
            file.commit()?;
            Ok(())
        }
        Destination::Stdout => {
            let stdout = io::stdout();
            if stdout.is_terminal() {
                return Err(ExportError::Destination {
                    path: "-".into(),
                    reason: "refusing to write a tarball to a terminal; give dest=FILE".into(),
                });
            }
            let mut out = io::BufWriter::with_capacity(256 * 1024, stdout.lock());
            write(&mut out)?;
            out.flush()
                .map_err(|e| ExportError::io("write", "<stdout>", e))
        }
        Destination::Load => {
            let (engine, said) = super::engine::load(write)?;
            eprintln!("loaded into {engine}: {said}");
            Ok(())
        }
        Destination::None => Err(ExportError::Destination {
            path: PathBuf::new(),
            reason: "this output needs dest=".into(),
        }),
    }
}

/// A directory being built beside its destination; dropped without a commit, it is removed.
#[derive(Debug)]
pub struct StagedDir {
    tmp: OwnedDir,
    dest: PathBuf,
}

impl StagedDir {
    /// Start building `dest` (mode 0755). Its parent is created if missing (as BuildKit creates
    /// a local output directory); a `dest` that exists and is not a directory is refused.
    pub fn new(dest: &Path) -> Result<Self> {
        if dest.symlink_metadata().is_ok() && !dest.is_dir() {
            return Err(ExportError::Destination {
                path: dest.to_path_buf(),
                reason: "it exists and is not a directory".into(),
            });
        }
        let parent = parent_dir(dest);
        std::fs::create_dir_all(parent)
            .map_err(|e| ExportError::io("create directory", parent, e))?;
        leftover::sweep(dest);
        let tmp = leftover::temp_dir(dest)?;
        Ok(StagedDir {
            tmp,
            dest: dest.to_path_buf(),
        })
    }

    /// Where to build.
    pub fn path(&self) -> &Path {
        self.tmp.dir.path()
    }

    /// The destination.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Whether the destination exists and has entries (then [`commit`](Self::commit) merges).
    pub fn dest_has_entries(&self) -> Result<bool> {
        match std::fs::read_dir(&self.dest) {
            Ok(mut rd) => Ok(rd.next().is_some()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(ExportError::io("read directory", &self.dest, e)),
        }
    }

    /// Put the built directory at the destination: one rename when the destination is absent
    /// or empty, else a merge that renames each entry into place (replacing entries of the
    /// same name, merging directories).
    pub fn commit(self) -> Result<()> {
        let merge_needed = self.dest_has_entries()?;
        // The lock stays held (by the rest of `self.tmp`) until the directory is in place.
        let built = self.tmp.dir.keep();
        let result = if merge_needed {
            merge(&built, &self.dest).and_then(|()| {
                std::fs::remove_dir_all(&built)
                    .map_err(|e| ExportError::io("remove temp directory", &built, e))
            })
        } else {
            std::fs::rename(&built, &self.dest)
                .map_err(|e| ExportError::io("rename into place", &self.dest, e))
        };
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&built);
        }
        result?;
        fsync_dir(parent_dir(&self.dest))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::atomic::dir_names;

    #[test]
    fn file_appears_only_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let dest = Destination::Path(dir.path().join("out.tar"));
        let err = write_file(&dest, |w| {
            w.write_all(b"partial").unwrap();
            Err(ExportError::Unsupported("boom".into()))
        })
        .unwrap_err();
        assert!(err.to_string().contains("boom"));
        assert!(dir_names(dir.path()).is_empty());
        write_file(&dest, |w| {
            w.write_all(b"whole")
                .map_err(|e| ExportError::io("write", "x", e))
        })
        .unwrap();
        assert_eq!(std::fs::read(dir.path().join("out.tar")).unwrap(), b"whole");
    }

    #[test]
    fn bad_file_destinations_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_file(&Destination::Path(dir.path().to_path_buf()), |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        let err =
            write_file(&Destination::Path(dir.path().join("no/x.tar")), |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn staged_dir_renames_or_merges() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        {
            let staged = StagedDir::new(&dest).unwrap();
            std::fs::write(staged.path().join("a"), b"1").unwrap();
            // Dropped: nothing appears.
        }
        assert!(dir_names(dir.path()).is_empty());
        let staged = StagedDir::new(&dest).unwrap();
        std::fs::create_dir(staged.path().join("d")).unwrap();
        std::fs::write(staged.path().join("d/x"), b"new").unwrap();
        std::fs::write(staged.path().join("a"), b"1").unwrap();
        staged.commit().unwrap();
        assert_eq!(dir_names(&dest), ["a", "d"]);
        assert_eq!(dir_names(dir.path()), ["out"]);
        // Into a non-empty directory: merged, the user's other files kept.
        std::fs::write(dest.join("mine"), b"keep").unwrap();
        std::fs::write(dest.join("d/y"), b"keep").unwrap();
        let staged = StagedDir::new(&dest).unwrap();
        std::fs::create_dir(staged.path().join("d")).unwrap();
        std::fs::write(staged.path().join("d/x"), b"newer").unwrap();
        std::fs::create_dir(staged.path().join("a")).unwrap();
        staged.commit().unwrap();
        assert_eq!(dir_names(&dest), ["a", "d", "mine"]);
        assert_eq!(dir_names(&dest.join("d")), ["x", "y"]);
        assert_eq!(std::fs::read(dest.join("d/x")).unwrap(), b"newer");
        assert!(dest.join("a").is_dir());
        assert_eq!(dir_names(dir.path()), ["out"]);
    }

    #[test]
    fn staged_dir_refuses_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        std::fs::write(&dest, b"x").unwrap();
        assert!(StagedDir::new(&dest)
            .unwrap_err()
            .to_string()
            .contains("not a directory"));
    }

    #[test]
    fn a_killed_outputs_temps_are_removed_by_the_next_output() {
        let dir = tempfile::tempdir().unwrap();
        // What `kill -9` mid-export leaves: a temp file and a temp directory, unlocked.
        let file = dir.path().join(".tmp-out-a1b2c3d4");
        std::fs::write(&file, vec![0u8; 4096]).unwrap();
        let staged = dir.path().join(".tmp-out-e5f6g7h8");
        std::fs::create_dir_all(staged.join("etc")).unwrap();
        // A running build's temp: its writer holds the lock.
        let live = dir.path().join(".tmp-out-livelive");
        let held = std::fs::File::create(&live).unwrap();
        fs4::FileExt::lock(&held).unwrap();
        let dest = dir.path().join("out");
        write_file(&Destination::Path(dest.clone()), |w| {
            w.write_all(b"whole")
                .map_err(|e| ExportError::io("write", "x", e))
        })
        .unwrap();
        assert_eq!(dir_names(dir.path()), [".tmp-out-livelive", "out"]);
        std::fs::remove_file(&dest).unwrap();
        std::fs::write(&file, b"again").unwrap();
        StagedDir::new(&dest).unwrap().commit().unwrap();
        assert_eq!(dir_names(dir.path()), [".tmp-out-livelive", "out"]);
        drop(held);
    }
}
