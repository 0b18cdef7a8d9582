//! Errors of the Dockerfile front end: a message in a user's words plus the source span it
//! refers to, and the rendering that shows the offending lines (`Dockerfile:12`).

use super::ast::Span;

/// A parse or instruction error that points at Dockerfile lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {}: {message}", span.start)]
pub struct ParseError {
    /// Lines the error refers to (start == end for a single line).
    pub span: Span,
    /// What is wrong, in a user's words (`unknown instruction: FRUM`).
    pub message: String,
}

impl ParseError {
    /// An error at `span` saying `message`.
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        ParseError {
            span,
            message: message.into(),
        }
    }

    /// An error at the single line `line`.
    pub fn at_line(line: usize, message: impl Into<String>) -> Self {
        Self::new(Span::new(line, line), message)
    }
}

/// Render `message` for `span` of `source` the way users see it: the file and line, the
/// offending lines quoted with a marker, then the message.
///
/// ```text
/// Dockerfile:3
/// --------------------
///    2 |     FROM busybox
///    3 | >>> FRUM busybox
/// --------------------
/// error: unknown instruction: FRUM
/// ```
pub fn render(file: &str, source: &str, span: Span, message: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = String::new();
    if span.start == 0 || span.start > lines.len() {
        out.push_str(&format!("{file}: {message}"));
        return out;
    }
    let end = span.end.clamp(span.start, lines.len());
    out.push_str(&format!("{file}:{}\n", span.start));
    out.push_str("--------------------\n");
    let first = span.start.saturating_sub(2).max(1);
    let last = (end + 1).min(lines.len());
    let last = last.min(first + 20);
    for n in first..=last {
        let marker = if n >= span.start && n <= end {
            ">>>"
        } else {
            "   "
        };
        let text = lines[n - 1].trim_end_matches('\r');
        out.push_str(&format!(" {n:>3} | {marker} {text}\n"));
    }
    out.push_str("--------------------\n");
    out.push_str(&format!("error: {message}"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_marks_the_failing_line() {
        let src = "FROM busybox\nFRUM x\nRUN true\n";
        let text = render(
            "Dockerfile",
            src,
            Span::new(2, 2),
            "unknown instruction: FRUM",
        );
        assert!(text.starts_with("Dockerfile:2\n"));
        assert!(text.contains("   2 | >>> FRUM x"));
        assert!(text.contains("   1 |     FROM busybox"));
        assert!(text.ends_with("error: unknown instruction: FRUM"));
    }

    #[test]
    fn render_without_line_names_only_the_file() {
        let text = render(
            "Dockerfile",
            "",
            Span::new(0, 0),
            "file with no instructions",
        );
        assert_eq!(text, "Dockerfile: file with no instructions");
    }
}
