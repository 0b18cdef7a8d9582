//! One stage: its base, then each step in order — COPY/ADD, WORKDIR and RUN make layers,
//! config steps only add history — with a progress vertex per
//! filesystem step named as BuildKit names it (`[build 2/4] COPY . /src`), and the image
//! config finished from the plan.

use std::collections::BTreeMap;

use super::config;
use super::error::{SolveError, StepResult};
use super::layer::{self, chain_ids, is_empty_dir, Layer};
use super::{copy_step, from, run, workdir, SolveEnv, StageResult};
use crate::graph::{Action, LayerKind, Plan, StagePlan};
use crate::snapshot::{Active, Snapshotter};

/// Solve stage `sp` of `plan` on top of the stages already `done` (unnamed stages are
/// called `stage-N` in progress when the plan has several).
pub fn solve_stage(
    sp: &StagePlan,
    plan: &Plan,
    env: &SolveEnv<'_>,
    done: &BTreeMap<usize, StageResult>,
) -> Result<StageResult, SolveError> {
    let multi = plan.stages.len() > 1;
    let prefix = match (&sp.name, multi) {
        (Some(name), _) => format!("{name} "),
        (None, true) => format!("stage-{} ", sp.index),
        (None, false) => String::new(),
    };
    let total = 1 + sp
        .steps
        .iter()
        .filter(|s| s.layer != LayerKind::None)
        .count();
    let width = total.to_string().len();
    let title = |n: usize| format!("[{prefix}{n:>width$}/{total}]");
    let mut st = from::base(sp, env, done, &title(1))?;
    let plans = &plan.stages;
    let mut n = 1;
    for step in &sp.steps {
        let workdir = step_workdir(sp, step);
        let made = if step.layer == LayerKind::None {
            None
        } else {
            n += 1;
            let name = format!("{} {}", title(n), step.display);
            let result = crate::progress::vertex(env.reporter, &name, |id| match &step.action {
                Action::Run(r) => {
                    let run_step = run::RunStep {
                        action: r,
                        vertex: id,
                        name: &name,
                        done,
                        plans,
                        platform: &sp.platform,
                    };
                    run::run(env, &mut st, &run_step)
                }
                Action::Copy(c) => {
                    copy_step::run(env, &mut st, c, &workdir, done, plans, &sp.platform)
                }
                Action::Workdir { path } => {
                    let user = before_user(sp, step);
                    workdir::run(env, &mut st, path, &user)
                }
                Action::Config => Ok(None),
            });
            result.map_err(|e| e.at(step.span))?
        };
        record(&mut st, step, made, env.created.clone());
    }
    config::apply(&mut st.config, &sp.config, &sp.platform);
    st.config.created = env.created.clone();
    Ok(st)
}

/// Append a step's history entry and its layer, if it made one.
fn record(
    st: &mut StageResult,
    step: &crate::graph::Step,
    made: Option<Layer>,
    created: Option<String>,
) {
    let has_layer = made.is_some();
    if let Some(l) = made {
        st.config.rootfs.diff_ids.push(l.diff_id.clone());
        st.layers.push(l);
    }
    match &step.history {
        Some(h) => st
            .config
            .history
            .push(config::history(h, has_layer, created)),
        None if has_layer => st.config.history.push(config::history(
            &crate::graph::HistoryEntry::new(step.display.clone(), false),
            true,
            created,
        )),
        None => {}
    }
}

/// The working directory in force when `step` runs (the config before it).
fn step_workdir(sp: &StagePlan, step: &crate::graph::Step) -> String {
    let before = previous_config(sp, step);
    if before.working_dir.is_empty() {
        "/".to_string()
    } else {
        before.working_dir.clone()
    }
}

/// USER in force before `step`.
fn before_user(sp: &StagePlan, step: &crate::graph::Step) -> String {
    previous_config(sp, step).user.clone()
}

fn previous_config<'p>(
    sp: &'p StagePlan,
    step: &crate::graph::Step,
) -> &'p crate::graph::ImageConfig {
    let mut prev = &sp.base_config;
    for s in &sp.steps {
        if std::ptr::eq(s, step) {
            break;
        }
        prev = &s.config;
    }
    prev
}

/// Finish a step whose change set is in `active`: nothing changed -> no layer (the
/// snapshot is discarded); else the layer is written into the store and, when `active`
/// was prepared on the stage's whole chain (`chained`), committed under its chain id so
/// later steps can stack on it.
pub fn commit_step(
    env: &SolveEnv<'_>,
    active: Active,
    below: &[Layer],
    chained: bool,
) -> StepResult<Option<Layer>> {
    let snaps = env.rootfs.snapshots;
    let outcome = (|| -> StepResult<Option<Layer>> {
        if is_empty_dir(&active.upper)? {
            return Ok(None);
        }
        Ok(Some(layer::write(env.store, &active.upper, &env.layers)?))
    })();
    match outcome {
        Ok(Some(made)) if chained => Ok(Some(commit_layer(env, active, below, made)?)),
        other => {
            snaps.abort(active)?;
            other
        }
    }
}

/// Commit `active`, prepared on the stage's whole chain `below`, as the snapshot of `made`
/// (named by its chain id), so later steps can stack on it.
pub fn commit_layer(
    env: &SolveEnv<'_>,
    active: Active,
    below: &[Layer],
    mut made: Layer,
) -> StepResult<Layer> {
    let ids: Vec<_> = below
        .iter()
        .map(|l| &l.diff_id)
        .chain([&made.diff_id])
        .collect();
    let name = chain_ids(ids)
        .last()
        .map(|d| d.to_string())
        .unwrap_or_default();
    made.snapshot = Some(env.rootfs.snapshots.commit(active, &name)?);
    Ok(made)
}
