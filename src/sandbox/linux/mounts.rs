//! The sandbox's root, built by init before `pivot_root`: the root file system bound onto
//! itself, a fresh /proc, a minimal /dev, a read-only /sys (every mount below it too; see
//! `masks.rs` for the parts of /proc and /sys masked after `pivot_root`), the extra bind
//! mounts and the /etc/resolv.conf and /etc/hosts stubs.
//!
//! Every mount point inside the image is resolved with `openat2(RESOLVE_IN_ROOT)`, so a
//! symlink in the image can never send a mount outside the root file system, and mounted
//! on through its `/proc/self/fd/N` path. A bind source with a `source_root` is resolved
//! the same way inside that root and bound through its descriptor. Mount points that do not exist are created
//! (directories 0755, files 0644) and returned as stubs, parents first.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

use super::masks;
use super::protocol::{Failure, Request};
use crate::sandbox::{BindMount, Made, Security};

/// Device nodes bound from the host into /dev.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// Symlinks in /dev, as Docker makes them.
const DEV_LINKS: [(&str, &str); 6] = [
    ("ptmx", "pts/ptmx"),
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("core", "/proc/kcore"),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
}

fn fd_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

fn at(action: &str, target: &str) -> impl FnOnce(Errno) -> Failure {
    let action = format!("{action} {target}");
    move |e| Failure::setup(action, e)
}

/// Build the sandbox's mounts under the root file system; returns the stubs created.
pub(super) fn prepare(request: &Request) -> Result<Vec<String>, Failure> {
    let rootfs = &request.spec.rootfs;
    let shown = rootfs.display().to_string();
    rustix::mount::mount_bind_recursive(rootfs, rootfs).map_err(at("bind", &shown))?;
    let root = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(at("open", &shown))?;
    let mut stubs = Vec::new();

    let proc_dir = ensure(&root, "/proc", Kind::Dir, &mut stubs)?;
    let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    rustix::mount::mount("proc", fd_path(proc_dir.as_fd()), "proc", flags, None)
        .map_err(at("mount", "/proc"))?;

    let dev = ensure(&root, "/dev", Kind::Dir, &mut stubs)?;
    let data = c"mode=755,size=65536k";
    rustix::mount::mount(
        "tmpfs",
        fd_path(dev.as_fd()),
        "tmpfs",
        MountFlags::NOSUID | MountFlags::STRICTATIME,
        data,
    )
    .map_err(at("mount", "/dev"))?;
    let dev = resolve(&root, "dev").map_err(at("open", "/dev"))?;
    populate_dev(&dev, request.spec.shm_size)?;

    let sys = ensure(&root, "/sys", Kind::Dir, &mut stubs)?;
    mount_sys(&root, &sys, request.spec.security)?;

    let mut memory = None;
    for (i, m) in request.spec.mounts.iter().enumerate() {
        match &m.made {
            None => bind_mount(&root, m, &mut stubs)?,
            Some(Made::Tmpfs { size }) => {
                let target = ensure(&root, &m.target, Kind::Dir, &mut stubs)?;
                let data = match size {
                    Some(n) => format!("mode=1777,size={n}"),
                    None => "mode=1777".to_string(),
                };
                let data = std::ffi::CString::new(data).unwrap_or_default();
                let flags = MountFlags::NOSUID | MountFlags::NODEV;
                let target_path = fd_path(target.as_fd());
                rustix::mount::mount("tmpfs", target_path, "tmpfs", flags, data.as_c_str())
                    .map_err(at("mount a tmpfs on", &m.target))?;
            }
            Some(file @ Made::File { .. }) => {
                if memory.is_none() {
                    memory = Some(memory_dir(request)?);
                }
                let Some(dir) = &memory else { continue };
                let source = memory_file(dir, &format!("{i}"), file)
                    .map_err(at("make the file of", &m.target))?;
                let target = ensure(&root, &m.target, Kind::File, &mut stubs)?;
                bind(&source, &root, (target.as_fd(), &m.target), m.readonly)
                    .map_err(at("bind mount on", &m.target))?;
            }
        }
    }
    for (source, target) in [
        (&request.resolv_conf, "/etc/resolv.conf"),
        (&request.hosts, "/etc/hosts"),
    ] {
        let Some(source) = source else { continue };
        match ensure(&root, target, Kind::File, &mut stubs) {
            Ok(fd) => bind(source, &root, (fd.as_fd(), target), false)
                .map_err(at("bind mount on", target))?,
            // A dangling symlink in the image: leave it alone rather than write its target.
            Err(Failure::Setup { message, .. }) if message == DANGLING => {}
            Err(f) => return Err(f),
        }
    }
    Ok(stubs)
}

const DANGLING: &str = "a symbolic link to nothing is in the way";

