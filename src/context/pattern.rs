//! Path patterns, in the two flavours BuildKit uses: Go's `filepath.Match` (COPY source
//! wildcards: `*` and `?` never cross `/`, `[...]` classes, `\` escapes) and moby's
//! patternmatcher (`.dockerignore`, `--exclude`, `--parents`: the same plus `**`, which spans
//! any number of path components).
//!
//! Both flavours validate a pattern with Go's syntax rules first, so a pattern that Docker
//! rejects (`a[`, `[]a]`, a trailing `\`) is rejected here with the same reason.

/// A pattern that is not valid glob syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid pattern {pattern:?}: syntax error in pattern")]
pub struct PatternError {
    /// The pattern as written.
    pub pattern: String,
}

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A literal character.
    Lit(char),
    /// `?`: any one character except `/`.
    Any,
    /// `*`: any run of characters without `/`.
    Star,
    /// `[...]`: one character from (or, negated, not from) the ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `**/` or a leading `**` followed by more: any number of whole components, or none.
    DirStar,
    /// A trailing `**`: anything at all, `/` included.
    Rest,
}

/// Parses `[` ... `]` starting after the `[`; returns the class and the index after `]`.
fn parse_class(chars: &[char], mut i: usize) -> Option<(Tok, usize)> {
    let mut negated = false;
    if chars.get(i) == Some(&'^') {
        negated = true;
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        if chars.get(i) == Some(&']') && !ranges.is_empty() {
            return Some((Tok::Class { negated, ranges }, i + 1));
        }
        let (lo, next) = class_char(chars, i)?;
        i = next;
        let mut hi = lo;
        if chars.get(i) == Some(&'-') {
            let (h, next) = class_char(chars, i + 1)?;
            if h < lo {
                return None;
            }
            hi = h;
            i = next;
        }
        ranges.push((lo, hi));
    }
}

/// One possibly escaped character inside a class (Go's `getEsc`).
fn class_char(chars: &[char], mut i: usize) -> Option<(char, usize)> {
    let mut c = *chars.get(i)?;
    if c == '-' || c == ']' {
        return None;
    }
    if c == '\\' {
        i += 1;
        c = *chars.get(i)?;
    }
    i += 1;
    // A class must be closed: running out of pattern here is an error.
    chars.get(i)?;
    Some((c, i))
}

/// Compiles a pattern with Go `filepath.Match` semantics (`**` is just a `*`).
pub(crate) fn compile_glob(pattern: &str) -> Result<Vec<Tok>, PatternError> {
    let bad = || PatternError {
        pattern: pattern.to_string(),
    };
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '*' => {
                if toks.last() != Some(&Tok::Star) {
                    toks.push(Tok::Star);
                }
                i += 1;
            }
            '?' => {
                toks.push(Tok::Any);
                i += 1;
            }
            '[' => {
                let (tok, next) = parse_class(&chars, i + 1).ok_or_else(bad)?;
                toks.push(tok);
                i = next;
            }
            '\\' => {
                let esc = *chars.get(i + 1).ok_or_else(bad)?;
                toks.push(Tok::Lit(esc));
                i += 2;
            }
            _ => {
                toks.push(Tok::Lit(c));
                i += 1;
            }
        }
    }
    Ok(toks)
}

/// Go's `filepath.Match`: does `name` match `pattern` as a whole?
pub fn glob_match(pattern: &str, name: &str) -> Result<bool, PatternError> {
    let toks = compile_glob(pattern)?;
    Ok(match_toks(&toks, name))
}

/// Whether `name` contains an unescaped wildcard character (`*`, `?`, `[`).
pub fn has_wildcards(name: &str) -> bool {
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// How a patternmatcher pattern is evaluated (moby/patternmatcher's match types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Compiled {
    /// The path equals the pattern.
    Exact(String),
    /// `dir/**`: the path starts with the text before `**`.
    Prefix(String),
    /// `**/name` or `**name`: the path ends with the text after `**`.
    Suffix(String),
    /// Anything else, as a token list.
    Tokens(Vec<Tok>),
}

impl Compiled {
    /// Whether `path` (slash-separated, relative) matches.
    pub(crate) fn matches(&self, path: &str) -> bool {
        match self {
            Compiled::Exact(p) => path == p,
            Compiled::Prefix(p) => path.starts_with(p.as_str()),
            Compiled::Suffix(s) => {
                path.ends_with(s.as_str()) || s.strip_prefix('/').is_some_and(|rest| path == rest)
            }
            Compiled::Tokens(toks) => match_toks(toks, path),
        }
    }
}

