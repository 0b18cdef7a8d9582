//! The semantic layer of the Dockerfile front end: AST [`Node`]s in, typed [`Instruction`]s
//! and [`Stage`]s out. Pure: no IO, no environment.
//!
//! It mirrors BuildKit's `frontend/dockerfile/instructions` package:
//!
//! - [`parse_instruction`] turns one node into an [`Instruction`], checking its argument
//!   count and flags (each instruction declares the flags it accepts; see `bflag`).
//! - [`parse_dockerfile`] groups instructions into stages: ARGs before the first FROM become
//!   meta args; anything else before a FROM is an error.
//! - Nothing is expanded here. Each instruction knows which of its fields BuildKit expands
//!   at dispatch and exposes `expand(&mut dyn Expander)` ([`expand`] lists them); the graph
//!   layer supplies the expander.
//! - `RUN --mount` specs are checked for syntax at parse time and typed after expansion
//!   ([`MountSpec`], [`Mount`]).
//!
//! Every instruction struct carries its `span` (source lines) and `original` text (trimmed),
//! for history entries and error quoting. Error messages are BuildKit's own words.

mod bflag;
mod command;
mod common;
mod config;
mod copy;
mod csv;
mod duration;
pub mod expand;
mod healthcheck;
mod mount;
mod mount_parse;
mod run;
mod stage;
pub(crate) mod suggest;
#[cfg(test)]
mod test_support;

use crate::dockerfile::ast::{Node, Span};
use crate::dockerfile::error::ParseError;

pub use command::{CmdCommand, EntrypointCommand, OnbuildCommand, ShellCommand};
pub use common::{base_name, clean_path, CommandLine, KeyValue};
pub use config::{
    EnvCommand, ExposeCommand, LabelCommand, MaintainerCommand, StopSignalCommand, UserCommand,
    VolumeCommand, WorkdirCommand,
};
pub use copy::{AddCommand, CopyCommand, SourceContent, SourcesAndDest};
pub use expand::{Expander, LiteralExpander};
pub use healthcheck::{HealthConfig, HealthcheckCommand};
pub use mount::{Mount, MountSpec, MountType, ShareMode};
pub use mount_parse::ram_in_bytes;
pub use run::{Device, NetworkMode, RunCommand, SecurityMode};
pub use stage::{parse_dockerfile, ArgCommand, ArgPair, Dockerfile, FromCommand, Lint, Stage};

/// One typed Dockerfile instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// `FROM`: starts a stage (grouped away by [`parse_dockerfile`]).
    From(FromCommand),
    /// `RUN`.
    Run(RunCommand),
    /// `COPY`.
    Copy(CopyCommand),
    /// `ADD`.
    Add(AddCommand),
    /// `ENV`.
    Env(EnvCommand),
    /// `ARG`.
    Arg(ArgCommand),
    /// `LABEL`.
    Label(LabelCommand),
    /// `USER`.
    User(UserCommand),
    /// `WORKDIR`.
    Workdir(WorkdirCommand),
    /// `CMD`.
    Cmd(CmdCommand),
    /// `ENTRYPOINT`.
    Entrypoint(EntrypointCommand),
    /// `EXPOSE`.
    Expose(ExposeCommand),
    /// `VOLUME`.
    Volume(VolumeCommand),
    /// `STOPSIGNAL`.
    StopSignal(StopSignalCommand),
    /// `SHELL`.
    Shell(ShellCommand),
    /// `HEALTHCHECK`.
    Healthcheck(HealthcheckCommand),
    /// `MAINTAINER` (deprecated).
    Maintainer(MaintainerCommand),
    /// `ONBUILD`.
    Onbuild(OnbuildCommand),
}

