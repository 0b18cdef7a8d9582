//! Metadata of unpacked entries: owners (as permitted), xattrs (overlay ones dropped),
//! times, and the deferred modes and times of directories.

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::io::Errno;

use super::{Owners, Unpacker};
use crate::snapshot::entry::{self, join, Meta};
use crate::snapshot::error::{Result, SnapshotError};
use crate::snapshot::fsops;

impl Unpacker<'_> {
    pub(super) fn times(
        &self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        meta: &Meta,
        shown: &str,
    ) -> Result<()> {
        fsops::set_mtime(dir, name, meta.mtime, meta.nanos)
            .map_err(|source| self.io(shown, "set modification time", source))
    }

    pub(super) fn finish_dirs(&mut self) -> Result<()> {
        let dirs = std::mem::take(&mut self.dirs);
        for d in dirs.iter().rev() {
            let parts: Vec<&[u8]> = d.path.iter().map(Vec::as_slice).collect();
            // Removed or replaced by a later entry: nothing to finish.
            let Ok(fd) = self.root.dir(&parts, false) else {
                continue;
            };
            let shown = String::from_utf8_lossy(&join(&parts)).into_owned();
            let dot = OsStr::new(".");
            fsops::chmod(fd.as_fd(), dot, d.meta.mode)
                .map_err(|source| self.io(&shown, "set directory mode", source))?;
            fsops::set_mtime(fd.as_fd(), dot, d.meta.mtime, d.meta.nanos)
                .map_err(|source| self.io(&shown, "set directory time", source))?;
        }
        Ok(())
    }

    pub(super) fn owner(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        meta: &Meta,
        fresh: bool,
        shown: &str,
    ) -> Result<()> {
        if self.owners_off || (fresh && meta.uid == self.euid && meta.gid == self.egid) {
            return Ok(());
        }
        match fsops::chown(dir, name, meta.uid, meta.gid) {
            Ok(()) => Ok(()),
            Err(err)
                if self.opts.owners == Owners::BestEffort
                    && matches!(err.raw_os_error(), Some(c) if c == Errno::PERM.raw_os_error() || c == Errno::INVAL.raw_os_error()) =>
            {
                self.owners_off = true;
                self.warn(format!(
                    "file owners from the layer are not kept (no privilege to change owner, first at {shown:?})"
                ));
                Ok(())
            }
            Err(source) => Err(self.io(shown, "set owner", source)),
        }
    }

    pub(super) fn set_xattrs(
        &mut self,
        e: &mut tar::Entry<'_, impl Read>,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        shown: &str,
    ) -> Result<()> {
        let xattrs = entry::xattrs(e).map_err(SnapshotError::Read)?;
        for (key, value) in xattrs {
            let key_shown = String::from_utf8_lossy(&key).into_owned();
            if entry::is_overlay_xattr(&key) {
                self.warn(format!("dropped overlay xattr {key_shown} of {shown:?}"));
                continue;
            }
            match fsops::set_xattr(dir, name, &key, &value) {
                Ok(()) => {}
                Err(err) if matches!(err.raw_os_error(), Some(c) if [Errno::PERM, Errno::NOTSUP, Errno::ACCESS].iter().any(|e| e.raw_os_error() == c)) =>
                {
                    self.warn(format!("xattr {key_shown} of {shown:?} not set: {err}"));
                }
                Err(source) => return Err(self.io(shown, "set xattr", source)),
            }
        }
        Ok(())
    }
}