/// Bind the host path of `m` at its target.
fn bind_mount(root: &OwnedFd, m: &BindMount, stubs: &mut Vec<String>) -> Result<(), Failure> {
    let pinned = match &m.source_root {
        Some(dir) => Some(open_source(dir, &m.source).map_err(at("open", &m.target))?),
        None => None,
    };
    let source = match &pinned {
        Some(fd) => std::path::PathBuf::from(fd_path(fd.as_fd())),
        None => m.source.clone(),
    };
    let kind = if source.is_dir() {
        Kind::Dir
    } else {
        Kind::File
    };
    let target = ensure(root, &m.target, kind, stubs)?;
    bind(&source, root, (target.as_fd(), &m.target), m.readonly)
        .map_err(at("bind mount on", &m.target))
}

/// A private tmpfs (mode 0700) on a new directory in the builder's scratch directory for
/// this run, seen only in this mount namespace: where in-memory files are made.
fn memory_dir(request: &Request) -> Result<std::path::PathBuf, Failure> {
    let Some(scratch) = &request.scratch else {
        return Err(Failure::setup(
            "make in-memory files",
            "no scratch directory",
        ));
    };
    let dir = scratch.join("memory");
    let shown = dir.display().to_string();
    rustix::fs::mkdir(&dir, Mode::from_raw_mode(0o700)).map_err(at("create", &shown))?;
    let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    rustix::mount::mount("tmpfs", &dir, "tmpfs", flags, c"mode=0700")
        .map_err(at("mount a tmpfs on", &shown))?;
    Ok(dir)
}

/// Write `file` (a [`Made::File`]) as `name` in `dir`, with its mode and owner; its path.
fn memory_file(dir: &Path, name: &str, file: &Made) -> Result<std::path::PathBuf, Errno> {
    let Made::File {
        data,
        mode,
        uid,
        gid,
    } = file
    else {
        return Err(Errno::INVAL);
    };
    let path = dir.join(name);
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::open(&path, flags, Mode::from_raw_mode(0o600))?;
    let mut rest = data.as_slice();
    while !rest.is_empty() {
        let n = rustix::io::write(&fd, rest)?;
        rest = rest.get(n..).unwrap_or_default();
    }
    rustix::fs::fchown(
        &fd,
        Some(rustix::fs::Uid::from_raw(*uid)),
        Some(rustix::fs::Gid::from_raw(*gid)),
    )?;
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(*mode))?;
    Ok(path)
}

/// Open `target` (an image path) below `root`, creating what is missing; created paths
/// are appended to `stubs`.
fn ensure(
    root: &OwnedFd,
    target: &str,
    kind: Kind,
    stubs: &mut Vec<String>,
) -> Result<OwnedFd, Failure> {
    let parts: Vec<&str> = target
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let mut parent = rustix::io::dup(root).map_err(at("open", "/"))?;
    let mut prefix = String::new();
    for (i, part) in parts.iter().enumerate() {
        prefix.push('/');
        prefix.push_str(part);
        match resolve(root, &prefix) {
            Ok(fd) => {
                parent = fd;
                continue;
            }
            Err(Errno::NOENT) if *part != ".." => {}
            Err(e) => return Err(Failure::setup(format!("open mount point {prefix}"), e)),
        }
        let created = if kind == Kind::File && i + 1 == parts.len() {
            let flags =
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            rustix::fs::openat(&parent, *part, flags, Mode::from_raw_mode(0o644)).map(drop)
        } else {
            rustix::fs::mkdirat(&parent, *part, Mode::from_raw_mode(0o755))
        };
        match created {
            Ok(()) => stubs.push(prefix.clone()),
            Err(Errno::EXIST) => {
                return Err(Failure::Setup {
                    action: format!("create mount point {prefix}"),
                    message: DANGLING.into(),
                })
            }
            Err(e) => return Err(Failure::setup(format!("create mount point {prefix}"), e)),
        }
        parent = resolve(root, &prefix).map_err(at("open mount point", &prefix))?;
    }
    Ok(parent)
}

/// A bind source `source` (a host path below `dir`) resolved inside `dir`, symlinks
/// followed as if `dir` were `/`.
fn open_source(dir: &Path, source: &Path) -> Result<OwnedFd, Errno> {
    let top = rustix::fs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let rel = source.strip_prefix(dir).map_err(|_| Errno::INVAL)?;
    match rel.to_str().ok_or(Errno::INVAL)? {
        "" => resolve(&top, "."),
        rel => resolve(&top, rel),
    }
}

/// `path` below `root`, symlinks resolved as if `root` were `/`.
fn resolve(root: &OwnedFd, path: &str) -> Result<OwnedFd, Errno> {
    rustix::fs::openat2(
        root,
        path.trim_start_matches('/'),
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT,
    )
}

