//! One stage: its base, then each step in order — COPY/ADD, WORKDIR and RUN make layers,
//! config steps only add history — with a progress vertex per
//! filesystem step named as BuildKit names it (`[build 2/4] COPY . /src`), and the image
//! config finished from the plan.
//!
//! Filesystem steps go through the build cache ([`cached`]): a hit shows as `CACHED` and
//! reuses the recorded layer without touching the parent's files. Times are chosen so that
//! a fully cached rebuild writes the same image: a hit keeps its record's time, a
//! config-only step takes the time of the latest filesystem step before it (the base's
//! last history entry before any), and the image takes the time of the stage's last
//! history entry; with `SOURCE_DATE_EPOCH` everything takes that time.

use std::collections::BTreeMap;

use super::background::{After, StepTag};
use super::config;
use super::error::{SolveError, StepResult};
use super::layer::Layer;
use super::step_cx::{Scope, StepCx};
use super::{cached, copy_step, from, run, step_key, throwaway, workdir, SolveEnv, StageResult};
use crate::cache::StepRef;
use crate::graph::{Action, LayerKind, Plan, StagePlan};

/// Solve stage `sp` of `plan` on top of the stages already `done` (unnamed stages are
/// called `stage-N` in progress when the plan has several).
pub fn solve_stage(
    sp: &StagePlan,
    plan: &Plan,
    env: &SolveEnv<'_>,
    done: &BTreeMap<usize, StageResult>,
) -> Result<StageResult, SolveError> {
    let title = titles(sp, plan);
    let mut st = from::base(sp, env, done, &title(1))?;
    let base = step_key::base_identity(&env.stores, &env.inputs, sp, &plan.stages, &st);
    let scope = Scope {
        sp,
        plans: &plan.stages,
        done,
        base: &base,
    };
    // Config-only steps take the time of the latest layer step before them (the base's
    // last history entry before any), so a cached rebuild writes the same history.
    let mut time = if env.policy.fixed_time {
        env.policy.created.clone()
    } else {
        st.config
            .history
            .last()
            .and_then(|h| h.created.clone())
            .or_else(|| env.policy.created.clone())
    };
    let mut added: Option<Option<String>> = None;
    let mut n = 1;
    // The build's last layer is written inline: nothing is left to overlap it with.
    let target = plan
        .stages
        .last()
        .is_some_and(|last| last.index == sp.index);
    let last_layer = sp.steps.iter().rposition(|s| s.layer != LayerKind::None);
    let throwaway = throwaway::is_throwaway(plan, sp.index);
    for (index, step) in sp.steps.iter().enumerate() {
        let made = if step.layer == LayerKind::None {
            None
        } else {
            n += 1;
            let tag = StepTag {
                at: StepRef {
                    stage: sp.index,
                    step: index,
                },
                vertex: 0,
                name: format!("{} {}", title(n), step.display),
                span: step.span,
                background: !(throwaway || (target && last_layer == Some(index))),
                after: after(sp, index),
                throwaway,
            };
            let out = layer_step(env, scope, &mut st, step, tag).map_err(|e| e.at(step.span))?;
            time = out.created;
            out.layer
        };
        if record(&mut st, step, made, time.clone()) {
            added = Some(time.clone());
        }
    }
    config::apply(&mut st.config, &sp.config, &sp.platform);
    st.config.created = match added {
        _ if env.policy.fixed_time => env.policy.created.clone(),
        Some(t) => t,
        None if matches!(sp.base, crate::graph::Source::Stage(_)) => {
            st.config.history.last().and_then(|h| h.created.clone())
        }
        None => env.policy.created.clone(),
    };
    Ok(st)
}

/// The progress titles of `sp`'s vertices by number (`[build 2/4]`; unnamed stages are
/// `stage-N` when the plan has several).
fn titles(sp: &StagePlan, plan: &Plan) -> impl Fn(usize) -> String {
    let prefix = match (&sp.name, plan.stages.len() > 1) {
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
    move |n: usize| format!("[{prefix}{n:>width$}/{total}]")
}

/// What runs after the filesystem step `index` of `sp`: its next filesystem step, or
/// the stages that use it.
fn after(sp: &StagePlan, index: usize) -> After {
    sp.steps
        .iter()
        .enumerate()
        .skip(index + 1)
        .find(|(_, s)| s.layer != LayerKind::None)
        .map_or(After::Stages, |(i, _)| {
            After::Step(StepRef {
                stage: sp.index,
                step: i,
            })
        })
}

/// One filesystem step as a progress vertex: `CACHED` when its result was found, else run
/// (as step `tag`, whose vertex is set here).
fn layer_step(
    env: &SolveEnv<'_>,
    scope: Scope<'_>,
    st: &mut StageResult,
    step: &crate::graph::Step,
    mut tag: StepTag,
) -> StepResult<cached::Outcome> {
    let started = std::time::Instant::now();
    let id = env.reporter.start(&tag.name);
    tag.vertex = id;
    let cx = StepCx::new(env, scope, step, tag);
    let result = (|| {
        // As BuildKit checks entitlements before it solves: a cached insecure step too.
        if let Action::Run(r) = &step.action {
            run::security::security(r.security, env.run.entitlements, env.run.real_root)?;
        }
        let inputs = match env.cache {
            Some(_) => step_key::inputs(&cx, step, &st.layers)?,
            None => None,
        };
        let below = st.layers.clone();
        let out = cached::run(&cx, inputs, &below, || match &step.action {
            Action::Run(r) => run::run(&cx, st, r),
            Action::Copy(c) => copy_step::run(&cx, st, c),
            Action::Workdir { path } => workdir::run(&cx, st, path),
            Action::Config => Ok(None),
        })?;
        if let (true, Action::Run(r)) = (out.hit, &step.action) {
            // A cached RUN still counts its cache mounts as used, for `--cache-to`.
            run::mounts::note_cached(&cx, r);
        }
        Ok(out)
    })();
    match &result {
        Ok(out) if out.hit => env.reporter.cached(id),
        Ok(_) => env.reporter.done(id, started.elapsed()),
        Err(e) => env.reporter.error(id, &crate::progress::chain(e)),
    }
    result
}

/// Append a step's history entry and its layer, if it made one; whether it added a
/// history entry.
fn record(
    st: &mut StageResult,
    step: &crate::graph::Step,
    made: Option<Layer>,
    created: Option<String>,
) -> bool {
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
            &crate::domain::config::History::new(step.display.clone(), false),
            true,
            created,
        )),
        None => return false,
    }
    true
}
