//! The build's network namespace itself: made once by a short-lived thread of the builder
//! (a network namespace, unlike a user namespace, can be entered by one thread of a
//! threaded process) and kept as a descriptor; the sandbox helper of each RUN joins it.
//!
//! The namespace belongs to the build's user namespace, so the helper (root there) may
//! join it and mount a sysfs of its own in it. It lives as long as a descriptor or a
//! process refers to it: the builder's descriptor, the user-mode stack's, the running
//! commands.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags};
use rustix::thread::{LinkNameSpaceType, UnshareFlags};

use crate::sandbox::linux::net;

/// A new network namespace with `lo` up, as a descriptor of `/proc/thread-self/ns/net`.
/// The calling thread stays where it is: a thread made for the purpose moves and ends.
pub(crate) fn create() -> io::Result<OwnedFd> {
    std::thread::scope(|s| {
        s.spawn(|| -> io::Result<OwnedFd> {
            // SAFETY: no FILES flag: only this thread's network namespace changes.
            unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNET) }?;
            net::loopback_up()?;
            let fd = rustix::fs::open(
                "/proc/thread-self/ns/net",
                OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            Ok(fd)
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the namespace thread panicked")))
    })
}

/// Move the calling thread (the single-threaded sandbox helper) into the network
/// namespace `fd`.
pub(crate) fn join(fd: BorrowedFd<'_>) -> io::Result<()> {
    rustix::thread::move_into_link_name_space(fd, Some(LinkNameSpaceType::Network))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inode(path: &str) -> u64 {
        std::fs::metadata(path)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .unwrap_or(0)
    }

    #[test]
    fn the_namespace_is_new_and_the_caller_stays_home() {
        let before = inode("/proc/thread-self/ns/net");
        let fd = match create() {
            Ok(fd) => fd,
            Err(e) => {
                let why = format!("cannot make a network namespace here: {e}");
                assert!(
                    std::env::var("BUILDER_REQUIRE_SANDBOX").as_deref() != Ok("1"),
                    "{why}"
                );
                eprintln!(
                    "\n!!! SKIPPED the_namespace_is_new_and_the_caller_stays_home: {why} !!!\n"
                );
                return;
            }
        };
        let made = rustix::fs::fstat(&fd).map(|st| st.st_ino).unwrap_or(0);
        assert_ne!(made, 0);
        assert_ne!(made, before, "the new namespace is the caller's");
        assert_eq!(
            inode("/proc/thread-self/ns/net"),
            before,
            "the caller moved"
        );
    }
}