fn populate_dev(dev: &OwnedFd, shm_size: Option<u64>) -> Result<(), Failure> {
    let base = fd_path(dev.as_fd());
    for name in DEVICES {
        let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC;
        rustix::fs::openat(dev, name, flags, Mode::from_raw_mode(0o666))
            .map_err(at("create", &format!("/dev/{name}")))?;
        let host = format!("/dev/{name}");
        rustix::mount::mount_bind(&host, format!("{base}/{name}"))
            .map_err(at("bind mount on", &host))?;
    }
    rustix::fs::mkdirat(dev, "pts", Mode::from_raw_mode(0o755))
        .map_err(at("create", "/dev/pts"))?;
    rustix::mount::mount(
        "devpts",
        format!("{base}/pts"),
        "devpts",
        MountFlags::NOSUID | MountFlags::NOEXEC,
        c"newinstance,ptmxmode=0666,mode=0620",
    )
    .map_err(at("mount", "/dev/pts"))?;
    rustix::fs::mkdirat(dev, "shm", Mode::from_raw_mode(0o1777))
        .map_err(at("create", "/dev/shm"))?;
    rustix::mount::mount(
        "shm",
        format!("{base}/shm"),
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        std::ffi::CString::new(format!("mode=1777,size={}", shm_size.unwrap_or(64 << 20)))
            .unwrap_or_default()
            .as_c_str(),
    )
    .map_err(at("mount", "/dev/shm"))?;
    // POSIX message queues: nice to have, not worth failing a build over.
    if rustix::fs::mkdirat(dev, "mqueue", Mode::from_raw_mode(0o755)).is_ok() {
        let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
        if rustix::mount::mount("mqueue", format!("{base}/mqueue"), "mqueue", flags, None).is_err()
        {
            let _ = rustix::fs::unlinkat(dev, "mqueue", rustix::fs::AtFlags::REMOVEDIR);
        }
    }
    for (name, target) in DEV_LINKS {
        rustix::fs::symlinkat(target, dev, name).map_err(at("create", &format!("/dev/{name}")))?;
    }
    Ok(())
}

/// A read-only sysfs of our own (possible with our own network namespace), else the
/// host's /sys bound read-only with every mount below it (as rootless BuildKit does, and
/// so no cgroup tree of the host is writable), else nothing. Writable only in insecure
/// mode, as BuildKit's.
fn mount_sys(root: &OwnedFd, sys: &OwnedFd, security: Security) -> Result<(), Failure> {
    let target = fd_path(sys.as_fd());
    let readonly = security == Security::Sandbox;
    let mut flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    if readonly {
        flags |= MountFlags::RDONLY;
    }
    if rustix::mount::mount("sysfs", &target, "sysfs", flags, None).is_ok() {
        return Ok(());
    }
    if rustix::mount::mount_bind_recursive("/sys", &target).is_err() || !readonly {
        return Ok(());
    }
    // A fresh walk from the root ends on the mount just made.
    let top = resolve(root, "/sys").map_err(at("open", "/sys"))?;
    if let Err(e) = masks::readonly_recursive(top.as_fd()) {
        // Nothing rather than a writable host /sys; and no run if it cannot go.
        rustix::mount::unmount(fd_path(top.as_fd()), UnmountFlags::DETACH)
            .map_err(|_| at("make read-only", "/sys")(e))?;
    }
    Ok(())
}

/// Bind `source` (recursively) on the mount point `target` (resolved below `root` as
/// `path`), read-only if asked.
fn bind(
    source: &Path,
    root: &OwnedFd,
    (target, path): (BorrowedFd<'_>, &str),
    readonly: bool,
) -> Result<(), Errno> {
    rustix::mount::mount_bind_recursive(source, fd_path(target))?;
    if readonly {
        // Flags the source mount already has are locked in a user namespace: keep them.
        let locked = rustix::fs::statvfs(source)
            .map(|st| st.f_flag.bits() as u32)
            .unwrap_or(0);
        let keep = MountFlags::from_bits_retain(locked)
            & (MountFlags::NOSUID
                | MountFlags::NODEV
                | MountFlags::NOEXEC
                | MountFlags::NOATIME
                | MountFlags::NODIRATIME
                | MountFlags::RELATIME);
        // A fresh walk from the root ends on the mount just made (the old descriptor
        // still names what is under it).
        let top = resolve(root, path)?;
        rustix::mount::mount_remount(
            fd_path(top.as_fd()),
            MountFlags::BIND | MountFlags::RDONLY | keep,
            "",
        )?;
    }
    Ok(())
}

/// Make the root file system `/`, runc's way: `pivot_root(".", ".")`, then detach the old
/// root stacked on top.
pub(super) fn pivot(rootfs: &Path) -> Result<(), Failure> {
    let dir = |p: &Path| {
        rustix::fs::open(
            p,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    let old = dir(Path::new("/")).map_err(at("open", "/"))?;
    let new = dir(rootfs).map_err(at("open", &rootfs.display().to_string()))?;
    rustix::process::fchdir(&new).map_err(at("enter", "the root file system"))?;
    rustix::process::pivot_root(".", ".").map_err(at("pivot_root", "to the root file system"))?;
    rustix::process::fchdir(&old).map_err(at("enter", "the old root"))?;
    rustix::mount::mount_change(
        ".",
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
    )
    .map_err(at("detach", "the old root"))?;
    rustix::mount::unmount(".", UnmountFlags::DETACH).map_err(at("unmount", "the old root"))?;
    rustix::process::chdir("/").map_err(at("enter", "/"))?;
    Ok(())
}
