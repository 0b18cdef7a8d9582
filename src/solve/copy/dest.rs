//! The destination image as the COPY engine sees it before the step: a read-only view of
//! the parent rootfs (the lower layers), asked for one path at a time. The engine needs it
//! to follow symlinks in the destination path, to know whether the destination is an
//! existing directory, and to give parent directories it must recreate in the new layer the
//! metadata they already have in the image.
//!
//! Paths are absolute and clean (`/usr/bin`); the engine only asks about paths whose parent
//! directories it has already resolved, so an implementation never has to follow symlinks.

use std::fs::{File, Metadata};
use std::io;
use std::path::{Path, PathBuf};

/// The kind of a filesystem entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// A device, fifo or socket.
    Other,
}

/// Metadata of an entry of the destination image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestMeta {
    /// Its kind.
    pub kind: EntryKind,
    /// Permission, set-id and sticky bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Access time (seconds, nanoseconds).
    pub atime: (i64, i64),
    /// Modification time (seconds, nanoseconds).
    pub mtime: (i64, i64),
}

impl DestMeta {
    /// The metadata of a host file (from `lstat`).
    pub fn from_metadata(m: &Metadata) -> DestMeta {
        DestMeta::from_meta(&crate::rooted::Meta::from_metadata(m))
    }

    /// The metadata of a source entry (from `fstatat`).
    pub fn from_meta(m: &crate::rooted::Meta) -> DestMeta {
        let kind = if m.is_dir() {
            EntryKind::Dir
        } else if m.is_file() {
            EntryKind::File
        } else if m.is_symlink() {
            EntryKind::Symlink
        } else {
            EntryKind::Other
        };
        DestMeta {
            kind,
            mode: m.mode & 0o7777,
            uid: m.uid,
            gid: m.gid,
            atime: m.atime,
            mtime: m.mtime,
        }
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }
}

/// Read-only access to the destination image's filesystem before the step.
pub trait DestFs {
    /// The entry at `path`, without following a final symlink; `None` when absent.
    fn lstat(&self, path: &str) -> io::Result<Option<DestMeta>>;
    /// The target of the symlink at `path`.
    fn read_link(&self, path: &str) -> io::Result<PathBuf>;
    /// Opens the regular file at `path` for reading (to copy it up for a hard link).
    fn open(&self, path: &str) -> io::Result<File>;
}

/// An empty destination: `FROM scratch`, or `COPY --link`, which never looks at the
/// previous state.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyDest;

impl DestFs for EmptyDest {
    fn lstat(&self, _path: &str) -> io::Result<Option<DestMeta>> {
        Ok(None)
    }
    fn read_link(&self, path: &str) -> io::Result<PathBuf> {
        Err(io::Error::new(io::ErrorKind::NotFound, path.to_string()))
    }
    fn open(&self, path: &str) -> io::Result<File> {
        Err(io::Error::new(io::ErrorKind::NotFound, path.to_string()))
    }
}

/// A destination whose rootfs is a plain directory (a merged view of the lower layers).
#[derive(Debug, Clone)]
pub struct RootfsDir {
    root: PathBuf,
}

impl RootfsDir {
    /// A view of the rootfs at `root`.
    pub fn new(root: impl Into<PathBuf>) -> RootfsDir {
        RootfsDir { root: root.into() }
    }

    fn host(&self, path: &str) -> PathBuf {
        host_path(&self.root, path)
    }
}

impl DestFs for RootfsDir {
    fn lstat(&self, path: &str) -> io::Result<Option<DestMeta>> {
        Ok(lstat_opt(&self.host(path))?.map(|m| DestMeta::from_metadata(&m)))
    }
    fn read_link(&self, path: &str) -> io::Result<PathBuf> {
        std::fs::read_link(self.host(path))
    }
    fn open(&self, path: &str) -> io::Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(self.host(path))
    }
}

/// The host path of `path` (an image path, or one relative to the tree) below `root`.
pub(crate) fn host_path(root: &Path, path: &str) -> PathBuf {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

/// Whether an error says the path is not there (`ENOENT`, or `ENOTDIR` for a parent that is
/// not a directory).
pub(crate) fn is_absent(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(c) if c == nix::libc::ENOENT || c == nix::libc::ENOTDIR)
}

/// The metadata of a host path, not following a symlink; `None` when it is absent.
pub(crate) fn lstat_opt(path: &Path) -> io::Result<Option<Metadata>> {
    match std::fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}
