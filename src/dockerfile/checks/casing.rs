//! Rules on how instructions are written: `StageNameCasing`, `FromAsCasing`,
//! `MaintainerDeprecated` (per instruction, as BuildKit's instruction parser runs them) and
//! `ConsistentInstructionCasing` (over the whole file).

use super::Finding;
use crate::dockerfile::ast::{Ast, Node};

/// The instruction keyword as written (`From`, `RUN`).
pub(super) fn written_keyword(node: &Node) -> &str {
    node.original.split_whitespace().next().unwrap_or("")
}

fn is_lower(s: &str) -> bool {
    s.to_lowercase() == s
}

fn is_upper(s: &str) -> bool {
    s.to_uppercase() == s
}

/// `StageNameCasing`, `FromAsCasing` on FROM lines and `MaintainerDeprecated`.
pub(super) fn per_instruction(ast: &Ast, out: &mut Vec<Finding>) {
    for node in &ast.children {
        let line = node.span.start;
        match node.keyword.as_str() {
            "from" => {
                let args: Vec<&str> = node.values().collect();
                if let [_, as_word, name] = args.as_slice() {
                    if !is_lower(name) {
                        out.push(Finding::new(
                            "StageNameCasing",
                            format!("Stage name '{name}' should be lowercase"),
                            line,
                        ));
                    }
                    let from = written_keyword(node);
                    let mismatch = (is_lower(from) && !is_lower(as_word))
                        || (!is_lower(from) && is_upper(from) && !is_upper(as_word));
                    if mismatch {
                        out.push(Finding::new(
                            "FromAsCasing",
                            format!("'{as_word}' and '{from}' keywords' casing do not match"),
                            line,
                        ));
                    }
                }
            }
            "maintainer" => out.push(Finding::new(
                "MaintainerDeprecated",
                "Maintainer instruction is deprecated in favor of using label",
                line,
            )),
            _ => {}
        }
    }
}

/// `ConsistentInstructionCasing`: every instruction of the stages (not the ARGs before the
/// first FROM) against the casing most of them use; mixed-case words count for neither.
pub(super) fn consistent_casing(ast: &Ast, out: &mut Vec<Finding>) {
    let in_stages: Vec<&Node> = ast
        .children
        .iter()
        .skip_while(|n| n.keyword != "from")
        .collect();
    let (mut lower, mut upper) = (0usize, 0usize);
    for node in &in_stages {
        let word = written_keyword(node);
        if is_lower(word) {
            lower += 1;
        } else if is_upper(word) {
            upper += 1;
        }
    }
    let majority_lower = lower > upper;
    for node in &in_stages {
        let word = written_keyword(node);
        let wanted = match majority_lower {
            true if !is_lower(word) => "lowercase",
            false if !is_upper(word) => "uppercase",
            _ => continue,
        };
        out.push(Finding::new(
            "ConsistentInstructionCasing",
            format!("Command '{word}' should match the case of the command majority ({wanted})"),
            node.span.start,
        ));
    }
}
