//! Rules on FROM lines and the ARGs before the first FROM: `InvalidDefaultArgInFrom`,
//! `UndefinedArgInFrom`, `RedundantTargetPlatform` and `FromPlatformFlagConstDisallowed`.
//!
//! FROM words are expanded the way the planner expands them (the global scope: the
//! automatic platform args, then the meta ARGs with their defaults), but only to see which
//! names they use and what they give; a word that does not expand is left to the planner,
//! which reports it as an error.

use std::collections::BTreeMap;

use super::Finding;
use crate::dockerfile::ast::Ast;
use crate::dockerfile::instructions::suggest::closest;
use crate::dockerfile::instructions::{Dockerfile, Stage};
use crate::dockerfile::shell::{Lexer, Matches};
use crate::domain::platform::Platform;
use crate::domain::reference::Reference;

/// The automatic args of the global scope (values are stand-ins: only names and shapes
/// matter here).
const AUTOMATIC_ARGS: [(&str, &str); 11] = [
    ("BUILDPLATFORM", "linux/amd64"),
    ("BUILDOS", "linux"),
    ("BUILDOSVERSION", ""),
    ("BUILDARCH", "amd64"),
    ("BUILDVARIANT", ""),
    ("TARGETPLATFORM", "linux/amd64"),
    ("TARGETOS", "linux"),
    ("TARGETOSVERSION", ""),
    ("TARGETARCH", "amd64"),
    ("TARGETVARIANT", ""),
    ("TARGETSTAGE", "default"),
];

/// The global scope with defaults only (no `--build-arg`), and every name it declares.
fn global_scope(df: &Dockerfile, lex: &Lexer) -> (BTreeMap<String, String>, Vec<String>) {
    let mut env: BTreeMap<String, String> = AUTOMATIC_ARGS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut keys: Vec<String> = env.keys().cloned().collect();
    for arg in df.meta_args.iter().flat_map(|a| &a.args) {
        keys.push(arg.key.clone());
        if let Some(value) = &arg.value {
            let expanded = lex.process_word(value, &env).unwrap_or_default();
            env.insert(arg.key.clone(), expanded);
        }
    }
    (env, keys)
}

/// Run the FROM rules, in BuildKit's order: default-args validity for every stage first,
/// then each stage's base name and platform.
pub(super) fn check(_ast: &Ast, df: &Dockerfile, out: &mut Vec<Finding>) {
    let lex = Lexer::new(df.escape);
    let (env, keys) = global_scope(df, &lex);
    let expand = |word: &str| lex.process_word_with_matches(word, &env).ok();
    for stage in &df.stages {
        let Some((result, _)) = expand(&stage.base) else {
            return;
        };
        if Reference::parse_named(&result).is_err() && !is_stage_name(df, &result) {
            out.push(Finding::new(
                "InvalidDefaultArgInFrom",
                format!(
                    "Default value for ARG {} results in empty or invalid base image name",
                    stage.base
                ),
                stage.span.start,
            ));
        }
    }
    for stage in &df.stages {
        if let Some((_, matches)) = expand(&stage.base) {
            undefined(&matches, &keys, stage, out);
        }
        let Some(platform) = stage.platform.as_deref().filter(|p| !p.is_empty()) else {
            continue;
        };
        let Some((result, matches)) = expand(platform) else {
            continue;
        };
        undefined(&matches, &keys, stage, out);
        redundant_target_platform(platform, &result, &matches, &env, stage, out);
        const_platform(&result, &matches, stage, out);
    }
}

/// `scratch` and earlier stage names are valid bases without being image references.
fn is_stage_name(df: &Dockerfile, name: &str) -> bool {
    name.eq_ignore_ascii_case("scratch")
        || df
            .stages
            .iter()
            .any(|s| s.name.as_deref() == Some(&*name.to_lowercase()))
}

fn undefined(matches: &Matches, keys: &[String], stage: &Stage, out: &mut Vec<Finding>) {
    let mut options: Vec<&str> = keys.iter().map(String::as_str).collect();
    options.sort_unstable();
    options.dedup();
    for name in &matches.unmatched {
        if keys.contains(name) {
            continue;
        }
        let mut message = format!("FROM argument '{name}' is not declared");
        if let Some(close) = closest(name, &options, true) {
            message.push_str(&format!(" (did you mean {close}?)"));
        }
        out.push(Finding::new(
            "UndefinedArgInFrom",
            message,
            stage.span.start,
        ));
    }
}

fn redundant_target_platform(
    written: &str,
    result: &str,
    matches: &Matches,
    env: &BTreeMap<String, String>,
    stage: &Stage,
    out: &mut Vec<Finding>,
) {
    let only_target = matches.unmatched.is_empty()
        && matches.matched.len() == 1
        && matches.matched.contains("TARGETPLATFORM");
    if only_target && env.get("TARGETPLATFORM").map(String::as_str) == Some(result) {
        out.push(Finding::new(
            "RedundantTargetPlatform",
            format!(
                "Setting platform to predefined {written} in FROM is redundant as this is the \
                 default behavior"
            ),
            stage.span.start,
        ));
    }
}

fn const_platform(result: &str, matches: &Matches, stage: &Stage, out: &mut Vec<Finding>) {
    if !matches.matched.is_empty() || !matches.unmatched.is_empty() {
        return;
    }
    let default = Platform::new("linux", "amd64", "");
    let Ok(p) = Platform::parse(result, &default) else {
        return;
    };
    let name = stage.name.as_deref().unwrap_or("");
    if name.contains(&*p.os) || name.contains(&*p.architecture) {
        return;
    }
    out.push(Finding::new(
        "FromPlatformFlagConstDisallowed",
        format!("FROM --platform flag should not use constant value {result:?}"),
        stage.span.start,
    ));
}
