//! The Linux sandbox, builder side: start the sandbox helper (this program again, marked
//! by an environment variable, so that no namespace work happens in a multi-threaded
//! process), hand it the request, stream the command's output to the sink, and read how
//! it ended.
//!
//! Process tree of one run:
//!
//! ```text
//! builder (build namespace)
//!  ├─ slirp4netns: the build's private network, one per build (see `network/`)
//!  └─ helper: unshare mount, pid, ipc, uts [, net] or join the build's network; waits;
//!     reports the exit status
//!      └─ pid 1: setsid, new keyring, mounts, pivot_root, masks, hostname, cwd,
//!         capabilities, ids, close-on-exec, no_new_privs + seccomp, exec(command)
//!          └─ whatever the command starts (killed with the pid namespace)
//! ```
//!
//! In chroot isolation ([`Isolation::Chroot`], where no namespace can be made) the helper
//! runs the command as `chroot/` says, and the network is the caller's.
//!
//! Both the helper and pid 1 die with their parent (`PR_SET_PDEATHSIG` = SIGKILL), so a
//! builder that dies takes every sandboxed process with it; [`kill_running`] does the same
//! on purpose (Ctrl-C handling).

mod chroot;
mod exec;
mod fds;
mod helper;
mod init;
mod masks;
mod mounts;
mod net;
mod network;
mod protocol;
mod pump;
mod seccomp;
mod session;

use std::io::Write;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

use rustix::io::{fcntl_setfd, FdFlags};
use rustix::pipe::{pipe_with, PipeFlags};

pub use helper::helper_main;
use network::BuildNetwork;
use protocol::{Request, HELPER_ENV};

use super::error::{Result, SandboxError};
use super::{stubs, Isolation, Network, OutputSink, RunOutcome, RunSpec, Sandbox};

/// Slots for the pids of running helpers (async-signal-safe registry for [`kill_running`]).
static RUNNING: [AtomicI32; 64] = [const { AtomicI32::new(0) }; 64];

/// Held by a chroot-isolated run with mounts (see [`LinuxSandbox::run`]).
static CHROOT_MOUNTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Set once an interrupting signal arrived (see [`interrupt_on_signals`]).
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// End every sandbox this process is running: each helper kills its pid namespace's init
/// (so the whole namespace goes) and reports. Safe to call from a signal handler.
pub fn kill_running() {
    for slot in &RUNNING {
        let pid = slot.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill is async-signal-safe and has no memory effects.
            unsafe { nix::libc::kill(pid, nix::libc::SIGTERM) };
        }
    }
}

/// Whether an interrupting signal arrived since [`interrupt_on_signals`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

extern "C" fn on_interrupt(_: nix::libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    kill_running();
}