/// Every instruction keyword, upper-case (for "did you mean" hints).
const INSTRUCTION_NAMES: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Turn one AST node into a typed instruction.
///
/// Errors carry the node's span: `unknown instruction: FRUM (did you mean FROM?)`, argument
/// counts, unknown or malformed flags, invalid stage names, refused ONBUILD triggers, ...
pub fn parse_instruction(node: &Node) -> Result<Instruction, ParseError> {
    Ok(match node.keyword.to_lowercase().as_str() {
        "from" => Instruction::From(stage::parse_from(node)?),
        "run" => Instruction::Run(run::parse_run(node)?),
        "copy" => Instruction::Copy(copy::parse_copy(node)?),
        "add" => Instruction::Add(copy::parse_add(node)?),
        "env" => Instruction::Env(config::parse_env(node)?),
        "arg" => Instruction::Arg(stage::parse_arg(node)?),
        "label" => Instruction::Label(config::parse_label(node)?),
        "user" => Instruction::User(config::parse_user(node)?),
        "workdir" => Instruction::Workdir(config::parse_workdir(node)?),
        "cmd" => Instruction::Cmd(command::parse_cmd(node)?),
        "entrypoint" => Instruction::Entrypoint(command::parse_entrypoint(node)?),
        "expose" => Instruction::Expose(config::parse_expose(node)?),
        "volume" => Instruction::Volume(config::parse_volume(node)?),
        "stopsignal" => Instruction::StopSignal(config::parse_stopsignal(node)?),
        "shell" => Instruction::Shell(command::parse_shell(node)?),
        "healthcheck" => Instruction::Healthcheck(healthcheck::parse_healthcheck(node)?),
        "maintainer" => Instruction::Maintainer(config::parse_maintainer(node)?),
        "onbuild" => Instruction::Onbuild(command::parse_onbuild(node)?),
        _ => {
            let written = common::written_keyword(node);
            return Err(ParseError::new(
                node.span,
                suggest::with_hint(
                    format!("unknown instruction: {written}"),
                    &written,
                    &INSTRUCTION_NAMES,
                    false,
                ),
            ));
        }
    })
}

impl Instruction {
    /// The keyword, upper-case (`RUN`).
    pub fn name(&self) -> &'static str {
        match self {
            Instruction::From(_) => "FROM",
            Instruction::Run(_) => "RUN",
            Instruction::Copy(_) => "COPY",
            Instruction::Add(_) => "ADD",
            Instruction::Env(_) => "ENV",
            Instruction::Arg(_) => "ARG",
            Instruction::Label(_) => "LABEL",
            Instruction::User(_) => "USER",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Volume(_) => "VOLUME",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::Shell(_) => "SHELL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::Maintainer(_) => "MAINTAINER",
            Instruction::Onbuild(_) => "ONBUILD",
        }
    }

    /// Source lines of the instruction.
    pub fn span(&self) -> Span {
        match self {
            Instruction::From(c) => c.span,
            Instruction::Run(c) => c.span,
            Instruction::Copy(c) => c.span,
            Instruction::Add(c) => c.span,
            Instruction::Env(c) => c.span,
            Instruction::Arg(c) => c.span,
            Instruction::Label(c) => c.span,
            Instruction::User(c) => c.span,
            Instruction::Workdir(c) => c.span,
            Instruction::Cmd(c) => c.span,
            Instruction::Entrypoint(c) => c.span,
            Instruction::Expose(c) => c.span,
            Instruction::Volume(c) => c.span,
            Instruction::StopSignal(c) => c.span,
            Instruction::Shell(c) => c.span,
            Instruction::Healthcheck(c) => c.span,
            Instruction::Maintainer(c) => c.span,
            Instruction::Onbuild(c) => c.span,
        }
    }

    /// The instruction as written, trimmed (continuations joined).
    pub fn original(&self) -> &str {
        match self {
            Instruction::From(c) => &c.original,
            Instruction::Run(c) => &c.original,
            Instruction::Copy(c) => &c.original,
            Instruction::Add(c) => &c.original,
            Instruction::Env(c) => &c.original,
            Instruction::Arg(c) => &c.original,
            Instruction::Label(c) => &c.original,
            Instruction::User(c) => &c.original,
            Instruction::Workdir(c) => &c.original,
            Instruction::Cmd(c) => &c.original,
            Instruction::Entrypoint(c) => &c.original,
            Instruction::Expose(c) => &c.original,
            Instruction::Volume(c) => &c.original,
            Instruction::StopSignal(c) => &c.original,
            Instruction::Shell(c) => &c.original,
            Instruction::Healthcheck(c) => &c.original,
            Instruction::Maintainer(c) => &c.original,
            Instruction::Onbuild(c) => &c.original,
        }
    }
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