/// Compiles a cleaned patternmatcher pattern (`**` spans components).
pub(crate) fn compile_doublestar(pattern: &str) -> Result<Compiled, PatternError> {
    // Syntax is checked with Go's rules, exactly as patternmatcher.New does.
    compile_glob(pattern)?;
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut kind = 0u8; // 0 exact, 1 prefix, 2 suffix, 3 tokens
    let mut i = 0;
    let mut step = 0usize;
    while let Some(&c) = chars.get(i) {
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    if kind == 0 {
                        kind = 1;
                    } else {
                        kind = 3;
                    }
                    toks.push(Tok::Rest);
                } else {
                    kind = 3;
                    toks.push(Tok::DirStar);
                }
                if step == 0 {
                    kind = 2;
                }
            }
            '*' => {
                toks.push(Tok::Star);
                kind = 3;
                i += 1;
            }
            '?' => {
                toks.push(Tok::Any);
                kind = 3;
                i += 1;
            }
            '[' => {
                let (tok, next) = parse_class(&chars, i + 1).ok_or_else(|| PatternError {
                    pattern: pattern.to_string(),
                })?;
                toks.push(tok);
                kind = 3;
                i = next;
            }
            '\\' => match chars.get(i + 1) {
                Some(&e) => {
                    toks.push(Tok::Lit(e));
                    kind = 3;
                    i += 2;
                }
                None => {
                    toks.push(Tok::Lit('\\'));
                    i += 1;
                }
            },
            _ => {
                toks.push(Tok::Lit(c));
                i += 1;
            }
        }
        step += 1;
    }
    Ok(match kind {
        0 => Compiled::Exact(pattern.to_string()),
        1 => Compiled::Prefix(
            pattern
                .get(..pattern.len().saturating_sub(2))
                .unwrap_or("")
                .to_string(),
        ),
        2 => Compiled::Suffix(pattern.get(2..).unwrap_or("").to_string()),
        _ => Compiled::Tokens(toks),
    })
}

/// Matches a whole string against tokens (dynamic programming, no backtracking blow-up).
pub(crate) fn match_toks(toks: &[Tok], s: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let n = s.len();
    let width = n + 1;
    // next[j]: can toks[i+1..] match s[j..]; cur[j]: can toks[i..] match s[j..].
    let mut next = vec![false; width];
    next[n] = true;
    let mut cur = vec![false; width];
    for tok in toks.iter().rev() {
        let mut later = false; // for DirStar (a '/' seen later) and Rest (any later match)
        for j in (0..width).rev() {
            let ch = s.get(j).copied();
            cur[j] = match tok {
                Tok::Lit(c) => ch == Some(*c) && next[j + 1],
                Tok::Any => ch.is_some_and(|c| c != '/') && next[j + 1],
                Tok::Star => next[j] || (ch.is_some_and(|c| c != '/') && cur[j + 1]),
                Tok::Class { negated, ranges } => {
                    ch.is_some_and(|c| {
                        ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
                    }) && next[j + 1]
                }
                Tok::DirStar => {
                    if ch == Some('/') && next[j + 1] {
                        later = true;
                    }
                    next[j] || later
                }
                Tok::Rest => {
                    later = later || next[j];
                    later
                }
            };
        }
        std::mem::swap(&mut next, &mut cur);
    }
    next[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    // Go's own filepath.Match table, as mirrored in moby/patternmatcher's tests.
    #[test]
    fn go_match_table() {
        let ok: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ab/c", false),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("a[^a][^a][^a]b", "a☺b", false),
            ("[a-ζ]*", "α", true),
            ("*[a-ζ]", "A", false),
            ("a?b", "a/b", false),
            ("a*b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[\\-]", "-", true),
            ("[x\\-]", "x", true),
            ("[x\\-]", "-", true),
            ("[x\\-]", "z", false),
            ("[\\-x]", "x", true),
            ("[\\-x]", "-", true),
            ("[\\-x]", "a", false),
            ("*x", "xxx", true),
            ("arr[[]0].txt", "arr[0].txt", true),
        ];
        for &(p, s, want) in ok {
            assert_eq!(glob_match(p, s), Ok(want), "pattern {p:?} name {s:?}");
        }
        for bad in [
            "[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[",
        ] {
            assert!(glob_match(bad, "a").is_err(), "{bad:?} should be rejected");
        }
    }

    fn dm(p: &str, s: &str) -> bool {
        compile_doublestar(p).unwrap().matches(s)
    }

    // moby/patternmatcher TestMatches, "MatchesExact" column.
    #[test]
    fn doublestar_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("**", "file", true),
            ("**", "file/", true),
            ("**", "/", true),
            ("**", "dir/file", true),
            ("**/**", "dir/file", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/dir2/file", true),
            ("**/dir", "dir", true),
            ("**/dir", "dir/file", false),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/*", "dir/dir2/file/", false),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**file", "file", true),
            ("**file", "dir/file", true),
            ("**/file", "dir/file", true),
            ("**file", "dir/dir/file", true),
            ("**/file*", "dir/dir/file.txt", true),
            ("**/file*txt", "dir/dir/file.txt", true),
            ("**/**/*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/*.txt", "file.txt", true),
            ("**/**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/file.txt", true),
            ("a**/*.txt", "a/dir/file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt", "a/file.txt", true),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ae", false),
            ("a[b-d]e", "ace", true),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcdef", false),
            ("abc.def", "abc.def", true),
            ("abc?def", "abcZdef", true),
            ("abc?def", "abcdef", false),
            ("**/foo/bar", "foo/bar", true),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc", false),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", ".foo", true),
            ("**/.foo", "bar.foo", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            (
                "dist/*.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            ("a\\*b", "a*b", true),
        ];
        for &(p, s, want) in cases {
            assert_eq!(dm(p, s), want, "pattern {p:?} path {s:?}");
        }
    }

    #[test]
    fn wildcard_detection() {
        assert!(has_wildcards("*.txt"));
        assert!(has_wildcards("a/b?/c"));
        assert!(has_wildcards("arr[[]0]"));
        assert!(!has_wildcards("plain/path.txt"));
        assert!(!has_wildcards("esc\\*aped"));
    }
}
