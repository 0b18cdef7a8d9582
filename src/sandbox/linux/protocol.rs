//! What the builder and its sandbox helper say to each other: the request (the spec and
//! the stub files' host paths, as JSON on one pipe) and the reports (JSON lines on another:
//! the stubs created, a setup failure, how the command ended).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::sandbox::{ExitStatus, Isolation, RunSpec, SandboxError};

/// The environment variable that makes the program act as the sandbox helper; its value
/// is `REQUEST_FD,STATUS_FD`.
pub(crate) const HELPER_ENV: &str = "_BUILDER_SANDBOX_HELPER";

/// Everything the helper needs.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Request {
    pub spec: RunSpec,
    /// Host file to bind over /etc/resolv.conf.
    pub resolv_conf: Option<PathBuf>,
    /// Host file to bind over /etc/hosts.
    pub hosts: Option<PathBuf>,
    /// A descriptor, inherited by the helper, of the network namespace to join (the
    /// build's private network); `None`: the namespace `spec.network` implies.
    #[serde(default)]
    pub netns: Option<i32>,
    /// The builder's private directory for this run (outside the root file system): the
    /// sandbox mounts the tmpfs for in-memory files ([`crate::sandbox::Made::File`]) on a
    /// directory it makes there, in its own mount namespace.
    #[serde(default)]
    pub scratch: Option<PathBuf>,
    /// Namespaces, or chroot where none can be made.
    #[serde(default)]
    pub isolation: Isolation,
}

/// Why the command did not start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) enum Failure {
    NotFound { command: String },
    NotExecutable { command: String, reason: String },
    CwdNotDirectory { cwd: String },
    NotMapped { what: String, id: u32 },
    Setup { action: String, message: String },
}

impl Failure {
    /// A failed system call during setup.
    pub fn setup(action: impl Into<String>, err: impl std::fmt::Display) -> Failure {
        Failure::Setup {
            action: action.into(),
            message: err.to_string(),
        }
    }

    /// The exit code the sandbox's init exits with for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::NotFound { .. } => 127,
            Failure::NotExecutable { .. } => 126,
            _ => 1,
        }
    }

    pub fn into_error(self) -> SandboxError {
        match self {
            Failure::NotFound { command } => SandboxError::CommandNotFound { command },
            Failure::NotExecutable { command, reason } => {
                SandboxError::NotExecutable { command, reason }
            }
            Failure::CwdNotDirectory { cwd } => SandboxError::CwdNotDirectory { cwd },
            Failure::NotMapped { what, id } => SandboxError::NotMapped {
                what: if what == "gid" { "gid" } else { "uid" },
                id,
                hint: "the build namespace maps only your own user (give it a range in \
                       /etc/subuid and /etc/subgid and install newuidmap/newgidmap)"
                    .into(),
            },
            Failure::Setup { action, message } => SandboxError::Setup { action, message },
        }
    }
}

/// One line on the status pipe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) enum Report {
    /// Mount points created in the root file system (image paths).
    Stubs(Vec<String>),
    /// The command could not be started.
    Failed(Failure),
    /// The command exited.
    Exited(i32),
    /// The command was killed.
    Signaled(i32),
}

impl Report {
    pub fn line(&self) -> Vec<u8> {
        let mut text = serde_json::to_vec(self).unwrap_or_default();
        text.push(b'\n');
        text
    }
}

/// What the reports add up to.
pub(crate) fn conclude(text: &[u8]) -> Result<(ExitStatus, Vec<PathBuf>), SandboxError> {
    let mut stubs = Vec::new();
    let mut failure = None;
    let mut status = None;
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<Report>(line) {
            Ok(Report::Stubs(s)) => stubs.extend(s.into_iter().map(PathBuf::from)),
            Ok(Report::Failed(f)) => failure = failure.or(Some(f)),
            Ok(Report::Exited(c)) => status = Some(ExitStatus::Code(c)),
            Ok(Report::Signaled(s)) => status = Some(ExitStatus::Signal(s)),
            Err(e) => return Err(SandboxError::HelperDied(format!("bad report: {e}"))),
        }
    }
    if let Some(f) = failure {
        return Err(f.into_error());
    }
    match status {
        Some(status) => Ok((status, stubs)),
        None => Err(SandboxError::HelperDied("no exit status reported".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_conclude_to_status_and_stubs() {
        let mut text = Report::Stubs(vec!["/etc/hosts".into()]).line();
        text.extend(Report::Signaled(9).line());
        let (status, stubs) = conclude(&text).unwrap();
        assert_eq!(status, ExitStatus::Signal(9));
        assert_eq!(stubs, vec![PathBuf::from("/etc/hosts")]);
    }

    #[test]
    fn a_failure_wins_over_the_exit_code() {
        let mut text = Report::Failed(Failure::NotFound {
            command: "nosuch".into(),
        })
        .line();
        text.extend(Report::Exited(127).line());
        let err = conclude(&text).unwrap_err();
        assert_eq!(err.exit_code(), Some(127));
        assert!(err.to_string().contains("\"nosuch\""), "{err}");
        assert!(conclude(b"").is_err());
    }
}
