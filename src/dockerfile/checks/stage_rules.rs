//! Rules BuildKit runs while dispatching a stage's instructions: `LegacyKeyValueFormat`,
//! `SecretsUsedInArgOrEnv`, `WorkdirRelativePath`, `JSONArgsRecommended`,
//! `MultipleInstructionsDisallowed`, `ExposeProtoCasing` and `ExposeInvalidFormat`.

use super::casing::written_keyword;
use super::Finding;
use crate::dockerfile::ast::{Ast, Node};

/// What dispatch has seen so far in one stage.
#[derive(Default, Clone)]
struct StageState {
    /// A SHELL was set (here or in the parent stage).
    shell: bool,
    /// A WORKDIR was already set in this stage (or its parent stage).
    workdir: bool,
    /// Last line of CMD, ENTRYPOINT and HEALTHCHECK in this stage.
    cmd: Option<usize>,
    entrypoint: Option<usize>,
    healthcheck: Option<usize>,
}

/// Walk the stages in order; a stage built FROM an earlier one starts with its SHELL and
/// WORKDIR set as the parent left them.
pub(super) fn check(ast: &Ast, out: &mut Vec<Finding>) {
    let mut named: Vec<(String, StageState)> = Vec::new();
    let mut state: Option<(Option<String>, StageState)> = None;
    for node in &ast.children {
        if node.keyword == "from" {
            if let Some((Some(name), st)) = state.take() {
                named.push((name, st));
            }
            let args: Vec<&str> = node.values().collect();
            let base = args.first().map(|b| b.to_lowercase()).unwrap_or_default();
            let start = match named.iter().rev().find(|(n, _)| *n == base) {
                Some((_, parent)) => StageState {
                    shell: parent.shell,
                    workdir: parent.workdir,
                    ..StageState::default()
                },
                None => StageState::default(),
            };
            state = Some((args.get(2).map(|n| n.to_lowercase()), start));
            continue;
        }
        if let Some((_, st)) = state.as_mut() {
            dispatch(node, st, out);
        }
    }
}

fn dispatch(node: &Node, st: &mut StageState, out: &mut Vec<Finding>) {
    let line = node.span.start;
    let name = written_keyword(node);
    match node.keyword.as_str() {
        "env" | "label" => key_values(node, name, out),
        "arg" => {
            for word in node.values() {
                let key = word.split_once('=').map_or(word, |(k, _)| k);
                secret_key("ARG", key, line, out);
            }
        }
        "workdir" => {
            let path = node.values().next().unwrap_or("");
            if !st.workdir && !path.starts_with('/') && !path.contains('$') {
                out.push(Finding::new(
                    "WorkdirRelativePath",
                    format!(
                        "Relative workdir {path:?} can have unexpected results if the base image \
                         changes"
                    ),
                    line,
                ));
            }
            st.workdir = true;
        }
        "shell" => st.shell = true,
        "cmd" | "entrypoint" => {
            let last = match node.keyword.as_str() {
                "cmd" => &mut st.cmd,
                _ => &mut st.entrypoint,
            };
            used_once(name, last, line, out);
            if !node.json && !st.shell {
                out.push(Finding::new(
                    "JSONArgsRecommended",
                    format!(
                        "JSON arguments recommended for {name} to prevent unintended behavior \
                         related to OS signals"
                    ),
                    line,
                ));
            }
        }
        "healthcheck" => used_once(name, &mut st.healthcheck, line, out),
        "expose" => {
            for port in node.values().filter(|p| !p.contains('$')) {
                expose(port, line, out);
            }
        }
        _ => {}
    }
}

/// ENV and LABEL: arguments come as key, value, separator triples (`""` for the legacy
/// `KEY value` form).
fn key_values(node: &Node, name: &str, out: &mut Vec<Finding>) {
    let words: Vec<&str> = node.values().collect();
    for triple in words.chunks(3) {
        let [key, _, sep] = triple else {
            continue;
        };
        if sep.is_empty() {
            out.push(Finding::new(
                "LegacyKeyValueFormat",
                format!(
                    "\"{name} key=value\" should be used instead of legacy \"{name} key value\" \
                     format"
                ),
                node.span.start,
            ));
        }
        if node.keyword == "env" {
            secret_key("ENV", key, node.span.start, out);
        }
    }
}

/// `MultipleInstructionsDisallowed`: reported at the earlier instruction, the one ignored.
fn used_once(name: &str, last: &mut Option<usize>, line: usize, out: &mut Vec<Finding>) {
    if let Some(prev) = *last {
        out.push(Finding::new(
            "MultipleInstructionsDisallowed",
            format!(
                "Multiple {name} instructions should not be used in the same stage because only \
                 the last one will be used"
            ),
            prev,
        ));
    }
    *last = Some(line);
}

const SECRET_WORDS: [&str; 10] = [
    "apikey",
    "auth",
    "credential",
    "credentials",
    "key",
    "password",
    "pword",
    "passwd",
    "secret",
    "token",
];
const ALLOWED_WORDS: [&str; 3] = ["public", "file", "version"];

/// True when one of the `_`-separated words of `key` is in `words`, case insensitively
/// (BuildKit's `(?i)(?:_|^)(?:word|...)(?:_|$)`).
fn has_word(key: &str, words: &[&str]) -> bool {
    key.to_lowercase()
        .split('_')
        .any(|part| words.contains(&part))
}

fn secret_key(instruction: &str, key: &str, line: usize, out: &mut Vec<Finding>) {
    if has_word(key, &SECRET_WORDS) && !has_word(key, &ALLOWED_WORDS) {
        out.push(Finding::new(
            "SecretsUsedInArgOrEnv",
            format!(
                "Do not use ARG or ENV instructions for sensitive data ({instruction} {key:?})"
            ),
            line,
        ));
    }
}

/// EXPOSE `[ip:][hostPort:]containerPort[/proto]`.
fn expose(port: &str, line: usize, out: &mut Vec<Finding>) {
    let (spec, proto) = port.rsplit_once('/').unwrap_or((port, ""));
    if proto.to_lowercase() != proto {
        out.push(Finding::new(
            "ExposeProtoCasing",
            format!("Defined protocol '{port}' in EXPOSE instruction should be lowercase"),
            line,
        ));
    }
    if spec.contains(':') {
        out.push(Finding::new(
            "ExposeInvalidFormat",
            format!(
                "EXPOSE instruction should not define an IP address or host-port mapping, \
                 found '{port}'"
            ),
            line,
        ));
    }
}
