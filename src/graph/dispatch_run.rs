//! RUN: the process arguments (SHELL prepended in shell form; heredocs run as BuildKit runs
//! them), environment, user, working directory, network, security and mounts, and the
//! history text `RUN [|N K=V ...] <args> # buildkit`, where `|N K=V` lists the build args in
//! scope.

use std::collections::BTreeSet;

use crate::dockerfile::ast::{Heredoc, Span};
use crate::dockerfile::error::ParseError;
use crate::dockerfile::instructions::{MountType, RunCommand};
use crate::domain::config::History;

use super::args::EnvList;
use super::dispatch::{clean_abs, source_stage, Ctx, Outcome, StageState, Use};
use super::dispatch_config::with_shell;
use super::model::{Action, InlineFile, LayerKind, PlannedMount, RunAction};
use super::stages::resolve_from;

/// True for a word that is one heredoc marker (`<<EOF`, `<<-"EOF"`, `0<<EOF`), BuildKit's
/// `reHeredoc`.
fn is_single_heredoc(word: &str) -> bool {
    let rest = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let Some(rest) = rest.strip_prefix("<<") else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let (quote, rest) = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => (Some(q), &rest[1..]),
        _ => (None, rest),
    };
    let name = match quote {
        Some(q) => match rest.strip_suffix(q) {
            Some(n) => n,
            None => return false,
        },
        None => rest,
    };
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric())
}

/// The first line of a heredoc, with `...` when there are more (progress names).
fn summarize(doc: &str) -> String {
    let doc = doc.trim().replace("\r\n", "\n");
    let mut lines = doc.split('\n');
    let first = lines.next().unwrap_or_default();
    if lines.next().is_some() {
        format!("{first}...")
    } else {
        first.to_string()
    }
}

/// The command line after heredoc handling, and the script file it runs, if any.
fn heredoc_args(
    state: &StageState,
    args: &[String],
    heredocs: &[Heredoc],
    prepend_shell: bool,
) -> Result<(Vec<String>, Option<InlineFile>), String> {
    let Some(doc) = heredocs.first() else {
        return Ok((args.to_vec(), None));
    };
    let [line] = args else {
        return Err(format!(
            "parsing produced an invalid run command: [{}]",
            args.join(" ")
        ));
    };
    if !prepend_shell {
        return Err(format!("parsing produced an invalid run command: [{line}]"));
    }
    if is_single_heredoc(line) {
        if state.platform.os != "windows" && doc.content.starts_with("#!") {
            let file = InlineFile {
                name: doc.name.clone(),
                content: doc.content.clone(),
            };
            return Ok((vec![format!("/dev/pipes/{}", doc.name)], Some(file)));
        }
        return Ok((vec![doc.content.clone()], None));
    }
    let mut text = line.clone();
    for doc in heredocs {
        text.push('\n');
        text.push_str(&doc.content);
        text.push_str(&doc.name);
    }
    Ok((vec![text], None))
}

/// `|N K=V ... args`, BuildKit's `runCommandString`.
fn run_command_string(args: &[String], build_args: &[(String, String)]) -> String {
    let mut parts = Vec::new();
    if !build_args.is_empty() {
        parts.push(format!("|{}", build_args.len()));
        parts.extend(build_args.iter().map(|(k, v)| format!("{k}={v}")));
    }
    parts.extend(args.iter().cloned());
    parts.join(" ")
}

