//! Preparing stages for dispatch: FROM lines expanded against the global scope
//! ([`stage_head`]), each stage's base and its `--from` edges ([`prepare_stages`]), and the
//! ONBUILD triggers a base hands down ([`triggers`]) — from a parent stage's ONBUILD
//! instructions, or from an image config's `OnBuild` list, parsed again as BuildKit does.

use std::collections::{BTreeMap, BTreeSet};

use crate::dockerfile::ast::Span;
use crate::dockerfile::error::ParseError;
use crate::dockerfile::instructions::{parse_instruction, Dockerfile, Instruction, Stage};
use crate::dockerfile::shell::{Lexer, NoEnv};

use super::args::EnvList;
use super::config::StageConfig;
use super::dispatch::Command;
use super::model::Source;
use super::stages::{self, Edge, StageHead};
use super::BaseImages;
use crate::domain::Platform;

/// Expand FROM's base name and `--platform` against the global scope.
pub(super) fn stage_head(
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
pub(super) fn command_edges(
    heads: &[StageHead],
    contexts: &BTreeSet<String>,
    lexer: &Lexer,
    commands: &[Command],
    trigger_span: Span,
) -> Result<Vec<Edge>, ParseError> {
    let refs = Refs {
        heads,
        contexts,
        lexer,
    };
    Ok(command_sources(&refs, commands, trigger_span)?
        .into_iter()
        .filter_map(|(source, span)| match source {
            Source::Stage(to) => Some(Edge { to, span }),
            _ => None,
        })
        .collect())
}

/// What `commands` read from, in order: each `COPY --from` and `RUN --mount from=` resolved
/// to a stage, named context or image, with the lines of the command (`trigger_span`, the
/// FROM line, for an ONBUILD trigger).
pub(super) fn command_sources(
    refs: &Refs<'_>,
    commands: &[Command],
    trigger_span: Span,
) -> Result<Vec<(Source, Span)>, ParseError> {
    let (heads, contexts, lexer) = (refs.heads, refs.contexts, refs.lexer);
    let mut sources = Vec::new();
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
                    sources.push((
                        stages::resolve_from(heads, from, true, contexts, span)?,
                        span,
                    ));
                }
            }
            Instruction::Run(r) => {
                for m in &r.mounts {
                    if let Some(from) = &m.from {
                        sources.push((
                            stages::resolve_from(heads, from, false, contexts, span)?,
                            span,
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(sources)
}

/// Parse ONBUILD trigger text from an image config into instructions.
fn parse_trigger(text: &str, span: Span) -> Result<Instruction, ParseError> {
    let at = |m: String| ParseError::new(span, m);
    let ast = crate::dockerfile::parse(text).map_err(|e| at(e.message))?;
    let [node] = ast.children.as_slice() else {
        return Err(at(
            "onbuild trigger should be a single expression".to_string()
        ));
    };
    parse_instruction(node).map_err(|e| at(e.message))
}

/// What resolving stage references needs: the stages, the named contexts, the lexer.
pub(super) struct Refs<'a> {
    /// Every stage's expanded FROM.
    pub heads: &'a [StageHead],
    /// `--build-context` names.
    pub contexts: &'a BTreeSet<String>,
    /// The Dockerfile's lexer.
    pub lexer: &'a Lexer,
}

/// Stage-to-stage edges by stage.
pub(super) type Edges = BTreeMap<usize, Vec<Edge>>;

/// Everything known about one stage before dispatch.
pub(super) struct Prepared {
    /// What the stage starts from.
    pub base: Source,
    /// `FROM --platform`, expanded.
    pub platform: Option<Platform>,
    /// ONBUILD triggers of the base, then the stage's own instructions (set once the stage
    /// is known to be needed).
    pub commands: Option<Vec<Command>>,
    /// The base image's config, once looked up.
    pub base_config: Option<StageConfig>,
}

impl Prepared {
    /// True when a `--build-context` of the stage's own name replaces the stage.
    pub fn replaced(&self, stage: &Stage) -> bool {
        matches!(&self.base, Source::Context(n) if stage.name.as_deref() == Some(n.as_str()))
    }
}

fn own_commands(stage: &Stage) -> Vec<Command> {
    stage
        .instructions
        .iter()
        .map(|instr| Command {
            instr: instr.clone(),
            onbuild: false,
        })
        .collect()
}

/// The base and platform of every stage, and the stage-to-stage edges of FROM, `COPY
/// --from` and `RUN --mount from=`.
pub(super) fn prepare_stages(
    df: &Dockerfile,
    refs: &Refs<'_>,
    platforms: Vec<Option<Platform>>,
) -> Result<(Vec<Prepared>, Edges), ParseError> {
    let (heads, contexts, lexer) = (refs.heads, refs.contexts, refs.lexer);
    let mut prepared = Vec::new();
    let mut edges = BTreeMap::new();
    for ((i, stage), platform) in df.stages.iter().enumerate().zip(platforms) {
        let base = stages::resolve_base(heads, i, contexts)?;
        let mut e = Vec::new();
        if let Source::Stage(j) = base {
            e.push(Edge {
                to: j,
                span: stage.span,
            });
        }
        let p = Prepared {
            base,
            platform,
            commands: None,
            base_config: None,
        };
        if !p.replaced(stage) {
            e.extend(command_edges(
                heads,
                contexts,
                lexer,
                &own_commands(stage),
                stage.span,
            )?);
        }
        edges.insert(i, e);
        prepared.push(p);
    }
    Ok((prepared, edges))
}

/// Fill in the commands of stage `s`: its base's ONBUILD triggers, then its own
/// instructions. Returns the edges the triggers add.
pub(super) fn triggers(
    df: &Dockerfile,
    s: usize,
    prepared: &mut [Prepared],
    refs: &Refs<'_>,
    images: &dyn BaseImages,
    default_platform: &Platform,
) -> Result<Vec<Edge>, ParseError> {
    let (heads, contexts, lexer) = (refs.heads, refs.contexts, refs.lexer);
    let (Some(stage), Some(p)) = (df.stages.get(s), prepared.get_mut(s)) else {
        return Ok(Vec::new());
    };
    if p.replaced(stage) {
        p.commands = Some(Vec::new());
        return Ok(Vec::new());
    }
    let instrs: Vec<Instruction> = match &p.base {
        Source::Image(_) | Source::Context(_) => {
            let platform = p
                .platform
                .clone()
                .unwrap_or_else(|| default_platform.clone());
            let cfg = match &p.base {
                Source::Image(r) => Some(images.config(r, &platform).unwrap_or_default()),
                Source::Context(n) => images.context_config(n, &platform),
                _ => None,
            };
            match cfg {
                Some(cfg) => {
                    let t = cfg
                        .on_build
                        .iter()
                        .map(|text| parse_trigger(text, stage.span))
                        .collect::<Result<Vec<_>, _>>()?;
                    p.base_config = Some(cfg);
                    t
                }
                None => Vec::new(),
            }
        }
        Source::Stage(j) => df
            .stages
            .get(*j)
            .map(|parent| parent.instructions.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|i| match i {
                Instruction::Onbuild(o) => Some(&o.trigger),
                _ => None,
            })
            .map(|node| parse_instruction(node).map_err(|e| ParseError::new(stage.span, e.message)))
            .collect::<Result<Vec<_>, _>>()?,
        _ => Vec::new(),
    };
    let mut commands: Vec<Command> = instrs
        .into_iter()
        .map(|instr| Command {
            instr,
            onbuild: true,
        })
        .collect();
    let extra = command_edges(heads, contexts, lexer, &commands, stage.span)?;
    commands.extend(own_commands(stage));
    p.commands = Some(commands);
    Ok(extra)
}