/// Make SIGINT, SIGTERM and SIGHUP end the running sandboxes (their commands die, every
/// [`Sandbox::run`] in progress returns [`SandboxError::Interrupted`]) instead of killing
/// this process outright; the caller then cleans up and exits. Without this, the process
/// dies and its sandboxes die with it (parent death signal), just less tidily.
pub fn interrupt_on_signals() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let action = SigAction::new(
        SigHandler::Handler(on_interrupt),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores an atomic and calls kill.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

struct Registered(Option<usize>);

impl Registered {
    fn new(pid: u32) -> Registered {
        let pid = i32::try_from(pid).unwrap_or(0);
        let slot = RUNNING.iter().position(|s| {
            s.compare_exchange(0, pid, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        });
        Registered(slot)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(slot) = self.0.and_then(|i| RUNNING.get(i)) {
            slot.store(0, Ordering::SeqCst);
        }
    }
}

/// The real sandbox (Linux namespaces). The process must be root in its user namespace:
/// call [`enter_build_namespace`](crate::sandbox::userns::enter_build_namespace) first
/// unless running as real root.
///
/// Runs with the default network share one private network (see [`BuildNetwork`]), made
/// on the first such run or in the background once a build that expects it
/// ([`LinuxSandbox::expect_network`]) misses the cache, stopped by
/// [`LinuxSandbox::stop_network`] or when the last clone of the sandbox is dropped.
#[derive(Debug, Clone)]
pub struct LinuxSandbox {
    helper: PathBuf,
    network: Arc<BuildNetwork>,
    isolation: Isolation,
}

impl Default for LinuxSandbox {
    fn default() -> Self {
        LinuxSandbox::new()
    }
}

impl LinuxSandbox {
    /// A sandbox whose helper is this very program (`/proc/self/exe`): the program's
    /// `main` must call [`helper_main`] first thing.
    pub fn new() -> LinuxSandbox {
        LinuxSandbox::with_helper("/proc/self/exe")
    }

    /// A sandbox whose helper is another program that calls [`helper_main`] first thing.
    pub fn with_helper(helper: impl Into<PathBuf>) -> LinuxSandbox {
        LinuxSandbox {
            helper: helper.into(),
            network: Arc::new(BuildNetwork::new()),
            isolation: super::isolation::current(),
        }
    }

    /// The same sandbox with another isolation (the process's, [`super::isolation::current`],
    /// is the default).
    pub fn with_isolation(mut self, isolation: Isolation) -> LinuxSandbox {
        self.isolation = isolation;
        self
    }

    /// Say that the build has steps with the default network: the first step that
    /// misses the cache ([`Sandbox::prepare`]) starts making it in the background.
    pub fn expect_network(&self) {
        if self.isolation == Isolation::Namespaces {
            self.network.expect()
        }
    }

    /// Stop the default network's stack (no run may use it afterwards): the build calls
    /// this when its last step is done, so that the stack goes while the outputs are
    /// written.
    pub fn stop_network(&self) {
        self.network.stop()
    }

    /// The network namespace a run with `network` joins (`None`: the one `network`
    /// implies: the host's or a fresh one with only `lo`).
    fn netns(&self, network: Network) -> Result<Option<BorrowedFd<'_>>> {
        if network != Network::Default || self.isolation == Isolation::Chroot {
            return Ok(None);
        }
        self.network
            .netns()
            .map_err(|e| SandboxError::Network(e as Arc<dyn std::error::Error + Send + Sync>))
    }
}

fn helper_err(action: &'static str) -> impl FnOnce(std::io::Error) -> SandboxError {
    move |source| SandboxError::Helper { action, source }
}

fn write_stub(dir: &Path, name: &str, text: &Option<String>) -> Result<Option<PathBuf>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|source| SandboxError::Io {
        action: "write stub",
        path: path.clone(),
        source,
    })?;
    Ok(Some(path))
}

impl Sandbox for LinuxSandbox {
    fn prepare(&self) {
        if self.isolation == Isolation::Namespaces {
            self.network.start();
        }
    }

    fn run(&self, spec: &RunSpec, io: &mut dyn OutputSink) -> Result<RunOutcome> {
        check_spec(spec)?;
        // Mounts move their sources into the root in chroot isolation: one such run at a
        // time, so that a cache two steps share is never in two roots at once.
        let _one_at_a_time = (self.isolation == Isolation::Chroot && !spec.mounts.is_empty())
            .then(|| CHROOT_MOUNTS.lock().unwrap_or_else(|e| e.into_inner()));
        let tmp = tempfile::Builder::new()
            .prefix("builder-run-")
            .tempdir()
            .map_err(|source| SandboxError::Io {
                action: "create temporary directory in",
                path: std::env::temp_dir(),
                source,
            })?;
        let netns = self.netns(spec.network)?;
        let request = encode_request(spec, tmp.path(), netns, self.isolation)?;

        let pipe =
            || pipe_with(PipeFlags::CLOEXEC).map_err(|e| helper_err("make a pipe")(e.into()));
        let (req_r, req_w) = pipe()?;
        let (status_r, status_w) = pipe()?;
        let mut child = self.spawn_helper(&req_r, &status_w, netns)?;
        let registered = Registered::new(child.id());
        drop((req_r, status_w));
        // The helper reads the whole request before anything else; a helper that died
        // early shows up below as a missing report.
        let _ = std::fs::File::from(req_w).write_all(&request);

        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let status_text = pump::pump(stdout, stderr, status_r, io);
        let helper_status = child.wait().map_err(helper_err("wait"))?;
        drop(registered);
        drop(tmp);
        let status_text = status_text.map_err(helper_err("read output"))?;
        if interrupted() {
            return Err(SandboxError::Interrupted);
        }
        match protocol::conclude(&status_text) {
            Ok((status, stubs)) => Ok(RunOutcome { status, stubs }),
            Err(SandboxError::HelperDied(why)) => Err(SandboxError::HelperDied(format!(
                "{why}; helper {helper_status}"
            ))),
            Err(e) => Err(e),
        }
    }
}

