//! The pattern operators on a value: `${V#p}` / `${V##p}` (trim a prefix), `${V%p}` / `${V%%p}`
//! (trim a suffix) and `${V/p/r}` / `${V//p/r}` (replace the first / every match), with
//! BuildKit's exact results, quirks included:
//!
//! - suffixes are trimmed by reversing both the value and the pattern and trimming a prefix, so
//!   an invalid `%` pattern is reported reversed;
//! - `//` replaces the way Go's `Regexp.ReplaceAllString` does: an empty match right after a
//!   match is not replaced, and the replacement is a template in which `$0` / `${0}` is the
//!   matched text, `$$` is `$`, and any other `$name` / `${name}` is empty. `/` (first match
//!   only) uses the replacement as written.
//!
//! `//` is the one operator whose output can grow faster than its input (nested, it grows
//! exponentially), so the bytes it produces for one word are capped at
//! [`MAX_REPLACE_ALL_BYTES`]; BuildKit has no cap and would run out of memory instead.

use super::error::ShellError;
use super::pattern::{reverse_pattern, Glob};
use super::unicode::{is_digit, is_letter};

/// How many bytes `${V//p/r}` may produce in total while processing one word.
pub const MAX_REPLACE_ALL_BYTES: usize = 16 << 20;

/// `${V#p}` (shortest) or `${V##p}` (longest): `value` without its prefix matching `pattern`.
pub(super) fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, ShellError> {
    let glob = compile(pattern, greedy)?;
    let text: Vec<char> = value.chars().collect();
    Ok(match glob.searcher(&text).match_at(0) {
        Some(end) => text.get(end..).unwrap_or_default().iter().collect(),
        None => value.to_string(),
    })
}

