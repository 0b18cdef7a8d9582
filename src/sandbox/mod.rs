//! The sandbox: run one command (a RUN step) on a prepared root file system, isolated the way
//! BuildKit's runc executor isolates it, with no daemon and no root.
//!
//! Pipeline stage: called by `solve` for every RUN, after the snapshotter has mounted the
//! step's root file system (an overlay merged directory) and before the diff reads the
//! upper directory. Input: a [`RunSpec`]; output: the command's output, streamed to an
//! [`OutputSink`], and a [`RunOutcome`] (exit status, and the mount stubs the sandbox created
//! in the root file system, which must never reach the layer).
//!
//! - [`userns`]: the build's user namespace, entered once at start (the caller is root in
//!   it; with `/etc/subuid` ranges and `newuidmap`, other ids are mapped too).
//! - [`Sandbox`]: the trait; [`LinuxSandbox`] the real one (fresh pid, mount, ipc, uts and
//!   net namespaces — for `--network=default` the build's private network, shared by its
//!   RUN steps and reached through a user-mode stack, for `--network=none` one with only
//!   `lo`, for `--network=host` none; a fresh /proc, a minimal /dev, stubs for
//!   /etc/resolv.conf and /etc/hosts, `pivot_root`, /proc and /sys masked and read-only as
//!   runc does, a session and keyring of its own, no inherited descriptors, Docker's
//!   default capabilities and seccomp profile, the user's ids; all of it but the
//!   namespaces and the session dropped for [`Security::Insecure`]); [`RecordingSandbox`]
//!   the fake for tests; on other systems every run
//!   fails with [`SandboxError::Unsupported`].
//! - [`isolation`]: namespaces, or, where none can be made, chroot isolation for real
//!   root ([`Isolation`]), chosen once per process.
//! - [`binfmt`]: whether the host runs a platform's programs, natively or through an
//!   emulator registered with binfmt_misc (QEMU user mode).
//! - [`user`]: `USER` resolution against the image's passwd and group files.
//! - [`stubs`]: the contents of the /etc/resolv.conf and /etc/hosts stubs.
//! - [`interrupt_on_signals`] / [`kill_running`]: Ctrl-C ends every running sandbox (the
//!   helper kills the pid namespace's init, so the namespace goes) and the runs return
//!   [`SandboxError::Interrupted`].
//!
//! The program's `main` must call [`helper_main`] first: the Linux sandbox re-executes
//! the program as its helper, so that no namespace work happens in a threaded process.
//!
//! Invariant: when [`Sandbox::run`] returns (success, failure or error), no process of the
//! command is left (the pid namespace is gone) and no mount it made is visible anywhere.

pub mod binfmt;
mod error;
mod fake;
pub mod isolation;
pub mod stubs;
mod ulimit;
pub mod user;
pub mod userns;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(not(target_os = "linux"))]
mod unsupported;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use error::{Result, SandboxError};
pub use fake::{RecordingSandbox, Scripted};
pub use isolation::Isolation;
#[cfg(target_os = "linux")]
pub use linux::{helper_main, interrupt_on_signals, interrupted, kill_running, LinuxSandbox};
pub use ulimit::Ulimit;
#[cfg(not(target_os = "linux"))]
pub use unsupported::{helper_main, interrupt_on_signals, interrupted, kill_running, LinuxSandbox};

/// The ids a command runs as (resolved by [`user::resolve`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// Supplementary group ids (`setgroups`), in passwd/group order.
    pub additional_gids: Vec<u32>,
}

impl User {
    /// Root: 0:0 and no supplementary groups.
    pub fn root() -> User {
        User {
            uid: 0,
            gid: 0,
            additional_gids: Vec::new(),
        }
    }
}

/// The network a command sees (`RUN --network=`): the one mode set of [`crate::domain`].
pub use crate::domain::NetworkMode as Network;

/// How much a command is confined (`RUN --security=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Security {
    /// Docker's defaults, as runc applies them: its capability set, its seccomp profile
    /// with `no_new_privs`, /proc and /sys masked and read-only where runc makes them so.
    #[default]
    Sandbox,
    /// BuildKit's insecure mode (`RUN --security=insecure`): every capability, no seccomp
    /// filter, nothing masked or read-only. Only for real root, and only when the build
    /// was allowed `security.insecure`.
    Insecure,
}

