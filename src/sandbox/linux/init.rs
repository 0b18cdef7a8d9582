//! Pid 1 of a sandbox, between `fork` and `exec`: leave the caller's session and keyring,
//! build the root (mounts, masked paths, stubs, `pivot_root`), set the host name, make the
//! working directory, bound the capabilities, take the user's ids, mark every inherited
//! descriptor close-on-exec, set `no_new_privs` and install the seccomp filter (the very
//! last step, so that nothing of init's own setup has to pass it), and exec the command,
//! which then *is* pid 1 (as with runc, so `echo $$` prints 1). Any failure is reported on
//! the status pipe and ends the process.
//!
//! With [`Security::Insecure`] the command keeps every capability and runs without
//! seccomp filter and `no_new_privs`, and nothing is masked or read-only.

use std::fs::File;

use super::helper::report;
use super::protocol::{Failure, Report, Request};
use super::{exec, fds, masks, mounts, seccomp, session};
use crate::sandbox::Security;

/// Run init; never returns.
pub(super) fn run(request: &Request, mut status: File) -> ! {
    match setup(request, &mut status) {
        Ok(never) => match never {},
        Err(f) => {
            report(&mut status, &Report::Failed(f.clone()));
            std::process::exit(f.exit_code())
        }
    }
}

enum Never {}

fn setup(request: &Request, status: &mut File) -> Result<Never, Failure> {
    // Die with the helper (outside this pid namespace, so getppid() cannot check it).
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(|e| Failure::setup("set the parent death signal", e))?;
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    reset_signals();
    session::detach()?;
    let spec = &request.spec;
    let filters = match spec.security {
        Security::Sandbox => seccomp::programs().map_err(seccomp::failure)?,
        Security::Insecure => Vec::new(),
    };
    let stubs = mounts::prepare(request)?;
    report(status, &Report::Stubs(stubs));
    mounts::pivot(&spec.rootfs)?;
    if spec.security == Security::Sandbox {
        masks::apply()?;
    }
    rustix::system::sethostname(spec.hostname.as_bytes())
        .map_err(|e| Failure::setup("set the host name", e))?;
    exec::enter_cwd(&spec.cwd, &spec.user)?;
    exec::set_limits(&spec.ulimits)?;
    if spec.security == Security::Sandbox {
        exec::bound_capabilities(exec::docker_default())?;
    }
    exec::switch_user(&spec.user)?;
    fds::cloexec_from(3).map_err(|e| Failure::setup("mark descriptors close-on-exec", e))?;
    seccomp::install(&filters).map_err(seccomp::failure)?;
    Err(exec::exec(&spec.args, &spec.env))
}

/// The command starts with every signal at its default and none blocked, whatever this
/// program (which ignores SIGPIPE) or its caller (`nohup`, a background job) did.
pub(super) fn reset_signals() {
    use nix::sys::signal::{
        sigaction, sigprocmask, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal,
    };
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in Signal::iterator() {
        if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
            // SAFETY: restoring default dispositions installs no handler.
            let _ = unsafe { sigaction(sig, &default) };
        }
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}
