//! [`plan`]: the whole of BuildKit's `toDispatchState`, minus execution — the global scope,
//! FROM expansion, stage references and dependencies, target pruning, ONBUILD triggers,
//! dispatch of every needed stage in Dockerfile order, and parallel levels. [`base_images`]:
//! the image references the same target reads, from the same first steps without dispatch.

use std::collections::{BTreeMap, BTreeSet};

use crate::dockerfile::ast::Span;
use crate::dockerfile::error::ParseError;
use crate::dockerfile::instructions::{Dockerfile, Instruction};
use crate::dockerfile::shell::Lexer;

use super::args::{
    automatic_args, global_args, is_automatic_arg, is_proxy_arg, proxy_env, ArgDecl, EnvList,
};
use super::config::StageConfig;
use super::dispatch::{dispatch_all, Ctx, StageState};
use super::model::{Plan, Source, StagePlan};
use super::prepare::{
    command_sources, prepare_stages, stage_head, triggers, Edges, Prepared, Refs,
};
use super::stages::{self, StageHead};
use super::{BaseImages, PlanOptions};
use crate::domain::Platform;

/// Steps 1–4 of [`plan`], shared with [`base_images`]: the global scope, the expanded
/// FROM lines, every stage's base and edges, and the stages the target reaches (their
/// commands filled in, ONBUILD triggers first).
struct Front {
    lexer: Lexer,
    build_platform: Platform,
    target_platform: Platform,
    global: EnvList,
    declared: BTreeSet<String>,
    heads: Vec<StageHead>,
    prepared: Vec<Prepared>,
    reach: BTreeSet<usize>,
}

/// Steps 1–4 of [`plan`]: see [`Front`].
fn front(
    df: &Dockerfile,
    opts: &PlanOptions,
    images: &dyn BaseImages,
) -> Result<Front, ParseError> {
    if df.stages.is_empty() {
        return Err(ParseError::at_line(
            0,
            "dockerfile contains no stages to build",
        ));
    }
    let lexer = Lexer::new(df.escape);
    let build_platform = opts.build_platform.clone();
    let target_platform = opts
        .target_platform
        .clone()
        .unwrap_or_else(|| build_platform.clone());
    let (global, declared) = global_scope(df, opts, &lexer, &target_platform)?;

    let mut heads = Vec::new();
    let mut platforms = Vec::new();
    for stage in &df.stages {
        let (head, platform) = stage_head(stage, &lexer, &global, &target_platform)?;
        heads.push(head);
        platforms.push(platform);
    }
    let target = stages::resolve_target(&heads, opts.target.as_deref())?;
    let refs = Refs {
        heads: &heads,
        contexts: &opts.named_contexts,
        lexer: &lexer,
    };
    let (mut prepared, mut edges) = prepare_stages(df, &refs, platforms)?;
    stages::check_cycles(&heads, &edges)?;
    let reach = reach_needed(
        df,
        target,
        &refs,
        images,
        &target_platform,
        &mut prepared,
        &mut edges,
    )?;
    Ok(Front {
        lexer,
        build_platform,
        target_platform,
        global,
        declared,
        heads,
        prepared,
        reach,
    })
}

/// The global scope: the automatic args and the Dockerfile's meta ARGs (before the first
/// FROM) resolved against the build args, with the names declared there.
fn global_scope(
    df: &Dockerfile,
    opts: &PlanOptions,
    lexer: &Lexer,
    target_platform: &Platform,
) -> Result<(EnvList, BTreeSet<String>), ParseError> {
    let build_platform = &opts.build_platform;
    let target_name = match opts.target.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => t.to_string(),
        None => df
            .stages
            .last()
            .and_then(|s| s.name.clone())
            .unwrap_or_default(),
    };
    let auto = automatic_args(
        build_platform,
        target_platform,
        &target_name,
        &opts.build_args,
    );
    let meta: Vec<ArgDecl<'_>> = df
        .meta_args
        .iter()
        .flat_map(|a| {
            a.args.iter().map(move |p| ArgDecl {
                key: &p.key,
                value: p.value.as_deref(),
                span: a.span,
            })
        })
        .collect();
    global_args(auto, &meta, &opts.build_args, lexer)
}

