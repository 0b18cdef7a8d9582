//! The sandbox helper: this program re-executed by the builder, single-threaded. It reads
//! the request, unshares the mount, pid, ipc and uts namespaces (and net for
//! `--network=none`), forks the new pid namespace's init (see `init.rs`), waits for it and
//! reports how it ended. When init exits, the kernel kills everything else in the pid
//! namespace; when the helper exits, the mount namespace and every mount in it are gone.
//! In chroot isolation it runs the command the way `chroot.rs` says instead.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use rustix::io::{fcntl_setfd, FdFlags};
use rustix::mount::MountPropagationFlags;
use rustix::thread::UnshareFlags;

use super::protocol::{Failure, Report, Request, HELPER_ENV};
use super::{chroot, init, net, network};
use crate::sandbox::{Isolation, Network};

/// Act as the sandbox helper when this process was started as one (never returns then);
/// otherwise return at once. Call it first thing in `main`, before any thread exists.
pub fn helper_main() {
    let Ok(fds) = std::env::var(HELPER_ENV) else {
        return;
    };
    std::process::exit(run(&fds));
}

fn parse_fds(fds: &str) -> Option<(OwnedFd, File)> {
    // Nothing else this process was given may reach init or the command.
    super::fds::cloexec_from(3).ok()?;
    let (req, status) = fds.split_once(',')?;
    let req: i32 = req.parse().ok()?;
    let status: i32 = status.parse().ok()?;
    for fd in [req, status] {
        // SAFETY: fstat on a descriptor number has no memory effects.
        let st = rustix::fs::fstat(unsafe { BorrowedFd::borrow_raw(fd) }).ok()?;
        if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::Fifo {
            return None;
        }
    }
    // SAFETY: the builder passed these two pipe ends to this process alone.
    let (req, status) = unsafe { (OwnedFd::from_raw_fd(req), OwnedFd::from_raw_fd(status)) };
    // Init must not keep the status pipe across exec.
    fcntl_setfd(&status, FdFlags::CLOEXEC).ok()?;
    fcntl_setfd(&req, FdFlags::CLOEXEC).ok()?;
    Some((req, File::from(status)))
}

fn run(fds: &str) -> i32 {
    let Some((req, mut status)) = parse_fds(fds) else {
        eprintln!("builder: {HELPER_ENV} is set but names no sandbox pipes");
        return 2;
    };
    let mut text = Vec::new();
    if File::from(req).read_to_end(&mut text).is_err() {
        return 2;
    }
    let request: Request = match serde_json::from_slice(&text) {
        Ok(r) => r,
        Err(e) => {
            report(
                &mut status,
                &Report::Failed(Failure::setup("read the request", e)),
            );
            return 2;
        }
    };
    if request.isolation == Isolation::Chroot {
        return chroot::run(&request, &mut status);
    }
    if let Err(f) = unshare(&request) {
        report(&mut status, &Report::Failed(f));
        return 0;
    }
    // SAFETY: this process has one thread; the child only runs init code, which execs or
    // exits.
    match unsafe { fork() } {
        Err(e) => {
            report(&mut status, &Report::Failed(Failure::setup("fork", e)));
            0
        }
        Ok(ForkResult::Child) => init::run(&request, status),
        Ok(ForkResult::Parent { child }) => {
            INIT.store(child.as_raw(), Ordering::SeqCst);
            watch_init();
            // Once init is gone, so is every process of its namespace.
            report(&mut status, &wait_for(child));
            0
        }
    }
}

/// Make SIGTERM (the builder ending the run) kill the command.
pub(super) fn watch_init() {
    let action = SigAction::new(
        SigHandler::Handler(kill_init),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only reads an atomic and calls kill.
    let _ = unsafe { sigaction(Signal::SIGTERM, &action) };
}

/// Init's pid, for the SIGTERM handler.
pub(super) static INIT: AtomicI32 = AtomicI32::new(0);

extern "C" fn kill_init(_: nix::libc::c_int) {
    let pid = INIT.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe. Its process group too: in chroot isolation
        // nothing else goes with it.
        unsafe {
            nix::libc::kill(pid, nix::libc::SIGKILL);
            nix::libc::kill(-pid, nix::libc::SIGKILL);
        }
    }
}

/// Wait for init (or, in chroot isolation, the command) to end: how it ended.
pub(super) fn wait_for(child: nix::unistd::Pid) -> Report {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Report::Exited(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Report::Signaled(sig as i32),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Report::Failed(Failure::setup("wait", e)),
        }
    }
}

fn unshare(request: &Request) -> Result<(), Failure> {
    let mut flags =
        UnshareFlags::NEWNS | UnshareFlags::NEWPID | UnshareFlags::NEWIPC | UnshareFlags::NEWUTS;
    if request.spec.network == Network::None {
        flags |= UnshareFlags::NEWNET;
    }
    // SAFETY: no FILES flag; single-threaded.
    unsafe { rustix::thread::unshare_unsafe(flags) }.map_err(|e| {
        let hint = if e == rustix::io::Errno::PERM {
            " (not root in a user namespace: enter the build namespace first)"
        } else {
            ""
        };
        Failure::setup(format!("unshare namespaces{hint}"), e)
    })?;
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
    .map_err(|e| Failure::setup("make mounts private", e))?;
    if request.spec.network == Network::None {
        net::loopback_up().map_err(|e| Failure::setup("bring up lo", e))?;
    }
    network::enter(request.netns)?;
    Ok(())
}

/// Send one report; a builder that stopped listening is gone anyway.
pub(super) fn report(status: &mut File, r: &Report) {
    let _ = status.write_all(&r.line());
}
