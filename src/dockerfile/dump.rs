//! BuildKit's parser-test dump of an AST (`Node.Dump()` of the root), used to compare our
//! parser with BuildKit's byte for byte.
//!
//! One line per instruction: `(keyword ["--flag" ...] "arg" ...)`, the keyword lower-cased,
//! every value quoted with Go's `strconv.Quote` rules, ONBUILD's trigger written as a nested
//! `(...)`. Heredoc bodies, comments and directives are not shown.

use super::ast::{Arg, Ast, Node};

/// Render `ast` as BuildKit's `Node.Dump()` would, without the final newline.
///
/// ```
/// let ast = builder::dockerfile::parse("FROM x\nONBUILD COPY --chown=a . /\n").unwrap();
/// assert_eq!(
///     builder::dockerfile::dump::dump(&ast),
///     "(from \"x\")\n(onbuild (copy [\"--chown=a\"] \".\" \"/\"))"
/// );
/// ```
pub fn dump(ast: &Ast) -> String {
    let mut out = String::new();
    for child in &ast.children {
        out.push('(');
        out.push_str(&dump_node(child));
        out.push_str(")\n");
    }
    out.trim().to_string()
}

/// One instruction without the surrounding parentheses.
fn dump_node(node: &Node) -> String {
    let mut out = node.keyword.to_lowercase();
    if !node.flags.is_empty() {
        let flags: Vec<String> = node.flags.iter().map(|f| go_quote(f)).collect();
        out.push_str(" [");
        out.push_str(&flags.join(" "));
        out.push(']');
    }
    for arg in &node.args {
        out.push(' ');
        match arg {
            Arg::Value(v) => out.push_str(&go_quote(v)),
            Arg::Nested(inner) => {
                out.push('(');
                out.push_str(&dump_node(inner));
                out.push(')');
            }
        }
    }
    out.trim().to_string()
}

/// Quote `s` as Go's `strconv.Quote` does: `"` and `\` escaped, printable characters as they
/// are, the usual C escapes, `\xNN` for other ASCII controls, `\uNNNN` / `\UNNNNNNNN` for
/// other non-printable characters.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_print(c) => out.push(c),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0b}' => out.push_str("\\v"),
            c if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII
/// space. Controls, format characters, private use, non-characters, separators other than
/// the space, and the large unassigned planes are not printable.
fn is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..0x7f).contains(&u);
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    const NOT_PRINTABLE: &[(u32, u32)] = &[
        (0x00ad, 0x00ad),
        (0x0600, 0x0605),
        (0x061c, 0x061c),
        (0x06dd, 0x06dd),
        (0x070f, 0x070f),
        (0x0890, 0x0891),
        (0x08e2, 0x08e2),
        (0x180e, 0x180e),
        (0x200b, 0x200f),
        (0x202a, 0x202e),
        (0x2060, 0x206f),
        (0xd800, 0xf8ff),
        (0xfdd0, 0xfdef),
        (0xfeff, 0xfeff),
        (0xfff0, 0xfffb),
        (0x110bd, 0x110bd),
        (0x110cd, 0x110cd),
        (0x13430, 0x1343f),
        (0x1bca0, 0x1bca3),
        (0x1d173, 0x1d17a),
        (0x323b0, 0xdffff),
        (0xe0000, 0xe00ff),
        (0xe01f0, 0x10ffff),
    ];
    if (u & 0xfffe) == 0xfffe {
        return false;
    }
    !NOT_PRINTABLE.iter().any(|&(lo, hi)| (lo..=hi).contains(&u))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_go() {
        assert_eq!(go_quote("a \"b\" \\c"), r#""a \"b\" \\c""#);
        assert_eq!(
            go_quote("\u{7}\u{8}\u{c}\n\r\t\u{b}"),
            r#""\a\b\f\n\r\t\v""#
        );
        assert_eq!(go_quote("\u{0}\u{1b}\u{7f}"), r#""\x00\x1b\x7f""#);
        assert_eq!(go_quote("♥ ☃ é 😀 \u{fffd}"), "\"♥ ☃ é 😀 \u{fffd}\"");
        assert_eq!(
            go_quote("\u{a0}\u{85}\u{200b}\u{feff}"),
            r#""\u00a0\u0085\u200b\ufeff""#
        );
        assert_eq!(go_quote("\u{e000}\u{f0000}"), r#""\ue000\U000f0000""#);
    }

    #[test]
    fn nodes_dump_like_buildkit() {
        let ast = crate::dockerfile::parse(
            "FROM x\nCMD\nfoo bar\nCOPY --a=1 -- \"x\" y\nONBUILD RUN a\n",
        )
        .unwrap();
        assert_eq!(
            dump(&ast),
            "(from \"x\")\n(cmd)\n(foo \"\")\n(copy [\"--a=1\"] \"\\\"x\\\"\" \"y\")\n(onbuild (run \"a\"))"
        );
    }
}
