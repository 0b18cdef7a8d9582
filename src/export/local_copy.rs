//! The copy of a `type=local` output: the flattened image (the builder's own tree, walked
//! without following a symlink) written into the staging directory beside the destination
//! by descriptor — every entry created relative to its open parent directory (`mkdirat`,
//! `openat(O_CREAT | O_EXCL | O_NOFOLLOW)`, `symlinkat`, `linkat`) and its metadata set
//! through its own descriptor — so renaming the staging directory, or anything in it, away
//! and putting a symlink in its place cannot send a write elsewhere.
//!
//! Kept: content, modes, mtimes (clamped as the options say), symlinks, hard links, and
//! owners where the process may set them; devices, fifos and sockets are skipped.

use std::collections::HashMap;
use std::fs::{self, File, Metadata};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use rustix::fs::{AtFlags, Gid, Mode, OFlags, Timespec, Timestamps, Uid};

use super::error::{ExportError, Result};
use super::rootfs::RootfsOptions;
use crate::rooted;

/// The first copy of a file with several links: its directory and name.
type FirstLink = (Arc<OwnedFd>, String);

/// Copy the tree under `from` into the empty directory `to`.
pub(super) fn copy_tree(from: &Path, to: &Path, opts: &RootfsOptions) -> Result<()> {
    let to_fd = rooted::open_root(to).map_err(|e| ExportError::io("open", to, e))?;
    let mut links = HashMap::new();
    copy_dir(from, Arc::new(to_fd), to, opts, &mut links)
}

fn copy_dir(
    from: &Path,
    to: Arc<OwnedFd>,
    to_path: &Path,
    opts: &RootfsOptions,
    links: &mut HashMap<(u64, u64), FirstLink>,
) -> Result<()> {
    let mut names: Vec<_> = fs::read_dir(from)
        .map_err(|e| ExportError::io("read directory", from, e))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| ExportError::io("read directory", from, e))?;
    names.sort();
    for os_name in names {
        let src = from.join(&os_name);
        let dst = to_path.join(&os_name);
        let Some(name) = os_name.to_str() else {
            return Err(ExportError::invalid(&src, "file name is not valid UTF-8"));
        };
        let meta = fs::symlink_metadata(&src).map_err(|e| ExportError::io("stat", &src, e))?;
        let ft = meta.file_type();
        let at = &dst;
        let fail = |action| move |e: rustix::io::Errno| ExportError::io(action, at, e.into());
        if ft.is_dir() {
            rustix::fs::mkdirat(to.as_fd(), name, Mode::from_raw_mode(0o700))
                .map_err(fail("create directory"))?;
            let flags = OFlags::RDONLY | OFlags::DIRECTORY;
            let sub = rooted::open_beneath(to.as_fd(), name, flags, Mode::empty())
                .map_err(|e| ExportError::io("open", &dst, e))?;
            let sub = Arc::new(sub);
            copy_dir(&src, Arc::clone(&sub), &dst, opts, links)?;
            finish(sub.as_fd(), &meta, opts).map_err(fail("set metadata of"))?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&src).map_err(|e| ExportError::io("read link", &src, e))?;
            rustix::fs::symlinkat(&target, to.as_fd(), name).map_err(fail("create symlink"))?;
            // The process may not own what it copied (a rootless copy keeps its own ids).
            let _ = rustix::fs::chownat(
                to.as_fd(),
                name,
                Some(Uid::from_raw(meta.uid())),
                Some(Gid::from_raw(meta.gid())),
                AtFlags::SYMLINK_NOFOLLOW,
            );
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            if meta.nlink() > 1 {
                if let Some((dir, first)) = links.get(&key) {
                    rustix::fs::linkat(
                        dir.as_fd(),
                        first.as_str(),
                        to.as_fd(),
                        name,
                        AtFlags::empty(),
                    )
                    .map_err(fail("create hard link"))?;
                    continue;
                }
                links.insert(key, (Arc::clone(&to), name.to_string()));
            }
            let out = copy_file(&src, to.as_fd(), name, &dst)?;
            finish(out.as_fd(), &meta, opts).map_err(fail("set metadata of"))?;
        }
    }
    Ok(())
}

/// Create `name` in `dir` (it must not exist) with the content of `src`; the new file,
/// open.
fn copy_file(src: &Path, dir: BorrowedFd<'_>, name: &str, dst: &Path) -> Result<File> {
    let mut input = File::open(src).map_err(|e| ExportError::io("copy", src, e))?;
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL;
    let out = rooted::open_beneath(dir, name, flags, Mode::from_raw_mode(0o600))
        .map_err(|e| ExportError::io("create", dst, e))?;
    let mut out = File::from(out);
    let meta = input
        .metadata()
        .map_err(|e| ExportError::io("stat", src, e))?;
    let copied = if crate::store::sparse::looks_sparse(&meta) {
        crate::store::sparse::copy_data(&input, &out, meta.len())
    } else {
        std::io::copy(&mut input, &mut out)
    };
    copied.map_err(|e| ExportError::io("copy", src, e))?;
    Ok(out)
}

/// Owner (when the process may), mode and times of a copied file or directory, through
/// its descriptor.
fn finish(
    fd: BorrowedFd<'_>,
    meta: &Metadata,
    opts: &RootfsOptions,
) -> std::result::Result<(), rustix::io::Errno> {
    let _ = rustix::fs::fchown(
        fd,
        Some(Uid::from_raw(meta.uid())),
        Some(Gid::from_raw(meta.gid())),
    );
    rustix::fs::fchmod(fd, Mode::from_raw_mode(meta.mode() & 0o7777))?;
    let t = Timespec {
        tv_sec: opts.mtime(meta),
        tv_nsec: 0,
    };
    rustix::fs::futimens(
        fd,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
    )
}

#[cfg(test)]
#[path = "local_copy_tests.rs"]
mod tests;
