//! Pieces every instruction parser shares: BuildKit's argument-count errors, key/value pairs,
//! the shell-or-exec command line, comment lookup and Go's `path.Clean`.
//!
//! Error texts are BuildKit's own (`frontend/dockerfile/instructions/parse.go`), so a user who
//! searches for a message finds the same explanations as for `docker build`.

use crate::dockerfile::ast::Node;
use crate::dockerfile::error::ParseError;

use super::bflag::FlagSet;

/// Parse the flags of an instruction that accepts none: any flag is unknown.
pub(crate) fn no_flags(node: &Node) -> Result<(), ParseError> {
    FlagSet::new(&node.flags)
        .parse()
        .map(|_| ())
        .map_err(|e| err_at(node, e))
}

/// An error at the lines of `node`.
pub(crate) fn err_at(node: &Node, message: impl Into<String>) -> ParseError {
    ParseError::new(node.span, message)
}

/// `ENV requires at least one argument`.
pub(crate) fn at_least_one(command: &str) -> String {
    format!("{command} requires at least one argument")
}

/// `USER requires exactly one argument`.
pub(crate) fn exactly_one(command: &str) -> String {
    format!("{command} requires exactly one argument")
}

/// COPY/ADD with a single word.
pub(crate) fn no_destination(command: &str) -> String {
    format!(
        "{command} requires at least two arguments, but only one was provided. \
         Destination could not be determined"
    )
}

/// A heredoc where none is allowed (`COPY x <<EOF`).
pub(crate) fn bad_heredoc(command: &str, what: &str) -> String {
    format!("{command} cannot accept a heredoc as {what}")
}

/// An empty key in ENV, LABEL or ARG.
pub(crate) fn blank_names(command: &str) -> String {
    format!("{command} names can not be blank")
}

/// Key/value arguments that do not come in whole pairs.
pub(crate) fn too_many(command: &str) -> String {
    format!("Bad input to {command}, too many arguments")
}

/// SHELL in shell form.
pub(crate) fn not_json(command: &str) -> String {
    format!("{command} requires the arguments to be in JSON form")
}

/// The plain argument values of a node, owned.
pub(crate) fn values(node: &Node) -> Vec<String> {
    node.values().map(str::to_string).collect()
}

/// `None` for an empty string: BuildKit treats an empty flag value as "not given".
pub(crate) fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

/// The instruction keyword exactly as written (first word of the original text).
pub(crate) fn written_keyword(node: &Node) -> String {
    node.original
        .split_whitespace()
        .next()
        .map(str::to_string)
        .unwrap_or_else(|| node.keyword.clone())
}

/// One `key=value` pair of ENV or LABEL, in source order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key, not yet expanded.
    pub key: String,
    /// The value, not yet expanded (quotes are removed only by expansion).
    pub value: String,
    /// True for the legacy `ENV key value` form (no `=`), which BuildKit lints.
    pub no_delim: bool,
}

impl KeyValue {
    /// `key=value`, the form used in history entries.
    pub fn to_pair_string(&self) -> String {
        format!("{}={}", self.key, self.value)
    }
}

/// ENV and LABEL arguments: triples of key, value and separator (`=` or empty).
pub(crate) fn parse_kvps(node: &Node, command: &str) -> Result<Vec<KeyValue>, ParseError> {
    let args = values(node);
    if args.is_empty() {
        return Err(err_at(node, at_least_one(command)));
    }
    if args.len() % 3 != 0 {
        return Err(err_at(node, too_many(command)));
    }
    let mut out = Vec::with_capacity(args.len() / 3);
    for triple in args.chunks_exact(3) {
        let [key, value, sep] = triple else {
            return Err(err_at(node, too_many(command)));
        };
        if key.is_empty() {
            return Err(err_at(node, blank_names(command)));
        }
        out.push(KeyValue {
            key: key.clone(),
            value: value.clone(),
            no_delim: sep.is_empty(),
        });
    }
    Ok(out)
}

