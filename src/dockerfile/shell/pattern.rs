//! The shell patterns of `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}` and `${V/p/r}`, read the way
//! BuildKit reads them (it converts them to a Go regular expression):
//!
//! - `*` is any run of characters and `?` any one character, but neither crosses a newline
//!   (Go's `.` does not match `\n`). `*` is lazy for `#` / `%` and greedy for `##`, `%%`, `/`.
//! - `\*`, `\?`, `\\` are the literal characters; `\}` and `\/` are `}` and `/` (the escape only
//!   kept them from ending the `${...}`). Any other escape is an error.
//! - Everything else, `[` and `]` included, is literal: there are no bracket expressions.
//! - A leading U+FEFF is dropped, as Go's `text/scanner` drops a byte-order mark.
//!
//! Matching follows Go's leftmost-first rule (the match a backtracking search finds first), by a
//! backtracking search that remembers failed states, so it stays polynomial on any input.

use std::collections::HashSet;

/// One element of a compiled pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    /// This character.
    Lit(char),
    /// Any character but a newline (`?`).
    Any,
    /// Any run of characters without a newline (`*`).
    Star,
}

/// A compiled pattern.
#[derive(Clone, Debug)]
pub(super) struct Glob {
    toks: Vec<Tok>,
    /// Whether `*` prefers the longest run (`##`, `%%`, `/`) or the shortest (`#`, `%`).
    greedy: bool,
}

impl Glob {
    /// Compile `pattern`; the error is the reason, as in "invalid escape '\x'".
    pub(super) fn new(pattern: &str, greedy: bool) -> Result<Glob, String> {
        let mut chars = pattern.strip_prefix('\u{feff}').unwrap_or(pattern).chars();
        let mut toks = Vec::new();
        while let Some(c) = chars.next() {
            match c {
                '*' => toks.push(Tok::Star),
                '?' => toks.push(Tok::Any),
                '\\' => match chars.clone().next() {
                    // The escape only protected the `}` / `/` from the lexer; the character
                    // itself is read as a literal on the next turn.
                    Some('}' | '/') => {}
                    Some(e @ ('*' | '?' | '\\')) => {
                        chars.next();
                        toks.push(Tok::Lit(e));
                    }
                    Some(e) => return Err(format!("invalid escape '\\{e}'")),
                    None => return Err("invalid escape '\\' at end of pattern".to_string()),
                },
                c => toks.push(Tok::Lit(c)),
            }
        }
        Ok(Glob { toks, greedy })
    }

    /// A search of this pattern in `text`.
    pub(super) fn searcher<'a>(&'a self, text: &'a [char]) -> Searcher<'a> {
        Searcher {
            glob: self,
            text,
            failed: Failed::new(self.toks.len() + 1, text.len() + 1),
        }
    }
}

/// Searches one text for one pattern, remembering which `(pattern, text)` positions cannot
/// lead to a match so that repeated searches (replace-all) stay cheap.
pub(super) struct Searcher<'a> {
    glob: &'a Glob,
    text: &'a [char],
    failed: Failed,
}

/// What the next alternative of a search state is.
enum Step {
    /// Go on at this state.
    To(usize, usize),
    /// This alternative does not apply; try the next.
    Skip,
    /// No alternatives left.
    Done,
}

impl Searcher<'_> {
    /// The end (in chars) of the match that starts exactly at `start`, if any.
    pub(super) fn match_at(&mut self, start: usize) -> Option<usize> {
        if start > self.text.len() || self.failed.contains(0, start) {
            return None;
        }
        let mut stack: Vec<(usize, usize, u8)> = vec![(0, start, 0)];
        while let Some(top) = stack.last_mut() {
            let (pi, ti, alt) = *top;
            if pi == self.glob.toks.len() {
                return Some(ti);
            }
            top.2 = alt.saturating_add(1);
            match self.step(pi, ti, alt) {
                Step::To(p, t) => {
                    if !self.failed.contains(p, t) {
                        stack.push((p, t, 0));
                    }
                }
                Step::Skip => {}
                Step::Done => {
                    self.failed.insert(pi, ti);
                    stack.pop();
                }
            }
        }
        None
    }

    /// The leftmost match starting at or after `from`: `(start, end)` in chars.
    pub(super) fn find_from(&mut self, from: usize) -> Option<(usize, usize)> {
        (from..=self.text.len()).find_map(|s| self.match_at(s).map(|e| (s, e)))
    }

    /// Alternative number `alt` of state `(pi, ti)`, in the order a backtracking search tries them.
    fn step(&self, pi: usize, ti: usize, alt: u8) -> Step {
        let Some(&tok) = self.glob.toks.get(pi) else {
            return Step::Done;
        };
        let here = self.text.get(ti).copied();
        let wild = here.is_some_and(|c| c != '\n');
        let advance = |ok: bool| {
            if ok {
                Step::To(pi + 1, ti + 1)
            } else {
                Step::Skip
            }
        };
        match (tok, alt) {
            (Tok::Lit(c), 0) => advance(here == Some(c)),
            (Tok::Any, 0) => advance(wild),
            (Tok::Star, 0 | 1) => {
                let eat_first = self.glob.greedy;
                if (alt == 0) == eat_first {
                    if wild {
                        Step::To(pi, ti + 1)
                    } else {
                        Step::Skip
                    }
                } else {
                    Step::To(pi + 1, ti)
                }
            }
            _ => Step::Done,
        }
    }
}

