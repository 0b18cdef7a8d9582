//! The test sandbox: records every [`RunSpec`] it is given and answers with a scripted
//! outcome (by default: exit 0, no output), so `solve` can be tested without namespaces.
//! A handler can also act on the root file system, standing in for the command.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Mutex;

use super::{ExitStatus, OutputSink, Result, RunOutcome, RunSpec, Sandbox, SandboxError, Stream};

type Handler = Box<dyn Fn(&RunSpec, &mut dyn OutputSink) -> Result<RunOutcome> + Send + Sync>;

/// A scripted answer: output to emit, then an outcome.
#[derive(Debug, Clone)]
pub struct Scripted {
    /// Written to standard output.
    pub stdout: Vec<u8>,
    /// Written to standard error.
    pub stderr: Vec<u8>,
    /// Returned.
    pub outcome: RunOutcome,
}

/// A [`Sandbox`] that runs nothing.
///
/// ```
/// use builder::sandbox::{CollectOutput, ExitStatus, RecordingSandbox, RunSpec, Sandbox};
/// let sandbox = RecordingSandbox::new();
/// sandbox.push_exit(ExitStatus::Code(3), b"boom\n");
/// let mut out = CollectOutput::default();
/// let spec = RunSpec::new("/rootfs", vec!["false".into()]);
/// let outcome = sandbox.run(&spec, &mut out).unwrap();
/// assert_eq!(outcome.status, ExitStatus::Code(3));
/// assert_eq!(out.stderr, b"boom\n");
/// assert_eq!(sandbox.runs()[0].args, ["false"]);
/// ```
#[derive(Default)]
pub struct RecordingSandbox {
    runs: Mutex<Vec<RunSpec>>,
    script: Mutex<VecDeque<Scripted>>,
    handler: Option<Handler>,
}

impl RecordingSandbox {
    /// A sandbox where every command succeeds silently.
    pub fn new() -> RecordingSandbox {
        RecordingSandbox::default()
    }

    /// A sandbox where `handler` plays every command (after the script is used up).
    pub fn with_handler(
        handler: impl Fn(&RunSpec, &mut dyn OutputSink) -> Result<RunOutcome> + Send + Sync + 'static,
    ) -> RecordingSandbox {
        RecordingSandbox {
            handler: Some(Box::new(handler)),
            ..RecordingSandbox::default()
        }
    }

    /// A sandbox where every command is played by `effect` on the root file system
    /// (`spec.rootfs`) and its arguments: it may write or remove files there as the
    /// command would, and returns the exit code (0: success).
    ///
    /// ```
    /// use builder::sandbox::{CollectOutput, RecordingSandbox, RunSpec, Sandbox};
    /// let root = tempfile::tempdir().unwrap();
    /// let sandbox = RecordingSandbox::with_effect(|root, args| {
    ///     std::fs::write(root.join("out"), args.join(" "))?;
    ///     Ok(0)
    /// });
    /// let spec = RunSpec::new(root.path(), vec!["make".into()]);
    /// let outcome = sandbox.run(&spec, &mut CollectOutput::default()).unwrap();
    /// assert!(outcome.status.success());
    /// assert_eq!(std::fs::read_to_string(root.path().join("out")).unwrap(), "make");
    /// ```
    pub fn with_effect(
        effect: impl Fn(&Path, &[String]) -> std::io::Result<i32> + Send + Sync + 'static,
    ) -> RecordingSandbox {
        RecordingSandbox::with_handler(move |spec, _io| {
            let code = effect(&spec.rootfs, &spec.args).map_err(|source| SandboxError::Io {
                action: "play the command in",
                path: spec.rootfs.clone(),
                source,
            })?;
            Ok(RunOutcome {
                status: ExitStatus::Code(code),
                stubs: Vec::new(),
            })
        })
    }

    /// Queue an answer for the next run.
    pub fn push(&self, answer: Scripted) {
        crate::domain::lock(&self.script).push_back(answer);
    }

    /// Queue an exit status with `stderr` output for the next run.
    pub fn push_exit(&self, status: ExitStatus, stderr: &[u8]) {
        self.push(Scripted {
            stdout: Vec::new(),
            stderr: stderr.to_vec(),
            outcome: RunOutcome {
                status,
                stubs: Vec::new(),
            },
        });
    }

    /// Every spec run so far, in order.
    pub fn runs(&self) -> Vec<RunSpec> {
        crate::domain::lock(&self.runs).clone()
    }
}

impl std::fmt::Debug for RecordingSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingSandbox")
            .field("runs", &crate::domain::lock(&self.runs).len())
            .field("handler", &self.handler.is_some())
            .finish()
    }
}

impl Sandbox for RecordingSandbox {
    fn run(&self, spec: &RunSpec, io: &mut dyn OutputSink) -> Result<RunOutcome> {
        crate::domain::lock(&self.runs).push(spec.clone());
        if let Some(answer) = crate::domain::lock(&self.script).pop_front() {
            io.output(Stream::Stdout, &answer.stdout);
            io.output(Stream::Stderr, &answer.stderr);
            return Ok(answer.outcome);
        }
        match &self.handler {
            Some(handler) => handler(spec, io),
            None => Ok(RunOutcome {
                status: ExitStatus::Code(0),
                stubs: Vec::new(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::CollectOutput;

    #[test]
    fn records_runs_and_defaults_to_success() {
        let sandbox = RecordingSandbox::new();
        let mut out = CollectOutput::default();
        let spec = RunSpec::new("/r", vec!["true".into()]);
        let outcome = sandbox.run(&spec, &mut out).unwrap();
        assert!(outcome.status.success());
        assert_eq!(sandbox.runs(), vec![spec]);
    }

    #[test]
    fn handler_plays_commands_after_the_script() {
        let sandbox = RecordingSandbox::with_handler(|spec, io| {
            io.output(Stream::Stdout, spec.args.join(" ").as_bytes());
            Ok(RunOutcome {
                status: ExitStatus::Signal(9),
                stubs: vec!["/etc/hosts".into()],
            })
        });
        sandbox.push_exit(ExitStatus::Code(1), b"");
        let mut out = CollectOutput::default();
        let spec = RunSpec::new("/r", vec!["echo".into(), "hi".into()]);
        assert_eq!(
            sandbox.run(&spec, &mut out).unwrap().status,
            ExitStatus::Code(1)
        );
        let second = sandbox.run(&spec, &mut out).unwrap();
        assert_eq!(second.status, ExitStatus::Signal(9));
        assert_eq!(out.stdout, b"echo hi");
    }
}