impl LinuxSandbox {
    /// Starts the helper in its own process group with an empty environment, the request
    /// pipe's read end `req_r`, the report pipe's write end `status_w` and the network
    /// namespace `netns` as its only descriptors besides stdio; it dies with this process.
    fn spawn_helper(
        &self,
        req_r: &OwnedFd,
        status_w: &OwnedFd,
        netns: Option<BorrowedFd<'_>>,
    ) -> Result<Child> {
        let keep = [
            req_r.as_raw_fd(),
            status_w.as_raw_fd(),
            netns.map_or(-1, |fd| fd.as_raw_fd()),
        ];
        let mut cmd = Command::new(&self.helper);
        cmd.env_clear()
            .env(HELPER_ENV, format!("{},{}", keep[0], keep[1]))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: only async-signal-safe system calls, no allocation.
        unsafe {
            cmd.pre_exec(move || {
                rustix::process::set_parent_process_death_signal(Some(
                    rustix::process::Signal::KILL,
                ))?;
                // Only the protocol pipes (and stdio) reach the helper: not what this
                // process inherited without close-on-exec.
                fds::cloexec_from(3)?;
                for fd in keep.into_iter().filter(|&fd| fd >= 0) {
                    fcntl_setfd(BorrowedFd::borrow_raw(fd), FdFlags::empty())?;
                }
                Ok(())
            });
        }
        cmd.spawn().map_err(helper_err("start"))
    }
}

/// Refuses a run without a command or whose root file system is not a directory.
fn check_spec(spec: &RunSpec) -> Result<()> {
    if spec.args.is_empty() {
        return Err(SandboxError::NoCommand);
    }
    if !spec.rootfs.is_dir() {
        return Err(SandboxError::Io {
            action: "open root file system",
            path: spec.rootfs.clone(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    Ok(())
}

/// The request for the helper, encoded: the spec, with the `resolv.conf` (pointed at the
/// DNS forwarder when joining the build's network `netns`; the host's as is in chroot
/// isolation, whose network is the host's) and `hosts` stubs written into the directory
/// `tmp`.
fn encode_request(
    spec: &RunSpec,
    tmp: &Path,
    netns: Option<BorrowedFd<'_>>,
    isolation: Isolation,
) -> Result<Vec<u8>> {
    let resolv_conf = match (&spec.stubs.resolv_conf, netns) {
        (Some(_), _) if isolation == Isolation::Chroot => Some(stubs::resolv_conf(
            &stubs::host_resolv_conf(Network::Host),
            Network::Host,
        )),
        (Some(text), Some(_)) => Some(stubs::through_forwarder(text, network::DNS_FORWARDER)),
        (text, _) => text.clone(),
    };
    let request = Request {
        spec: spec.clone(),
        resolv_conf: write_stub(tmp, "resolv.conf", &resolv_conf)?,
        hosts: write_stub(tmp, "hosts", &spec.stubs.hosts)?,
        netns: netns.map(|fd| fd.as_raw_fd()),
        scratch: Some(tmp.to_path_buf()),
        isolation,
    };
    serde_json::to_vec(&request).map_err(|e| SandboxError::Helper {
        action: "encode the request",
        source: std::io::Error::other(e),
    })
}
