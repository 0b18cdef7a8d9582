//! RUN: executing a command in the stage's rootfs. The sandbox that runs it is being built
//! (`sandbox/`); until it lands, a RUN step fails with a clear message at its line.

use super::error::{StepError, StepResult};
use super::layer::Layer;
use crate::graph::RunAction;

/// Run `action`: not supported yet.
pub fn run(_action: &RunAction) -> StepResult<Option<Layer>> {
    Err(StepError::Unsupported("RUN".into()))
}
