//! The build namespace: the user and mount namespaces every command that writes images
//! (build, load, pull) runs in, entered once, early, before any thread exists.
//!
//! [`enter_build_namespace`] re-executes the program (`/proc/self/exe`, same argv, with an
//! environment marker) as a child that unshares a user and a mount namespace and waits on
//! a pipe while the parent writes its id maps (see `idmap.rs`: a range through
//! `newuidmap`/`newgidmap` when `/etc/subuid` and `/etc/subgid` give one, else a single
//! id, said once on stderr). The child returns from the call as root of that namespace and
//! goes on with the command; the parent forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to it,
//! waits, and exits with the child's status. The child dies with the parent
//! (`PR_SET_PDEATHSIG`).
//!
//! Real root takes the same path (decided so that RUN, overlay and unpacking behave the
//! same for everyone, as issue 4 asks): its namespace maps every id to itself. Mounts made
//! inside (overlays of running steps) live in the child's private mount namespace, so
//! they vanish with it, even after `kill -9`.
//!
//! Calling it again inside (the marker is set) just returns the [`NamespaceInfo`].

#[cfg(target_os = "linux")]
mod forward;
#[cfg(target_os = "linux")]
mod idmap;

use super::error::{Result, SandboxError};

/// The environment variable that marks a process as re-executed into (or inside) the
/// build namespace.
pub const MARKER: &str = "_BUILDER_USERNS";

/// How ids are mapped in the build namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// Only root (the caller) is mapped: chown to another id fails.
    Single,
    /// Root and ids `1..=N` are mapped (real root: `N` = 4294967294, every id).
    Range(u32),
}

/// What the build namespace is like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamespaceInfo {
    /// The caller is not real root.
    pub rootless: bool,
    /// The id mapping in force.
    pub mapping: Mapping,
}

impl NamespaceInfo {
    fn encode(&self) -> String {
        let who = if self.rootless { "rootless" } else { "root" };
        match self.mapping {
            Mapping::Single => format!("inside,{who},single"),
            Mapping::Range(n) => format!("inside,{who},range,{n}"),
        }
    }

    fn decode(text: &str) -> Option<NamespaceInfo> {
        let mut f = text.split(',');
        if f.next()? != "inside" {
            return None;
        }
        let rootless = match f.next()? {
            "rootless" => true,
            "root" => false,
            _ => return None,
        };
        let mapping = match (f.next()?, f.next()) {
            ("single", None) => Mapping::Single,
            ("range", Some(n)) => Mapping::Range(n.parse().ok()?),
            _ => return None,
        };
        Some(NamespaceInfo { rootless, mapping })
    }
}

/// The build namespace this process is in, if it entered one (the marker says so).
pub fn current() -> Option<NamespaceInfo> {
    std::env::var(MARKER)
        .ok()
        .and_then(|v| NamespaceInfo::decode(&v))
}

/// This process runs as real root: its build namespace says so (everyone is root inside
/// one), or, outside one, its effective uid is 0.
pub fn real_root() -> bool {
    match current() {
        Some(ns) => !ns.rootless,
        None => rustix::process::geteuid().is_root(),
    }
}

/// Whether this process runs under a seccomp filter (`Seccomp: 2` in its status), as a
/// container runtime's default profile puts it: Docker's and Podman's refuse `unshare` and
/// `mount`, so namespaces fail there whatever the host's sysctls allow.
pub fn under_seccomp_filter() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|status| seccomp_mode(&status) == Some(2))
        .unwrap_or(false)
}

/// The `Seccomp:` mode of a `/proc/PID/status` text.
fn seccomp_mode(status: &str) -> Option<u8> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Enter the build namespace (see the module docs). Returns in the re-executed child,
/// inside; the original process never returns from a successful call (it exits with the
/// child's status). Must be called before any thread is spawned.
#[cfg(target_os = "linux")]
pub fn enter_build_namespace() -> Result<NamespaceInfo> {
    match std::env::var(MARKER) {
        Ok(v) => match v.strip_prefix("pending:") {
            Some(fds) => forward::child_side(fds),
            None => NamespaceInfo::decode(&v).ok_or_else(|| SandboxError::Namespace {
                action: format!("read {MARKER}={v:?}"),
                source: std::io::Error::from(std::io::ErrorKind::InvalidData),
            }),
        },
        Err(_) => forward::parent_side(),
    }
}

/// Enter the build namespace: not available on this platform.
#[cfg(not(target_os = "linux"))]
pub fn enter_build_namespace() -> Result<NamespaceInfo> {
    Err(SandboxError::Unsupported("user namespaces need Linux"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seccomp_mode_is_read_from_the_status() {
        let status = "Name:\tbuilder\nNoNewPrivs:\t0\nSeccomp:\t2\nSeccomp_filters:\t1\n";
        assert_eq!(seccomp_mode(status), Some(2));
        assert_eq!(seccomp_mode("Name:\tx\n"), None);
    }

    #[test]
    fn marker_round_trips() {
        for info in [
            NamespaceInfo {
                rootless: true,
                mapping: Mapping::Single,
            },
            NamespaceInfo {
                rootless: false,
                mapping: Mapping::Range(4294967294),
            },
        ] {
            assert_eq!(NamespaceInfo::decode(&info.encode()), Some(info));
        }
        assert_eq!(NamespaceInfo::decode("pending:3:4"), None);
        assert_eq!(NamespaceInfo::decode("inside,root,range"), None);
    }
}
