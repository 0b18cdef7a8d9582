//! The image's commands: CMD, ENTRYPOINT, SHELL and ONBUILD triggers. None of them is
//! expanded by the builder.

use crate::dockerfile::ast::{Arg, Node, Span};
use crate::dockerfile::error::ParseError;

use super::common::{
    at_least_one, err_at, handle_json_args, no_flags, not_json, values, CommandLine,
};

/// `CMD command` (shell form) or `CMD ["exe", "arg"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdCommand {
    /// The command line (may be empty: `CMD []`).
    pub cmd_line: CommandLine,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

/// `ENTRYPOINT command` or `ENTRYPOINT ["exe", "arg"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrypointCommand {
    /// The command line. Empty `args` (`ENTRYPOINT []`) means "no entrypoint" (null in the
    /// image config), unlike CMD's empty list.
    pub cmd_line: CommandLine,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

/// `SHELL ["exe", "flag"]` (JSON form only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellCommand {
    /// The shell and its flags.
    pub shell: Vec<String>,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

/// `ONBUILD <instruction>`: a trigger stored in the image for builds that use it as a base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnbuildCommand {
    /// The trigger's text as stored in the image config (`ONBUILD` removed; heredoc bodies
    /// appended as BuildKit does).
    pub expression: String,
    /// The trigger as parsed by the structural parser (not validated as an instruction,
    /// like BuildKit: it is parsed again when a child build runs it).
    pub trigger: Node,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

pub(crate) fn parse_cmd(node: &Node) -> Result<CmdCommand, ParseError> {
    no_flags(node)?;
    Ok(CmdCommand {
        cmd_line: CommandLine::from_node(node),
        span: node.span,
        original: node.original.trim().to_string(),
    })
}

pub(crate) fn parse_entrypoint(node: &Node) -> Result<EntrypointCommand, ParseError> {
    no_flags(node)?;
    Ok(EntrypointCommand {
        cmd_line: CommandLine::from_node(node),
        span: node.span,
        original: node.original.trim().to_string(),
    })
}

pub(crate) fn parse_shell(node: &Node) -> Result<ShellCommand, ParseError> {
    no_flags(node)?;
    let shell = handle_json_args(values(node), node.json);
    if shell.is_empty() {
        return Err(err_at(node, at_least_one("SHELL")));
    }
    if !node.json {
        return Err(err_at(node, not_json("SHELL")));
    }
    Ok(ShellCommand {
        shell,
        span: node.span,
        original: node.original.trim().to_string(),
    })
}

pub(crate) fn parse_onbuild(node: &Node) -> Result<OnbuildCommand, ParseError> {
    let trigger = node.args.iter().find_map(|a| match a {
        Arg::Nested(n) => Some((**n).clone()),
        Arg::Value(_) => None,
    });
    let Some(trigger) = trigger else {
        return Err(err_at(node, at_least_one("ONBUILD")));
    };
    no_flags(node)?;
    let keyword = trigger.keyword.trim().to_uppercase();
    match keyword.as_str() {
        "ONBUILD" => {
            return Err(err_at(
                node,
                "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
            ))
        }
        "MAINTAINER" | "FROM" => {
            return Err(err_at(
                node,
                format!("{keyword} isn't allowed as an ONBUILD trigger"),
            ))
        }
        _ => {}
    }
    let mut expression = strip_onbuild(&node.original).to_string();
    let heredocs = if node.heredocs.is_empty() {
        &trigger.heredocs
    } else {
        &node.heredocs
    };
    for h in heredocs {
        expression.push('\n');
        expression.push_str(&h.content);
        expression.push_str(&h.name);
    }
    Ok(OnbuildCommand {
        expression,
        trigger,
        span: node.span,
        original: node.original.trim().to_string(),
    })
}

