//! Atomic file writes: content goes to a temp file in the destination's directory, is
//! fsynced, renamed over the destination, and the directory is fsynced. A reader sees the old
//! file or the complete new one, never a part, even after `kill -9` or a power cut; an aborted
//! write (an error, or a drop without [`AtomicFile::commit`]) leaves no temp file behind.
//!
//! The blob store, the image index and every output of `builder build -o` write this way.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::error::{Result, StoreError};

/// Prefix of the temp files this module creates; a crash can leave them behind, and cleanup
/// (prune) recognises them by it.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Write `bytes` to `path` atomically (see the module docs). The file gets the mode an
/// ordinary new file would (0666 less the umask).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)
        .map_err(|e| StoreError::io("write", path, e))?;
    file.commit()
}

/// fsync a directory, so that a rename or create inside it survives a crash.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let d = File::open(dir).map_err(|e| StoreError::io("open directory", dir, e))?;
        d.sync_all()
            .map_err(|e| StoreError::io("sync directory", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Create a temp file in `dir` with the usual new-file mode (0666 less the umask).
pub(crate) fn temp_file_in(dir: &Path) -> Result<NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder
        .tempfile_in(dir)
        .map_err(|e| StoreError::io("create temp file in", dir, e))
}

/// A file being written atomically: write to it, then [`commit`](AtomicFile::commit). Dropped
/// without a commit, it vanishes and the destination is untouched.
///
/// ```
/// use std::io::Write;
/// use builder::store::atomic::AtomicFile;
/// let dir = tempfile::tempdir().unwrap();
/// let dest = dir.path().join("out.tar");
/// let mut f = AtomicFile::create(&dest).unwrap();
/// f.write_all(b"data").unwrap();
/// assert!(!dest.exists());
/// f.commit().unwrap();
/// assert_eq!(std::fs::read(&dest).unwrap(), b"data");
/// ```
#[derive(Debug)]
pub struct AtomicFile {
    tmp: BufWriter<NamedTempFile>,
    dest: PathBuf,
}

impl AtomicFile {
    /// Start writing `dest`; its directory must exist.
    pub fn create(dest: &Path) -> Result<Self> {
        let tmp = temp_file_in(parent_dir(dest))?;
        Ok(AtomicFile::from_temp(tmp, dest))
    }

    /// Write `dest` through `tmp`, a temp file the caller made in `dest`'s directory.
    pub(crate) fn from_temp(tmp: NamedTempFile, dest: &Path) -> Self {
        AtomicFile {
            tmp: BufWriter::with_capacity(256 * 1024, tmp),
            dest: dest.to_path_buf(),
        }
    }

    /// The destination.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The temp file being written (it lives beside the destination).
    pub fn temp_path(&self) -> &Path {
        self.tmp.get_ref().path()
    }

    /// Flush, fsync, rename over the destination, fsync the directory.
    pub fn commit(self) -> Result<()> {
        let dest = self.dest;
        let tmp = self
            .tmp
            .into_inner()
            .map_err(|e| StoreError::io("write", &dest, e.into_error()))?;
        persist(tmp, &dest)
    }
}

/// fsync `tmp`, rename it to `dest`, and fsync `dest`'s directory.
pub(crate) fn persist(tmp: NamedTempFile, dest: &Path) -> Result<()> {
    tmp.as_file()
        .sync_all()
        .map_err(|e| StoreError::io("sync", tmp.path(), e))?;
    tmp.persist(dest)
        .map_err(|e| StoreError::io("rename into place", dest, e.error))?;
    fsync_dir(parent_dir(dest))
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tmp.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.tmp.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }
}

/// The sorted entry names of `dir`, for tests that check no temp file is left behind.
#[cfg(test)]
pub(crate) fn dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_creates_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(dir_names(dir.path()), ["f.json"]);
    }

    #[test]
    fn dropped_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out");
        std::fs::write(&p, b"old").unwrap();
        {
            let mut f = AtomicFile::create(&p).unwrap();
            f.write_all(b"partial").unwrap();
            assert!(f.temp_path().starts_with(dir.path()));
            assert_eq!(dir_names(dir.path()).len(), 2);
        }
        assert_eq!(dir_names(dir.path()), ["out"]);
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
    }

    #[cfg(unix)]
    #[test]
    fn committed_file_has_ordinary_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out");
        write_atomic(&p, b"x").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        // 0666 less a umask that never removes the owner's bits.
        assert_eq!(mode & 0o600, 0o600);
        assert_eq!(mode & 0o111, 0);
    }

    #[test]
    fn missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(&dir.path().join("no/such/f"), b"x").unwrap_err();
        assert!(err.to_string().contains("no/such"), "{err}");
    }
}
