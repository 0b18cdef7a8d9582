//! The default network of RUN (`--network=default`): one private network namespace per
//! build, with outbound access through a user-mode network stack (`slirp4netns`, see
//! `slirp.rs` for the choice), shared by every RUN of the build that uses the default
//! network (parallel stages included).
//!
//! Made once: in the background as soon as a step of a build that has such RUN steps misses
//! the cache ([`BuildNetwork::start`]; a fully cached build makes none), else on first use,
//! because a stack costs milliseconds to start and a RUN should not pay that each time;
//! each RUN's sandbox helper then only joins the namespace (`setns`), which costs
//! microseconds. What a RUN sees: `lo`, and `eth0` with a default route through the stack.
//! What it does not see: the host's loopback services (its own `lo` is a different one,
//! and the stack's gateway address does not lead to the host's), the host's abstract unix
//! sockets (they belong to a network namespace), the host's interfaces.
//!
//! When no stack program is on `PATH`, RUN steps share the host's network as they used to,
//! and the build says so once ([`fallback_warning`]). [`BuildNetwork::stop`] (once the
//! last step is done) or dropping the last handle stops the stack, and the namespace goes
//! with the last descriptor; a builder killed outright takes the stack with it (the
//! stack's exit pipe closes).

mod netns;
mod slirp;

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use super::protocol::Failure;

/// The stack program looked up on `PATH`, and the package that has it.
pub const STACK_PROGRAM: &str = "slirp4netns";

/// Where the default network's DNS forwarder listens inside the namespace.
pub const DNS_FORWARDER: &str = slirp::DNS_FORWARDER;

/// Why the build's network could not be made.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The network namespace could not be made.
    #[error("create the build's network namespace")]
    Namespace(#[source] std::io::Error),
    /// The stack did not start or did not come up.
    #[error("start {} for the build's network", .program.display())]
    Stack {
        /// The program.
        program: PathBuf,
        /// Why (with what it printed).
        #[source]
        source: std::io::Error,
    },
}

/// The build's network namespace and the stack attached to it.
#[derive(Debug)]
struct Attached {
    // Declared first, so dropped first: the stack goes before the namespace.
    stack: slirp::Slirp,
    netns: OwnedFd,
}

/// The private network RUN steps with the default network share: made at most once, on
/// first use or by [`BuildNetwork::start`]; stopped by [`BuildNetwork::stop`] or when the
/// last handle is dropped.
#[derive(Debug)]
pub struct BuildNetwork {
    /// The stack program, when found.
    program: Option<PathBuf>,
    state: OnceLock<Result<Option<Attached>, Arc<NetworkError>>>,
    /// The build has steps that will use the network ([`BuildNetwork::expect`]).
    expected: AtomicBool,
    /// The thread [`BuildNetwork::start`] started.
    starter: Mutex<Option<JoinHandle<()>>>,
}

impl BuildNetwork {
    /// A network not made yet, whose stack is looked up on this process's `PATH`.
    pub fn new() -> BuildNetwork {
        BuildNetwork::with_path(std::env::var_os("PATH").as_deref())
    }

    /// A network not made yet, whose stack is looked up on `path` (a `PATH` value).
    pub fn with_path(path: Option<&OsStr>) -> BuildNetwork {
        BuildNetwork {
            program: find_stack(path),
            state: OnceLock::new(),
            expected: AtomicBool::new(false),
            starter: Mutex::new(None),
        }
    }

    /// Say that the build has steps that will use the network: [`BuildNetwork::start`]
    /// then makes it.
    pub fn expect(&self) {
        self.expected.store(true, Ordering::SeqCst);
    }

    /// When the network is expected, make it on a thread of its own now (once), so that
    /// the first run finds it ready.
    pub fn start(self: &Arc<Self>) {
        if !self.expected.load(Ordering::SeqCst) || self.state.get().is_some() {
            return;
        }
        let mut starter = crate::domain::lock(&self.starter);
        if starter.is_some() {
            return;
        }
        let net = Arc::clone(self);
        *starter = std::thread::Builder::new()
            .name("network".into())
            .spawn(move || {
                let _ = net.netns();
            })
            .ok();
    }

