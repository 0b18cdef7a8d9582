//! What running a command in a sandbox, or entering the build namespace, can fail with.
//!
//! A command that ran and exited non-zero (or was killed) is not an error: it is an
//! [`ExitStatus`](super::ExitStatus). Errors are the cases where the command never ran the
//! way the step asked.

use std::path::PathBuf;

/// A failure to set up or start a sandboxed command.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// This platform has no sandbox (only Linux has one).
    #[error("running commands is not supported on this platform: {0}")]
    Unsupported(&'static str),
    /// The command line is empty.
    #[error("no command given")]
    NoCommand,
    /// The command was not found (exit code 127).
    #[error("exec {command:?}: executable file not found in $PATH")]
    CommandNotFound {
        /// The command as given (`args[0]`).
        command: String,
    },
    /// The command was found but could not be executed (exit code 126).
    #[error("exec {command:?}: {reason}")]
    NotExecutable {
        /// The command as given.
        command: String,
        /// Why (`permission denied`, `exec format error`).
        reason: String,
    },
    /// The working directory exists and is not a directory.
    #[error("working directory {cwd} is not a directory")]
    CwdNotDirectory {
        /// The working directory as the image sees it.
        cwd: String,
    },
    /// `USER name` names no entry of the image's `/etc/passwd`.
    #[error("unable to find user {user}: no matching entries in passwd file")]
    UnknownUser {
        /// The user as written.
        user: String,
    },
    /// `USER x:group` names no entry of the image's `/etc/group`.
    #[error("unable to find group {group}: no matching entries in group file")]
    UnknownGroup {
        /// The group as written.
        group: String,
    },
    /// A numeric uid or gid beyond what runc accepts.
    #[error("uids and gids must be in range 0-2147483647")]
    IdOutOfRange,
    /// The user or group exists in the image but the build namespace cannot represent it
    /// (only a single id is mapped).
    #[error("cannot run as {what} {id}: {hint}")]
    NotMapped {
        /// `uid` or `gid`.
        what: &'static str,
        /// The id inside the image.
        id: u32,
        /// What to do about it.
        hint: String,
    },
    /// A step of setting up the sandbox failed (a mount, a namespace, pivot_root ...).
    #[error("sandbox: {action}: {message}")]
    Setup {
        /// What was being done (`mount /proc`).
        action: String,
        /// The system's answer.
        message: String,
    },
    /// The run was interrupted (Ctrl-C): its processes were killed.
    #[error("interrupted")]
    Interrupted,
    /// The sandbox helper process could not be started or talked to.
    #[error("sandbox helper: {action}")]
    Helper {
        /// What was being done.
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The sandbox helper ended without reporting how the command ended.
    #[error("sandbox helper ended unexpectedly ({0})")]
    HelperDied(String),
    /// Entering the build user namespace failed.
    #[error("enter the build namespace: {action}")]
    Namespace {
        /// What was being done (`unshare user namespace`).
        action: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The build's private network (`--network=default`) could not be made.
    #[error("set up the default network of RUN")]
    Network(#[source] std::sync::Arc<dyn std::error::Error + Send + Sync>),
    /// A file the sandbox needs could not be read or written.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl SandboxError {
    /// The exit code a shell would give for this failure (127 not found, 126 not
    /// executable), when there is one.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            SandboxError::CommandNotFound { .. } => Some(127),
            SandboxError::NotExecutable { .. } => Some(126),
            _ => None,
        }
    }
}

/// Result with [`SandboxError`].
pub type Result<T, E = SandboxError> = std::result::Result<T, E>;
