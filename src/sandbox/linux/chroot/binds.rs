//! `RUN --mount` without a mount namespace (chroot isolation): each mount's source is put
//! at its target in the root before the command starts, and taken away after every process
//! of it is gone, in reverse order (parents were placed first).
//!
//! - A writable source (a cache, a tmpfs's scratch directory, an ssh socket, an `rw` bind's
//!   throwaway copy) is *moved* there and back by `rename`: the command's changes to a
//!   cache stay in the cache, as with a bind mount. The source must be on the root's file
//!   system (the store's, where builder keeps all of them).
//! - A read-only source (a context or stage tree, a secret, a heredoc script) is *copied*
//!   there, so the command cannot change the original; what it writes to the copy is
//!   dropped with it (a bind mount would have refused the write).
//! - A tmpfs is an empty directory (mode 1777) made there; an in-memory file (a secret)
//!   is written there, so, unlike with namespaces, it is briefly on the root's disk.
//! - What the image had at the target waits in the holding directory and comes back.
//!
//! Every step is relative to directory descriptors: the target's parent is opened before the
//! command runs, a source with a root is resolved inside it (`RESOLVE_IN_ROOT`) and copied
//! without following any symlink, and the clean-up never follows what the command left.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::rooted;
use crate::sandbox::linux::protocol::Failure;
use crate::sandbox::{BindMount, Made};

/// Deepest directory tree copied.
const MAX_DEPTH: usize = 256;

/// How a source reached its target.
enum How {
    /// Renamed from the source's directory (`from`, `name`); goes back the same way.
    Moved { from: OwnedFd, name: OsString },
    /// Copied; removed after.
    Copied,
}

/// One placed mount.
pub(super) struct Placed {
    parent: OwnedFd,
    name: OsString,
    how: How,
    /// The file type the source had, for the way back.
    kind: FileType,
    /// The image's entry at the target, held as this name in the holding directory.
    held: Option<String>,
}

/// Put every mount of `mounts` at its target below `root`; the image's entries in the
/// way go to `holding`. Directories created are pushed on `stubs`. On failure what was
/// placed is taken away again.
pub(super) fn place_all(
    root: &OwnedFd,
    mounts: &[BindMount],
    holding: &OwnedFd,
    stubs: &mut Vec<String>,
) -> Result<Vec<Placed>, Failure> {
    let mut placed = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        match place(root, m, (holding, &format!("mount-{i}")), stubs) {
            Ok(p) => placed.push(p),
            Err(f) => {
                take_all(placed, holding);
                return Err(f);
            }
        }
    }
    Ok(placed)
}

/// Take every placed mount away, last first, and bring the image's entries back.
pub(super) fn take_all(placed: Vec<Placed>, holding: &OwnedFd) {
    for p in placed.into_iter().rev() {
        match &p.how {
            How::Moved { from, name } => {
                let same = rustix::fs::statat(&p.parent, &p.name, AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == p.kind);
                let back = same
                    && rustix::fs::renameat_with(
                        &p.parent,
                        &p.name,
                        from,
                        name,
                        rustix::fs::RenameFlags::NOREPLACE,
                    )
                    .is_ok();
                if !back {
                    // The command put something else there: it goes, the source is lost
                    // (a cache starts empty next time).
                    remove_entry(p.parent.as_fd(), &p.name);
                }
            }
            How::Copied => remove_entry(p.parent.as_fd(), &p.name),
        }
        if let Some(held) = &p.held {
            let _ = rustix::fs::renameat(holding, held.as_str(), &p.parent, &p.name);
        }
    }
}