    /// The namespace to join, made on first call (later calls wait for the first);
    /// `None` when there is no stack program and RUN steps share the host's network.
    pub fn netns(&self) -> Result<Option<BorrowedFd<'_>>, Arc<NetworkError>> {
        let state = self.state.get_or_init(|| self.make().map_err(Arc::new));
        match state {
            Ok(Some(attached)) => Ok(Some(attached.netns.as_fd())),
            Ok(None) => Ok(None),
            Err(e) => Err(Arc::clone(e)),
        }
    }

    /// Stop the stack, if it runs, once no run will use the network any more (it is
    /// reaped while the build goes on, and waited for when the last handle is dropped).
    pub fn stop(&self) {
        let starter = self.starter.lock().map(|mut s| s.take()).unwrap_or(None);
        if let Some(handle) = starter {
            let _ = handle.join();
        }
        if let Some(Ok(Some(attached))) = self.state.get() {
            attached.stack.stop();
        }
    }

    fn make(&self) -> Result<Option<Attached>, NetworkError> {
        let Some(program) = &self.program else {
            eprintln!("{}", fallback_warning());
            return Ok(None);
        };
        let netns = netns::create().map_err(NetworkError::Namespace)?;
        let stack =
            slirp::Slirp::start(program, netns.as_fd()).map_err(|source| NetworkError::Stack {
                program: program.clone(),
                source,
            })?;
        Ok(Some(Attached { stack, netns }))
    }
}

impl Default for BuildNetwork {
    fn default() -> Self {
        BuildNetwork::new()
    }
}

/// In the sandbox helper: join the network namespace the request names by descriptor, if
/// it names one, and close the descriptor, so that the command does not inherit it.
pub(super) fn enter(fd: Option<i32>) -> Result<(), Failure> {
    let Some(fd) = fd else {
        return Ok(());
    };
    // SAFETY: the builder passed this descriptor to the helper for this use alone.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    netns::join(fd.as_fd()).map_err(|e| Failure::setup("join the build's network namespace", e))
}

/// The warning a build gives once when RUN steps fall back to the host's network.
pub fn fallback_warning() -> String {
    format!(
        "warning: {STACK_PROGRAM} is not installed, so RUN steps with the default network \
         share the host's network (its 127.0.0.1 services included); install it \
         (apt-get install {STACK_PROGRAM}) for a private network, or pass --network=host \
         to keep the host's network on purpose"
    )
}

/// The stack program in the directories of `path` (a `PATH` value), if any.
pub fn find_stack(path: Option<&OsStr>) -> Option<PathBuf> {
    let path = path?;
    std::env::split_paths(path).find_map(|dir| {
        let candidate = dir.join(STACK_PROGRAM);
        let meta = std::fs::metadata(&candidate).ok()?;
        let executable = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111;
        (meta.is_file() && executable != 0 && dir.is_absolute()).then_some(candidate)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_stack_is_found_on_path_only() {
        let dir = tempfile::tempdir().unwrap();
        let empty = tempfile::tempdir().unwrap();
        let prog = dir.path().join(STACK_PROGRAM);
        std::fs::write(&prog, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path = std::env::join_paths([empty.path(), dir.path()]).unwrap();
        assert_eq!(find_stack(Some(&path)), None, "not executable");
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_stack(Some(&path)), Some(prog));
        assert_eq!(find_stack(Some(empty.path().as_os_str())), None);
        assert_eq!(find_stack(None), None);
    }

    #[test]
    fn only_an_expected_network_is_started_in_the_background() {
        let empty = tempfile::tempdir().unwrap();
        let net = Arc::new(BuildNetwork::with_path(Some(empty.path().as_os_str())));
        net.start();
        assert!(net.state.get().is_none(), "started without being expected");
        net.expect();
        net.start();
        net.start();
        net.stop();
        assert!(matches!(net.state.get(), Some(Ok(None))));
    }

    #[test]
    fn without_a_stack_runs_share_the_host_network() {
        let empty = tempfile::tempdir().unwrap();
        let net = BuildNetwork::with_path(Some(empty.path().as_os_str()));
        assert!(matches!(net.netns(), Ok(None)));
        assert!(fallback_warning().contains("apt-get install slirp4netns"));
    }
}