/// A host path made visible inside the sandbox (`RUN --mount=type=bind|cache|...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindMount {
    /// The host path (file or directory).
    pub source: PathBuf,
    /// When set, `source` is a path below this directory (a tree others may change, such
    /// as the build context), resolved inside it by the kernel when the sandbox mounts it
    /// (`openat2(RESOLVE_IN_ROOT)`), so neither a symlink nor a swap after the build looked
    /// at it can make the mount show anything outside the directory.
    #[serde(default)]
    pub source_root: Option<PathBuf>,
    /// Where it appears, as the image sees it (`/src`); created in the root file system if
    /// missing, and then reported as a stub.
    pub target: String,
    /// Mounted read-only.
    pub readonly: bool,
    /// When set, the sandbox makes this at the target instead of binding `source`
    /// (which is then unused).
    #[serde(default)]
    pub made: Option<Made>,
}

impl BindMount {
    /// A bind of the host path `source` at `target`.
    pub fn path(source: impl Into<PathBuf>, target: &str, readonly: bool) -> BindMount {
        BindMount {
            source: source.into(),
            source_root: None,
            target: target.to_string(),
            readonly,
            made: None,
        }
    }

    /// A fresh tmpfs (mode 1777) at `target`, of at most `size` bytes (`None`: the
    /// kernel's default, half the memory).
    pub fn tmpfs(target: &str, size: Option<u64>) -> BindMount {
        BindMount {
            made: Some(Made::Tmpfs { size }),
            ..BindMount::path(PathBuf::new(), target, false)
        }
    }

    /// A read-only file holding `data` at `target`, made on a tmpfs of the run's own, so
    /// that it is never written to a disk (a secret).
    pub fn file_in_memory(target: &str, data: Vec<u8>, mode: u32, owner: (u32, u32)) -> BindMount {
        BindMount {
            made: Some(Made::File {
                data,
                mode,
                uid: owner.0,
                gid: owner.1,
            }),
            ..BindMount::path(PathBuf::new(), target, true)
        }
    }
}

/// What the sandbox makes for a [`BindMount`] instead of binding a host path.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Made {
    /// A fresh tmpfs, mode 1777, of at most `size` bytes.
    Tmpfs {
        /// The size limit (`None`: the kernel's default).
        size: Option<u64>,
    },
    /// A file with these contents, mode and owner, on a tmpfs.
    File {
        /// The contents (a secret: never printed, see the `Debug` impl).
        data: Vec<u8>,
        /// Permission bits.
        mode: u32,
        /// Owner.
        uid: u32,
        /// Group.
        gid: u32,
    },
}

impl std::fmt::Debug for Made {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Made::Tmpfs { size } => f.debug_struct("Tmpfs").field("size", size).finish(),
            Made::File {
                data,
                mode,
                uid,
                gid,
            } => f
                .debug_struct("File")
                .field("data", &format_args!("<{} bytes>", data.len()))
                .field("mode", mode)
                .field("uid", uid)
                .field("gid", gid)
                .finish(),
        }
    }
}

/// The files bind-mounted over the image's /etc/resolv.conf and /etc/hosts for the run.
/// `None` leaves the image's own file in place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stubs {
    /// The contents of /etc/resolv.conf (see [`stubs::resolv_conf`]).
    pub resolv_conf: Option<String>,
    /// The contents of /etc/hosts (see [`stubs::hosts`]).
    pub hosts: Option<String>,
}

/// Everything a sandboxed run needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The root file system: an already mounted overlay merged directory (or a plain
    /// directory for the copy fallback). Becomes `/`.
    pub rootfs: PathBuf,
    /// The command and its arguments (`args[0]` is looked up in the `PATH` of `env`).
    pub args: Vec<String>,
    /// The environment, `KEY=VALUE`, exactly as the command gets it.
    pub env: Vec<String>,
    /// The working directory (absolute, as the image sees it); created, owned by the user,
    /// when missing.
    pub cwd: String,
    /// The ids to run as.
    pub user: User,
    /// The host name inside (BuildKit: `buildkitsandbox`).
    pub hostname: String,
    /// The network mode.
    pub network: Network,
    /// Extra bind mounts, in order.
    pub mounts: Vec<BindMount>,
    /// /etc/resolv.conf and /etc/hosts stubs.
    pub stubs: Stubs,
    /// The confinement.
    #[serde(default)]
    pub security: Security,
    /// Resource limits the command starts with (`--ulimit`).
    #[serde(default)]
    pub ulimits: Vec<Ulimit>,
    /// The size of /dev/shm in bytes (`--shm-size`; `None`: 64 MiB, Docker's default).
    #[serde(default)]
    pub shm_size: Option<u64>,
}

