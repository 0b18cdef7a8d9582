//! The parts of /proc and /sys a command may not write or read, as runc applies Docker's
//! default spec: read-only paths (bound onto themselves, read-only) and masked paths (a
//! file under /dev/null, a directory under an empty read-only tmpfs); a path the kernel
//! does not have is skipped. Init applies them after `pivot_root`, where the paths name
//! nothing but the sandbox's own /proc, /sys and /dev. And [`readonly_recursive`]: a bound
//! host /sys with every mount below it read-only too (cgroup trees included).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use nix::libc;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::MountFlags;

use super::protocol::Failure;

/// Docker's default read-only paths.
pub(super) const READONLY: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Docker's default masked paths.
pub(super) const MASKED: [&str; 12] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Flags a mount has that, in a user namespace, a remount must keep (they are locked).
const LOCKABLE: MountFlags = MountFlags::NOSUID
    .union(MountFlags::NODEV)
    .union(MountFlags::NOEXEC)
    .union(MountFlags::NOATIME)
    .union(MountFlags::NODIRATIME)
    .union(MountFlags::RELATIME);

fn at(action: &str, path: &str) -> impl FnOnce(Errno) -> Failure {
    let action = format!("{action} {path}");
    move |e| Failure::setup(action, e)
}

/// Make the read-only paths read-only and mask the masked ones (after `pivot_root`).
pub(super) fn apply() -> Result<(), Failure> {
    for path in READONLY {
        match rustix::mount::mount_bind(path, path) {
            Ok(()) => remount_readonly(Path::new(path)).map_err(at("make read-only", path))?,
            Err(Errno::NOENT) => {}
            Err(e) => return Err(at("bind", path)(e)),
        }
    }
    for path in MASKED {
        mask(path)?;
    }
    Ok(())
}

fn mask(path: &str) -> Result<(), Failure> {
    let fd = match rustix::fs::open(
        path,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(at("open", path)(e)),
    };
    let st = rustix::fs::fstat(&fd).map_err(at("stat", path))?;
    let target = fd_path(fd.as_fd());
    if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory {
        let flags =
            MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
        rustix::mount::mount("tmpfs", &target, "tmpfs", flags, c"mode=755,size=0")
    } else {
        rustix::mount::mount_bind("/dev/null", &target)
    }
    .map_err(at("mask", path))
}

fn fd_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Remount the bind mount at `path` read-only, keeping the flags it has.
fn remount_readonly(path: &Path) -> Result<(), Errno> {
    let locked = rustix::fs::statvfs(path)
        .map(|st| st.f_flag.bits() as u32)
        .unwrap_or(0);
    let keep = MountFlags::from_bits_retain(locked) & LOCKABLE;
    rustix::mount::mount_remount(path, MountFlags::BIND | MountFlags::RDONLY | keep, "")
}

/// `struct mount_attr` of `mount_setattr(2)` (libc does not name it on every target).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const AT_EMPTY_PATH: libc::c_uint = 0x1000;
const AT_RECURSIVE: libc::c_uint = 0x8000;

/// Make the mount at `target` and every mount below it read-only: `mount_setattr`
/// (Linux 5.12) where there is one, else a remount of each mount, found in
/// /proc/self/mountinfo.
pub(super) fn readonly_recursive(target: BorrowedFd<'_>) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: the kernel reads `attr` (size given) and an empty path; nothing is written.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            target.as_raw_fd(),
            c"".as_ptr(),
            AT_EMPTY_PATH | AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc == 0 {
        return Ok(());
    }
    match Errno::from_raw_os_error(nix::errno::Errno::last_raw()) {
        Errno::NOSYS => {}
        e => return Err(e),
    }
    let top = rustix::fs::readlink(fd_path(target), Vec::new())?;
    let top = PathBuf::from(std::ffi::OsString::from_vec(top.into_bytes()));
    let info = std::fs::read_to_string("/proc/self/mountinfo").map_err(|_| Errno::IO)?;
    for mount_point in mounts_below(&info, &top) {
        remount_readonly(&mount_point)?;
    }
    Ok(())
}

/// The mount points of /proc/self/mountinfo text at or below `top`, in order (parents
/// first).
fn mounts_below(info: &str, top: &Path) -> Vec<PathBuf> {
    info.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .filter(|p| p.starts_with(top))
        .collect()
}

/// Undo mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            let s = std::str::from_utf8(d).ok()?;
            u8::from_str_radix(s, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_below_finds_the_tree_with_escapes() {
        let info = "\
21 1 0:20 / /sys rw - sysfs sysfs rw
30 25 0:22 / /r/a\\040b/sys ro - sysfs sysfs rw
31 30 0:28 / /r/a\\040b/sys/fs/cgroup rw - tmpfs tmpfs rw
32 31 0:29 / /r/a\\040b/sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
33 25 0:30 / /r/a\\040b/system rw - tmpfs tmpfs rw
";
        let found = mounts_below(info, Path::new("/r/a b/sys"));
        assert_eq!(
            found,
            [
                PathBuf::from("/r/a b/sys"),
                PathBuf::from("/r/a b/sys/fs/cgroup"),
                PathBuf::from("/r/a b/sys/fs/cgroup/pids"),
            ]
        );
    }

    #[test]
    fn unescape_keeps_plain_backslashes() {
        assert_eq!(unescape("a\\134b\\011c\\x"), "a\\b\tc\\x");
    }
}
