//! Solving the build plan: every stage of a [`Plan`] is executed in run order, each step
//! turned into a layer, a config change, or both, and the target stage's image comes out
//! as layers in the store plus an image config ([`StageResult`]).
//!
//! Inputs: the plan (`graph`) and a [`SolveEnv`] in parts — [`Stores`] (blob store, image
//! names, snapshots and flattened trees, each behind its trait), [`Inputs`] (the build
//! context, resolved named contexts), [`LayerPolicy`], the cache, the RUN settings (the
//! sandbox), progress and the layer jobs. Each filesystem step gets a [`StepCx`]: its
//! identity and the parts it uses. Outputs: [`StageResult`] (the layers, bottom first,
//! and the `image::ImageConfig` with history and diff_ids), ready for `image::write_image`.
//!
//! One verb per file: [`from`] (a stage's base: scratch, an image in the store, a named
//! context, an earlier stage), [`copy_step`] (COPY/ADD through the [`copy`] engine),
//! [`workdir`] (WORKDIR's directory), [`run`] (RUN in the sandbox), and [`stage`] (the
//! step loop and history). Below them: [`layer`] (a change set -> a blob in the store),
//! [`trees`] (base layers unpacked once per chain id into snapshots, only when a step
//! needs its parent's files; flattened trees for `COPY --from`), [`lower`] (the parent seen
//! through its snapshot chain), [`images`] (base-image configs for the planner),
//! [`commit`] (a step's change set -> its layer and next snapshot) and [`background`]
//! (layer blobs written while the next steps run). [`step_cx`] is what a step is handed.
//!
//! Invariants: a step writes only into its own fresh snapshot directory; a layer's blob is
//! in the store before the layer is recorded; a step that changes nothing makes no layer
//! (its history entry says `empty_layer`) — except RUN, which always makes one, as in
//! BuildKit. Stages of one parallel level (`StagePlan::level`) do not depend on each other
//! and run on threads of their own; a level starts when the one below is done. Results do
//! not depend on that: each stage's result is kept by its index, and when stages fail, the
//! first failure in Dockerfile order is the one reported (the others of its level are
//! awaited, never abandoned half-way). Layer blobs written in the background are all
//! written (or, when the solve failed, cancelled) before [`solve`] returns, and its result
//! holds resolved layers only.

pub mod background;
mod cached;
pub mod commit;
pub mod copy;
pub mod copy_step;
pub mod error;
pub mod from;
pub mod images;
pub mod layer;
pub mod lower;
pub mod trees;
pub mod run;
pub mod stage;
mod stand_in;
pub mod step_cx;
mod step_key;
pub mod throwaway;
pub mod workdir;

mod config;

use std::collections::BTreeMap;
use std::path::PathBuf;

use oci_spec::image::Digest;

pub use background::LayerJobs;
pub use config::stamp_target_platform;
pub use error::{ImageLayerError, LayerError, SolveError, StepError};
pub use images::StoreImages;
pub use layer::{Layer, LayerSettings};
pub use stand_in::compress_for_export;
pub use step_cx::StepCx;
pub use trees::LayerTrees;

use crate::context::Context;
use crate::graph::Plan;
use crate::progress::Reporter;
use crate::store::{BlobStore, NameIndex};

/// What a `--build-context NAME=VALUE` turned into before solving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedContext {
    /// An image already in the store (from `oci-layout://`): its manifest or index digest.
    Image(Digest),
    /// A local directory.
    Dir(PathBuf),
}

/// Everything a solve reads and writes, in the parts steps take.
#[derive(Debug)]
pub struct SolveEnv<'a> {
    /// Where blobs, image names and file trees are kept.
    pub stores: Stores<'a>,
    /// What COPY and bind mounts read from.
    pub inputs: Inputs<'a>,
    /// How new layers and history entries are made.
    pub policy: LayerPolicy,
    /// The build cache (`None`: every step runs and nothing is recorded).
    pub cache: Option<&'a crate::cache::BuildCache>,
    /// How RUN steps run.
    pub run: run::RunSettings<'a>,
    /// Progress.
    pub reporter: &'a dyn Reporter,
    /// Layer blobs being written in the background.
    pub jobs: LayerJobs<'a>,
}

