//! The context a filesystem step runs in ([`StepCx`]): who the step is (its place in the
//! build, progress vertex and name, Dockerfile lines, and whether and after what its layer
//! may be written in the background) and references to what it works with — the stores,
//! the inputs, the layer policy, the cache, the RUN settings, progress, the layer jobs,
//! the stage around it ([`Scope`]) and the working directory and USER in force before it.
//!
//! The stage loop makes one per filesystem step and hands it down explicitly to the step
//! (COPY, RUN, WORKDIR), the cache and the commit of its change set; nothing about the
//! step is kept anywhere else.

use std::collections::BTreeMap;

use super::background::{LayerJobs, StepTag};
use super::run::RunSettings;
use super::{Inputs, LayerPolicy, LayerSettings, SolveEnv, StageResult, Stores};
use crate::cache::BuildCache;
use crate::graph::{Platform, StagePlan, Step};
use crate::progress::Reporter;

/// The stage a step belongs to, and what the stage loop knows around it.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'s> {
    /// The stage.
    pub sp: &'s StagePlan,
    /// Every stage of the plan (for names).
    pub plans: &'s [StagePlan],
    /// The stages solved so far.
    pub done: &'s BTreeMap<usize, StageResult>,
    /// The stage's base as `step_key::base_identity` gives it (cache explanations).
    pub base: &'s str,
}

/// One filesystem step and what it works with (`'a`: the solve's borrows; `'c`: the
/// step's own).
#[derive(Debug)]
pub struct StepCx<'c, 'a> {
    /// Who the step is (its layer job knows it by this).
    pub tag: StepTag,
    /// Blobs, names and file trees.
    pub stores: &'c Stores<'a>,
    /// The build context and named contexts.
    pub inputs: &'c Inputs<'a>,
    /// How layers and history entries are made.
    pub policy: &'c LayerPolicy,
    /// The build cache.
    pub cache: Option<&'a BuildCache>,
    /// How RUN steps run.
    pub run: &'c RunSettings<'a>,
    /// Progress.
    pub reporter: &'a dyn Reporter,
    /// Layer blobs being written in the background.
    pub jobs: &'c LayerJobs<'a>,
    /// The stage around the step.
    pub scope: Scope<'c>,
    /// The working directory in force before the step (`/` when none was set).
    pub workdir: &'c str,
    /// USER in force before the step (empty: root).
    pub user: &'c str,
}

impl<'c, 'a> StepCx<'c, 'a> {
    /// The context of `step` of `scope`, known as `tag`, in the solve `env`.
    pub fn new(env: &'c SolveEnv<'a>, scope: Scope<'c>, step: &'c Step, tag: StepTag) -> Self {
        StepCx {
            tag,
            stores: &env.stores,
            inputs: &env.inputs,
            policy: &env.policy,
            cache: env.cache,
            run: &env.run,
            reporter: env.reporter,
            jobs: &env.jobs,
            scope,
            workdir: &step.workdir_before,
            user: &step.user_before,
        }
    }

    /// How the step's layer is written: as the policy says, or as plain tar in a
    /// throwaway stage ([`crate::solve::throwaway`]).
    pub fn layer_settings(&self) -> LayerSettings {
        let mut settings = self.policy.settings;
        if self.tag.throwaway {
            settings.compression = crate::diff::Compression::Uncompressed;
            settings.level = None;
        }
        settings
    }

    /// Whether the step's layer is written as plain tar in place of the compressed blob
    /// the policy asks for (its cache record says so).
    pub fn layer_uncompressed_stand_in(&self) -> bool {
        self.layer_settings().compression != self.policy.settings.compression
    }

    /// The stage's platform.
    pub fn platform(&self) -> &'c Platform {
        &self.scope.sp.platform
    }
}
