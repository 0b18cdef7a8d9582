//! The sandbox on systems without Linux namespaces: every run fails with
//! [`SandboxError::Unsupported`], so the rest of the builder still compiles and reports
//! clearly.

use super::error::{Result, SandboxError};
use super::{OutputSink, RunOutcome, RunSpec, Sandbox};

/// Stands in for the Linux sandbox; runs nothing.
#[derive(Debug, Clone, Default)]
pub struct LinuxSandbox;

impl LinuxSandbox {
    /// The stand-in.
    pub fn new() -> LinuxSandbox {
        LinuxSandbox
    }

    /// Nothing to expect: no RUN step can run here.
    pub fn expect_network(&self) {}

    /// Nothing to stop.
    pub fn stop_network(&self) {}
}

impl Sandbox for LinuxSandbox {
    fn run(&self, _spec: &RunSpec, _io: &mut dyn OutputSink) -> Result<RunOutcome> {
        Err(SandboxError::Unsupported("RUN needs Linux namespaces"))
    }
}

/// Nothing to do: there is no helper on this system.
pub fn helper_main() {}

/// Nothing to kill: nothing runs.
pub fn kill_running() {}

/// Nothing to interrupt.
pub fn interrupt_on_signals() {}

/// Never interrupted: nothing runs.
pub fn interrupted() -> bool {
    false
}
