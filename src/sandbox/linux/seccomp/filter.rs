//! Docker's profile (`profile.rs`) as seccompiler filters for this architecture: the
//! unconditional allow-list, the argument-conditioned rules, and the `clone3` filter.

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
        .map(|(name, nr)| (name.strip_prefix("SYS_").unwrap_or(name), nr))
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

/// The filter that stands in for an empty network namespace where none can be made
/// (`RUN --network=none` in chroot isolation): `socket` fails with `EAFNOSUPPORT` for
/// every family but Unix and netlink. (`io_uring`, whose rings could open sockets too, is
/// refused by the profile itself.)
pub(in crate::sandbox::linux) fn no_network() -> Result<BpfProgram, SeccompError> {
    use SeccompCmpArgLen::Dword;
    let cond = |family: u64| SeccompCondition::new(0, Dword, SeccompCmpOp::Ne, family);
    let other_family = SeccompRule::new(vec![
        cond(libc::AF_UNIX as u64).map_err(SeccompError::Build)?,
        cond(libc::AF_NETLINK as u64).map_err(SeccompError::Build)?,
    ])
    .map_err(SeccompError::Build)?;
    let sockets = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_socket, vec![other_family])]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EAFNOSUPPORT as u32),
        ARCH,
    )
    .map_err(SeccompError::Build)?;
    BpfProgram::try_from(sockets).map_err(SeccompError::Build)
}

/// The filter that keeps a chroot-isolated command off the processes it shares a pid
/// namespace with (the builder, its helper, whatever else runs beside them): `ptrace`,
/// `process_vm_readv` and `process_vm_writev` fail with `EPERM`. With a pid namespace of
/// its own a command cannot see those processes, so namespaced runs keep Docker's rule.
pub(in crate::sandbox::linux) fn no_other_processes() -> Result<BpfProgram, SeccompError> {
    let denied = [
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
    ];
    let filter = SeccompFilter::new(
        denied.into_iter().map(|nr| (nr, Vec::new())).collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        ARCH,
    )
    .map_err(SeccompError::Build)?;
    BpfProgram::try_from(filter).map_err(SeccompError::Build)
}

#[cfg(test)]
mod tests {
    use super::{no_network, no_other_processes, programs, unconditional};

    #[test]
    fn the_no_other_processes_filter_compiles() {
        assert!(!no_other_processes().unwrap().is_empty());
    }

    #[test]
    fn the_no_network_filter_compiles() {
        assert!(!no_network().unwrap().is_empty());
    }

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
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
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
