//! [`plan`]: the whole of BuildKit's `toDispatchState`, minus execution — global args, FROM
//! expansion, stage references and dependencies, target pruning, ONBUILD triggers, dispatch
//! of every needed stage in order, and parallel levels.

use std::collections::{BTreeMap, BTreeSet};

use crate::dockerfile::error::ParseError;
use crate::dockerfile::instructions::{Dockerfile, Instruction, Stage};
use crate::dockerfile::shell::{Lexer, NoEnv};

use super::args::{
    automatic_args, global_args, is_automatic_arg, is_proxy_arg, proxy_env, ArgDecl, EnvList,
};
use super::config::ImageConfig;
use super::dispatch::{dispatch_all, Command, Ctx, StageState};
use super::model::{Plan, Source, StagePlan};
use super::platform::Platform;
use super::stages::{self, Edge, StageHead};
use super::{BaseImages, PlanOptions};

/// Expand FROM's base name and `--platform` against the global scope.
fn stage_head(
    stage: &Stage,
    lexer: &Lexer,
    global: &EnvList,
    default_platform: &Platform,
) -> Result<(StageHead, Option<Platform>), ParseError> {
    let base = lexer
        .process_word(&stage.base, global)
        .map_err(|e| ParseError::new(stage.span, e.in_word(&stage.base)))?;
    if base.is_empty() {
        return Err(ParseError::new(
            stage.span,
            format!("base name ({}) should not be blank", stage.base),
        ));
    }
    let platform = match &stage.platform {
        None => None,
        Some(expr) => {
            let v = lexer.process_word(expr, global).map_err(|e| {
                ParseError::new(
                    stage.span,
                    format!("failed to process arguments for platform {expr}: {e}"),
                )
            })?;
            if v.is_empty() {
                return Err(ParseError::new(
                    stage.span,
                    format!("empty platform value from expression {expr}"),
                ));
            }
            let p = Platform::parse(&v, default_platform).map_err(|e| {
                ParseError::new(stage.span, format!("failed to parse platform {expr}: {e}"))
            })?;
            Some(p)
        }
    };
    let head = StageHead {
        name: stage.name.clone(),
        base,
        span: stage.span,
    };
    Ok((head, platform))
}

