//! An ordered list of exclude patterns with `!` exceptions, evaluated the way BuildKit's
//! context transfer (fsutil's walker over moby/patternmatcher) evaluates `.dockerignore`, and
//! the way its copier evaluates `COPY --exclude`:
//!
//! - patterns are tried in order and the last one that matches wins (`!` re-includes);
//! - a pattern that matches a directory matches everything below it;
//! - an excluded directory is skipped whole, unless some exception pattern names a path
//!   below it literally (`docs` + `!docs/README.md`): then the walk goes in, the directory
//!   itself is kept, and each child is judged on its own.
//!
//! The same type also answers `--parents` include questions (see [`Matcher::include`]).

use super::pattern::{compile_doublestar, Compiled, PatternError};

/// One pattern of a [`Matcher`].
#[derive(Debug, Clone)]
struct Pattern {
    /// The cleaned pattern text without its `!`.
    text: String,
    /// A `!` exception (re-include).
    exclusion: bool,
    compiled: Compiled,
}

/// Per-pattern results for a directory, handed down to its children
/// (moby/patternmatcher's `MatchInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchInfo {
    parent_matched: Vec<bool>,
}

/// What a walk does with one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The entry is part of the tree (a directory may still have excluded children).
    Keep,
    /// The entry (and, for a directory, everything below it) is left out.
    Skip,
}

/// Exclude patterns with exceptions, e.g. the lines of a `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

/// Go's `filepath.Clean` for slash paths.
pub fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|last| *last != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

impl Matcher {
    /// Builds a matcher from pattern lines (already stripped of comments), like
    /// `patternmatcher.New`: each is trimmed and cleaned; a leading `!` marks an exception.
    pub fn new<S: AsRef<str>>(lines: &[S]) -> Result<Matcher, PatternError> {
        let mut m = Matcher::default();
        for line in lines {
            let raw = line.as_ref().trim();
            if raw.is_empty() {
                continue;
            }
            let mut p = clean_path(raw);
            let mut exclusion = false;
            if let Some(rest) = p.strip_prefix('!') {
                if rest.is_empty() {
                    return Err(PatternError {
                        pattern: raw.to_string(),
                    });
                }
                exclusion = true;
                p = rest.to_string();
            }
            let compiled = compile_doublestar(&p).map_err(|_| PatternError {
                pattern: raw.to_string(),
            })?;
            m.exclusions |= exclusion;
            m.patterns.push(Pattern {
                text: p,
                exclusion,
                compiled,
            });
        }
        Ok(m)
    }

    /// No patterns at all: nothing is ever excluded.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether any pattern is a `!` exception.
    pub fn has_exceptions(&self) -> bool {
        self.exclusions
    }

    /// moby/patternmatcher's `MatchesUsingParentResults`: whether `path` is matched (the
    /// last matching pattern is not an exception), given its parent directory's results.
    pub fn matches(&self, path: &str, parent: &MatchInfo) -> (bool, MatchInfo) {
        let mut matched = false;
        let mut info = MatchInfo {
            parent_matched: Vec::with_capacity(self.patterns.len()),
        };
        for (i, pat) in self.patterns.iter().enumerate() {
            let mut hit = parent.parent_matched.get(i).copied().unwrap_or(false);
            if !hit {
                if pat.exclusion != matched {
                    info.parent_matched.push(false);
                    continue;
                }
                hit = pat.compiled.matches(path);
                if !hit && parent.parent_matched.is_empty() {
                    // No parent results: check every parent directory, as
                    // MatchesOrParentMatches does.
                    let mut end = 0;
                    while let Some(pos) = path.get(end..).and_then(|rest| rest.find('/')) {
                        end += pos;
                        if pat.compiled.matches(path.get(..end).unwrap_or("")) {
                            hit = true;
                            break;
                        }
                        end += 1;
                    }
                }
            }
            info.parent_matched.push(hit);
            if hit {
                matched = !pat.exclusion;
            }
        }
        (matched, info)
    }

