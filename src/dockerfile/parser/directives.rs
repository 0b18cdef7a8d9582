//! Parser directives (`# syntax=...`, `# escape=...`, `# check=...`) at the top of a file.
//!
//! Directives are only looked for on the consecutive lines at the very top: the first line
//! that is not a well-formed directive with a known key (a blank line, an ordinary comment,
//! an instruction) ends the search for good. A key given twice is an error, and so is an
//! escape character other than `` ` `` or `\`.

use super::super::ast::Directive;
use super::super::error::ParseError;

/// Directive keys BuildKit knows.
const KNOWN: [&str; 3] = ["syntax", "escape", "check"];

/// Scans top-of-file lines for directives until the first line that is not one.
#[derive(Default)]
pub(crate) struct DirectiveScanner {
    done: bool,
    seen: Vec<Directive>,
}

impl DirectiveScanner {
    /// Look at top-level line `number` (line ending and leading white space removed).
    /// Returns the directive it holds, or `None` once scanning has ended.
    pub(crate) fn scan(
        &mut self,
        line: &str,
        number: usize,
    ) -> Result<Option<&Directive>, ParseError> {
        if self.done {
            return Ok(None);
        }
        let Some((name, value)) = split_directive(line) else {
            self.done = true;
            return Ok(None);
        };
        let name = name.to_ascii_lowercase();
        if !KNOWN.contains(&name.as_str()) {
            self.done = true;
            return Ok(None);
        }
        if self.seen.iter().any(|d| d.name == name) {
            return Err(ParseError::at_line(
                number,
                format!("only one {name} parser directive can be used"),
            ));
        }
        if name == "escape" && value != "`" && value != "\\" {
            return Err(ParseError::at_line(
                number,
                format!("invalid escape token '{value}' does not match ` or \\"),
            ));
        }
        self.seen.push(Directive {
            name,
            value: value.to_string(),
            line: number,
        });
        Ok(self.seen.last())
    }

    /// The directives found, in order.
    pub(crate) fn into_directives(self) -> Vec<Directive> {
        self.seen
    }
}

/// The white space class of the directive pattern (`\s` in Go's regexp: no `\v`).
fn is_re_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{0c}' | '\r' | ' ')
}

/// Split `#key=value` into key and value, following the pattern
/// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` (the `#` must come first).
fn split_directive(line: &str) -> Option<(&str, &str)> {
    let body = line.strip_prefix('#')?.trim_start();
    if !body.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let key_end = body
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(body.len());
    let (key, after_key) = body.split_at(key_end);
    let after_eq = after_key
        .trim_start_matches(is_re_space)
        .strip_prefix('=')?;
    let lead = after_eq.trim_start_matches(is_re_space);
    if lead.is_empty() {
        // All blank: the lazy value still has to take one character, the last one.
        let last = after_eq.chars().next_back()?;
        return Some((key, &after_eq[after_eq.len() - last.len_utf8()..]));
    }
    Some((key, lead.trim_end_matches(is_re_space)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(lines: &[&str]) -> Result<Vec<Directive>, ParseError> {
        let mut scanner = DirectiveScanner::default();
        for (i, line) in lines.iter().enumerate() {
            scanner.scan(line, i + 1)?;
        }
        Ok(scanner.into_directives())
    }

    #[test]
    fn directive_forms() {
        assert_eq!(
            split_directive("# syntax = docker/dockerfile:1 "),
            Some(("syntax", "docker/dockerfile:1"))
        );
        assert_eq!(split_directive("#escape=`"), Some(("escape", "`")));
        assert_eq!(
            split_directive("#  Check=skip=all"),
            Some(("Check", "skip=all"))
        );
        assert_eq!(split_directive("# escape= "), Some(("escape", " ")));
        assert_eq!(split_directive("# escape="), None);
        assert_eq!(split_directive("# not a directive"), None);
        assert_eq!(split_directive("FROM x"), None);
    }

    #[test]
    fn scanning_stops_at_the_first_other_line() {
        let found = scan_all(&["# syntax=a", "# check=skip=all", "", "# escape=`"]).unwrap();
        let names: Vec<_> = found.iter().map(|d| (d.name.as_str(), d.line)).collect();
        assert_eq!(names, vec![("syntax", 1), ("check", 2)]);
        let found = scan_all(&["# hello", "# escape=`"]).unwrap();
        assert!(found.is_empty());
        let found = scan_all(&["# foo=bar", "# escape=`"]).unwrap();
        assert!(found.is_empty());
    }

    #[test]
    fn repeated_directive_is_an_error() {
        let err = scan_all(&["# syntax=a", "# SYNTAX=b"]).unwrap_err();
        assert_eq!(err.message, "only one syntax parser directive can be used");
        assert_eq!(err.span.start, 2);
    }

    #[test]
    fn invalid_escape_is_an_error() {
        let err = scan_all(&["# escape=x"]).unwrap_err();
        assert_eq!(
            err.message,
            "invalid escape token 'x' does not match ` or \\"
        );
        assert!(scan_all(&["# escape=\\"]).is_ok());
    }
}