/// The set of search states known not to lead to a match: a bitmap when it is small enough,
/// a hash set otherwise.
enum Failed {
    Bits { bits: Vec<u64>, stride: usize },
    Set(HashSet<(usize, usize)>),
}

impl Failed {
    const MAX_BITS: usize = 1 << 26;

    fn new(rows: usize, stride: usize) -> Failed {
        match rows.checked_mul(stride) {
            Some(n) if n <= Self::MAX_BITS => Failed::Bits {
                bits: vec![0; n.div_ceil(64)],
                stride,
            },
            _ => Failed::Set(HashSet::new()),
        }
    }

    fn contains(&self, p: usize, t: usize) -> bool {
        match self {
            Failed::Bits { bits, stride } => {
                let i = p * stride + t;
                bits.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
            }
            Failed::Set(set) => set.contains(&(p, t)),
        }
    }

    fn insert(&mut self, p: usize, t: usize) {
        match self {
            Failed::Bits { bits, stride } => {
                let i = p * *stride + t;
                if let Some(w) = bits.get_mut(i / 64) {
                    *w |= 1 << (i % 64);
                }
            }
            Failed::Set(set) => {
                set.insert((p, t));
            }
        }
    }
}

/// Reverse a pattern for suffix matching, keeping each `\x` escape pair in order
/// (`a\*c` becomes `c\*a`); a lone trailing `\` stays a single character.
pub(super) fn reverse_pattern(pattern: &str) -> String {
    let mut units: Vec<(char, Option<char>)> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        let escaped = if c == '\\' { chars.next() } else { None };
        units.push((c, escaped));
    }
    let mut out = String::with_capacity(pattern.len());
    for (c, escaped) in units.into_iter().rev() {
        out.push(c);
        out.extend(escaped);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(pattern: &str, greedy: bool, text: &str) -> Option<(usize, usize)> {
        let glob = Glob::new(pattern, greedy).unwrap();
        let chars: Vec<char> = text.chars().collect();
        glob.searcher(&chars).find_from(0)
    }

    fn prefix(pattern: &str, greedy: bool, text: &str) -> Option<usize> {
        let glob = Glob::new(pattern, greedy).unwrap();
        let chars: Vec<char> = text.chars().collect();
        glob.searcher(&chars).match_at(0)
    }

    #[test]
    fn compiles_like_buildkit() {
        let toks = |p: &str| Glob::new(p, true).unwrap().toks;
        assert_eq!(toks("*"), vec![Tok::Star]);
        assert_eq!(toks("?"), vec![Tok::Any]);
        assert_eq!(toks("\\*"), vec![Tok::Lit('*')]);
        assert_eq!(toks("\\}\\/"), vec![Tok::Lit('}'), Tok::Lit('/')]);
        let lits: Vec<Tok> = "(()[]{}^$.*?|\\".chars().map(Tok::Lit).collect();
        assert_eq!(toks("(()[]{\\}^$.\\*\\?|\\\\"), lits);
        assert_eq!(
            toks("\u{feff}a\u{feff}"),
            vec![Tok::Lit('a'), Tok::Lit('\u{feff}')]
        );
        for bad in ["\\", "\\x", "\\\\\\", "a\\#"] {
            assert!(Glob::new(bad, true).is_err(), "{bad:?}");
        }
        assert_eq!(Glob::new("\\x", true).unwrap_err(), "invalid escape '\\x'");
    }

    #[test]
    fn lazy_and_greedy_stars() {
        assert_eq!(prefix("*x", false, "axbx"), Some(2));
        assert_eq!(prefix("*x", true, "axbx"), Some(4));
        assert_eq!(prefix("*", false, "abc"), Some(0));
        assert_eq!(prefix("*", true, "abc"), Some(3));
        assert_eq!(prefix("*x*y", false, "xxyy"), Some(3));
        assert_eq!(prefix("?\\?", false, "???y"), Some(2));
        assert_eq!(prefix("b", false, "abc"), None);
        assert_eq!(prefix("", true, "abc"), Some(0));
    }

    #[test]
    fn wildcards_do_not_cross_newlines() {
        assert_eq!(prefix("*", true, "ab\ncd"), Some(2));
        assert_eq!(prefix("?", true, "\nx"), None);
        assert_eq!(prefix("*\n*", true, "a\nb\nc"), Some(3));
        assert_eq!(find("c*", true, "ab\ncd\n"), Some((3, 5)));
    }

    #[test]
    fn leftmost_match() {
        assert_eq!(find("\\*/", true, "/foo*/*/*.txt"), Some((4, 6)));
        assert_eq!(find("/?/", true, "/a/foo/b/c.txt"), Some((0, 3)));
        assert_eq!(find("", true, "ab"), Some((0, 0)));
        assert_eq!(find("z", true, "ab"), None);
        assert_eq!(find("한*", true, "가한국어"), Some((1, 4)));
    }

    #[test]
    fn many_stars_stay_fast() {
        let pattern = "*a".repeat(200) + "b";
        let text = "a".repeat(2000);
        assert_eq!(find(&pattern, true, &text), None);
        assert_eq!(find(&pattern, false, &text), None);
    }

    #[test]
    fn reverses_keeping_escapes() {
        for (p, want) in [
            ("a\\*c", "c\\*a"),
            ("\\\\\\ab", "b\\a\\\\"),
            ("ab\\", "\\ba"),
            ("👽\\🚀🖖", "🖖\\🚀👽"),
            ("\\\\b", "b\\\\"),
            ("", ""),
        ] {
            assert_eq!(reverse_pattern(p), want, "{p:?}");
        }
    }
}
