//! FROM and ARG, and the grouping of instructions into stages: ARGs before the first FROM
//! are meta args, every FROM starts a [`Stage`], and anything else before the first FROM is
//! an error (BuildKit's `instructions.Parse`).

use crate::dockerfile::ast::{Ast, Node, Span};
use crate::dockerfile::error::ParseError;

use super::bflag::FlagSet;
use super::common::{at_least_one, blank_names, comment_for, err_at, values};
use super::expand::{self, Expander};
use super::{parse_instruction, Instruction};

/// `FROM [--platform=...] base [AS name]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromCommand {
    /// The base: image reference or earlier stage name, not yet expanded.
    pub base: String,
    /// The stage name, lower-cased (BuildKit compares stage names case-insensitively).
    pub name: Option<String>,
    /// `--platform`, not yet expanded.
    pub platform: Option<String>,
    /// The comment above the FROM that documents the stage (`# name description`).
    pub comment: Option<String>,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

/// One name of an ARG instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgPair {
    /// The variable name (never expanded).
    pub key: String,
    /// The default value (`None` for `ARG NAME`), not yet expanded.
    pub value: Option<String>,
    /// The comment above the ARG that documents it (`# NAME description`).
    pub comment: Option<String>,
}

/// `ARG name[=default] ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgCommand {
    /// The declared names, in order.
    pub args: Vec<ArgPair>,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

impl ArgCommand {
    /// Expand every default value (never the names).
    ///
    /// BuildKit evaluates a default only when no build arg overrides it; a caller that
    /// follows that rule expands pair by pair with [`ArgPair::expanded_value`] instead.
    pub fn expand(&mut self, ex: &mut dyn Expander) -> Result<(), ParseError> {
        for pair in &mut self.args {
            pair.value = pair.expanded_value(ex, self.span)?;
        }
        Ok(())
    }
}

impl ArgPair {
    /// The default value expanded (`None` when there is no default).
    pub fn expanded_value(
        &self,
        ex: &mut dyn Expander,
        span: Span,
    ) -> Result<Option<String>, ParseError> {
        self.value
            .as_deref()
            .map(|v| expand::word(ex, span, v))
            .transpose()
    }
}

/// A build stage: its FROM and the instructions up to the next FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Position among the stages (what `COPY --from=0` refers to).
    pub index: usize,
    /// `AS name`, lower-cased.
    pub name: Option<String>,
    /// The base as written (unexpanded).
    pub base: String,
    /// `--platform` as written (unexpanded).
    pub platform: Option<String>,
    /// The comment that documents the stage.
    pub comment: Option<String>,
    /// Lines of the FROM instruction.
    pub span: Span,
    /// The FROM instruction as written, trimmed.
    pub original: String,
    /// The stage's instructions, in order (no FROM).
    pub instructions: Vec<Instruction>,
}

impl Stage {
    /// The base name expanded (against global ARGs, as BuildKit does); an empty result is
    /// `base name (<as written>) should not be blank`.
    pub fn expanded_base(&self, ex: &mut dyn Expander) -> Result<String, ParseError> {
        let base = expand::word(ex, self.span, &self.base)?;
        if base.is_empty() {
            return Err(ParseError::new(
                self.span,
                format!("base name ({}) should not be blank", self.base),
            ));
        }
        Ok(base)
    }

    /// `--platform` expanded (against global ARGs); `None` when absent or empty.
    pub fn expanded_platform(&self, ex: &mut dyn Expander) -> Result<Option<String>, ParseError> {
        let mut platform = self.platform.clone();
        expand::option_in_place(ex, self.span, &mut platform)?;
        Ok(platform)
    }
}

/// A non-fatal finding about the stages (BuildKit reports these as build-check warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lint {
    /// The check's name (`DuplicateStageName`, `ReservedStageName`).
    pub rule: &'static str,
    /// What is wrong, as BuildKit words it.
    pub message: String,
    /// The FROM it refers to.
    pub span: Span,
}

/// A Dockerfile as typed instructions grouped into stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// ARGs before the first FROM (usable in FROM lines).
    pub meta_args: Vec<ArgCommand>,
    /// The stages, in order (at least one).
    pub stages: Vec<Stage>,
    /// Duplicate or reserved stage names: warnings in BuildKit, not errors.
    pub warnings: Vec<Lint>,
    /// The escape character (`# escape=` directive, default backslash), which expansion uses.
    pub escape: char,
}