/// `(?i)^\s*ONBUILD\s*` removed.
fn strip_onbuild(original: &str) -> &str {
    let s = original.trim_start();
    match s.get(..7) {
        Some(head) if head.eq_ignore_ascii_case("onbuild") => s.get(7..).unwrap_or("").trim_start(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::instructions::test_support::{heredoc, json_node, node, onbuild};

    #[test]
    fn cmd_forms() {
        let c = parse_cmd(&node("cmd", &[], &["echo hi"], 1)).unwrap();
        assert_eq!(c.cmd_line.args, ["echo hi"]);
        assert!(c.cmd_line.prepend_shell);
        let c = parse_cmd(&json_node("cmd", &[], &["a", "b"], 1)).unwrap();
        assert_eq!(c.cmd_line.args, ["a", "b"]);
        assert!(!c.cmd_line.prepend_shell);
        let c = parse_cmd(&json_node("cmd", &[], &[], 1)).unwrap();
        assert!(c.cmd_line.args.is_empty());
        let e = parse_cmd(&node("cmd", &["--doit"], &["a"], 1)).unwrap_err();
        assert_eq!(e.message, "unknown flag: --doit");
    }

    #[test]
    fn entrypoint_forms() {
        let e = parse_entrypoint(&json_node("entrypoint", &[], &[], 1)).unwrap();
        assert!(e.cmd_line.args.is_empty() && !e.cmd_line.prepend_shell);
        let e = parse_entrypoint(&node("entrypoint", &[], &["/bin/app", "-x"], 1)).unwrap();
        assert_eq!(e.cmd_line.args, ["/bin/app -x"]);
    }

    #[test]
    fn shell_requires_json() {
        let s = parse_shell(&json_node("shell", &[], &["/bin/bash", "-c"], 1)).unwrap();
        assert_eq!(s.shell, ["/bin/bash", "-c"]);
        let e = parse_shell(&node("shell", &[], &["/bin/bash -c"], 1)).unwrap_err();
        assert_eq!(e.message, "SHELL requires the arguments to be in JSON form");
        let e = parse_shell(&json_node("shell", &[], &[], 1)).unwrap_err();
        assert_eq!(e.message, "SHELL requires at least one argument");
    }

    #[test]
    fn onbuild_trigger() {
        let o = parse_onbuild(&onbuild(node("run", &[], &["echo hi"], 4))).unwrap();
        assert_eq!(o.expression, "RUN echo hi");
        assert_eq!(o.trigger.keyword, "run");
        assert_eq!(o.original, "ONBUILD RUN echo hi");
        let mut n = onbuild(node("copy", &[], &["<<EOF", "/x"], 4));
        n.original = "  onbuild   COPY <<EOF /x".into();
        n.heredocs.push(heredoc("EOF", "body\n", true));
        let o = parse_onbuild(&n).unwrap();
        assert_eq!(o.expression, "COPY <<EOF /x\nbody\nEOF");
    }

    #[test]
    fn onbuild_refused_triggers() {
        let e = parse_onbuild(&onbuild(node("onbuild", &[], &[], 1))).unwrap_err();
        assert_eq!(
            e.message,
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
        );
        let e = parse_onbuild(&onbuild(node("from", &[], &["x"], 1))).unwrap_err();
        assert_eq!(e.message, "FROM isn't allowed as an ONBUILD trigger");
        let e = parse_onbuild(&onbuild(node("maintainer", &[], &["x"], 1))).unwrap_err();
        assert_eq!(e.message, "MAINTAINER isn't allowed as an ONBUILD trigger");
        let e = parse_onbuild(&node("onbuild", &[], &[], 1)).unwrap_err();
        assert_eq!(e.message, "ONBUILD requires at least one argument");
    }

    #[test]
    fn strip_onbuild_prefix() {
        assert_eq!(strip_onbuild("ONBUILD RUN x"), "RUN x");
        assert_eq!(strip_onbuild(" onBuild\tRUN x"), "RUN x");
        assert_eq!(strip_onbuild("RUN x"), "RUN x");
    }
}