fn place(
    root: &OwnedFd,
    m: &BindMount,
    (holding, held_name): (&OwnedFd, &str),
    stubs: &mut Vec<String>,
) -> Result<Placed, Failure> {
    let fail = |what: &str, e: Errno| Failure::setup(format!("{what} {}", m.target), e);
    let (parent, name) = target_parent(root, &m.target, stubs).map_err(|e| fail("open", e))?;
    let source = match &m.made {
        None => Some(open_source(m).map_err(|e| fail("open the source of", e))?),
        Some(_) => None,
    };
    let kind = match &source {
        Some(fd) => {
            let st = rustix::fs::fstat(fd).map_err(|e| fail("stat the source of", e))?;
            FileType::from_raw_mode(st.st_mode)
        }
        None => FileType::Unknown,
    };
    let held = match rustix::fs::renameat(&parent, &name, holding, held_name) {
        Ok(()) => Some(held_name.to_string()),
        Err(Errno::NOENT) => None,
        Err(e) => return Err(fail("move aside what is at", e)),
    };
    let mut placed = Placed {
        parent,
        name,
        how: How::Copied,
        kind,
        held,
    };
    let put = match (&m.made, &source) {
        (Some(made), _) => make(made, placed.parent.as_fd(), &placed.name)
            .map_err(|e| Failure::setup(format!("make {}", m.target), e)),
        (None, Some(source)) if m.readonly || m.source_root.is_some() => {
            copy_entry(source.as_fd(), placed.parent.as_fd(), &placed.name, 0)
                .map_err(|e| Failure::setup(format!("copy the source of {}", m.target), e))
        }
        (None, _) => move_source(m, &placed).map(|how| placed.how = how),
    };
    match put {
        Ok(()) => Ok(placed),
        Err(f) => {
            take_all(vec![placed], holding);
            Err(f)
        }
    }
}

/// Rename the (writable, builder-made) source of `m` to the target of `placed`.
fn move_source(m: &BindMount, placed: &Placed) -> Result<How, Failure> {
    let fail = |e: Errno| {
        let why = if e == Errno::XDEV {
            "it is on another file system than the root".to_string()
        } else {
            e.to_string()
        };
        Failure::setup(format!("move the source of {} in", m.target), why)
    };
    let (Some(dir), Some(name)) = (m.source.parent(), m.source.file_name()) else {
        return Err(fail(Errno::INVAL));
    };
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let from = rustix::fs::open(dir, flags, Mode::empty()).map_err(fail)?;
    rustix::fs::renameat(&from, name, &placed.parent, &placed.name).map_err(fail)?;
    Ok(How::Moved {
        from,
        name: name.to_os_string(),
    })
}

/// The source of `m`: inside its root when it has one, as if that root were `/`.
fn open_source(m: &BindMount) -> Result<OwnedFd, Errno> {
    let flags = OFlags::PATH | OFlags::CLOEXEC;
    match &m.source_root {
        None => rustix::fs::open(&m.source, flags | OFlags::NOFOLLOW, Mode::empty()),
        Some(dir) => {
            let top = rustix::fs::open(dir, flags | OFlags::DIRECTORY, Mode::empty())?;
            let rel = m.source.strip_prefix(dir).map_err(|_| Errno::INVAL)?;
            let rel = match rel.as_os_str().as_bytes() {
                b"" => OsStr::new("."),
                r => OsStr::from_bytes(r),
            };
            rustix::fs::openat2(&top, rel, flags, Mode::empty(), ResolveFlags::IN_ROOT)
        }
    }
}

/// The directory that holds `target` (an image path, symlinks resolved inside the root,
/// missing directories made 0755 and pushed on `stubs`) and the target's name in it.
fn target_parent(
    root: &OwnedFd,
    target: &str,
    stubs: &mut Vec<String>,
) -> Result<(OwnedFd, OsString), Errno> {
    let resolved = resolved_target(root, target)?;
    let parts: Vec<&str> = resolved.split('/').filter(|p| !p.is_empty()).collect();
    let Some((last, dirs)) = parts.split_last() else {
        return Err(Errno::INVAL);
    };
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut parent = rustix::fs::openat(root, ".", flags, Mode::empty())?;
    let mut prefix = String::new();
    for part in dirs {
        prefix.push('/');
        prefix.push_str(part);
        let open = |p: &str| {
            rustix::fs::openat2(
                root,
                p.trim_start_matches('/'),
                flags,
                Mode::empty(),
                ResolveFlags::IN_ROOT,
            )
        };
        parent = match open(&prefix) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                rustix::fs::mkdirat(&parent, *part, Mode::from_raw_mode(0o755))?;
                stubs.push(prefix.clone());
                open(&prefix)?
            }
            Err(e) => return Err(e),
        };
    }
    Ok((parent, OsString::from(*last)))
}

