//! File operations confined to one root directory, for unpacking untrusted layers.
//!
//! Every path is walked one component at a time from a directory file descriptor with
//! `O_NOFOLLOW | O_DIRECTORY`, so no symlink is ever followed and nothing outside the root
//! can be reached, whatever the layer contains or created earlier. Every change is then
//! made with an `*at` call on the pinned parent descriptor and a single base name.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps, XattrFlags};
use rustix::io::Errno;

/// Why walking to a directory stopped.
#[derive(Debug)]
pub(crate) enum WalkError {
    /// The component at this index exists but is a symlink (`true`) or another
    /// non-directory (`false`).
    NotDir(usize, bool),
    /// The component at this index does not exist (and was not to be created).
    Missing(usize),
    /// The system said no.
    Io(io::Error),
}

/// A directory that every operation stays inside.
pub(crate) struct Root {
    fd: OwnedFd,
}

impl Root {
    /// Open `path` (which must be a directory; it may itself be reached through symlinks:
    /// it is the caller's own choice).
    pub(crate) fn open(path: &Path) -> io::Result<Root> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root { fd })
    }

    /// The root's own descriptor.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Open the directory `components` below the root without following any symlink,
    /// creating missing directories (mode 0755) when `create` is set.
    pub(crate) fn dir(&self, components: &[&[u8]], create: bool) -> Result<OwnedFd, WalkError> {
        let mut cur = rustix::io::dup(&self.fd).map_err(|e| WalkError::Io(e.into()))?;
        for (i, name) in components.iter().enumerate() {
            let name = OsStr::from_bytes(name);
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let next = match rustix::fs::openat(&cur, name, flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(&cur, name, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(WalkError::Io(e.into())),
                    }
                    rustix::fs::openat(&cur, name, flags, Mode::empty())
                        .map_err(|e| classify(&cur, name, i, e))?
                }
                Err(e) => return Err(classify(&cur, name, i, e)),
            };
            cur = next;
        }
        Ok(cur)
    }
}

fn classify(dir: &OwnedFd, name: &OsStr, i: usize, e: Errno) -> WalkError {
    match e {
        Errno::NOENT => WalkError::Missing(i),
        Errno::LOOP | Errno::NOTDIR => {
            let symlink = lstat(dir.as_fd(), name)
                .ok()
                .flatten()
                .is_some_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink);
            WalkError::NotDir(i, symlink)
        }
        other => WalkError::Io(other.into()),
    }
}

/// `lstat` of `name` in `dir`; `None` when absent.
pub(crate) fn lstat(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<rustix::fs::Stat>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The type of a stat result.
pub(crate) fn file_type(st: &rustix::fs::Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

/// Remove `name` in `dir` and, for a directory, everything below it; never follows links.
pub(crate) fn remove_all(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let Some(st) = lstat(dir, name)? else {
        return Ok(());
    };
    if file_type(&st) != FileType::Directory {
        return Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?);
    }
    if st.st_mode & 0o700 != 0o700 {
        // A read-only directory (fine for root, not for us otherwise): open it up first.
        let _ = chmod(dir, name, (st.st_mode | 0o700) & 0o7777);
    }
    clear_dir(dir, name, &|_| false)?;
    match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Remove every child of directory `name` in `dir` for which `keep` says no.
pub(crate) fn clear_dir(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    keep: &dyn Fn(&[u8]) -> bool,
) -> io::Result<()> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::empty())?;
    let mut children = Vec::new();
    for entry in rustix::fs::Dir::read_from(&fd)? {
        let entry = entry?;
        let child = entry.file_name().to_bytes();
        if child != b"." && child != b".." && !keep(child) {
            children.push(child.to_vec());
        }
    }
    for child in children {
        remove_all(fd.as_fd(), OsStr::from_bytes(&child))?;
    }
    Ok(())
}

/// Create a regular file that did not exist (never through a symlink).
pub(crate) fn create_file(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<File> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o600))?;
    Ok(File::from(fd))
}

/// Make a directory.
pub(crate) fn mkdir(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    Ok(rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(mode))?)
}

/// Make a symlink `name` -> `target` (the target is stored, never resolved).
pub(crate) fn symlink(target: &[u8], dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    Ok(rustix::fs::symlinkat(OsStr::from_bytes(target), dir, name)?)
}

/// Hard-link `from_dir/from_name` (not followed if a symlink) as `dir/name`.
pub(crate) fn link(
    from_dir: BorrowedFd<'_>,
    from_name: &OsStr,
    dir: BorrowedFd<'_>,
    name: &OsStr,
) -> io::Result<()> {
    Ok(rustix::fs::linkat(
        from_dir,
        from_name,
        dir,
        name,
        AtFlags::empty(),
    )?)
}

/// Make a device node or fifo.
pub(crate) fn mknod(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    kind: FileType,
    mode: u32,
    major: u32,
    minor: u32,
) -> io::Result<()> {
    let dev = rustix::fs::makedev(major, minor);
    Ok(rustix::fs::mknodat(
        dir,
        name,
        kind,
        Mode::from_raw_mode(mode),
        dev,
    )?)
}

/// Change owner without following a symlink.
pub(crate) fn chown(dir: BorrowedFd<'_>, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
    // The caller has checked that neither id is -1 (which means "unchanged").
    let uid = rustix::fs::Uid::from_raw(uid);
    let gid = rustix::fs::Gid::from_raw(gid);
    Ok(rustix::fs::chownat(
        dir,
        name,
        Some(uid),
        Some(gid),
        AtFlags::SYMLINK_NOFOLLOW,
    )?)
}

/// Change mode (the caller knows `name` is not a symlink).
pub(crate) fn chmod(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    Ok(rustix::fs::chmodat(
        dir,
        name,
        Mode::from_raw_mode(mode & 0o7777),
        AtFlags::empty(),
    )?)
}

/// Set access and modification time without following a symlink.
pub(crate) fn set_mtime(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    secs: i64,
    nanos: u32,
) -> io::Result<()> {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: nanos.into(),
    };
    let times = Timestamps {
        last_access: t,
        last_modification: t,
    };
    Ok(rustix::fs::utimensat(
        dir,
        name,
        &times,
        AtFlags::SYMLINK_NOFOLLOW,
    )?)
}

/// Set an extended attribute on `name` in `dir` without following a symlink.
pub(crate) fn set_xattr(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    key: &[u8],
    value: &[u8],
) -> io::Result<()> {
    // The parent is pinned by its descriptor; the last component is not followed.
    let path = proc_path(dir, name);
    Ok(rustix::fs::lsetxattr(
        &path,
        OsStr::from_bytes(key),
        value,
        XattrFlags::empty(),
    )?)
}

fn proc_path(dir: BorrowedFd<'_>, name: &OsStr) -> PathBuf {
    let mut p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    // An empty name means the directory itself.
    p.push(if name.is_empty() {
        OsStr::new(".")
    } else {
        name
    });
    p
}