/// The stages `target` needs, their ONBUILD triggers read into `prepared` and the stage
/// references those add into `edges`; triggers may add dependencies, so repeat until
/// nothing new is reached.
fn reach_needed(
    df: &Dockerfile,
    target: usize,
    refs: &Refs<'_>,
    images: &dyn BaseImages,
    target_platform: &Platform,
    prepared: &mut [Prepared],
    edges: &mut Edges,
) -> Result<BTreeSet<usize>, ParseError> {
    loop {
        let reach = stages::reachable(target, edges);
        let mut grew = false;
        for &s in &reach {
            if prepared.get(s).is_some_and(|p| p.commands.is_some()) {
                continue;
            }
            let extra = triggers(df, s, prepared, refs, images, target_platform)?;
            if !extra.is_empty() {
                grew = true;
                edges.entry(s).or_default().extend(extra);
            }
        }
        if !grew {
            return Ok(reach);
        }
    }
}

/// The image references the target of `df` reads from (`FROM`, `COPY --from`,
/// `RUN --mount from=`), in first-use order, each with the Dockerfile lines of that first
/// use: what a build must have in its store before [`plan`] runs. The same ARG expansion,
/// target pruning and ONBUILD triggers as [`plan`] (triggers of the bases `images` knows);
/// `--from` values are never expanded, so nothing here depends on a stage's variables.
pub fn base_images(
    df: &Dockerfile,
    opts: &PlanOptions,
    images: &dyn BaseImages,
) -> Result<Vec<(String, Span)>, ParseError> {
    let f = front(df, opts, images)?;
    let refs = Refs {
        heads: &f.heads,
        contexts: &opts.named_contexts,
        lexer: &f.lexer,
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut add = |source: Source, span: Span| {
        if let Source::Image(r) = source {
            if seen.insert(r.clone()) {
                out.push((r, span));
            }
        }
    };
    for &s in &f.reach {
        let (Some(stage), Some(p)) = (df.stages.get(s), f.prepared.get(s)) else {
            continue;
        };
        add(p.base.clone(), stage.span);
        let commands = p.commands.as_deref().unwrap_or_default();
        for (source, span) in command_sources(&refs, commands, stage.span)? {
            add(source, span);
        }
    }
    Ok(out)
}

/// Plan the build of `opts.target` (default: the last stage) of `df`. See the module docs of
/// [`crate::graph`].
pub fn plan(
    df: &Dockerfile,
    opts: &PlanOptions,
    images: &dyn BaseImages,
) -> Result<Plan, ParseError> {
    let Front {
        lexer,
        build_platform,
        target_platform,
        global,
        mut declared,
        heads,
        prepared,
        reach,
    } = front(df, opts, images)?;
    let ctx = Ctx {
        lexer,
        global: &global,
        build_args: &opts.build_args,
        proxy_env: proxy_env(&opts.build_args),
        heads: &heads,
        contexts: &opts.named_contexts,
    };
    let order: Vec<usize> = reach.iter().copied().collect();
    let mut done: BTreeMap<usize, StageState> = BTreeMap::new();
    let mut all_deps: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for &s in &order {
        let (Some(stage), Some(p)) = (df.stages.get(s), prepared.get(s)) else {
            continue;
        };
        let start = StageStart {
            index: s,
            span: stage.span,
            prepared: p,
        };
        let mut state = start.state(&done, images, &target_platform)?;
        if let Source::Stage(j) = p.base {
            state.deps.insert(j);
        }
        let commands = p.commands.clone().unwrap_or_default();
        for c in &commands {
            if let Instruction::Arg(a) = &c.instr {
                declared.extend(a.args.iter().map(|p| p.key.clone()));
            }
        }
        dispatch_all(&ctx, &mut state, &commands)?;
        all_deps.insert(s, state.deps.clone());
        done.insert(s, state);
    }
    let levels = stages::levels(&order, &all_deps);
    Ok(Plan {
        stages: stage_plans(df, &order, done, (&prepared, &heads), &levels),
        build_platform,
        target_platform,
        global_args: global.vars().to_vec(),
        unused_build_args: unused_build_args(opts, &declared),
    })
}

/// One stage about to be dispatched: its index, its FROM line and what is known of it.
struct StageStart<'a> {
    /// The stage's index.
    index: usize,
    /// Its FROM line.
    span: Span,
    /// Its base, platform and base config.
    prepared: &'a Prepared,
}

