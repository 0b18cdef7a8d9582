//! Reading a `.dockerignore` file into pattern lines, as moby/patternmatcher's
//! `ignorefile.ReadAll` does: a UTF-8 BOM is dropped, lines starting with `#` are comments,
//! lines are trimmed, blank lines skipped, each pattern is cleaned and a leading `/` removed
//! (so `/foo` means `foo`), keeping any `!` in front.

use super::matcher::{clean_path, Matcher};
use super::pattern::PatternError;

/// The pattern lines of a `.dockerignore` text, normalised.
pub fn read_patterns(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern.get(1..).unwrap_or("").trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = clean_path(pattern);
            if cleaned.len() > 1 {
                if let Some(rest) = cleaned.strip_prefix('/') {
                    cleaned = rest.to_string();
                }
            }
        }
        if invert {
            cleaned.insert(0, '!');
        }
        out.push(cleaned);
    }
    out
}

/// Parses a `.dockerignore` text into a [`Matcher`].
pub fn parse(text: &str) -> Result<Matcher, PatternError> {
    Matcher::new(&read_patterns(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    // moby/patternmatcher ignorefile TestReadAll.
    #[test]
    fn reads_like_moby() {
        let content = "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! ";
        assert_eq!(
            read_patterns(content),
            [
                "test1",
                "test2",
                "a/file/here",
                "lastfile",
                "!inverted/abs/path",
                "!",
                "!"
            ]
        );
    }

    #[test]
    fn bom_comments_and_cleaning() {
        let content = "\u{feff}# comment\n  ./build//out/  \n #not a comment\r\n**/*.log\n";
        assert_eq!(
            read_patterns(content),
            ["build/out", "#not a comment", "**/*.log"]
        );
    }

    #[test]
    fn lone_bang_is_an_error() {
        assert!(parse("foo\n!\n").is_err());
        assert!(parse("foo\n!bar\n").is_ok());
    }
}