    /// One step of a walk: the verdict for `path` (relative, slash-separated) given its
    /// parent's [`MatchInfo`], and the info to hand to its children.
    pub fn check(&self, path: &str, is_dir: bool, parent: &MatchInfo) -> (Verdict, MatchInfo) {
        if self.patterns.is_empty() {
            return (Verdict::Keep, MatchInfo::default());
        }
        let (matched, info) = self.matches(path, parent);
        if !matched {
            return (Verdict::Keep, info);
        }
        if is_dir && self.exclusions {
            let dir_slash = format!("{path}/");
            let reincluded = self
                .patterns
                .iter()
                .any(|p| p.exclusion && format!("{}/", p.text).starts_with(&dir_slash));
            if reincluded {
                return (Verdict::Keep, info);
            }
        }
        (Verdict::Skip, info)
    }

    /// Whether `rel` (relative to the tree root) is left out of the tree: it, or one of its
    /// parent directories, is skipped by [`Matcher::check`]. `is_dir` tells whether `rel`
    /// itself is a directory.
    pub fn excludes(&self, rel: &str, is_dir: bool) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let rel = clean_path(rel.trim_start_matches('/'));
        if rel == "." || rel.starts_with("../") || rel == ".." {
            return false;
        }
        let mut info = MatchInfo::default();
        let mut end = 0;
        loop {
            let next = rel.get(end..).and_then(|rest| rest.find('/'));
            let (prefix, last) = match next {
                Some(pos) => (rel.get(..end + pos).unwrap_or(""), false),
                None => (rel.as_str(), true),
            };
            let (verdict, child) = self.check(prefix, !last || is_dir, &info);
            if verdict == Verdict::Skip {
                return true;
            }
            match next {
                Some(pos) => end += pos + 1,
                None => return false,
            }
            info = child;
        }
    }

    /// `--parents` include patterns (fsutil's include rules): `Full` when `path` matches a
    /// pattern (a directory then brings everything below it), `Partial` when `path` is a
    /// directory under which a pattern may still match, `No` otherwise.
    pub fn include(&self, path: &str, is_dir: bool) -> Inclusion {
        let mut partial = false;
        for pat in self.patterns.iter().filter(|p| !p.exclusion) {
            if pat.compiled.matches(path) {
                return Inclusion::Full;
            }
            if is_dir && could_match_below(&pat.text, path) {
                partial = true;
            }
        }
        if partial {
            Inclusion::Partial
        } else {
            Inclusion::No
        }
    }
}

/// Answer of [`Matcher::include`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inclusion {
    /// Matched: include it, and for a directory everything below it.
    Full,
    /// A directory that may contain matches: look inside, create it only if needed.
    Partial,
    /// Not included.
    No,
}