/// Mounts with absolute targets and resolved sources.
fn plan_mounts(
    ctx: &Ctx<'_>,
    state: &StageState,
    c: &RunCommand,
    span: Span,
) -> Result<(Vec<PlannedMount>, Vec<usize>), ParseError> {
    let mut out = Vec::new();
    let mut deps = Vec::new();
    let mut ssh_count = 0;
    for spec in &c.mounts {
        let Some(mount) = spec.resolved.clone() else {
            continue;
        };
        let from = match &mount.from {
            Some(f) if !matches!(mount.kind, MountType::Tmpfs) => {
                let src = resolve_from(ctx.heads, f, false, ctx.contexts, span)?;
                if let Some(j) = source_stage(ctx, state, &src, f, Use::Mount, span)? {
                    deps.push(j);
                }
                Some(src)
            }
            _ => None,
        };
        let target = match mount.kind {
            MountType::Secret => mount.secret_target().unwrap_or_default(),
            MountType::Ssh => {
                // N counts every ssh mount of the step, as BuildKit's exec op does.
                let n = ssh_count;
                ssh_count += 1;
                match &mount.target {
                    Some(t) => t.clone(),
                    None => format!("/run/buildkit/ssh_agent.{n}"),
                }
            }
            _ => mount.target.clone().unwrap_or_default(),
        };
        let target = if target.is_empty() || target.starts_with('/') {
            target
        } else {
            clean_abs(&format!("{}/{target}", state.workdir))
        };
        if target == "/" {
            return Err(ParseError::new(span, "invalid mount target \"/\""));
        }
        out.push(PlannedMount {
            mount,
            target,
            from,
        });
    }
    Ok((out, deps))
}

/// Dispatch an expanded RUN.
pub(super) fn run(
    ctx: &Ctx<'_>,
    state: &mut StageState,
    c: &RunCommand,
    env: &EnvList,
    span: Span,
) -> Result<Outcome, ParseError> {
    let err = |m: String| ParseError::new(span, m);
    let (mut args, script) = heredoc_args(
        state,
        &c.cmd_line.args,
        &c.heredocs,
        c.cmd_line.prepend_shell,
    )
    .map_err(err)?;
    if c.cmd_line.prepend_shell {
        args = with_shell(state, &args);
    }
    let (mounts, deps) = plan_mounts(ctx, state, c, span)?;

    // Progress name: the instruction as written, expanded keeping quotes and unset
    // variables; secret environment variables masked.
    let mut shown_env = env.clone();
    let secret_envs: BTreeSet<String> = mounts
        .iter()
        .filter(|m| m.mount.kind == MountType::Secret)
        .filter_map(|m| match m.mount.env.as_deref() {
            Some("") => m.mount.secret_id(),
            other => other.map(str::to_string),
        })
        .collect();
    for name in &secret_envs {
        shown_env.set(name, "****");
    }
    let mut custom = c.original.clone();
    if let Some(doc) = c.heredocs.first() {
        custom.push_str(&format!(" ({})", summarize(&doc.content)));
    }
    let display_lexer = ctx.lexer.raw_quotes(true).skip_unset_env(true);
    let display = super::dispatch::display_name(&display_lexer, &custom, &shown_env);

    let build_args = state.args_in_scope();
    let history = History::new(
        format!("RUN {} # buildkit", run_command_string(&args, &build_args)),
        false,
    );
    let action = RunAction {
        args,
        env: state.env.to_strings(),
        proxy_env: ctx.proxy_env.clone(),
        user: state.user.clone(),
        workdir: state.workdir.clone(),
        network: c.network,
        security: c.security,
        mounts,
        script,
    };
    Ok(Outcome {
        display,
        action: Action::Run(action),
        layer: LayerKind::Layer,
        history: Some(history),
        deps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_heredoc_markers() {
        for yes in ["<<EOF", "<<-EOF", "<<\"EOF\"", "<<'e1'", "0<<EOF"] {
            assert!(is_single_heredoc(yes), "{yes}");
        }
        for no in ["cat <<EOF", "<<EOF > f", "<<1A", "<<\"EOF", "<<"] {
            assert!(!is_single_heredoc(no), "{no}");
        }
    }

    #[test]
    fn history_lists_build_args_first() {
        let args = vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            "echo $A".to_string(),
        ];
        let ba = vec![
            ("A".to_string(), "1".to_string()),
            ("B".to_string(), String::new()),
        ];
        assert_eq!(
            run_command_string(&args, &ba),
            "|2 A=1 B= /bin/sh -c echo $A"
        );
        assert_eq!(run_command_string(&args, &[]), "/bin/sh -c echo $A");
    }

    #[test]
    fn heredoc_summary() {
        assert_eq!(summarize("\necho hi\n"), "echo hi");
        assert_eq!(summarize("a\nb\n"), "a...");
    }
}
