//! What a command shares with builder's caller besides files, taken away as runc does: the
//! session (and with it the controlling terminal, through which `TIOCSTI` could type
//! commands into the caller's shell) and the session keyring (which holds the caller's
//! keys). Init calls [`detach`] first thing.

use std::io;

use nix::libc;

use super::protocol::Failure;

/// `KEYCTL_JOIN_SESSION_KEYRING`.
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;

/// Start a new session (no controlling terminal; the command's output reaches the user
/// only through builder's pipes) and join a new anonymous session keyring.
pub(super) fn detach() -> Result<(), Failure> {
    rustix::process::setsid().map_err(|e| Failure::setup("start a new session", e))?;
    join_new_keyring().map_err(|e| Failure::setup("join a new session keyring", e))
}

/// [`detach`] where a seccomp filter may refuse `keyctl` (chroot isolation inside a
/// container, whose runtime's profile refuses it): a keyring the process cannot reach
/// need not be left.
pub(super) fn detach_where_allowed() -> Result<(), Failure> {
    rustix::process::setsid().map_err(|e| Failure::setup("start a new session", e))?;
    match join_new_keyring() {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => Ok(()),
        r => r.map_err(|e| Failure::setup("join a new session keyring", e)),
    }
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)`: a fresh anonymous keyring. A kernel
/// without keys (`ENOSYS`) has nothing to share.
fn join_new_keyring() -> io::Result<()> {
    let none: *const libc::c_char = std::ptr::null();
    // SAFETY: a NULL name asks for an anonymous keyring; no memory is written.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, none) };
    if rc >= 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ENOSYS) => Ok(()),
        _ => Err(err),
    }
}