impl RunSpec {
    /// A spec with BuildKit's defaults: root, `/`, host name `buildkitsandbox`, default
    /// network, no mounts, no stubs, the normal sandbox.
    pub fn new(rootfs: impl Into<PathBuf>, args: Vec<String>) -> RunSpec {
        RunSpec {
            rootfs: rootfs.into(),
            args,
            env: Vec::new(),
            cwd: "/".to_string(),
            user: User::root(),
            hostname: "buildkitsandbox".to_string(),
            network: Network::Default,
            mounts: Vec::new(),
            stubs: Stubs::default(),
            security: Security::Sandbox,
            ulimits: Vec::new(),
            shm_size: None,
        }
    }
}

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The command's standard output.
    Stdout,
    /// The command's standard error.
    Stderr,
}

/// Where a command's output goes, chunk by chunk as it arrives (the caller prefixes lines
/// with the step, keeps a tail for error messages, ...).
pub trait OutputSink {
    /// Take one chunk (not necessarily whole lines).
    fn output(&mut self, stream: Stream, data: &[u8]);
}

/// An [`OutputSink`] that keeps everything (for tests and short commands).
#[derive(Debug, Default, Clone)]
pub struct CollectOutput {
    /// All of standard output.
    pub stdout: Vec<u8>,
    /// All of standard error.
    pub stderr: Vec<u8>,
}

impl OutputSink for CollectOutput {
    fn output(&mut self, stream: Stream, data: &[u8]) {
        match stream {
            Stream::Stdout => self.stdout.extend_from_slice(data),
            Stream::Stderr => self.stderr.extend_from_slice(data),
        }
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
}

impl ExitStatus {
    /// Exit code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Code(0)
    }

    /// The code a shell reports: the exit code, or 128 + the signal.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signal(s) => 128 + s,
        }
    }
}

impl std::fmt::Display for ExitStatus {
    /// `exit code: 2` (BuildKit's words) or `killed by signal 9 (SIGKILL)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ExitStatus::Code(c) => write!(f, "exit code: {c}"),
            ExitStatus::Signal(s) => match signal_name(s) {
                Some(name) => write!(f, "killed by signal {s} ({name})"),
                None => write!(f, "killed by signal {s}"),
            },
        }
    }
}

/// The conventional name of a signal number.
pub fn signal_name(signal: i32) -> Option<&'static str> {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    usize::try_from(signal)
        .ok()
        .and_then(|s| s.checked_sub(1))
        .and_then(|i| NAMES.get(i).copied())
}

/// What a finished run left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// How the command ended.
    pub status: ExitStatus,
    /// Paths (as the image sees them, `/etc/resolv.conf`) that the sandbox created in the
    /// root file system as mount points, parents first. Each is an empty file or directory
    /// after the run unless the command filled it; the diff leaves the empty ones out
    /// (BuildKit's mount stub cleaner).
    pub stubs: Vec<PathBuf>,
}

/// Runs one command in isolation on a root file system. Shared by the stages a build runs
/// in parallel, hence `Send + Sync`.
pub trait Sandbox: Send + Sync {
    /// Run `spec`, streaming its output to `io`, and wait for it (and everything it
    /// started) to end. A non-zero exit is an `Ok` outcome; an error means the command did
    /// not run as asked (not found, bad working directory, setup failure).
    fn run(&self, spec: &RunSpec, io: &mut dyn OutputSink) -> Result<RunOutcome>;

    /// A step of the build missed the cache, so commands may run soon: start in the
    /// background what they need and takes a while to make (the default network). A build
    /// whose steps are all cached never pays for it. Does nothing by default.
    fn prepare(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_says_code_or_signal() {
        assert_eq!(ExitStatus::Code(2).to_string(), "exit code: 2");
        assert_eq!(
            ExitStatus::Signal(9).to_string(),
            "killed by signal 9 (SIGKILL)"
        );
        assert_eq!(ExitStatus::Signal(64).to_string(), "killed by signal 64");
        assert_eq!(ExitStatus::Signal(15).shell_code(), 143);
        assert!(ExitStatus::Code(0).success());
        assert_eq!(signal_name(2), Some("SIGINT"));
        assert_eq!(signal_name(0), None);
    }

    #[test]
    fn spec_defaults_match_buildkit() {
        let spec = RunSpec::new("/r", vec!["true".into()]);
        assert_eq!(spec.cwd, "/");
        assert_eq!(spec.hostname, "buildkitsandbox");
        assert_eq!(spec.user, User::root());
        assert_eq!(spec.network, Network::Default);
    }
}
