//! `builder images --filter KEY=VALUE`: the filters of `docker images` that apply to a
//! store of named images. `reference=PATTERN` (Go's `path.Match` glob, tried on the familiar
//! name with and without its tag, and on the full name), `dangling=true|false` (every image
//! in the store has a name, so none is dangling), `before=IMAGE` and `since=IMAGE` (created
//! before or after that image). Several values of one key match if any does; different keys
//! must all match. Any other key is refused.

/// The parsed filters.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ImageFilters {
    /// `reference=` patterns (any may match).
    pub references: Vec<String>,
    /// `dangling=`: `Some(true)` keeps only images without a name.
    pub dangling: Option<bool>,
    /// `before=` images, as given (resolved by the caller).
    pub before: Vec<String>,
    /// `since=` images, as given.
    pub since: Vec<String>,
}

impl ImageFilters {
    /// Parse `--filter` values.
    pub fn parse(values: &[String]) -> Result<Self, String> {
        let mut f = ImageFilters::default();
        for value in values {
            let Some((key, v)) = value.split_once('=') else {
                return Err(format!(
                    "bad format of filter {value:?} (expected name=value)"
                ));
            };
            match key {
                "reference" => {
                    check_pattern(v)?;
                    f.references.push(v.to_string());
                }
                "dangling" => {
                    let b = match v.to_ascii_lowercase().as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(format!(
                                "invalid filter 'dangling={v}': expected true or false"
                            ))
                        }
                    };
                    if f.dangling.is_some_and(|d| d != b) {
                        return Err("conflicting dangling filters".into());
                    }
                    f.dangling = Some(b);
                }
                "before" => f.before.push(v.to_string()),
                "since" => f.since.push(v.to_string()),
                _ => {
                    return Err(format!(
                    "invalid filter {key:?}: supported are reference, dangling, before and since"
                ))
                }
            }
        }
        Ok(f)
    }

    /// Whether a named image passes the `reference` and `dangling` filters; `names` are the
    /// forms to match (familiar with and without tag, full).
    pub fn matches_name(&self, names: &[String]) -> bool {
        if self.dangling == Some(true) {
            return false;
        }
        self.references.is_empty()
            || self
                .references
                .iter()
                .any(|p| names.iter().any(|n| glob_match(p, n)))
    }
}

/// Refuse a malformed pattern up front (an unclosed `[`, a trailing `\`).
fn check_pattern(pattern: &str) -> Result<(), String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 == chars.len() => {
                return Err(format!(
                    "invalid reference pattern {pattern:?}: trailing \\"
                ))
            }
            '\\' => i += 1,
            '[' => match class_end(&chars, i) {
                Some(end) => i = end,
                None => return Err(format!("invalid reference pattern {pattern:?}: unclosed [")),
            },
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The index of the `]` closing the class that starts at `start`.
fn class_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if chars.get(i) == Some(&'^') {
        i += 1;
    }
    let first = i;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            ']' if i > first => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Go's `path.Match`: `*` is any run of characters but `/`, `?` one character but `/`,
/// `[a-z]` and `[^a-z]` a class, `\` escapes.
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    let Some(&first) = p.first() else {
        return n.is_empty();
    };
    match first {
        '*' => (0..=n.len())
            .take_while(|&i| i == 0 || n[i - 1] != '/')
            .any(|i| match_from(&p[1..], &n[i..])),
        '?' => n.first().is_some_and(|&c| c != '/') && match_from(&p[1..], &n[1..]),
        '[' => match (class_end(p, 0), n.first()) {
            (Some(end), Some(&c)) => {
                c != '/' && class_matches(&p[1..end], c) && match_from(&p[end + 1..], &n[1..])
            }
            _ => false,
        },
        '\\' => match p.get(1) {
            Some(&lit) => n.first() == Some(&lit) && match_from(&p[2..], &n[1..]),
            None => false,
        },
        c => n.first() == Some(&c) && match_from(&p[1..], &n[1..]),
    }
}

/// Whether `c` is in the class body (between `[` and `]`).
fn class_matches(body: &[char], c: char) -> bool {
    let (negated, body) = match body.first() {
        Some('^') => (true, &body[1..]),
        _ => (false, body),
    };
    let mut i = 0;
    let mut hit = false;
    while i < body.len() {
        let mut lo = body[i];
        if lo == '\\' && i + 1 < body.len() {
            i += 1;
            lo = body[i];
        }
        if body.get(i + 1) == Some(&'-') && i + 2 < body.len() {
            let hi = body[i + 2];
            hit |= lo <= c && c <= hi;
            i += 3;
        } else {
            hit |= lo == c;
            i += 1;
        }
    }
    hit != negated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_go_path_match() {
        assert!(glob_match("app", "app"));
        assert!(glob_match("app*", "app-server"));
        assert!(!glob_match("app*", "team/app"));
        assert!(glob_match("*/app", "team/app"));
        assert!(!glob_match("*", "team/app"));
        assert!(glob_match("app:v?", "app:v1"));
        assert!(glob_match("app:[0-9]*", "app:1.2"));
        assert!(!glob_match("app:[^0-9]*", "app:1.2"));
        assert!(glob_match("a\\*", "a*"));
        assert!(!glob_match("a\\*", "ab"));
        assert!(glob_match("localhost:5000/*:*", "localhost:5000/x:v1"));
    }

    #[test]
    fn filters_parse_and_refuse_unknown_keys() {
        let f = ImageFilters::parse(&[
            "reference=app*".into(),
            "reference=web".into(),
            "dangling=false".into(),
            "before=app:1".into(),
            "since=base".into(),
        ])
        .unwrap();
        assert_eq!(f.references, vec!["app*", "web"]);
        assert_eq!(f.dangling, Some(false));
        assert_eq!((f.before.len(), f.since.len()), (1, 1));
        assert!(f.matches_name(&["web:latest".into(), "web".into()]));
        assert!(!f.matches_name(&["db:latest".into(), "db".into()]));
        for bad in ["label=a=b", "reference", "dangling=maybe", "reference=[a"] {
            assert!(ImageFilters::parse(&[bad.into()]).is_err(), "{bad}");
        }
        let dangling = ImageFilters::parse(&["dangling=true".into()]).unwrap();
        assert!(!dangling.matches_name(&["app".into()]));
    }
}
