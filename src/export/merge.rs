//! Merging a built directory into an existing destination directory (a `type=local` output
//! into a directory that already has files): each entry of the built tree is renamed into
//! place, replacing an entry of the same name unless both are directories, which are
//! merged in turn.
//!
//! The destination is a user's directory that others may change while the merge runs, so
//! it is walked by descriptor: each destination directory is opened below its parent's
//! descriptor without following a symlink ([`crate::rooted::open_beneath`]), and entries
//! are looked at, removed and renamed relative to open directories (`fstatat`,
//! `unlinkat`, `renameat`). A directory swapped for a symlink mid-merge fails the merge
//! instead of receiving files wherever the symlink points.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, Mode, OFlags};

use super::error::{ExportError, Result};
use crate::rooted;

/// Move every entry of `from` into `to` (which exists), merging directories.
pub(super) fn merge(from: &Path, to: &Path) -> Result<()> {
    let from_fd = rooted::open_root(from).map_err(|e| ExportError::io("open", from, e))?;
    let to_fd = rooted::open_root(to).map_err(|e| ExportError::io("open", to, e))?;
    merge_at(from_fd.as_fd(), to_fd.as_fd(), from, to)
}

/// [`merge`] of the open directories `from` and `to` (at `from_path`, `to_path`, for
/// messages).
fn merge_at(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    from_path: &Path,
    to_path: &Path,
) -> Result<()> {
    let names =
        rooted::read_names(from).map_err(|e| ExportError::io("read directory", from_path, e))?;
    for name in names {
        let (src, dst) = (from_path.join(&name), to_path.join(&name));
        let src_is_dir = rooted::lstat_at(from, &name)
            .map_err(|e| ExportError::io("stat", &src, e))?
            .is_dir();
        match rooted::lstat_at(to, &name) {
            Ok(m) if m.is_dir() && src_is_dir => {
                let sub_from =
                    open_dir(from, &name).map_err(|e| ExportError::io("open", &src, e))?;
                let sub_to = open_dir(to, &name).map_err(|e| ExportError::io("open", &dst, e))?;
                merge_at(sub_from.as_fd(), sub_to.as_fd(), &src, &dst)?;
                continue;
            }
            Ok(m) if m.is_dir() => remove_dir_at(to, &name)
                .map_err(|e| ExportError::io("replace directory", &dst, e))?,
            Ok(_) if src_is_dir => rustix::fs::unlinkat(to, &name, AtFlags::empty())
                .map_err(|e| ExportError::io("replace file", &dst, e.into()))?,
            _ => {}
        }
        rustix::fs::renameat(from, &name, to, &name)
            .map_err(|e| ExportError::io("rename into place", &dst, e.into()))?;
    }
    rustix::fs::fsync(to).map_err(|e| ExportError::io("sync directory", to_path, e.into()))?;
    Ok(())
}

fn open_dir(dir: BorrowedFd<'_>, name: &OsStr) -> std::io::Result<OwnedFd> {
    let name = name.to_str().ok_or(std::io::ErrorKind::InvalidInput)?;
    rooted::open_beneath(dir, name, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())
}

/// Removes the directory `name` in `dir` with everything below it, never following a
/// symlink (std's `remove_dir_all` walks by descriptor; `/proc/self/fd/N/NAME` names the
/// entry through the open parent).
fn remove_dir_at(dir: BorrowedFd<'_>, name: &OsStr) -> std::io::Result<()> {
    std::fs::remove_dir_all(rooted::proc_path(dir).join(name))
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
