//! The build plan, pure: typed instructions in, the stages a target needs and their fully
//! expanded steps out — BuildKit's `dockerfile2llb` dispatch without execution.
//!
//! Inputs come in as data: the [`Dockerfile`](crate::dockerfile::instructions::Dockerfile)
//! (with its escape character), [`PlanOptions`] (target, `--build-arg`s, platforms, named contexts)
//! and [`BaseImages`], which knows base-image configs (the store and registry fill it in
//! later; `debug plan` passes [`UnknownImages`], which knows none). Nothing here reads files,
//! the network or the environment.
//!
//! What [`plan`] does, in BuildKit's order:
//!
//! 1. The global scope: automatic platform args (`TARGETPLATFORM`, `BUILDARCH`, ...,
//!    `TARGETSTAGE`), then the meta ARGs before the first FROM, `--build-arg`s overriding.
//! 2. Each FROM expanded with the global scope only; `--platform` too.
//! 3. Stage references: FROM an earlier stage (exact name), `scratch`, a named context or an
//!    image; `COPY --from` by index, name (case-insensitive) or image; `RUN --mount from=`;
//!    cycles are errors ([`stages`](self) module docs).
//! 4. The target (`--target` name, default the last stage) and the stages it reaches;
//!    the rest is pruned. ONBUILD triggers of a base (image config or parent stage) are
//!    prepended to the stage and may add dependencies.
//! 5. Each needed stage is dispatched in Dockerfile order: expansion against the stage's
//!    variables, config effects, history entries ([`Step`]).
//! 6. Parallel levels: stages of one level have no path between them.
//!
//! Known differences from BuildKit: no lint warnings here (the build checks run on the
//! Dockerfile before planning, [`crate::dockerfile::checks`]; the solve raises
//! `InvalidBaseImagePlatform` at FROM, where the base's config is read); base images
//! are not inspected for their platform here (no platform auto-detection); `SOURCE_DATE_EPOCH` is not applied to history timestamps
//! (there are none here); a named context starts from the config
//! [`BaseImages::context_config`] knows (an OCI layout's image), else from BuildKit's
//! empty-image config (`PATH`, `WorkingDir=/`); WORKDIR's directory is a [`LayerKind::Mkdir`] step
//! (BuildKit writes a layer history entry and drops the layer if it turns out empty); a
//! `RUN --mount from=` of a later stage is an error (BuildKit mounts an unbuilt state); a
//! cycle error points at the first instruction of the cycle only.
//!
//! Module map: `args` (scoping), `stages` (references, target, levels), `dispatch*`
//! (per-instruction effects), `config` (image config and history), `expose`,
//! `signal`, `gofmt` (Go text formats), `render` (the `debug plan` text), `planner` (the
//! orchestration). Image names are read by [`crate::domain::reference`].

mod args;
mod config;
mod dispatch;
mod dispatch_config;
mod dispatch_copy;
mod dispatch_run;
mod expose;
mod gofmt;
mod model;
mod planner;
mod prepare;
mod render;
mod signal;
mod stages;

use std::collections::{BTreeMap, BTreeSet};

pub use crate::domain::Platform;
pub use args::{is_automatic_arg, is_proxy_arg, EnvList};
pub use config::StageConfig;
pub use model::{
    Action, CopyAction, InlineFile, LayerKind, Plan, PlannedMount, RunAction, Source, StagePlan,
    Step,
};
pub use planner::{base_images, plan};
pub use render::render;

/// What a plan is made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// `--target`: a stage name (case-insensitive); `None` builds the last stage.
    pub target: Option<String>,
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    /// `--platform`; `None` builds for the build platform.
    pub target_platform: Option<Platform>,
    /// The platform the build runs on (the host), given by the caller.
    pub build_platform: Platform,
    /// Names given with `--build-context NAME=...`: a FROM or `--from` of that image name,
    /// or a stage of that name, uses the context instead.
    pub named_contexts: BTreeSet<String>,
}

impl PlanOptions {
    /// Options for the last stage on `build_platform`, with nothing else set.
    pub fn new(build_platform: Platform) -> Self {
        PlanOptions {
            target: None,
            build_args: BTreeMap::new(),
            target_platform: None,
            build_platform,
            named_contexts: BTreeSet::new(),
        }
    }
}

/// Base-image configs, looked up by normalised reference (`docker.io/library/alpine:3.19`).
pub trait BaseImages {
    /// The config of `reference` for `platform`, if known. Unknown images start from an
    /// empty config (BuildKit then adds the default `PATH`).
    fn config(&self, reference: &str, platform: &Platform) -> Option<StageConfig>;

    /// The image config of the named context `name` (`--build-context NAME=oci-layout://...`),
    /// if it is an image whose config is known. `None` (the default) starts a stage on it
    /// from BuildKit's empty-image config.
    fn context_config(&self, _name: &str, _platform: &Platform) -> Option<StageConfig> {
        None
    }
}

/// Knows no image: every base starts from an empty config.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnknownImages;

impl BaseImages for UnknownImages {
    fn config(&self, _reference: &str, _platform: &Platform) -> Option<StageConfig> {
        None
    }
}

/// Fixed configs by reference, for tests and tools.
impl BaseImages for BTreeMap<String, StageConfig> {
    fn config(&self, reference: &str, _platform: &Platform) -> Option<StageConfig> {
        self.get(reference).cloned()
    }
}

#[cfg(test)]
mod tests;
