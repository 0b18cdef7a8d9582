//! What a plan is made of: stages in run order ([`StagePlan`]), each with its base
//! ([`Source`]), platform, dependencies, parallel level and steps ([`Step`]); each step with
//! its expanded fields ([`Action`]), the image config after it and its history entry.
//!
//! The plan is data only; [`super::render`] prints it and the solver executes it.

use std::collections::BTreeSet;

use crate::dockerfile::ast::Span;
use crate::dockerfile::instructions::{Mount, NetworkMode, SecurityMode};
use crate::domain::Chmod;

use super::config::StageConfig;
use crate::domain::config::History;
use crate::domain::Platform;

/// The build plan for one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The stages the target needs, in run order (Dockerfile order); the target is last.
    pub stages: Vec<StagePlan>,
    /// The platform builds run on (`BUILDPLATFORM`).
    pub build_platform: Platform,
    /// The platform images are built for (`TARGETPLATFORM`).
    pub target_platform: Platform,
    /// The global scope after the meta ARGs: automatic platform args and global ARG values,
    /// `(name, value)` in definition order.
    pub global_args: Vec<(String, String)>,
    /// `--build-arg` names no ARG of the Dockerfile declares (BuildKit warns about them).
    /// Proxy and automatic platform args are never listed.
    pub unused_build_args: Vec<String>,
}

impl Plan {
    /// The target stage (the last one).
    pub fn target(&self) -> Option<&StagePlan> {
        self.stages.last()
    }

    /// The planned stage with Dockerfile index `index`.
    pub fn stage(&self, index: usize) -> Option<&StagePlan> {
        self.stages.iter().find(|s| s.index == index)
    }
}

/// Where a stage starts from, or where a COPY or mount reads from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// The main build context (COPY/ADD without `--from`, bind mounts without `from`).
    BuildContext,
    /// Nothing: `scratch`.
    Scratch,
    /// An earlier stage, by Dockerfile index.
    Stage(usize),
    /// An image, by normalised reference (`docker.io/library/alpine:3.19`).
    Image(String),
    /// A named context given with `--build-context NAME=...`.
    Context(String),
}

/// One stage of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct StagePlan {
    /// Position in the Dockerfile (0-based; unnamed stages are called `stage-N`).
    pub index: usize,
    /// `AS name`, lower-cased.
    pub name: Option<String>,
    /// The FROM line.
    pub span: Span,
    /// What the stage starts from.
    pub base: Source,
    /// FROM's base name as written, variables expanded (`busybox`, not the normalised
    /// reference): how BuildKit's warnings about the base name it.
    pub base_name: String,
    /// The platform the stage builds for.
    pub platform: Platform,
    /// Stages (Dockerfile indexes) that must be built first: FROM, `COPY --from`,
    /// `RUN --mount from=`; sorted.
    pub deps: BTreeSet<usize>,
    /// Parallel level: 0 for stages without stage dependencies, else one more than the
    /// highest level among its dependencies. Stages of one level can run in parallel.
    pub level: usize,
    /// The config the stage starts with (after BuildKit's `PATH` default).
    pub base_config: StageConfig,
    /// The steps, ONBUILD triggers of the base first.
    pub steps: Vec<Step>,
    /// The config after the last step.
    pub config: StageConfig,
    /// History written by this stage's steps, after the history inherited from a base stage.
    pub history: Vec<History>,
}

impl StagePlan {
    /// `name`, or `stage-N` for an unnamed stage.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("stage-{}", self.index))
    }
}

/// What a step does to the filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// RUN, COPY, ADD: a new layer.
    Layer,
    /// WORKDIR other than `/`: BuildKit creates the directory (a layer only if it changes
    /// anything; an empty diff is dropped by the exporter).
    Mkdir,
    /// Config only.
    None,
}