/// Whether a pattern could match some path strictly below directory `dir`: each component
/// of `dir` matches the pattern's component at the same depth, and the pattern is longer
/// (or reaches a `**` first).
fn could_match_below(pattern: &str, dir: &str) -> bool {
    let pat_parts: Vec<&str> = pattern.split('/').collect();
    let dir_parts: Vec<&str> = dir.split('/').collect();
    for (i, part) in dir_parts.iter().enumerate() {
        let Some(pp) = pat_parts.get(i) else {
            return false;
        };
        if pp.contains("**") {
            return true;
        }
        match compile_doublestar(pp) {
            Ok(c) if c.matches(part) => {}
            _ => return false,
        }
    }
    pat_parts.len() > dir_parts.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &[&str]) -> Matcher {
        Matcher::new(p).unwrap()
    }

    #[test]
    fn clean_like_go() {
        assert_eq!(clean_path("./a//b/../c/"), "a/c");
        assert_eq!(clean_path("/../x"), "/x");
        assert_eq!(clean_path("../x"), "../x");
        assert_eq!(clean_path(""), ".");
        assert_eq!(clean_path("/"), "/");
        assert_eq!(clean_path("a/.."), ".");
    }

    // moby/patternmatcher: single-pattern semantics through MatchesOrParentMatches.
    #[test]
    fn parent_directories_match() {
        let none = MatchInfo::default();
        assert!(m(&["*"]).matches("fileutils.go", &none).0);
        assert!(m(&["*.go"]).matches("fileutils.go", &none).0);
        assert!(
            m(&["!fileutils.go", "*.go"])
                .matches("fileutils.go", &none)
                .0
        );
        assert!(
            !m(&["*.go", "!fileutils.go"])
                .matches("fileutils.go", &none)
                .0
        );
        assert!(
            !m(&["docs", "!docs/README.md"])
                .matches("docs/README.md", &none)
                .0
        );
        assert!(
            !m(&["docs/", "!docs/README.md"])
                .matches("docs/README.md", &none)
                .0
        );
        assert!(
            !m(&["docs/*", "!docs/README.md"])
                .matches("docs/README.md", &none)
                .0
        );
        assert!(m(&["**/dir"]).matches("dir/file", &none).0);
        assert!(m(&["**/dir2/*"]).matches("dir/dir2/file/", &none).0);
        assert!(
            !m(&["**", "!util/docker/web"])
                .matches("util/docker/web/foo", &none)
                .0
        );
        assert!(
            m(&["**", "!util/docker/web", "util/docker/web/foo"])
                .matches("util/docker/web/foo", &none)
                .0
        );
        assert!(
            !m(&["**", "!dist/*.whl"])
                .matches("dist/proxy.py-2.4.0-py3-none-any.whl", &none)
                .0
        );
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(Matcher::new(&["!"]).is_err());
        assert!(Matcher::new(&["["]).is_err());
        assert!(Matcher::new(&["docs", "a[", "x"]).is_err());
        assert!(Matcher::new(&["", "  "]).unwrap().is_empty());
        assert!(m(&["docs", "  !docs/README.md"]).has_exceptions());
    }

    // The walk table: what BuildKit's context transfer leaves out.
    #[test]
    fn walk_semantics() {
        let cases: &[(&[&str], &str, bool, bool)] = &[
            // (patterns, path, is_dir, excluded)
            (&["docs"], "docs", true, true),
            (&["docs"], "docs/a/b.md", false, true),
            (&["docs", "!docs/README.md"], "docs", true, false),
            (&["docs", "!docs/README.md"], "docs/README.md", false, false),
            (&["docs", "!docs/README.md"], "docs/other.md", false, true),
            (&["*.md", "!README.md"], "README.md", false, false),
            (&["*.md", "!README.md"], "CHANGES.md", false, true),
            (&["*.md"], "sub/notes.md", false, false),
            (&["**/*.md"], "sub/deep/notes.md", false, true),
            (&["**"], "anything/at/all", false, true),
            (&["**", "!keep"], "keep", false, false),
            (&["**", "!keep"], "keep/inner", false, false),
            (&["**", "!keep"], "other", false, true),
            // An exception that does not literally start with the directory cannot reach in.
            (&["*", "!*/keep.txt"], "a/keep.txt", false, true),
            (&["bar*", "!bar/baz"], "bar", true, false),
            (&["bar*", "!bar/baz"], "bar/foo", false, true),
            (&["bar*", "!bar/baz"], "bar/baz/foo3", false, false),
            (
                &["**", "!bar/baz", "bar/baz/foo3"],
                "bar/baz/foo3",
                false,
                true,
            ),
            (&["**", "!bar/baz", "bar/baz/foo3"], "bar/baz", true, false),
            (&["/abs/path"], "abs/path", false, false),
            (&["abs/path"], "abs/path", false, true),
            (&["./dot/path"], "dot/path", false, true),
            (&["a?c"], "abc", false, true),
            (&["a[b-d]c"], "aec", false, false),
            (&["tmp"], "tmpfile", false, false),
            (&["Dockerfile", ".dockerignore"], "Dockerfile", false, true),
        ];
        for &(pats, path, is_dir, want) in cases {
            assert_eq!(
                m(pats).excludes(path, is_dir),
                want,
                "patterns {pats:?} path {path:?}"
            );
        }
    }

    #[test]
    fn includes_for_parents() {
        let inc = m(&["x/a.txt"]);
        assert_eq!(inc.include("x", true), Inclusion::Partial);
        assert_eq!(inc.include("x/a.txt", false), Inclusion::Full);
        assert_eq!(inc.include("y", true), Inclusion::No);
        let inc = m(&["src/**/*.txt"]);
        assert_eq!(inc.include("src", true), Inclusion::Partial);
        assert_eq!(inc.include("src/x", true), Inclusion::Partial);
        assert_eq!(inc.include("src/x/y/c.txt", false), Inclusion::Full);
        assert_eq!(inc.include("src/a.txt", false), Inclusion::Full);
        assert_eq!(inc.include("other", true), Inclusion::No);
        let inc = m(&["b*/f*"]);
        assert_eq!(inc.include("bar", true), Inclusion::Partial);
        assert_eq!(inc.include("bar/foo", false), Inclusion::Full);
        assert_eq!(inc.include("bar/baz", true), Inclusion::No);
    }
}
