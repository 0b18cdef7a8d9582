//! Small text helpers that reproduce the exact character classes BuildKit's parser uses, so
//! that splitting and trimming agree with it byte for byte.
//!
//! Three notions of "space" appear upstream and they differ:
//! - Unicode white space (Go's `unicode.IsSpace`, the same set as [`char::is_whitespace`]),
//!   used for trimming and for quote-aware word splitting;
//! - the ASCII class `[\t\v\f\r ]`, used to split FROM/EXPOSE/COPY arguments, the keyword
//!   from the rest, and the legacy `ENV key value` form;
//! - a byte-wise test (each byte taken as a Latin-1 character), used by flag extraction and
//!   HEALTHCHECK, which therefore also stops at the bytes 0x85 and 0xA0 inside multi-byte
//!   characters.

use std::borrow::Cow;

/// The ASCII white space class `[\t\v\f\r ]` (no newline).
pub(crate) fn is_ascii_blank(c: char) -> bool {
    matches!(c, '\t' | '\u{0b}' | '\u{0c}' | '\r' | ' ')
}

/// A byte taken as a Latin-1 character and tested for Unicode white space.
pub(crate) fn is_space_byte(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0)
}

/// Split `s` at runs of `[\t\v\f\r ]`, like Go's `Regexp.Split(s, n)` with that pattern:
/// at most `limit` pieces (`None` = all); a leading or trailing run produces an empty piece.
pub(crate) fn split_blanks(s: &str, limit: Option<usize>) -> Vec<&str> {
    if s.is_empty() {
        return vec![""];
    }
    let mut pieces = Vec::new();
    let mut begin = 0;
    let mut last_match_start = 0;
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if !is_ascii_blank(c) {
            continue;
        }
        // A maximal run of blanks starting at `i`.
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = iter.peek() {
            if !is_ascii_blank(d) {
                break;
            }
            end = j + d.len_utf8();
            iter.next();
        }
        if limit.is_some_and(|n| pieces.len() + 1 >= n) {
            break;
        }
        last_match_start = i;
        if end != 0 {
            pieces.push(&s[begin..i]);
        }
        begin = end;
    }
    if last_match_start != s.len() {
        pieces.push(&s[begin..]);
    }
    pieces
}

/// Lower-case `s` one character at a time with simple case mapping, as Go's
/// `strings.ToLower` does (no context-dependent or multi-character mappings).
pub(crate) fn go_lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => l,
                // Only U+0130 lower-cases to two characters; Go maps it to a plain `i`.
                (Some(l), Some(_)) => l,
                _ => c,
            }
        })
        .collect()
}

/// `s[from..]` by byte offset, replacing broken characters if `from` falls inside one.
pub(crate) fn tail_from(s: &str, from: usize) -> Cow<'_, str> {
    match s.get(from..) {
        Some(t) => Cow::Borrowed(t),
        None => String::from_utf8_lossy(s.as_bytes().get(from..).unwrap_or_default()),
    }
}

/// `s[..to]` by byte offset, replacing broken characters if `to` falls inside one.
pub(crate) fn head_to(s: &str, to: usize) -> Cow<'_, str> {
    match s.get(..to) {
        Some(t) => Cow::Borrowed(t),
        None => String::from_utf8_lossy(s.as_bytes().get(..to).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_blanks_follows_go_regexp_split() {
        assert_eq!(split_blanks("a  b\tc", None), vec!["a", "b", "c"]);
        assert_eq!(split_blanks("a b c", Some(2)), vec!["a", "b c"]);
        assert_eq!(split_blanks("abc", Some(2)), vec!["abc"]);
        assert_eq!(split_blanks("", None), vec![""]);
        assert_eq!(split_blanks(" a", None), vec!["", "a"]);
        assert_eq!(split_blanks("a ", None), vec!["a", ""]);
        assert_eq!(split_blanks("a\u{a0}b", None), vec!["a\u{a0}b"]);
    }

    #[test]
    fn lower_is_per_character() {
        assert_eq!(go_lower("RUN"), "run");
        assert_eq!(go_lower("İX"), "ix");
        assert_eq!(go_lower("ΣΑΣ"), "σασ");
    }

    #[test]
    fn slicing_inside_a_character_does_not_panic() {
        let s = "aé";
        assert_eq!(tail_from(s, 2), "\u{fffd}");
        assert_eq!(head_to(s, 2), "a\u{fffd}");
        assert_eq!(tail_from(s, 9), "");
    }
}
