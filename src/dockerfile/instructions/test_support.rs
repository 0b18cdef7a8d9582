//! Test helpers: AST nodes built by hand, so the instruction layer is tested without the
//! structural parser, and an expander that records what it was asked.

use crate::dockerfile::ast::{Arg, Heredoc, Node, Span};

use super::expand::Expander;

/// A node as the structural parser would produce it; `original` is rebuilt from the parts.
pub(crate) fn node(keyword: &str, flags: &[&str], args: &[&str], line: usize) -> Node {
    let mut original = keyword.to_uppercase();
    for f in flags {
        original.push(' ');
        original.push_str(f);
    }
    for a in args {
        original.push(' ');
        original.push_str(a);
    }
    Node {
        keyword: keyword.to_string(),
        flags: flags.iter().map(|s| s.to_string()).collect(),
        args: args.iter().map(|s| Arg::Value(s.to_string())).collect(),
        json: false,
        original,
        heredocs: Vec::new(),
        prev_comment: Vec::new(),
        span: Span::new(line, line),
    }
}

/// The same node in exec (JSON) form.
pub(crate) fn json_node(keyword: &str, flags: &[&str], args: &[&str], line: usize) -> Node {
    let mut n = node(keyword, flags, args, line);
    n.json = true;
    n
}

/// A heredoc body as the parser attaches it.
pub(crate) fn heredoc(name: &str, content: &str, expand: bool) -> Heredoc {
    Heredoc {
        name: name.to_string(),
        content: content.to_string(),
        expand,
        chomp: false,
    }
}

/// An ONBUILD node wrapping `inner`.
pub(crate) fn onbuild(inner: Node) -> Node {
    let original = format!("ONBUILD {}", inner.original);
    Node {
        keyword: "onbuild".to_string(),
        flags: Vec::new(),
        args: vec![Arg::Nested(Box::new(inner.clone()))],
        json: false,
        original,
        heredocs: Vec::new(),
        prev_comment: Vec::new(),
        span: inner.span,
    }
}

/// Expands `$X` to `<X>` (and fails on `$BAD`), recording every call; `words` splits the
/// result on whitespace; `raw` marks its input so tests can see it was used.
#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) seen: Vec<String>,
}

impl Recorder {
    fn sub(&mut self, s: &str) -> Result<String, String> {
        self.seen.push(s.to_string());
        if s.contains("$BAD") {
            return Err("BAD: is not allowed to be unset".to_string());
        }
        let mut out = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '$' {
                out.push(c);
                continue;
            }
            let mut name = String::new();
            while let Some(&n) = chars.peek() {
                if n.is_ascii_alphanumeric() || n == '_' {
                    name.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push_str(&format!("<{name}>"));
        }
        Ok(out)
    }
}

impl Expander for Recorder {
    fn word(&mut self, word: &str) -> Result<String, String> {
        self.sub(word)
    }

    fn words(&mut self, text: &str) -> Result<Vec<String>, String> {
        Ok(self
            .sub(text)?
            .split_whitespace()
            .map(str::to_string)
            .collect())
    }

    fn raw(&mut self, text: &str) -> Result<String, String> {
        Ok(format!("raw:{}", self.sub(text)?))
    }
}
