//! Which file descriptors cross into the sandbox: none but standard input, output and
//! error. A descriptor the caller of builder left open without close-on-exec (say
//! `builder build ... 8</some/dir`) would otherwise reach the helper and the command, and
//! through `/proc/self/fd/8` the host file system.
//!
//! Every descriptor from 3 up is marked close-on-exec rather than closed, so that one the
//! process still needs (the status pipe, which reports a failed `execve`) keeps working
//! until the `execve` that ends it.

use std::io;

use nix::libc;

/// `CLOSE_RANGE_CLOEXEC` (Linux 5.11), which libc does not name on every target.
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

/// Without `close_range`, descriptors up to this number are marked one by one.
const FALLBACK_LIMIT: i32 = 65_536;

/// Mark every descriptor from `first` up close-on-exec. Async-signal-safe: only system
/// calls, no allocation (it runs between `fork` and `exec`).
pub(super) fn cloexec_from(first: i32) -> io::Result<()> {
    let Ok(start) = libc::c_uint::try_from(first) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    // SAFETY: close_range only changes descriptor flags; no memory is passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            start,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if !matches!(err.raw_os_error(), Some(libc::ENOSYS | libc::EINVAL)) {
        return Err(err);
    }
    // Kernels before 5.11: one fcntl per possible descriptor.
    for fd in first..FALLBACK_LIMIT {
        // SAFETY: fcntl on a descriptor number; EBADF for those not open.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags >= 0 {
            // SAFETY: as above.
            unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    #[test]
    fn marks_open_descriptors_close_on_exec() {
        let (r, w) = rustix::pipe::pipe().unwrap();
        for fd in [&r, &w] {
            let flags = rustix::io::fcntl_getfd(fd).unwrap();
            assert!(!flags.contains(rustix::io::FdFlags::CLOEXEC));
        }
        let first = r.as_raw_fd().min(w.as_raw_fd());
        cloexec_from(first).unwrap();
        for fd in [&r, &w] {
            let flags = rustix::io::fcntl_getfd(fd).unwrap();
            assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
        }
    }
}
