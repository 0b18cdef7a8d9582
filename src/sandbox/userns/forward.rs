//! The two sides of entering the build namespace: the original process (re-executes
//! itself, installs the id maps, forwards signals, exits like the child) and the
//! re-executed child (unshares, waits for its maps, goes on inside).

use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use rustix::io::{fcntl_setfd, FdFlags};
use rustix::mount::MountPropagationFlags;
use rustix::pipe::{pipe_with, PipeFlags};
use rustix::thread::UnshareFlags;

use super::{idmap, NamespaceInfo, MARKER};
use crate::sandbox::error::{Result, SandboxError};

/// The re-executed child's pid, for the signal handler (0: none yet).
static CHILD: AtomicI32 = AtomicI32::new(0);

/// Signals the parent passes on when another process sends them (a terminal's Ctrl-C
/// reaches the child directly: both are in the foreground process group).
const FORWARDED: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

fn ns_err(action: impl Into<String>) -> impl FnOnce(io::Error) -> SandboxError {
    let action = action.into();
    move |source| SandboxError::Namespace { action, source }
}

/// The original process: re-execute into a new user namespace, map ids, wait, exit.
pub(super) fn parent_side() -> Result<NamespaceInfo> {
    let euid = rustix::process::geteuid().as_raw();
    // Root's child may fall back to chroot isolation, whose commands run as root beside
    // this waiting process: none of them may attach to it.
    if euid == 0 {
        let _ =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    }
    let plan = map_plan(euid);

    let (ready_r, ready_w) =
        pipe_with(PipeFlags::CLOEXEC).map_err(|e| ns_err("make a pipe")(e.into()))?;
    let (go_r, go_w) =
        pipe_with(PipeFlags::CLOEXEC).map_err(|e| ns_err("make a pipe")(e.into()))?;
    let mut child = spawn_child(&go_r, &ready_w)?;
    drop((ready_w, go_r));
    CHILD.store(i32::try_from(child.id()).unwrap_or(0), Ordering::SeqCst);
    install_forwarding();

    // The child unshares, then says so; EOF means it failed (and said why).
    let mut byte = [0u8; 1];
    let mut ready = fs::File::from(ready_r);
    let unshared = matches!(ready.read(&mut byte), Ok(1));
    if unshared {
        map_ids(&mut child, &plan, euid, go_w)?;
    } else {
        drop(go_w);
    }
    let status = child
        .wait()
        .map_err(ns_err("wait for the namespace child"))?;
    exit_like(status)
}

/// How to map ids for this user (effective uid `euid`): from `/etc/passwd`,
/// `/etc/subuid`, `/etc/subgid` and the `newuidmap`/`newgidmap` tools on `PATH`.
fn map_plan(euid: u32) -> idmap::Plan {
    let ids = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    let passwd = fs::read_to_string("/etc/passwd").ok();
    let subuid = fs::read_to_string("/etc/subuid").ok();
    let subgid = fs::read_to_string("/etc/subgid").ok();
    let tools = idmap::find_tools(std::env::var("PATH").ok().as_deref());
    idmap::plan(
        euid,
        ids,
        passwd.as_deref(),
        (subuid.as_deref(), subgid.as_deref()),
        tools,
    )
}

/// Re-executes this program with the same arguments, marked to take the child side with
/// the pipe ends `go_r` and `ready_w` (its only inherited descriptors besides those open
/// without close-on-exec); it dies with this process and refuses to start if this
/// process is already gone.
fn spawn_child(go_r: &OwnedFd, ready_w: &OwnedFd) -> Result<Child> {
    let keep = [go_r.as_raw_fd(), ready_w.as_raw_fd()];
    let parent = rustix::process::getpid();
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "builder".into());
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg0(arg0)
        .args(args)
        .env(MARKER, format!("pending:{}:{}", keep[0], keep[1]));
    // SAFETY: the closure only makes async-signal-safe system calls (prctl, getppid,
    // fcntl) and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            if rustix::process::getppid() != Some(parent) {
                return Err(io::Error::other("the parent exited"));
            }
            for fd in keep {
                fcntl_setfd(BorrowedFd::borrow_raw(fd), FdFlags::empty())?;
            }
            Ok(())
        });
    }
    cmd.spawn()
        .map_err(ns_err("re-execute into a user namespace"))
}