/// `${V%p}` (shortest) or `${V%%p}` (longest): `value` without its suffix matching `pattern`.
pub(super) fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, ShellError> {
    let reversed: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &reversed, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

/// `${V/p/r}` (`all` false) or `${V//p/r}` (`all` true); a `//` result longer than `limit`
/// bytes is an error.
pub(super) fn replace(
    value: &str,
    pattern: &str,
    replacement: &str,
    all: bool,
    limit: usize,
) -> Result<String, ShellError> {
    let glob = compile(pattern, true)?;
    let text: Vec<char> = value.chars().collect();
    let mut search = glob.searcher(&text);
    let slice =
        |a: usize, b: usize| -> String { text.get(a..b).unwrap_or_default().iter().collect() };
    if !all {
        return Ok(match search.find_from(0) {
            Some((s, e)) => slice(0, s) + replacement + &slice(e, text.len()),
            None => value.to_string(),
        });
    }
    let mut out = String::new();
    let mut last_end = 0;
    let mut pos = 0;
    while pos <= text.len() {
        let Some((s, e)) = search.find_from(pos) else {
            break;
        };
        out.push_str(&slice(last_end, s));
        // No second replacement for an empty match right after a match.
        if e > last_end || s == 0 {
            expand_template(&mut out, replacement, &slice(s, e));
        }
        if out.len() > limit {
            return Err(ShellError::TooLarge {
                limit: MAX_REPLACE_ALL_BYTES,
            });
        }
        last_end = e;
        // Advance past the match, and always by at least one character.
        pos = if e > pos { e } else { pos + 1 };
    }
    out.push_str(&slice(last_end, text.len()));
    if out.len() > limit {
        return Err(ShellError::TooLarge {
            limit: MAX_REPLACE_ALL_BYTES,
        });
    }
    Ok(out)
}

fn compile(pattern: &str, greedy: bool) -> Result<Glob, ShellError> {
    Glob::new(pattern, greedy).map_err(|reason| ShellError::InvalidPattern {
        pattern: pattern.to_string(),
        reason,
    })
}

/// Append `template` to `out` with Go's `Regexp.Expand` rules for a pattern without groups.
fn expand_template(out: &mut String, template: &str, matched: &str) {
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('$') {
        out.push_str(before);
        rest = after;
        if let Some(tail) = rest.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        match group_reference(rest) {
            Some((name, tail)) => {
                if name == "0" {
                    out.push_str(matched);
                }
                rest = tail;
            }
            // Malformed: the `$` is literal.
            None => out.push('$'),
        }
    }
    out.push_str(rest);
}

/// A group reference at the start of `s` (after its `$`): `name` or `{name}`, a name being
/// letters, digits and `_`. Returns the name and what follows the reference.
fn group_reference(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let len = body
        .char_indices()
        .find(|&(_, c)| !(is_letter(c) || is_digit(c) || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if len == 0 {
        return None;
    }
    let (name, tail) = body.split_at(len);
    if braced {
        tail.strip_prefix('}').map(|t| (name, t))
    } else {
        Some((name, tail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims() {
        assert_eq!(trim_prefix("*x*y", "xxyy", false).unwrap(), "y");
        assert_eq!(trim_prefix("*", "xxyy", false).unwrap(), "xxyy");
        assert_eq!(trim_prefix("*x", "xxyy", true).unwrap(), "yy");
        assert_eq!(trim_prefix("", "xxyy", true).unwrap(), "xxyy");
        assert_eq!(trim_suffix("x", "xxyy", false).unwrap(), "xxyy");
        assert_eq!(trim_suffix("y*", "xxyy", false).unwrap(), "xxy");
        assert_eq!(trim_suffix("y*", "xxyy", true).unwrap(), "xx");
        assert_eq!(trim_suffix("\\**\\*", "a***yy*", true).unwrap(), "a");
        assert_eq!(trim_suffix("\\**", "xx**", true).unwrap(), "xx");
        assert_eq!(trim_suffix("어", "한국어", false).unwrap(), "한국");
    }

    #[test]
    fn suffix_errors_name_the_reversed_pattern() {
        let err = trim_suffix("ab\\x", "v", false).unwrap_err();
        assert_eq!(
            err,
            ShellError::InvalidPattern {
                pattern: "\\xba".into(),
                reason: "invalid escape '\\x'".into()
            }
        );
    }

    #[test]
    fn replaces_first_or_all() {
        let r = |v, p, rep, all| replace(v, p, rep, all, usize::MAX).unwrap();
        assert_eq!(r("/foo*/*/*.txt", "\\*/", ".", false), "/foo.*/*.txt");
        assert_eq!(r("/foo*/*/*.txt", "\\*/", ".", true), "/foo..*.txt");
        assert_eq!(r("/tmp/tmp/bar.txt", "/tmp", "", true), "/bar.txt");
        assert_eq!(r("/a/foo/b/c.txt", "/?/", "/", true), "/foo/c.txt");
        assert_eq!(r("xxyy", "", "ww", false), "wwxxyy");
        assert_eq!(r("xxyy", "", "", true), "xxyy");
        assert_eq!(r("abc", "", "-", true), "-a-b-c-");
        // A glob `x*` is `x` then anything: no empty matches here.
        assert_eq!(r("abc", "x*", "-", true), "abc");
        assert_eq!(r("xab", "x*", "-", true), "-");
        assert_eq!(r("ab\nxab", "?*", "-", true), "-\n-");
        assert_eq!(r("a\nb", "*", "-", true), "-\n-");
    }

    #[test]
    fn replace_all_expands_go_templates() {
        let r = |v, p, rep| replace(v, p, rep, true, usize::MAX).unwrap();
        assert_eq!(r("abc", "b", "[$0]"), "a[b]c");
        assert_eq!(r("abc", "b", "[${0}]"), "a[b]c");
        assert_eq!(r("abc", "b", "$$"), "a$c");
        assert_eq!(r("abc", "b", "$1$x${x}$00"), "ac");
        assert_eq!(r("abc", "b", "$"), "a$c");
        assert_eq!(r("abc", "b", "$.${0"), "a$.${0c");
        assert_eq!(r("abc", "b", "$0x"), "ac");
        assert_eq!(
            replace("aaaa", "a", "bb", true, 7),
            Err(ShellError::TooLarge {
                limit: MAX_REPLACE_ALL_BYTES
            })
        );
        assert_eq!(replace("aaaa", "a", "bb", true, 8).unwrap(), "bbbbbbbb");
        // The first-match form uses the replacement as written.
        assert_eq!(replace("abc", "b", "$0", false, 0).unwrap(), "a$0c");
    }
}
