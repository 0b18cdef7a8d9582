//! The sandbox helper's other way to run a command, for [`Isolation::Chroot`]: where no
//! namespace can be made (see `sandbox::isolation`), the strongest isolation left.
//!
//! ```text
//! helper (child subreaper): place the stubs, /dev nodes and mounts, fork, wait, kill and reap
//!  │  every process left, take the stubs away, report
//!  └─ command: setsid, new keyring where allowed, chroot, cwd, capabilities (Docker's
//!     less CAP_SYS_CHROOT), ids, close-on-exec, no_new_privs + seccomp, exec
//! ```
//!
//! Without `CAP_SYS_CHROOT` the command cannot `chroot` again, which is how a root
//! process leaves a chroot; it holds no descriptor from outside; no other process's memory
//! is in its reach: a filter of its own refuses `ptrace` and `process_vm_readv/writev`
//! (which Docker's profile allows, a pid namespace hiding everything else), and the
//! builder, its waiting parent and the helper are non-dumpable besides, so attaching to
//! them would need `CAP_SYS_PTRACE`. With `RUN --network=none`, a second filter
//! refuses sockets other than Unix and netlink ones, since there is no network namespace
//! to leave out (`io_uring`, which could make them too, is refused by the profile).
//!
//! [`Isolation::Chroot`]: crate::sandbox::Isolation::Chroot

mod binds;
mod place;
mod reap;

use std::fs::File;
use std::sync::atomic::Ordering;

use nix::unistd::{fork, ForkResult};
use rustix::fs::{Mode, OFlags};
use rustix::thread::CapabilitySet;

use super::helper::{report, wait_for, watch_init, INIT};
use super::protocol::{Failure, Report, Request};
use super::{exec, fds, init, seccomp};
use crate::sandbox::{Network, Security};

/// Run `request` in chroot isolation, reporting on `status`; the helper's exit code.
pub(super) fn run(request: &Request, status: &mut File) -> i32 {
    // The helper runs outside the chroot with every capability of the caller, beside the
    // command: nothing of the same user may attach to it.
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    if let Err(e) = reap::become_subreaper() {
        report(
            status,
            &Report::Failed(Failure::setup("become a child subreaper", e)),
        );
        return 0;
    }
    let placed = match place::place(request) {
        Ok(p) => p,
        Err(f) => {
            report(status, &Report::Failed(f));
            return 0;
        }
    };
    report(status, &Report::Stubs(placed.stubs.clone()));
    // SAFETY: the helper has one thread; the child only runs setup code, then execs or
    // exits.
    let outcome = match unsafe { fork() } {
        Err(e) => Report::Failed(Failure::setup("fork", e)),
        Ok(ForkResult::Child) => command(request, status),
        Ok(ForkResult::Parent { child }) => {
            INIT.store(child.as_raw(), Ordering::SeqCst);
            watch_init();
            wait_for(child)
        }
    };
    if !reap::kill_descendants() {
        eprintln!("builder: some processes of the command could not be killed");
    }
    placed.restore();
    report(status, &outcome);
    0
}

/// The command's side of the fork; never returns.
fn command(request: &Request, status: &mut File) -> ! {
    match setup(request) {
        Ok(never) => match never {},
        Err(f) => {
            report(status, &Report::Failed(f.clone()));
            std::process::exit(f.exit_code())
        }
    }
}

enum Never {}

fn setup(request: &Request) -> Result<Never, Failure> {
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(|e| Failure::setup("set the parent death signal", e))?;
    rustix::process::umask(Mode::from_raw_mode(0o022));
    init::reset_signals();
    super::session::detach_where_allowed()?;
    let spec = &request.spec;
    let filters = match spec.security {
        Security::Sandbox => {
            let mut programs = seccomp::programs().map_err(seccomp::failure)?;
            programs.push(seccomp::no_other_processes().map_err(seccomp::failure)?);
            if spec.network == Network::None {
                programs.push(seccomp::no_network().map_err(seccomp::failure)?);
            }
            programs
        }
        Security::Insecure => Vec::new(),
    };
    enter_root(&spec.rootfs)?;
    exec::enter_cwd(&spec.cwd, &spec.user)?;
    exec::set_limits(&spec.ulimits)?;
    if spec.security == Security::Sandbox {
        exec::bound_capabilities(exec::docker_default() - CapabilitySet::SYS_CHROOT)?;
    }
    exec::switch_user(&spec.user)?;
    fds::cloexec_from(3).map_err(|e| Failure::setup("mark descriptors close-on-exec", e))?;
    seccomp::install(&filters).map_err(seccomp::failure)?;
    Err(exec::exec(&spec.args, &spec.env))
}

/// `chroot` into `rootfs` through a descriptor of it, and stand at its top.
fn enter_root(rootfs: &std::path::Path) -> Result<(), Failure> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let dir = rustix::fs::open(rootfs, flags, Mode::empty())
        .map_err(|e| Failure::setup("open the root file system", e))?;
    rustix::process::fchdir(&dir).map_err(|e| Failure::setup("enter the root file system", e))?;
    rustix::process::chroot(".").map_err(|e| Failure::setup("chroot", e))?;
    rustix::process::chdir("/").map_err(|e| Failure::setup("enter /", e))
}
