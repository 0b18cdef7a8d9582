//! The descriptors of a directory source tree (see the parent module): the root opened
//! once, the directory being walked kept open, and every entry looked at, read or named
//! through its parent's descriptor. Snapshot chains, which nobody changes, are read by
//! path.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{Mode, OFlags};

use super::SrcTree;
use crate::rooted::{self, Meta};
use crate::solve::copy::dest::{host_path, is_absent, lstat_opt};
use crate::solve::copy::error::CopyError;

/// Where the content of a regular source file is read from.
#[derive(Debug)]
pub(crate) enum FileSrc {
    /// A snapshot file, by host path (snapshots never change).
    Path(PathBuf),
    /// `name` in an open directory of the tree.
    At {
        /// The directory.
        dir: Arc<OwnedFd>,
        /// The file's name in it.
        name: OsString,
        /// Its host path, for messages.
        shown: PathBuf,
    },
}

impl FileSrc {
    /// Opens the file for reading, never following a symlink.
    pub(crate) fn open(&self) -> std::io::Result<File> {
        match self {
            FileSrc::Path(p) => {
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(nix::libc::O_NOFOLLOW)
                    .open(p)
            }
            FileSrc::At { dir, name, .. } => {
                let name = name.to_str().ok_or(std::io::ErrorKind::InvalidInput)?;
                let fd = rooted::open_beneath(dir.as_fd(), name, OFlags::RDONLY, Mode::empty())?;
                Ok(File::from(fd))
            }
        }
    }

    /// The host path, for messages.
    pub(crate) fn shown(&self) -> &Path {
        match self {
            FileSrc::Path(p) => p,
            FileSrc::At { shown, .. } => shown,
        }
    }
}

/// `rel` split into its parent (relative to the root) and its last component.
fn split_rel(rel: &str) -> (&str, &str) {
    rel.rsplit_once('/').unwrap_or(("", rel))
}

impl SrcTree<'_> {
    /// The root directory's descriptor.
    fn root_fd(&self) -> Result<&Arc<OwnedFd>, CopyError> {
        if let Some(fd) = self.root_fd.get() {
            return Ok(fd);
        }
        let fd = rooted::open_root(&self.root).map_err(CopyError::io("read source", &self.root))?;
        Ok(self.root_fd.get_or_init(|| Arc::new(fd)))
    }

    /// Opens directory `rel` below the root (no symlink on the way).
    pub(crate) fn open_dir(&self, rel: &str) -> Result<Arc<OwnedFd>, CopyError> {
        if rel.is_empty() {
            return self.root_fd().cloned();
        }
        // The lock is not held while opening: the digest walk opens directories in parallel.
        let last = || crate::domain::lock(&self.last_dir);
        if let Some((path, fd)) = last().as_ref() {
            if path == rel {
                return Ok(Arc::clone(fd));
            }
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY;
        let fd = rooted::open_beneath(self.root_fd()?.as_fd(), rel, flags, Mode::empty()).map_err(
            CopyError::io("read source directory", &host_path(&self.root, rel)),
        )?;
        let fd = Arc::new(fd);
        *last() = Some((rel.to_string(), Arc::clone(&fd)));
        Ok(fd)
    }

    /// The parent directory of `rel` (not the root), opened, and `rel`'s name in it.
    fn parent_of<'r>(&self, rel: &'r str) -> Result<(Arc<OwnedFd>, &'r OsStr), CopyError> {
        let (parent, name) = split_rel(rel);
        Ok((self.open_dir(parent)?, OsStr::new(name)))
    }

    /// Where the content of the regular file `rel` is read from.
    pub(crate) fn file_source(&self, rel: &str) -> Result<FileSrc, CopyError> {
        if self.layers.is_some() {
            return self.host(rel).map(FileSrc::Path);
        }
        let (dir, name) = self.parent_of(rel)?;
        Ok(FileSrc::At {
            dir,
            name: name.to_os_string(),
            shown: host_path(&self.root, rel),
        })
    }

    /// Opens the regular file `rel` for reading: one `openat2` from the root, for callers
    /// that open files of many directories at once (the digest's readers).
    pub(crate) fn open_file(&self, rel: &str) -> Result<File, CopyError> {
        if self.layers.is_some() {
            let src = self.file_source(rel)?;
            return src
                .open()
                .map_err(CopyError::io("read source", src.shown()));
        }
        rooted::open_beneath(self.root_fd()?.as_fd(), rel, OFlags::RDONLY, Mode::empty())
            .map(File::from)
            .map_err(CopyError::io("read source", &host_path(&self.root, rel)))
    }

    /// The target of the symlink `rel`.
    pub(crate) fn read_link(&self, rel: &str) -> Result<PathBuf, CopyError> {
        if self.layers.is_some() {
            let host = self.host(rel)?;
            return std::fs::read_link(&host).map_err(CopyError::io("read symlink", &host));
        }
        let (dir, name) = self.parent_of(rel)?;
        rooted::read_link_at(dir.as_fd(), name)
            .map_err(CopyError::io("read symlink", &host_path(&self.root, rel)))
    }

    /// Runs `f` with a path naming entry `rel` that no rename can redirect (the snapshot
    /// path, or `/proc/self/fd/N/name` through its open parent), for calls that take only
    /// a path and do not follow a final symlink (`llistxattr`).
    pub(crate) fn with_entry_path<R>(
        &self,
        rel: &str,
        f: impl FnOnce(&Path) -> R,
    ) -> Result<R, CopyError> {
        if self.layers.is_some() {
            return Ok(f(&self.host(rel)?));
        }
        if rel.is_empty() {
            return Ok(f(&rooted::proc_path(self.root_fd()?.as_fd())));
        }
        let (dir, name) = self.parent_of(rel)?;
        Ok(f(&rooted::proc_path(dir.as_fd()).join(name)))
    }

    /// The metadata of `rel`, `None` when it does not exist (in a snapshot chain: also
    /// when a whiteout hides it).
    pub(crate) fn lstat(&self, rel: &str) -> Result<Option<Meta>, CopyError> {
        let host = self.host(rel)?;
        if let Some(l) = &self.layers {
            let layer = l
                .layer_of(rel)
                .map_err(CopyError::io("read source", &host))?;
            if layer.is_none() {
                return Ok(None);
            }
            let meta = lstat_opt(&host).map_err(CopyError::io("read source", &host))?;
            return Ok(meta.as_ref().map(Meta::from_metadata));
        }
        if rel.is_empty() {
            let st = rustix::fs::fstat(self.root_fd()?.as_fd())
                .map_err(|e| CopyError::io("read source", &host)(e.into()))?;
            return Ok(Some(Meta::from_stat(&st)));
        }
        let (dir, name) = match self.parent_of(rel) {
            Ok(found) => found,
            Err(CopyError::Io { source, .. }) if is_absent(&source) => return Ok(None),
            Err(e) => return Err(e),
        };
        match rooted::lstat_at(dir.as_fd(), name) {
            Ok(m) => Ok(Some(m)),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(CopyError::io("read source", &host)(e)),
        }
    }
}
