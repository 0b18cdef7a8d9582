//! Physical lines: splitting the text at `\n`, the UTF-8 byte-order mark, comment and blank
//! line tests, and the line-continuation rule of the escape character.
//!
//! Lines are handed out with their line ending still attached, because heredoc bodies keep
//! them; everything else strips it with [`trim_newline`].

use super::super::error::ParseError;

/// Longest physical line BuildKit's line scanner accepts, in bytes, without its `\n`.
pub(crate) const MAX_LINE_BYTES: usize = 65_535;

/// Hands out the physical lines of a text one at a time and counts them.
pub(crate) struct LineReader<'a> {
    rest: &'a str,
    consumed: usize,
}

impl<'a> LineReader<'a> {
    /// A reader over `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        LineReader {
            rest: text,
            consumed: 0,
        }
    }

    /// The next line with its `\n` (if any), the byte-order mark removed from the first one;
    /// `None` at the end of the text. A line longer than [`MAX_LINE_BYTES`] is an error.
    pub(crate) fn next_line(&mut self) -> Result<Option<&'a str>, ParseError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let (line, rest) = match self.rest.find('\n') {
            Some(i) => self.rest.split_at(i + 1),
            None => (self.rest, ""),
        };
        self.rest = rest;
        self.consumed += 1;
        if line.trim_end_matches('\n').len() > MAX_LINE_BYTES {
            return Err(ParseError::at_line(
                self.consumed,
                format!("dockerfile line greater than max allowed size of {MAX_LINE_BYTES}"),
            ));
        }
        if self.consumed == 1 {
            return Ok(Some(line.strip_prefix('\u{feff}').unwrap_or(line)));
        }
        Ok(Some(line))
    }

    /// How many lines were handed out: the 1-based number of the last one.
    pub(crate) fn consumed(&self) -> usize {
        self.consumed
    }
}

/// `line` without its trailing `\r` and `\n` characters.
pub(crate) fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

/// True when the first non-blank character of `line` is `#`.
pub(crate) fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// True when `line` holds nothing but white space.
pub(crate) fn is_blank(line: &str) -> bool {
    trim_newline(line).trim_start().is_empty()
}

/// Apply the continuation rule: when the escape character is the last non-blank character
/// of `line` (spaces and tabs may follow) and is either alone on the line or preceded by a
/// different character, it and the blanks after it are removed and the line continues.
///
/// Returns the remaining text and `true` when the line does *not* continue.
pub(crate) fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    if let Some(before) = body.strip_suffix(escape) {
        if before.is_empty() || !before.ends_with(escape) {
            return (before, false);
        }
    }
    (line, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_lines(text: &str) -> Vec<&str> {
        let mut reader = LineReader::new(text);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            out.push(line);
        }
        out
    }

    #[test]
    fn lines_keep_their_endings_and_lose_the_bom() {
        assert_eq!(
            all_lines("\u{feff}a\r\nb\n\nc"),
            vec!["a\r\n", "b\n", "\n", "c"]
        );
        assert!(all_lines("").is_empty());
        assert_eq!(all_lines("\n"), vec!["\n"]);
    }

    #[test]
    fn overlong_lines_are_rejected() {
        let text = format!("FROM a\n{}\n", "x".repeat(MAX_LINE_BYTES + 1));
        let mut reader = LineReader::new(&text);
        assert!(reader.next_line().is_ok());
        let err = reader.next_line().unwrap_err();
        assert_eq!(err.span.start, 2);
        let ok = format!("{}\n", "x".repeat(MAX_LINE_BYTES));
        assert!(LineReader::new(&ok).next_line().is_ok());
    }

    #[test]
    fn continuation_rule() {
        assert_eq!(trim_continuation("hello\\", '\\'), ("hello", false));
        assert_eq!(trim_continuation("hello \\  \t", '\\'), ("hello ", false));
        assert_eq!(trim_continuation("\\", '\\'), ("", false));
        assert_eq!(trim_continuation("  \\", '\\'), ("  ", false));
        assert_eq!(trim_continuation("a\\\\", '\\'), ("a\\\\", true));
        assert_eq!(trim_continuation("\\\\", '\\'), ("\\\\", true));
        assert_eq!(trim_continuation("hello", '\\'), ("hello", true));
        assert_eq!(trim_continuation("a `", '`'), ("a ", false));
        assert_eq!(trim_continuation("a \\", '`'), ("a \\", true));
    }

    #[test]
    fn comments_and_blanks() {
        assert!(is_comment("  # x"));
        assert!(!is_comment("x # y"));
        assert!(is_blank(" \t\r\n"));
        assert!(!is_blank(" x"));
        assert_eq!(trim_newline("a\r\r\n"), "a");
    }
}