/// Installs the id maps of `plan` for the child that has unshared, then sends it the
/// namespace's description on `go_w`; when mapping fails, kills the child.
fn map_ids(child: &mut Child, plan: &idmap::Plan, euid: u32, go_w: OwnedFd) -> Result<()> {
    match idmap::install(child.id(), plan) {
        Ok((mapping, warning)) => {
            if let Some(w) = warning {
                eprintln!("{w}");
            }
            let info = NamespaceInfo {
                rootless: euid != 0,
                mapping,
            };
            let _ = fs::File::from(go_w).write_all(info.encode().as_bytes());
            Ok(())
        }
        Err(message) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(SandboxError::Namespace {
                action: "map ids".into(),
                source: io::Error::other(message),
            })
        }
    }
}

/// The re-executed child: unshare, let the parent map ids, continue inside.
pub(super) fn child_side(fds: &str) -> Result<NamespaceInfo> {
    let bad = || SandboxError::Namespace {
        action: format!("read {MARKER}"),
        source: io::Error::from(io::ErrorKind::InvalidData),
    };
    let (go, ready) = fds.split_once(':').ok_or_else(bad)?;
    let go: i32 = go.parse().map_err(|_| bad())?;
    let ready: i32 = ready.parse().map_err(|_| bad())?;
    for fd in [go, ready] {
        // SAFETY: fstat on a raw descriptor number has no memory effects.
        let st = rustix::fs::fstat(unsafe { BorrowedFd::borrow_raw(fd) }).map_err(|_| bad())?;
        if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::Fifo {
            return Err(bad());
        }
    }
    // SAFETY: both are pipe ends the parent left open for this process alone.
    let (go, ready) = unsafe { (OwnedFd::from_raw_fd(go), OwnedFd::from_raw_fd(ready)) };
    std::env::remove_var(MARKER);

    // SAFETY: no FILES flag; this process has a single thread at this point.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWUSER | UnshareFlags::NEWNS) }
        .map_err(|e| {
            let hint = if e == rustix::io::Errno::PERM && super::under_seccomp_filter() {
                " (refused by this process's seccomp filter, as a container runtime's default \
                 profile refuses unshare)"
            } else if e == rustix::io::Errno::PERM || e == rustix::io::Errno::NOSPC {
                " (user namespaces are disabled here: see sysctl user.max_user_namespaces and \
                 kernel.apparmor_restrict_unprivileged_userns)"
            } else {
                ""
            };
            ns_err(format!("unshare user and mount namespaces{hint}"))(e.into())
        })?;
    fs::File::from(ready)
        .write_all(b"u")
        .map_err(ns_err("tell the parent"))?;
    let mut text = String::new();
    fs::File::from(go)
        .read_to_string(&mut text)
        .map_err(ns_err("wait for id maps"))?;
    let info = NamespaceInfo::decode(&text).ok_or_else(|| SandboxError::Namespace {
        action: "wait for id maps".into(),
        source: io::Error::other("the parent could not map ids"),
    })?;
    // Nothing mounted from now on may propagate back to the host.
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
    )
    .map_err(|e| ns_err("make mounts private")(e.into()))?;
    std::env::set_var(MARKER, info.encode());
    Ok(info)
}

extern "C" fn forward(
    sig: nix::libc::c_int,
    info: *mut nix::libc::siginfo_t,
    _: *mut nix::libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo with SA_SIGINFO.
    let code = if info.is_null() {
        0
    } else {
        unsafe { (*info).si_code }
    };
    // SI_USER, SI_QUEUE, SI_TKILL ... are <= 0: sent by a process, not by the terminal.
    let pid = CHILD.load(Ordering::SeqCst);
    if code <= 0 && pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { nix::libc::kill(pid, sig) };
    }
}

fn install_forwarding() {
    let action = SigAction::new(
        SigHandler::SigAction(forward),
        SaFlags::SA_SIGINFO | SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in FORWARDED {
        // SAFETY: the handler only reads an atomic and calls kill.
        let _ = unsafe { signal::sigaction(sig, &action) };
    }
}

/// Exit the way the child did: its code, or the same signal.
fn exit_like(status: std::process::ExitStatus) -> ! {
    if let Some(code) = status.code() {
        std::process::exit(code);
    }
    if let Some(sig) = status.signal() {
        if let Ok(signal) = Signal::try_from(sig) {
            let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
            // SAFETY: restoring the default disposition.
            let _ = unsafe { signal::sigaction(signal, &default) };
            let _ = signal::raise(signal);
        }
        std::process::exit(128 + sig);
    }
    std::process::exit(1)
}