/// The stage edges of `commands`: `COPY --from` and `RUN --mount from=`.
fn command_edges(
    heads: &[StageHead],
    contexts: &BTreeSet<String>,
    lexer: &Lexer,
    commands: &[Command],
    trigger_span: crate::dockerfile::ast::Span,
) -> Result<Vec<Edge>, ParseError> {
    let mut edges = Vec::new();
    for cmd in commands {
        let span = if cmd.onbuild {
            trigger_span
        } else {
            cmd.instr.span()
        };
        match &cmd.instr {
            Instruction::Copy(c) => {
                if let Some(from) = &c.from {
                    let literal = lexer.process_word(from, &NoEnv).ok();
                    if literal.as_deref() != Some(from.as_str()) {
                        return Err(ParseError::new(
                            span,
                            "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround",
                        ));
                    }
                    if let Source::Stage(j) =
                        stages::resolve_from(heads, from, true, contexts, span)?
                    {
                        edges.push(Edge { to: j, span });
                    }
                }
            }
            Instruction::Run(r) => {
                for m in &r.mounts {
                    if let Some(from) = &m.from {
                        if let Source::Stage(j) =
                            stages::resolve_from(heads, from, false, contexts, span)?
                        {
                            edges.push(Edge { to: j, span });
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(edges)
}

/// Parse ONBUILD trigger text from an image config into instructions.
fn parse_trigger(
    text: &str,
    span: crate::dockerfile::ast::Span,
) -> Result<Instruction, ParseError> {
    let at = |m: String| ParseError::new(span, m);
    let ast = crate::dockerfile::parse(text).map_err(|e| at(e.message))?;
    let [node] = ast.children.as_slice() else {
        return Err(at(
            "onbuild trigger should be a single expression".to_string()
        ));
    };
    crate::dockerfile::instructions::parse_instruction(node).map_err(|e| at(e.message))
}

/// Everything known about one stage before dispatch.
struct Prepared {
    base: Source,
    platform: Option<Platform>,
    /// ONBUILD triggers of the base, then the stage's own instructions (once reachable).
    commands: Option<Vec<Command>>,
    /// Base image config, when the base is an image.
    base_config: Option<ImageConfig>,
}

/// Plan the build of `opts.target` (default: the last stage) of `df`. See the module docs of
/// [`crate::graph`].
pub fn plan(
    df: &Dockerfile,
    escape: char,
    opts: &PlanOptions,
    images: &dyn BaseImages,
) -> Result<Plan, ParseError> {
    if df.stages.is_empty() {
        return Err(ParseError::at_line(
            0,
            "dockerfile contains no stages to build",
        ));
    }
    let lexer = Lexer::new(escape);
    let build_platform = opts.build_platform.clone();
    let target_platform = opts
        .target_platform
        .clone()
        .unwrap_or_else(|| build_platform.clone());
    let target_name = match opts.target.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => t.to_string(),
        None => df
            .stages
            .last()
            .and_then(|s| s.name.clone())
            .unwrap_or_default(),
    };
    let auto = automatic_args(
        &build_platform,
        &target_platform,
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
    let (global, mut declared) = global_args(auto, &meta, &opts.build_args, &lexer)?;

    let mut heads = Vec::new();
    let mut platforms = Vec::new();
    for stage in &df.stages {
        let (head, platform) = stage_head(stage, &lexer, &global, &target_platform)?;
        heads.push(head);
        platforms.push(platform);
    }
    let mut prepared = Vec::new();
    let mut edges: BTreeMap<usize, Vec<Edge>> = BTreeMap::new();
    for (i, stage) in df.stages.iter().enumerate() {
        let base = stages::resolve_base(&heads, i, &opts.named_contexts)?;
        let mut e = Vec::new();
        if let Source::Stage(j) = base {
            e.push(Edge {
                to: j,
                span: stage.span,
            });
        }
        let replaced =
            matches!(&base, Source::Context(n) if stage.name.as_deref() == Some(n.as_str()));
        if !replaced {
            let own: Vec<Command> = stage
                .instructions
                .iter()
                .map(|instr| Command {
                    instr: instr.clone(),
                    onbuild: false,
                })
                .collect();
            e.extend(command_edges(
                &heads,
                &opts.named_contexts,
                &lexer,
                &own,
                stage.span,
            )?);
        }
        edges.insert(i, e);
        prepared.push(Prepared {
            base,
            platform: platforms[i].clone(),
            commands: None,
            base_config: None,
        });
    }
    let target = stages::resolve_target(&heads, opts.target.as_deref())?;
    stages::check_cycles(&heads, &edges)?;

    // Reachable stages; ONBUILD triggers may add dependencies, so repeat until stable.
    let mut reach;
    loop {
        reach = stages::reachable(target, &edges);
        let mut grew = false;
        for &s in &reach {
            if prepared[s].commands.is_some() {
                continue;
            }
            let stage = &df.stages[s];
            let replaced = matches!(&prepared[s].base, Source::Context(n) if stage.name.as_deref() == Some(n.as_str()));
            let mut commands = Vec::new();
            if !replaced {
                let platform = prepared[s]
                    .platform
                    .clone()
                    .unwrap_or_else(|| target_platform.clone());
                let triggers: Vec<Instruction> = match &prepared[s].base {
                    Source::Image(r) => {
                        let cfg = images.config(r, &platform).unwrap_or_default();
                        let t = cfg
                            .on_build
                            .iter()
                            .map(|text| parse_trigger(text, stage.span))
                            .collect::<Result<Vec<_>, _>>()?;
                        prepared[s].base_config = Some(cfg);
                        t
                    }
                    Source::Stage(j) => df.stages[*j]
                        .instructions
                        .iter()
                        .filter_map(|i| match i {
                            Instruction::Onbuild(o) => Some(&o.trigger),
                            _ => None,
                        })
                        .map(|node| {
                            crate::dockerfile::instructions::parse_instruction(node)
                                .map_err(|e| ParseError::new(stage.span, e.message))
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                    _ => Vec::new(),
                };
                let trig: Vec<Command> = triggers
                    .into_iter()
                    .map(|instr| Command {
                        instr,
                        onbuild: true,
                    })
                    .collect();
                let extra = command_edges(&heads, &opts.named_contexts, &lexer, &trig, stage.span)?;
                if !extra.is_empty() {
                    grew = true;
                    edges.entry(s).or_default().extend(extra);
                }
                commands = trig;
                commands.extend(stage.instructions.iter().map(|instr| Command {
                    instr: instr.clone(),
                    onbuild: false,
                }));
            }
            prepared[s].commands = Some(commands);
        }
        if !grew {
            break;
        }
    }

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
        let stage = &df.stages[s];
        let p = &prepared[s];
        let platform = p
            .platform
            .clone()
            .unwrap_or_else(|| target_platform.clone());
        let mut state = match &p.base {
            Source::Stage(j) => match done.get(j) {
                Some(parent) => StageState::from_parent(s, stage.span, parent),
                None => {
                    return Err(ParseError::new(
                        stage.span,
                        format!("stage {} is not built before {}", j, s),
                    ))
                }
            },
            Source::Image(r) => {
                let cfg = match &p.base_config {
                    Some(c) => c.clone(),
                    None => images.config(r, &platform).unwrap_or_default(),
                };
                let mut cfg = cfg;
                cfg.on_build.clear();
                StageState::from_config(s, stage.span, platform, cfg)
            }
            Source::Scratch | Source::Context(_) | Source::BuildContext => {
                let os = platform.os.clone();
                StageState::from_config(s, stage.span, platform, ImageConfig::scratch(&os))
            }
        };
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
    let mut planned = Vec::new();
    for &s in &order {
        let Some(state) = done.remove(&s) else {
            continue;
        };
        planned.push(StagePlan {
            index: s,
            name: df.stages[s].name.clone(),
            span: df.stages[s].span,
            base: prepared[s].base.clone(),
            platform: state.platform.clone(),
            deps: state.deps.clone(),
            level: levels.get(&s).copied().unwrap_or(0),
            base_config: state.base_config,
            steps: state.steps,
            config: state.config,
            history: state.history,
        });
    }
    let unused_build_args = opts
        .build_args
        .keys()
        .filter(|k| !declared.contains(*k) && !is_proxy_arg(k) && !is_automatic_arg(k))
        .cloned()
        .collect();
    Ok(Plan {
        stages: planned,
        build_platform,
        target_platform,
        global_args: global.vars().to_vec(),
        unused_build_args,
    })
}
