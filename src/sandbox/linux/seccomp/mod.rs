//! The seccomp filter of a RUN: Docker's default profile (moby's
//! `profiles/seccomp/default.json`), evaluated for Docker's default capability set, which is
//! all a sandboxed command ever keeps (see `exec.rs`).
//!
//! The profile is data (`profile.rs`: moby's unconditional allow rule, the same rule's
//! names that only x86_64 has, the values of its argument rules); here it becomes
//! seccompiler rules, with the argument-conditioned rules in `conditional_rules`. A syscall outside
//! them fails with `EPERM` (the profile's `defaultErrnoRet`), except `clone3`, which fails
//! with `ENOSYS` so that C libraries fall back to `clone`, whose namespace flags are
//! checked.
//!
//! What moby's rules add with capabilities we never grant (`CAP_SYS_ADMIN`: `mount`,
//! `unshare`, `setns`, `bpf`, namespace flags of `clone`, ...; `CAP_SYS_PTRACE`: `kcmp`,
//! `pidfd_getfd`, `process_madvise`; `CAP_SYS_TIME`, `CAP_SYS_MODULE`, `CAP_SYS_BOOT`,
//! `CAP_SYS_RAWIO`, `CAP_SYS_NICE`, `CAP_SYSLOG`, `CAP_BPF`, `CAP_PERFMON`,
//! `CAP_DAC_READ_SEARCH`, `CAP_SYS_PACCT`, `CAP_SYS_TTY_CONFIG`) stays denied; `chroot`
//! (`CAP_SYS_CHROOT`, in Docker's set) is allowed. Names of the profile that exist only on
//! 32-bit architectures (`chown32`, `_llseek`, `*_time64`, `socketcall`, ...) are left out.
//!
//! The filter is built with `seccompiler` (pure Rust; `libseccomp` would add a C library
//! to every install for what is here a fixed table). It knows x86_64 and aarch64 here; on
//! any other architecture a RUN is refused unless it asks for `--security=insecure`. As
//! with seccompiler's architecture check, a 32-bit program (i386 on x86_64, arm on
//! aarch64) is killed at its first system call: moby's profile allows those ABIs, ours
//! does not.
//!
//! A program of another architecture run through a binfmt_misc emulator (QEMU user mode,
//! `--platform linux/arm64` on an amd64 host) makes its system calls through the emulator,
//! a 64-bit program of the host, so this filter applies to them as it stands, as Docker's
//! profile does to QEMU under BuildKit; the build checks before any step that such an
//! emulator is registered (`crate::sandbox::binfmt`).

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod filter;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod profile;

use seccompiler::BpfProgram;

use super::protocol::Failure;

/// Why the filter could not be made or installed.
#[derive(Debug, thiserror::Error)]
pub(super) enum SeccompError {
    /// No syscall table here.
    #[cfg_attr(
        any(target_arch = "x86_64", target_arch = "aarch64"),
        expect(dead_code, reason = "only other architectures have no profile")
    )]
    #[error("build the seccomp filter: no profile for the {0} architecture")]
    Architecture(&'static str),
    /// seccompiler refused the rules.
    #[error("build the seccomp filter")]
    Build(#[source] seccompiler::BackendError),
    /// The kernel refused the filter.
    #[error("install the seccomp filter")]
    Install(#[source] seccompiler::Error),
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(super) use filter::{no_network, no_other_processes, programs};

/// The programs to install: none exist for this architecture.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(super) fn programs() -> Result<Vec<BpfProgram>, SeccompError> {
    Err(SeccompError::Architecture(std::env::consts::ARCH))
}

/// The filter keeping a command off other processes: none for this architecture.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(super) fn no_other_processes() -> Result<BpfProgram, SeccompError> {
    Err(SeccompError::Architecture(std::env::consts::ARCH))
}

/// The filter standing in for an empty network namespace: none for this architecture.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(super) fn no_network() -> Result<BpfProgram, SeccompError> {
    Err(SeccompError::Architecture(std::env::consts::ARCH))
}

/// The failure init reports: the error with its cause.
pub(super) fn failure(e: SeccompError) -> Failure {
    let cause = std::error::Error::source(&e).map(ToString::to_string);
    let hint = match e {
        SeccompError::Architecture(_) => {
            Some("RUN --security=insecure runs without one".to_string())
        }
        _ => None,
    };
    let message = cause.or(hint).unwrap_or_default();
    Failure::setup(e.to_string(), message)
}

/// Install `programs` on this thread, after setting `no_new_privs` (which a process
/// without CAP_SYS_ADMIN needs for seccomp, and which keeps set-user-id programs from
/// gaining what the filter denies).
pub(super) fn install(programs: &[BpfProgram]) -> Result<(), SeccompError> {
    for program in programs {
        seccompiler::apply_filter(program).map_err(SeccompError::Install)?;
    }
    Ok(())
}
