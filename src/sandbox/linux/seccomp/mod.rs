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
pub(super) use build::programs;

/// The programs to install: none exist for this architecture.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(super) fn programs() -> Result<Vec<BpfProgram>, SeccompError> {
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

/// The profile as seccompiler filters.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod build {
    use std::collections::BTreeMap;

    use nix::libc;
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };

    use super::profile::*;
    use super::SeccompError;

    #[cfg(target_arch = "x86_64")]
    const ARCH: TargetArch = TargetArch::x86_64;
    #[cfg(target_arch = "aarch64")]
    const ARCH: TargetArch = TargetArch::aarch64;

    fn condition(
        arg: u8,
        len: SeccompCmpArgLen,
        op: SeccompCmpOp,
        value: u64,
    ) -> Result<SeccompRule, SeccompError> {
        let cond = SeccompCondition::new(arg, len, op, value).map_err(SeccompError::Build)?;
        SeccompRule::new(vec![cond]).map_err(SeccompError::Build)
    }

    /// moby's rules that look at arguments, as seccompiler rules (any one matching allows).
    fn conditional_rules() -> Result<Vec<(libc::c_long, Vec<SeccompRule>)>, SeccompError> {
        use SeccompCmpArgLen::{Dword, Qword};
        let personality = PERSONALITIES
            .iter()
            .map(|&p| condition(0, Dword, SeccompCmpOp::Eq, p))
            .collect::<Result<Vec<_>, _>>()?;
        let socket = condition(0, Dword, SeccompCmpOp::Ne, AF_VSOCK)?;
        let clone = condition(0, Qword, SeccompCmpOp::MaskedEq(CLONE_NAMESPACE_FLAGS), 0)?;
        Ok(vec![
            (libc::SYS_personality, personality),
            (libc::SYS_socket, vec![socket]),
            (libc::SYS_clone, vec![clone]),
        ])
    }

    /// Every syscall the profile allows without condition on this architecture.
    pub(super) fn unconditional() -> impl Iterator<Item = Syscall> {
        ALLOWED
            .iter()
            .chain(ALLOWED_X86_64)
            .copied()
            .chain(std::iter::once(IO_PGETEVENTS))
    }

    /// The programs to install, in order: Docker's profile (default `EPERM`), then the
    /// `clone3` rule (`ENOSYS`), which must come last so that its errno wins.
    pub(in crate::sandbox::linux) fn programs() -> Result<Vec<BpfProgram>, SeccompError> {
        let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
            unconditional().map(|(_, nr)| (nr, Vec::new())).collect();
        for (nr, conditions) in conditional_rules()? {
            rules.insert(nr, conditions);
        }
        let eperm = SeccompAction::Errno(libc::EPERM as u32);
        let profile = SeccompFilter::new(rules, eperm, SeccompAction::Allow, ARCH)
            .map_err(SeccompError::Build)?;
        let clone3 = SeccompFilter::new(
            BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
            SeccompAction::Allow,
            SeccompAction::Errno(libc::ENOSYS as u32),
            ARCH,
        )
        .map_err(SeccompError::Build)?;
        [profile, clone3]
            .into_iter()
            .map(|f| BpfProgram::try_from(f).map_err(SeccompError::Build))
            .collect()
    }
}

#[cfg(test)]
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod tests {
    use super::build::{programs, unconditional};

    fn names() -> Vec<&'static str> {
        unconditional().map(|(name, _)| name).collect()
    }

    #[test]
    fn the_profile_compiles_for_this_architecture() {
        let programs = programs().unwrap();
        assert_eq!(programs.len(), 2);
        assert!(programs.iter().all(|p| !p.is_empty()));
    }

    #[test]
    fn names_and_numbers_are_unique() {
        let mut names = names();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a name is listed twice");
        let mut numbers: Vec<_> = unconditional().map(|(_, nr)| nr).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), count, "two names share a number");
    }

    #[test]
    fn what_needs_a_capability_we_never_grant_stays_out() {
        let allowed = names();
        for denied in [
            "mount",
            "umount2",
            "unshare",
            "setns",
            "bpf",
            "keyctl",
            "add_key",
            "request_key",
            "pivot_root",
            "kexec_load",
            "init_module",
            "reboot",
            "settimeofday",
            "clock_settime",
            "perf_event_open",
            "open_by_handle_at",
            "kcmp",
            "pidfd_getfd",
            "syslog",
            "sethostname",
            "clone",
            "clone3",
            "personality",
            "socket",
            "userfaultfd",
            "iopl",
            "ioperm",
            "acct",
            "swapon",
            "quotactl",
        ] {
            assert!(
                !allowed.contains(&denied),
                "{denied} is allowed without condition"
            );
        }
        for needed in [
            "read", "execve", "openat", "chroot", "ptrace", "setsid", "wait4",
        ] {
            assert!(allowed.contains(&needed), "{needed} is not allowed");
        }
    }
}