/// `target` with a symlink at its end resolved inside the root (a mount on `/var/run`
/// lands where `/var/run` points, as a bind mount would); as given when nothing is there.
fn resolved_target(root: &OwnedFd, target: &str) -> Result<String, Errno> {
    let rel = target.trim_start_matches('/');
    let flags = OFlags::PATH | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat2(root, rel, flags, Mode::empty(), ResolveFlags::IN_ROOT) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(target.to_string()),
        Err(e) => return Err(e),
    };
    let here = std::fs::read_link(rooted::proc_path(fd.as_fd())).map_err(|_| Errno::INVAL)?;
    let top = std::fs::read_link(rooted::proc_path(root.as_fd())).map_err(|_| Errno::INVAL)?;
    let inside = here.strip_prefix(&top).map_err(|_| Errno::INVAL)?;
    Ok(format!("/{}", inside.display()))
}

/// Make `made` as `name` in `dst`: an empty directory (1777) for a tmpfs, the file for
/// an in-memory file.
fn make(made: &Made, dst: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    match made {
        Made::Tmpfs { .. } => {
            rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700))?;
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let dir = rustix::fs::openat(dst, name, flags, Mode::empty())?;
            Ok(rustix::fs::fchmod(&dir, Mode::from_raw_mode(0o1777))?)
        }
        Made::File {
            data,
            mode,
            uid,
            gid,
        } => {
            let flags =
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let fd = rustix::fs::openat(dst, name, flags, Mode::from_raw_mode(0o600))?;
            let mut file = std::fs::File::from(fd);
            io::Write::write_all(&mut file, data)?;
            rustix::fs::fchown(
                &file,
                Some(rustix::fs::Uid::from_raw(*uid)),
                Some(rustix::fs::Gid::from_raw(*gid)),
            )?;
            Ok(rustix::fs::fchmod(&file, Mode::from_raw_mode(*mode))?)
        }
    }
}

/// Copy the entry `src` (a path descriptor) as `name` in `dst`: directories recursively,
/// regular files, symlinks (as links); owner, mode and (for files) contents kept. Other
/// kinds (sockets, devices) are left out.
fn copy_entry(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &OsStr,
    depth: usize,
) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(io::Error::other("the tree is too deep"));
    }
    let st = rustix::fs::fstat(src)?;
    let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
    let owner = (
        Some(rustix::fs::Uid::from_raw(st.st_uid)),
        Some(rustix::fs::Gid::from_raw(st.st_gid)),
    );
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700))?;
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let made = rustix::fs::openat(dst, name, flags, Mode::empty())?;
            let dir = rustix::fs::openat(src, ".", flags, Mode::empty())?;
            for child in rooted::read_names(dir.as_fd())? {
                let path = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let fd = rustix::fs::openat(&dir, &child, path, Mode::empty())?;
                copy_entry(fd.as_fd(), made.as_fd(), &child, depth + 1)?;
            }
            rustix::fs::fchown(&made, owner.0, owner.1)?;
            rustix::fs::fchmod(&made, mode)?;
        }
        FileType::RegularFile => {
            let mut from = std::fs::File::open(rooted::proc_path(src))?;
            let flags =
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let to = rustix::fs::openat(dst, name, flags, Mode::from_raw_mode(0o600))?;
            let mut to = std::fs::File::from(to);
            io::copy(&mut from, &mut to)?;
            rustix::fs::fchown(&to, owner.0, owner.1)?;
            rustix::fs::fchmod(&to, mode)?;
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(src, "", Vec::new())?;
            rustix::fs::symlinkat(target.as_c_str(), dst, name)?;
            rustix::fs::chownat(dst, name, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW)?;
        }
        _ => {}
    }
    Ok(())
}

