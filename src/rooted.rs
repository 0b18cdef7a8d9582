//! Opening paths below a root directory that someone else may be changing while a build
//! reads it (a build context, an export destination): every lookup is done by the kernel
//! relative to a directory descriptor, never by re-opening a path string, so a directory
//! swapped for a symlink mid-walk cannot send a read or a write outside the root.
//!
//! - [`open_beneath`] opens `a/b/c` below a directory with
//!   `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`: a symlink in any component fails
//!   with `ELOOP`, `..` is refused (`EXDEV`). Kernels without `openat2` (before 5.6,
//!   `ENOSYS`) get the same answers from a component-by-component `O_NOFOLLOW` walk.
//! - [`open_in_root`] resolves a path as if the root were `/` (symlinks followed, `..` and
//!   absolute targets clamped to the root) with `openat2(RESOLVE_IN_ROOT)`; without
//!   `openat2` it fails with `ENOSYS` and the caller takes a slower safe way.
//! - [`lstat_at`], [`read_link_at`] and [`read_names`] look at one name inside an open
//!   directory (`fstatat`, `readlinkat`, `getdents`), which no rename can redirect.
//! - [`Meta`] is what `fstatat` returns, in the shape the copy engine reads.
//!
//! Symlinks that are data (a symlink inside a build context) are resolved by the caller
//! inside the root, and the resolved path is then opened with [`open_beneath`]: if the
//! tree changed in between, the open fails instead of following the change.
//!
//! Leaf module: imports nothing from the rest of the crate.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Set once `openat2` answered `ENOSYS`: the walk fallback is used from then on.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// Opens the directory `path` (trusted: the caller chose it) as the root of later walks.
pub fn open_root(path: &Path) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(rustix::fs::open(path, flags, Mode::empty())?)
}

/// Opens `rel` (relative, `/`-separated; `""` or `.` is `dir` itself) below `dir` without
/// following any symlink and without leaving `dir`. `flags` are the open flags
/// (`O_CLOEXEC` and `O_NOFOLLOW` are added); `mode` is used with `O_CREAT`.
pub fn open_beneath(
    dir: BorrowedFd<'_>,
    rel: &str,
    flags: OFlags,
    mode: Mode,
) -> io::Result<OwnedFd> {
    if rel.split('/').any(|c| c == "..") {
        return Err(Errno::XDEV.into());
    }
    let rel = match rel.trim_matches('/') {
        "" => ".",
        r => r,
    };
    let flags = flags | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    if !NO_OPENAT2.load(Ordering::Relaxed) {
        let resolve =
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        match retry_again(|| rustix::fs::openat2(dir, rel, flags, mode, resolve)) {
            Err(Errno::NOSYS) => NO_OPENAT2.store(true, Ordering::Relaxed),
            other => return Ok(other?),
        }
    }
    Ok(walk_beneath(dir, rel, flags, mode)?)
}

/// Opens `path` below `root` with symlinks resolved as if `root` were `/` (they can never
/// lead out of it), by the kernel (`RESOLVE_IN_ROOT`, magic links refused). `ENOSYS` when
/// the kernel has no `openat2`.
pub fn open_in_root(root: BorrowedFd<'_>, path: &str, flags: OFlags) -> io::Result<OwnedFd> {
    if NO_OPENAT2.load(Ordering::Relaxed) {
        return Err(Errno::NOSYS.into());
    }
    let rel = match path.trim_start_matches('/') {
        "" => ".",
        r => r,
    };
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let flags = flags | OFlags::CLOEXEC;
    let opened = retry_again(|| rustix::fs::openat2(root, rel, flags, Mode::empty(), resolve));
    if matches!(opened, Err(Errno::NOSYS)) {
        NO_OPENAT2.store(true, Ordering::Relaxed);
    }
    Ok(opened?)
}

/// The path of descriptor `fd` of this process as other processes see it
/// (`/proc/PID/fd/N`): a child that mounts it binds exactly the file the descriptor
/// holds, whatever happened to its path since.
pub fn shared_proc_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        fd.as_raw_fd()
    ))
}

/// `openat2` may answer `EAGAIN` when a rename raced with the lookup; a few retries are
/// enough in practice, and the last answer is returned otherwise.
fn retry_again(mut f: impl FnMut() -> Result<OwnedFd, Errno>) -> Result<OwnedFd, Errno> {
    let mut result = f();
    for _ in 0..8 {
        if !matches!(result, Err(Errno::AGAIN)) {
            break;
        }
        result = f();
    }
    result
}

