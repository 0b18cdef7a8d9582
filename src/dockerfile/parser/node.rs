//! Building one [`Node`] from a joined instruction line: keyword, flags, shaped arguments,
//! and ONBUILD's nested instruction.
//!
//! ONBUILD's argument text is parsed again as a complete instruction (with its own flags)
//! and attached as [`Arg::Nested`]. The chain is unwound without recursion and its depth is
//! capped, so hostile input cannot exhaust the stack.

use super::super::ast::{Arg, Node, Span};
use super::args::{shape, Shaped};
use super::flags::split_command;

/// Most ONBUILD instructions nested inside one another that the parser accepts.
pub(crate) const MAX_ONBUILD_NESTING: usize = 64;

/// An ONBUILD wrapper waiting for its nested instruction.
struct Wrapper {
    keyword: String,
    flags: Vec<String>,
    original: String,
}

/// Parse the joined instruction `line` into a node covering `span`. Errors are user
/// messages.
pub(crate) fn node_from_line(line: &str, escape: char, span: Span) -> Result<Node, String> {
    let mut wrappers: Vec<Wrapper> = Vec::new();
    let mut text = line.to_string();
    loop {
        let parts = split_command(&text);
        if parts.keyword == "onbuild" && !parts.args.is_empty() {
            if wrappers.len() >= MAX_ONBUILD_NESTING {
                return Err(format!(
                    "more than {MAX_ONBUILD_NESTING} ONBUILD instructions nested in one another"
                ));
            }
            wrappers.push(Wrapper {
                keyword: parts.keyword,
                flags: parts.flags,
                original: std::mem::replace(&mut text, parts.args),
            });
            continue;
        }
        let shaped = if parts.keyword == "onbuild" {
            Shaped::default()
        } else {
            shape(&parts.keyword, &parts.args, escape)?
        };
        let mut node = Node {
            keyword: parts.keyword,
            flags: parts.flags,
            args: shaped.args,
            json: shaped.json,
            original: text,
            heredocs: Vec::new(),
            prev_comment: Vec::new(),
            span,
        };
        while let Some(w) = wrappers.pop() {
            node = Node {
                keyword: w.keyword,
                flags: w.flags,
                args: vec![Arg::Nested(Box::new(node))],
                json: false,
                original: w.original,
                heredocs: Vec::new(),
                prev_comment: Vec::new(),
                span,
            };
        }
        return Ok(node);
    }
}

/// True when `node` (or, for ONBUILD, its nested instruction) is a RUN, COPY or ADD in
/// shell form, which may carry heredocs.
pub(crate) fn can_contain_heredoc(node: &Node) -> bool {
    let mut target = node;
    if node.keyword == "onbuild" {
        if let Some(Arg::Nested(inner)) = node.args.first() {
            target = inner;
        }
    }
    matches!(target.keyword.as_str(), "run" | "copy" | "add") && !target.json
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(line: &str) -> Node {
        node_from_line(line, '\\', Span::new(1, 1)).unwrap()
    }

    #[test]
    fn onbuild_nests_the_trigger() {
        let n = node("ONBUILD --x RUN [\"a\"]");
        assert_eq!(n.keyword, "onbuild");
        assert_eq!(n.flags, vec!["--x".to_string()]);
        assert_eq!(n.original, "ONBUILD --x RUN [\"a\"]");
        let Some(Arg::Nested(inner)) = n.args.first() else {
            panic!("no nested node")
        };
        assert_eq!(inner.keyword, "run");
        assert!(inner.json);
        assert_eq!(inner.original, "RUN [\"a\"]");
        assert!(node("ONBUILD").args.is_empty());
    }

    #[test]
    fn nesting_is_capped() {
        let ok = format!("{}RUN x", "ONBUILD ".repeat(MAX_ONBUILD_NESTING));
        assert!(node_from_line(&ok, '\\', Span::new(1, 1)).is_ok());
        let deep = format!("{}RUN x", "ONBUILD ".repeat(MAX_ONBUILD_NESTING + 1));
        assert!(node_from_line(&deep, '\\', Span::new(1, 1)).is_err());
    }

    #[test]
    fn heredoc_capable_instructions() {
        assert!(can_contain_heredoc(&node("RUN <<EOF")));
        assert!(can_contain_heredoc(&node("onbuild copy <<EOF /x")));
        assert!(!can_contain_heredoc(&node("RUN [\"<<EOF\"]")));
        assert!(!can_contain_heredoc(&node("CMD <<EOF")));
        assert!(!can_contain_heredoc(&node("ONBUILD")));
    }

    #[test]
    fn nested_errors_surface() {
        assert!(node_from_line("ONBUILD ENV x", '\\', Span::new(1, 1)).is_err());
    }
}