/// Remove `name` of the open directory `parent`, whatever it is, without following a
/// symlink (a directory through its `/proc/self/fd` path, which names the open directory
/// itself).
fn remove_entry(parent: BorrowedFd<'_>, name: &OsStr) {
    let is_dir = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
    if is_dir {
        let _ = std::fs::remove_dir_all(rooted::proc_path(parent).join(Path::new(name)));
    } else {
        let _ = rustix::fs::unlinkat(parent, name, AtFlags::empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_dir(p: &Path) -> OwnedFd {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        rustix::fs::open(p, flags, Mode::empty()).unwrap()
    }

    fn bind(source: &Path, source_root: Option<&Path>, target: &str, readonly: bool) -> BindMount {
        BindMount {
            source_root: source_root.map(Path::to_path_buf),
            ..BindMount::path(source, target, readonly)
        }
    }

    #[test]
    fn a_cache_moves_in_and_back_with_the_commands_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let (rootfs, holding, cache) = (
            tmp.path().join("r"),
            tmp.path().join("h"),
            tmp.path().join("c"),
        );
        for d in [&rootfs, &holding, &cache] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::create_dir_all(rootfs.join("var/cache")).unwrap();
        std::fs::write(rootfs.join("var/cache/image-file"), "image").unwrap();
        std::fs::write(cache.join("old"), "kept").unwrap();
        let (root, hold) = (open_dir(&rootfs), open_dir(&holding));
        let mut stubs = Vec::new();
        let mounts = [bind(&cache, None, "/var/cache", false)];
        let placed = place_all(&root, &mounts, &hold, &mut stubs).unwrap();
        assert!(stubs.is_empty());
        assert_eq!(
            std::fs::read_to_string(rootfs.join("var/cache/old")).unwrap(),
            "kept"
        );
        assert!(!rootfs.join("var/cache/image-file").exists());
        std::fs::write(rootfs.join("var/cache/new"), "made").unwrap();
        take_all(placed, &hold);
        assert_eq!(std::fs::read_to_string(cache.join("new")).unwrap(), "made");
        assert_eq!(
            std::fs::read_to_string(rootfs.join("var/cache/image-file")).unwrap(),
            "image"
        );
        assert!(!rootfs.join("var/cache/new").exists());
    }

    #[test]
    fn a_read_only_source_is_copied_inside_its_root_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let (rootfs, holding, ctx) = (
            tmp.path().join("r"),
            tmp.path().join("h"),
            tmp.path().join("ctx"),
        );
        for d in [&rootfs, &holding, &ctx.join("src/sub")] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(ctx.join("src/sub/a"), "a").unwrap();
        // A link out of the context is copied as a link, never followed.
        std::os::unix::fs::symlink("/etc/passwd", ctx.join("src/link")).unwrap();
        let (root, hold) = (open_dir(&rootfs), open_dir(&holding));
        let mut stubs = Vec::new();
        let mounts = [bind(&ctx.join("src"), Some(&ctx), "/work/src", true)];
        let placed = place_all(&root, &mounts, &hold, &mut stubs).unwrap();
        assert_eq!(stubs, vec!["/work".to_string()]);
        assert_eq!(
            std::fs::read_to_string(rootfs.join("work/src/sub/a")).unwrap(),
            "a"
        );
        assert_eq!(
            std::fs::read_link(rootfs.join("work/src/link")).unwrap(),
            Path::new("/etc/passwd")
        );
        std::fs::write(rootfs.join("work/src/sub/a"), "changed").unwrap();
        take_all(placed, &hold);
        assert_eq!(std::fs::read_to_string(ctx.join("src/sub/a")).unwrap(), "a");
        assert_eq!(std::fs::read_dir(rootfs.join("work")).unwrap().count(), 0);
    }

    #[test]
    fn a_source_swapped_for_a_symlink_out_of_its_root_stays_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let (rootfs, holding, ctx) = (
            tmp.path().join("r"),
            tmp.path().join("h"),
            tmp.path().join("ctx"),
        );
        for d in [&rootfs, &holding, &ctx] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(tmp.path().join("secret"), "host").unwrap();
        std::os::unix::fs::symlink("../secret", ctx.join("f")).unwrap();
        let (root, hold) = (open_dir(&rootfs), open_dir(&holding));
        let mounts = [bind(&ctx.join("f"), Some(&ctx), "/f", true)];
        // Resolved inside the context, `../secret` is `/secret` there: missing.
        assert!(place_all(&root, &mounts, &hold, &mut Vec::new()).is_err());
        assert!(!rootfs.join("f").exists());
    }
}