/// The fallback of [`open_beneath`]: one `openat(O_NOFOLLOW)` per component from `dir`.
/// `rel` holds no `..`. A symlink in a directory component fails with `ELOOP`, as
/// `RESOLVE_NO_SYMLINKS` does.
pub(crate) fn walk_beneath(
    dir: BorrowedFd<'_>,
    rel: &str,
    flags: OFlags,
    mode: Mode,
) -> Result<OwnedFd, Errno> {
    let comps: Vec<&str> = rel
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let Some((last, parents)) = comps.split_last() else {
        return rustix::fs::openat(dir, ".", flags, mode);
    };
    let step = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut current: Option<OwnedFd> = None;
    for comp in parents {
        let at = current.as_ref().map_or(dir, |fd| fd.as_fd());
        let next = match rustix::fs::openat(at, *comp, step, Mode::empty()) {
            // `O_PATH | O_NOFOLLOW` stops at a symlink, which then is no directory.
            Err(Errno::NOTDIR) if is_symlink_at(at, comp) => Err(Errno::LOOP),
            other => other,
        }?;
        current = Some(next);
    }
    let at = current.as_ref().map_or(dir, |fd| fd.as_fd());
    match rustix::fs::openat(at, *last, flags | OFlags::NOFOLLOW, mode) {
        Err(Errno::NOTDIR) if is_symlink_at(at, last) => Err(Errno::LOOP),
        other => other,
    }
}

fn is_symlink_at(dir: BorrowedFd<'_>, name: &str) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|st| st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFLNK)
}

/// The `lstat` of `name` (one component) in the open directory `dir`.
pub fn lstat_at(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> io::Result<Meta> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(Meta::from_stat(&st))
}

/// The target of the symlink `name` (one component) in the open directory `dir`.
pub fn read_link_at(dir: BorrowedFd<'_>, name: &std::ffi::OsStr) -> io::Result<PathBuf> {
    let target = rustix::fs::readlinkat(dir, name, Vec::new())?;
    Ok(PathBuf::from(OsString::from_vec(target.into_bytes())))
}

/// The names in the open directory `dir` (without `.` and `..`), sorted.
pub fn read_names(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    // `getdents` on `dir` itself, from its start: rustix's `Dir::read_from` would open "."
    // again (an `openat` and a `close` per directory on every walk of the context).
    rustix::fs::seek(dir, rustix::fs::SeekFrom::Start(0))?;
    let mut buf = vec![std::mem::MaybeUninit::<u8>::uninit(); 32 * 1024];
    let mut entries = rustix::fs::RawDir::new(dir, &mut buf);
    let mut names = Vec::new();
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsString::from(std::ffi::OsStr::from_bytes(name)));
        }
    }
    names.sort();
    Ok(names)
}

/// The `/proc/self/fd/N` path of an open descriptor: naming the file it holds, for the
/// few calls that take only a path (path-based xattrs, bind mounts).
pub fn proc_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The metadata of one entry (what `lstat` returns), from `fstatat` or std's `Metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// File type and permission bits (`st_mode`).
    pub mode: u32,
    /// Hard links.
    pub nlink: u64,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Device number of a device node.
    pub rdev: u64,
    /// Size in bytes.
    pub size: u64,
    /// Access time (seconds, nanoseconds).
    pub atime: (i64, i64),
    /// Modification time (seconds, nanoseconds).
    pub mtime: (i64, i64),
    /// Status change time (seconds, nanoseconds).
    pub ctime: (i64, i64),
}

impl Meta {
    /// From `fstatat`.
    #[expect(
        clippy::unnecessary_cast,
        reason = "the field types differ between targets"
    )]
    pub fn from_stat(st: &rustix::fs::Stat) -> Meta {
        Meta {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            mode: st.st_mode as u32,
            nlink: st.st_nlink as u64,
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev as u64,
            size: u64::try_from(st.st_size).unwrap_or(0),
            atime: (st.st_atime as i64, st.st_atime_nsec as i64),
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as i64),
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as i64),
        }
    }

    /// From std's `Metadata`.
    pub fn from_metadata(m: &std::fs::Metadata) -> Meta {
        Meta {
            dev: m.dev(),
            ino: m.ino(),
            mode: m.mode(),
            nlink: m.nlink(),
            uid: m.uid(),
            gid: m.gid(),
            rdev: m.rdev(),
            size: m.size(),
            atime: (m.atime(), m.atime_nsec()),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    /// The file type bits (`S_IFMT` of the mode).
    pub fn file_type(&self) -> u32 {
        self.mode & nix::libc::S_IFMT
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == nix::libc::S_IFDIR
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.file_type() == nix::libc::S_IFREG
    }

    /// A symlink.
    pub fn is_symlink(&self) -> bool {
        self.file_type() == nix::libc::S_IFLNK
    }

    /// A device, fifo or socket.
    pub fn is_special(&self) -> bool {
        matches!(
            self.file_type(),
            nix::libc::S_IFCHR | nix::libc::S_IFBLK | nix::libc::S_IFIFO | nix::libc::S_IFSOCK
        )
    }
}

#[cfg(test)]
#[path = "rooted_tests.rs"]
mod tests;