/// Where a solve keeps what it reads and makes.
#[derive(Debug)]
pub struct Stores<'a> {
    /// Layer and image blobs.
    pub store: &'a dyn BlobStore,
    /// Image names of the store (bases by reference).
    pub names: &'a NameIndex,
    /// Snapshots and flattened trees.
    pub trees: LayerTrees<'a>,
}

/// The build's inputs besides the plan.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The main build context.
    pub context: &'a Context,
    /// Named contexts, by name.
    pub contexts: &'a BTreeMap<String, NamedContext>,
    /// Fetches ADD's URL and Git sources.
    pub remote: &'a dyn crate::remote::Fetcher,
}

/// How new layers and history entries are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerPolicy {
    /// How new layers are written.
    pub settings: LayerSettings,
    /// Whether COPY sets file owners (root, or inside the build's user namespace).
    pub ownership: copy::Ownership,
    /// The time written into new history entries and the image (`SOURCE_DATE_EPOCH` or now).
    pub created: Option<String>,
    /// Whether `created` is `SOURCE_DATE_EPOCH`: then every history entry and the image
    /// take it, cached steps too.
    pub fixed_time: bool,
}

/// A solved stage: its image so far.
#[derive(Debug, Clone, PartialEq)]
pub struct StageResult {
    /// The image config: base history and diff_ids followed by this stage's, and the
    /// execution config after the stage's last step.
    pub config: crate::image::ImageConfig,
    /// The layers, bottom first (one per `config.rootfs.diff_ids` entry).
    pub layers: Vec<Layer>,
}

/// Solve every stage of `plan`, level by level, the stages of one level in parallel;
/// returns the target (last) stage's result, every layer blob of it in the store. A layer
/// blob that could not be written fails the solve as its step would have.
pub fn solve(plan: &Plan, env: &SolveEnv<'_>) -> Result<StageResult, SolveError> {
    let mut result = env
        .jobs
        .scope(env.stores.store, env.reporter, || solve_levels(plan, env))?;
    if let Some((tag, e)) = env.jobs.first_failure() {
        return Err(StepError::from(e).at(tag.span));
    }
    for layer in &mut result.layers {
        layer
            .resolve()
            .map_err(|e| e.at(crate::dockerfile::ast::Span::default()))?;
    }
    Ok(result)
}

fn solve_levels(plan: &Plan, env: &SolveEnv<'_>) -> Result<StageResult, SolveError> {
    let mut levels: BTreeMap<usize, Vec<&crate::graph::StagePlan>> = BTreeMap::new();
    for sp in &plan.stages {
        levels.entry(sp.level).or_default().push(sp);
    }
    let mut done: BTreeMap<usize, StageResult> = BTreeMap::new();
    for stages in levels.values() {
        let results: Vec<(usize, Result<StageResult, SolveError>)> = match stages.as_slice() {
            [one] => vec![(one.index, stage::solve_stage(one, plan, env, &done))],
            many => {
                let done = &done;
                std::thread::scope(|scope| {
                    let running: Vec<_> = many
                        .iter()
                        .map(|sp| {
                            let handle = std::thread::Builder::new()
                                .name(format!("stage-{}", sp.index))
                                .spawn_scoped(scope, move || {
                                    stage::solve_stage(sp, plan, env, done)
                                });
                            (sp, handle)
                        })
                        .collect();
                    running
                        .into_iter()
                        .map(|(sp, handle)| {
                            let result = match handle {
                                // Not even a thread: run it here.
                                Err(_) => stage::solve_stage(sp, plan, env, done),
                                Ok(h) => h.join().unwrap_or_else(|_| {
                                    Err(StepError::Internal(format!(
                                        "stage {} stopped unexpectedly",
                                        sp.label()
                                    ))
                                    .at(crate::dockerfile::ast::Span::default()))
                                }),
                            };
                            (sp.index, result)
                        })
                        .collect()
                })
            }
        };
        // `stages` is in Dockerfile order: the first failure there is the one reported.
        let mut failure = None;
        for (index, result) in results {
            match result {
                Ok(r) => {
                    done.insert(index, r);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
    }
    plan.stages
        .last()
        .and_then(|sp| done.remove(&sp.index))
        .ok_or_else(|| {
            StepError::Internal("the plan has no stages".into())
                .at(crate::dockerfile::ast::Span::default())
        })
}

#[cfg(test)]
mod tests;