impl Dockerfile {
    /// The last stage named `name` (case-insensitive), as `--target` and `COPY --from`
    /// resolve names.
    pub fn find_stage(&self, name: &str) -> Option<&Stage> {
        let name = name.to_lowercase();
        self.stages
            .iter()
            .rev()
            .find(|s| s.name.as_deref() == Some(name.as_str()))
    }
}

const VALID_NAME_HINT: &str = "name can't start with a number or contain symbols";

/// BuildKit's `^[a-z][a-z0-9-_.]*$` on the lower-cased name.
fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

pub(crate) fn parse_from(node: &Node) -> Result<FromCommand, ParseError> {
    let args = values(node);
    let name = match args.as_slice() {
        [_] => None,
        [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            if !valid_stage_name(&lower) {
                return Err(err_at(
                    node,
                    format!("invalid name for build stage: {name:?}, {VALID_NAME_HINT}"),
                ));
            }
            Some(lower)
        }
        _ => return Err(err_at(node, "FROM requires either one or three arguments")),
    };
    let mut fs = FlagSet::new(&node.flags);
    let platform = fs.string("platform", "");
    let flags = fs.parse().map_err(|e| err_at(node, e))?;
    let base = args.into_iter().next().unwrap_or_default();
    Ok(FromCommand {
        base,
        comment: name
            .as_deref()
            .and_then(|n| comment_for(&node.prev_comment, n)),
        name,
        platform: super::common::non_empty(flags.string(platform)),
        span: node.span,
        original: node.original.trim().to_string(),
    })
}

/// ARG: BuildKit never parses its flags, so they are ignored.
pub(crate) fn parse_arg(node: &Node) -> Result<ArgCommand, ParseError> {
    let args = values(node);
    if args.is_empty() {
        return Err(err_at(node, at_least_one("ARG")));
    }
    let mut pairs = Vec::with_capacity(args.len());
    for arg in args {
        let (key, value) = match arg.split_once('=') {
            Some(("", _)) => return Err(err_at(node, blank_names("ARG"))),
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (arg, None),
        };
        pairs.push(ArgPair {
            comment: comment_for(&node.prev_comment, &key),
            key,
            value,
        });
    }
    Ok(ArgCommand {
        args: pairs,
        span: node.span,
        original: node.original.trim().to_string(),
    })
}

/// Parse every instruction of `ast` and group them into stages.
pub fn parse_dockerfile(ast: &Ast) -> Result<Dockerfile, ParseError> {
    if ast.children.is_empty() {
        return Err(ParseError::new(ast.span, "the Dockerfile cannot be empty"));
    }
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for node in &ast.children {
        let instruction = parse_instruction(node)?;
        match instruction {
            Instruction::Arg(arg) if stages.is_empty() => meta_args.push(arg),
            Instruction::From(from) => stages.push(Stage {
                index: stages.len(),
                name: from.name,
                base: from.base,
                platform: from.platform,
                comment: from.comment,
                span: from.span,
                original: from.original,
                instructions: Vec::new(),
            }),
            other => match stages.last_mut() {
                Some(stage) => stage.instructions.push(other),
                None => return Err(err_at(node, "no build stage in current context")),
            },
        }
    }
    if stages.is_empty() {
        return Err(ParseError::new(
            ast.span,
            "dockerfile contains no stages to build",
        ));
    }
    let warnings = stage_name_lints(&stages);
    Ok(Dockerfile {
        meta_args,
        stages,
        warnings,
        escape: ast.escape,
    })
}

fn stage_name_lints(stages: &[Stage]) -> Vec<Lint> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for stage in stages {
        let Some(name) = stage.name.as_deref() else {
            continue;
        };
        if name == "context" || name == "scratch" {
            out.push(Lint {
                rule: "ReservedStageName",
                message: format!(
                    "Stage name should not use the same name as reserved stage {name:?}"
                ),
                span: stage.span,
            });
        }
        if seen.contains(&name) {
            out.push(Lint {
                rule: "DuplicateStageName",
                message: format!("Duplicate stage name {name:?}, stage names should be unique"),
                span: stage.span,
            });
        }
        seen.push(name);
    }
    out
}

#[cfg(test)]
#[path = "stage_tests.rs"]
mod tests;