/// One instruction of a stage, fully expanded.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Lines of the instruction (the FROM line for ONBUILD triggers).
    pub span: Span,
    /// Upper-case keyword (`RUN`).
    pub keyword: String,
    /// True when the step is an ONBUILD trigger of the base.
    pub onbuild: bool,
    /// The instruction as written.
    pub original: String,
    /// The expanded instruction as BuildKit names it in progress output
    /// (`RUN echo bar`, `COPY a /dst`); for config-only steps, the history text.
    pub display: String,
    /// Typed expanded fields.
    pub action: Action,
    /// Layer effect.
    pub layer: LayerKind,
    /// Build args in scope (`ARG`s of the stage and its base stages), `(name, value)` in
    /// BuildKit's `|N K=V` order; RUN sees them in its environment.
    pub build_args: Vec<(String, String)>,
    /// Variables this step's expansion referenced that are build args in scope.
    pub used_args: BTreeSet<String>,
    /// The image config after the step.
    pub config: StageConfig,
    /// The working directory in force before the step (`/` when the config has none).
    pub workdir_before: String,
    /// USER in force before the step (empty: root).
    pub user_before: String,
    /// The history entry (none for ONBUILD, which only records a trigger).
    pub history: Option<History>,
}

/// The typed, expanded content of a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// RUN.
    Run(RunAction),
    /// COPY or ADD.
    Copy(CopyAction),
    /// WORKDIR: the normalised absolute directory.
    Workdir {
        /// Absolute, cleaned path.
        path: String,
    },
    /// Any instruction that only changes the config (ENV, LABEL, ARG, CMD, ...).
    Config,
}

/// An expanded RUN.
#[derive(Debug, Clone, PartialEq)]
pub struct RunAction {
    /// The process arguments (SHELL prepended in shell form).
    pub args: Vec<String>,
    /// Environment (`KEY=VALUE`): the stage's variables, ARG values included.
    pub env: Vec<String>,
    /// Proxy variables from the build args, kept out of history and cache keys.
    pub proxy_env: Vec<(String, String)>,
    /// USER in force (empty: root).
    pub user: String,
    /// Working directory in force.
    pub workdir: String,
    /// `--network`.
    pub network: NetworkMode,
    /// `--security`.
    pub security: SecurityMode,
    /// `--mount`s, expanded, with absolute targets.
    pub mounts: Vec<PlannedMount>,
    /// A heredoc script run directly (`#!` first line): mounted read-only at
    /// `/dev/pipes/<name>` with mode 0755.
    pub script: Option<InlineFile>,
}

/// One expanded `RUN --mount`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedMount {
    /// The mount, values expanded.
    pub mount: Mount,
    /// Absolute target (relative targets are joined to the working directory).
    pub target: String,
    /// `from=`: the stage, image or named context mounted (`None`: the build context for a
    /// bind mount, an empty directory for a cache mount).
    pub from: Option<Source>,
}

/// A file written from a heredoc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineFile {
    /// File name (the heredoc delimiter).
    pub name: String,
    /// Content, expanded when the delimiter was unquoted (COPY/ADD only).
    pub content: String,
}

/// An expanded COPY or ADD.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyAction {
    /// True for ADD.
    pub add: bool,
    /// Where sources are read from.
    pub from: Source,
    /// `--from` as written, when given.
    pub from_flag: Option<String>,
    /// Source paths or URLs, expanded, as written otherwise.
    pub sources: Vec<String>,
    /// Heredoc sources (`COPY <<EOF /dst`).
    pub inline: Vec<InlineFile>,
    /// Destination as expanded (as it appears in history).
    pub dest_raw: String,
    /// Destination made absolute against the working directory (trailing `/` kept).
    pub dest: String,
    /// `--chown`, expanded.
    pub chown: Option<String>,
    /// `--chmod`, expanded and parsed (its text as written is [`Chmod::as_str`]).
    pub chmod: Option<Chmod>,
    /// `--link` (set only without `--chmod`: BuildKit links only then).
    pub link: bool,
    /// `--parents`.
    pub parents: bool,
    /// `--exclude` patterns.
    pub exclude: Vec<String>,
    /// ADD `--checksum`, expanded.
    pub checksum: Option<String>,
    /// ADD `--keep-git-dir` (`None` when not given).
    pub keep_git_dir: Option<bool>,
    /// ADD `--unpack`.
    pub unpack: Option<bool>,
}
