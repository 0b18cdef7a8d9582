//! How strongly RUN steps can be isolated in this process, decided once at start.
//!
//! Normally every RUN gets namespaces of its own ([`Isolation::Namespaces`]). Where the
//! build namespace cannot be made (a container whose runtime's seccomp profile refuses
//! `unshare`, as Docker's default one does for a process without `CAP_SYS_ADMIN`), real
//! root still has `chroot`: [`fall_back`] then switches the process to
//! [`Isolation::Chroot`], the strongest isolation such a place allows, and returns the one
//! line that tells the user what RUN steps get and what they share. Anyone else gets no
//! RUN at all, and the line says why.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// How a RUN step is separated from the rest of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Isolation {
    /// Fresh mount, pid, ipc, uts and network namespaces, `pivot_root`, a fresh /proc
    /// (see the sandbox's module docs).
    #[default]
    Namespaces,
    /// No namespace can be made: the step's root is a copy entered with `chroot`, and the
    /// command runs with Docker's capabilities less `CAP_SYS_CHROOT` (so it cannot leave
    /// the chroot), Docker's seccomp profile and `no_new_privs`, no `ptrace` or
    /// `process_vm_readv/writev`, the user's ids, a session of its own, no inherited
    /// descriptors; every process it leaves is killed when it ends. It shares the caller's
    /// process list, network and host name, and has no /proc.
    Chroot,
}

/// The fallback in force, when [`fall_back`] chose one.
static CHOSEN: OnceLock<Isolation> = OnceLock::new();

/// The isolation RUN steps of this process get.
pub fn current() -> Isolation {
    CHOSEN.get().copied().unwrap_or_default()
}

/// What RUN steps get in chroot isolation, for the user (one clause).
pub const CHROOT_SUMMARY: &str = "RUN steps run with chroot isolation instead: a copied root \
file system entered with chroot, Docker's capabilities without CAP_SYS_CHROOT, its seccomp \
profile and no_new_privs, but no namespaces (the command sees this container's processes, \
network and host name, and no /proc)";

/// The namespaces could not be made: choose the strongest isolation left and say, in one
/// clause, what RUN steps get (chroot, for real root holding `CAP_SYS_CHROOT`) or that they
/// cannot run (anyone else: `chroot` needs it).
pub fn fall_back() -> &'static str {
    if chroot_allowed() {
        let _ = CHOSEN.set(Isolation::Chroot);
        // The commands run as root beside this process: no ptrace of it, no reading its
        // memory through /proc (both then need CAP_SYS_PTRACE, which they never hold).
        #[cfg(target_os = "linux")]
        let _ =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
        CHROOT_SUMMARY
    } else {
        "RUN steps cannot run (chroot isolation, the fallback, needs root with CAP_SYS_CHROOT)"
    }
}

/// This process is real root holding `CAP_SYS_CHROOT` (and `CAP_MKNOD` is not needed:
/// device nodes it cannot make are left out).
fn chroot_allowed() -> bool {
    #[cfg(target_os = "linux")]
    {
        rustix::process::geteuid().is_root()
            && rustix::thread::capabilities(None)
                .map(|c| {
                    c.effective
                        .contains(rustix::thread::CapabilitySet::SYS_CHROOT)
                })
                .unwrap_or(false)
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_the_default() {
        assert_eq!(Isolation::default(), Isolation::Namespaces);
    }

    #[test]
    fn the_chroot_summary_says_what_is_shared() {
        for word in [
            "chroot",
            "CAP_SYS_CHROOT",
            "seccomp",
            "processes",
            "network",
            "/proc",
        ] {
            assert!(CHROOT_SUMMARY.contains(word), "{word}");
        }
    }
}