/// A command line in shell form (to be prefixed with the stage's SHELL) or exec form.
///
/// BuildKit's `ShellDependantCmdLine`: in shell form `args` holds one string, the command text
/// as written; in exec form it holds the JSON array's elements.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandLine {
    /// The command words (one word in shell form).
    pub args: Vec<String>,
    /// True for shell form: run as `SHELL + [args.join(" ")]`.
    pub prepend_shell: bool,
}

impl CommandLine {
    /// The command line of a RUN, CMD or ENTRYPOINT node.
    pub(crate) fn from_node(node: &Node) -> Self {
        CommandLine {
            args: handle_json_args(values(node), node.json),
            prepend_shell: !node.json,
        }
    }
}

/// Exec form keeps the words; shell form joins them into one string.
pub(crate) fn handle_json_args(args: Vec<String>, json: bool) -> Vec<String> {
    if args.is_empty() || json {
        return args;
    }
    vec![args.join(" ")]
}

/// The comment line directly above an instruction that documents `name`
/// (`# name description`), as BuildKit's outline feature reads it.
pub(crate) fn comment_for(comments: &[String], name: &str) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    let prefix = format!("{name} ");
    comments
        .iter()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(str::to_string)
}

/// Go's `path.Clean`: the shortest equivalent slash path (`""` becomes `"."`).
pub fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `path.Base`: the last element of a slash path.
pub fn base_name(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_string();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::instructions::test_support::node;

    #[test]
    fn kvps_come_in_triples() {
        let n = node("env", &[], &["A", "1", "=", "B", "two words", ""], 3);
        let kv = parse_kvps(&n, "ENV").unwrap();
        assert_eq!(kv.len(), 2);
        assert_eq!(kv[0].to_pair_string(), "A=1");
        assert!(!kv[0].no_delim);
        assert!(kv[1].no_delim);
        assert_eq!(kv[1].value, "two words");
    }

    #[test]
    fn kvps_errors() {
        let n = node("env", &[], &[], 1);
        assert_eq!(
            parse_kvps(&n, "ENV").unwrap_err().message,
            "ENV requires at least one argument"
        );
        let n = node("label", &[], &["a", "b"], 1);
        assert_eq!(
            parse_kvps(&n, "LABEL").unwrap_err().message,
            "Bad input to LABEL, too many arguments"
        );
        let n = node("env", &[], &["", "b", "="], 1);
        assert_eq!(
            parse_kvps(&n, "ENV").unwrap_err().message,
            "ENV names can not be blank"
        );
    }

    #[test]
    fn json_args_join_in_shell_form() {
        assert_eq!(
            handle_json_args(vec!["a".into(), "b".into()], false),
            vec!["a b"]
        );
        assert_eq!(
            handle_json_args(vec!["a".into(), "b".into()], true),
            vec!["a", "b"]
        );
        assert!(handle_json_args(vec![], false).is_empty());
    }

    #[test]
    fn comments_are_found_by_name() {
        let c = vec!["other x".to_string(), "name the doc".to_string()];
        assert_eq!(comment_for(&c, "name").as_deref(), Some("the doc"));
        assert_eq!(comment_for(&c, "nam"), None);
        assert_eq!(comment_for(&c, ""), None);
    }

    #[test]
    fn clean_path_matches_go() {
        for (input, want) in [
            ("", "."),
            ("/", "/"),
            ("a/b/../c", "a/c"),
            ("/../a", "/a"),
            ("../a", "../a"),
            ("a/../..", ".."),
            ("/a//b/./c/", "/a/b/c"),
            ("./", "."),
        ] {
            assert_eq!(clean_path(input), want, "{input}");
        }
    }

    #[test]
    fn base_name_matches_go() {
        for (input, want) in [
            ("", "."),
            ("/", "/"),
            ("/a/b", "b"),
            ("a/b/", "b"),
            ("x", "x"),
        ] {
            assert_eq!(base_name(input), want, "{input}");
        }
    }

    #[test]
    fn written_keyword_keeps_case() {
        let mut n = node("frum", &[], &["x"], 1);
        n.original = "  FRUM x".into();
        assert_eq!(written_keyword(&n), "FRUM");
    }
}
