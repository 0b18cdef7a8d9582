//! "did you mean X?" hints, as BuildKit's `util/suggest` gives them: the closest option within
//! Levenshtein distance 2, unless the value matches an option exactly.

/// The closest option to `value` (distance at most 2), or `None`.
///
/// Case-insensitive matching returns the option in the value's case when the value is all
/// upper- or all lower-case (and lower-case otherwise), like BuildKit. On equal distances the
/// first option in `options` wins.
pub(crate) fn closest(value: &str, options: &[&str], case_sensitive: bool) -> Option<String> {
    let folded = if case_sensitive {
        value.to_string()
    } else {
        value.to_lowercase()
    };
    let mut best: Option<String> = None;
    let mut min_dist = 3;
    for opt in options {
        let opt = if case_sensitive {
            opt.to_string()
        } else {
            opt.to_lowercase()
        };
        if folded == opt {
            return None;
        }
        let dist = levenshtein(&folded, &opt);
        if dist < min_dist {
            min_dist = dist;
            best = Some(if case_sensitive {
                opt
            } else {
                match_case(&opt, value)
            });
        }
    }
    best
}

/// `message` followed by ` (did you mean X?)` when there is a close option.
pub(crate) fn with_hint(
    message: String,
    value: &str,
    options: &[&str],
    case_sensitive: bool,
) -> String {
    match closest(value, options, case_sensitive) {
        Some(m) => format!("{message} (did you mean {m}?)"),
        None => message,
    }
}

fn match_case(option: &str, original: &str) -> String {
    if original == original.to_lowercase() {
        option.to_lowercase()
    } else if original == original.to_uppercase() {
        option.to_uppercase()
    } else {
        option.to_string()
    }
}

/// Edit distance with unit costs for insertion, deletion and substitution.
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("frum", "from"), 1);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_in_the_value_case() {
        let opts = ["FROM", "RUN", "COPY"];
        assert_eq!(closest("FRUM", &opts, false).as_deref(), Some("FROM"));
        assert_eq!(closest("frum", &opts, false).as_deref(), Some("from"));
        assert_eq!(closest("Frum", &opts, false).as_deref(), Some("from"));
        assert_eq!(closest("XYZZY", &opts, false), None);
    }

    #[test]
    fn exact_match_gives_no_hint() {
        assert_eq!(closest("run", &["RUN", "RUNS"], false), None);
    }

    #[test]
    fn case_sensitive_matching() {
        assert_eq!(closest("form", &["from"], true).as_deref(), Some("from"));
        assert_eq!(closest("FROM", &["from"], true), None);
    }

    #[test]
    fn hint_is_appended() {
        assert_eq!(
            with_hint("unknown flag: --form".into(), "form", &["from"], true),
            "unknown flag: --form (did you mean from?)"
        );
        assert_eq!(with_hint("x".into(), "zzzz", &["from"], true), "x");
    }
}
