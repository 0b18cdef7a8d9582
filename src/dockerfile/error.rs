//! Errors of the Dockerfile front end: a message in a user's words plus the source span it
//! refers to, and the rendering that shows the offending lines (`Dockerfile:12`) the way
//! BuildKit prints them (`solver/errdefs` `Source.Print`).
//!
//! Pure: text in, text out. The caller decides what the final `ERROR:` line says.

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

    /// The message as BuildKit words a parse error: `dockerfile parse error on line 3:
    /// unknown instruction: FRUM (did you mean FROM?)` (without the line when there is none).
    pub fn parse_message(&self) -> String {
        if self.span.start == 0 {
            format!("dockerfile parse error: {}", self.message)
        } else {
            format!(
                "dockerfile parse error on line {}: {}",
                self.span.start, self.message
            )
        }
    }
}

/// The rule above and below the quoted lines.
const RULE: &str = "--------------------";

/// A quoted line longer than this many characters is cut, with `...` after it.
pub const MAX_LINE_CHARS: usize = 200;

/// Lines quoted at most from a long span: the first [`KEEP_HEAD`] and the last
/// [`KEEP_TAIL`] are shown, with a line saying how many are left out between them.
pub const MAX_MARKED_LINES: usize = 24;
const KEEP_HEAD: usize = 12;
const KEEP_TAIL: usize = 6;

/// The excerpt BuildKit prints above a located error: `FILE:LINE`, a rule, the failing
/// lines marked `>>>` with context around them (two lines either side of a one-line
/// instruction, one of a longer one), a rule. Each line ends with `\n`. Empty when `span`
/// points outside `source` (line 0: the error belongs to no line).
///
/// As BuildKit, lines are counted by `\n`, so a file ending in a newline shows an empty last
/// line. Unlike it, a trailing `\r` (CRLF files) and trailing blanks are dropped, other
/// control characters but tabs are shown as `?`, very long lines and spans are cut, and
/// the number column widens past line 999.
///
/// ```text
/// Dockerfile:2
/// --------------------
///    1 |     FROM busybox
///    2 | >>> FRUM busybox
///    3 |     RUN true
/// --------------------
/// ```
pub fn excerpt(file: &str, source: &str, span: Span) -> String {
    let lines: Vec<&str> = source.split('\n').collect();
    let count = lines.len();
    if span.start == 0 || span.start > count {
        return String::new();
    }
    let (marked_start, marked_end) = (span.start, span.end.clamp(span.start, count));
    let (mut start, mut end) = (marked_start, marked_end);
    // BuildKit's padding loop: each round widens by a line either side where it can.
    let pad = if start == end { 4 } else { 2 };
    let mut p = 0;
    while p < pad {
        if start > 1 {
            start -= 1;
            p += 1;
        }
        if end != count {
            end += 1;
            p += 1;
        }
        p += 1;
    }
    // BuildKit's `%3d`, widened for files of 1000 lines or more so the bars stay aligned.
    let width = end.to_string().len().max(3);
    let mut out = format!("{file}:{marked_start}\n{RULE}\n");
    let marked = marked_end - marked_start + 1;
    let elided = (marked > MAX_MARKED_LINES)
        .then(|| (marked_start + KEEP_HEAD, marked_end - KEEP_TAIL))
        .filter(|(from, to)| from <= to);
    for n in start..=end {
        if let Some((from, to)) = elided {
            if n == from {
                out.push_str(&format!(
                    " {:width$} | ... {} more lines ...\n",
                    "",
                    to - from + 1
                ));
            }
            if (from..=to).contains(&n) {
                continue;
            }
        }
        let prefix = if (marked_start..=marked_end).contains(&n) {
            ">>>"
        } else {
            "   "
        };
        let text = lines.get(n - 1).copied().unwrap_or_default();
        let line = format!(" {n:>width$} | {prefix} {}", display_line(text));
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(RULE);
    out.push('\n');
    out
}

/// One source line as quoted: without a trailing `\r`, control characters but tabs as `?`,
/// cut after [`MAX_LINE_CHARS`] characters.
fn display_line(text: &str) -> String {
    let text = text.strip_suffix('\r').unwrap_or(text);
    let mut out: String = text
        .chars()
        .take(MAX_LINE_CHARS)
        .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
        .collect();
    if text.chars().nth(MAX_LINE_CHARS).is_some() {
        out.push_str(" ...");
    }
    out
}

/// [`excerpt`] followed by `ERROR: message`: the whole diagnostic for an error at `span`
/// (only the `ERROR:` line when `span` points nowhere).
///
/// ```text
/// Dockerfile:2
/// --------------------
///    1 |     FROM busybox
///    2 | >>> FRUM busybox
///    3 |
/// --------------------
/// ERROR: dockerfile parse error on line 2: unknown instruction: FRUM (did you mean FROM?)
/// ```
pub fn render(file: &str, source: &str, span: Span, message: &str) -> String {
    let mut out = excerpt(file, source, span);
    out.push_str("ERROR: ");
    out.push_str(message);
    out
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