impl StageStart<'_> {
    /// The stage's state before its first instruction: its parent stage's end state (from
    /// `done`), or the config of its base image or context (triggers cleared), or scratch.
    fn state(
        &self,
        done: &BTreeMap<usize, StageState>,
        images: &dyn BaseImages,
        target_platform: &Platform,
    ) -> Result<StageState, ParseError> {
        let (s, span, p) = (self.index, self.span, self.prepared);
        let platform = p
            .platform
            .clone()
            .unwrap_or_else(|| target_platform.clone());
        let cfg = match &p.base {
            Source::Stage(j) => {
                return match done.get(j) {
                    Some(parent) => Ok(StageState::from_parent(s, span, parent)),
                    None => Err(ParseError::new(
                        span,
                        format!("stage {j} must be built before stage {s}"),
                    )),
                }
            }
            Source::Image(r) => {
                let mut cfg = match &p.base_config {
                    Some(c) => c.clone(),
                    None => images.config(r, &platform).unwrap_or_default(),
                };
                cfg.on_build.clear();
                cfg
            }
            Source::Context(n) => {
                let known = p
                    .base_config
                    .clone()
                    .or_else(|| images.context_config(n, &platform));
                match known {
                    Some(mut c) => {
                        c.on_build.clear();
                        c
                    }
                    None => StageConfig::scratch(&platform.os),
                }
            }
            Source::Scratch | Source::BuildContext => StageConfig::scratch(&platform.os),
        };
        Ok(StageState::from_config(s, span, platform, cfg))
    }
}

/// The plans of the dispatched stages in `order`, with their parallel `levels`.
fn stage_plans(
    df: &Dockerfile,
    order: &[usize],
    mut done: BTreeMap<usize, StageState>,
    (prepared, heads): (&[Prepared], &[StageHead]),
    levels: &BTreeMap<usize, usize>,
) -> Vec<StagePlan> {
    let mut planned = Vec::new();
    for &s in order {
        let Some(state) = done.remove(&s) else {
            continue;
        };
        planned.push(StagePlan {
            index: s,
            name: df.stages.get(s).and_then(|st| st.name.clone()),
            span: df.stages.get(s).map(|st| st.span).unwrap_or_default(),
            base: prepared.get(s).map_or(Source::Scratch, |p| p.base.clone()),
            base_name: heads.get(s).map(|h| h.base.clone()).unwrap_or_default(),
            platform: state.platform.clone(),
            deps: state.deps.clone(),
            level: levels.get(&s).copied().unwrap_or(0),
            base_config: state.base_config,
            steps: state.steps,
            config: state.config,
            history: state.history,
        });
    }
    planned
}

/// The build args no ARG declares (proxy and automatic args never count as unused).
fn unused_build_args(opts: &PlanOptions, declared: &BTreeSet<String>) -> Vec<String> {
    opts.build_args
        .keys()
        .filter(|k| !declared.contains(*k) && !is_proxy_arg(k) && !is_automatic_arg(k))
        .cloned()
        .collect()
}
