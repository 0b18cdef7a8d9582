//! Where the lexer looks variables up: the [`Env`] trait and its implementations for the maps
//! and lists the rest of the builder keeps variables in. Names are case-sensitive, as BuildKit's
//! are on Linux (`equal_env_unix.go`).

use std::collections::{BTreeMap, HashMap};

/// Variable lookup for expansion.
///
/// `Some("")` is a variable that is set but empty, which `${V-x}` and `${V:-x}` tell apart.
pub trait Env {
    /// The value of `name`, or `None` when it is unset.
    fn get(&self, name: &str) -> Option<&str>;
}

impl<E: Env + ?Sized> Env for &E {
    fn get(&self, name: &str) -> Option<&str> {
        (**self).get(name)
    }
}

impl<S: std::hash::BuildHasher> Env for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
    }
}

impl Env for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(String::as_str)
    }
}

/// An ordered list of `(name, value)` pairs; a later pair overrides an earlier one.
impl Env for [(String, String)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// See the slice implementation.
impl Env for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&str> {
        Env::get(self.as_slice(), name)
    }
}

/// A list of `KEY=VALUE` strings (an image config's `Env`); a later entry overrides an earlier
/// one, and an entry without `=` sets `KEY` to the empty string (BuildKit's `EnvsFromSlice`).
impl Env for [String] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find_map(|entry| match entry.split_once('=') {
                Some((k, v)) if k == name => Some(v),
                None if entry == name => Some(""),
                _ => None,
            })
    }
}

/// See the slice implementation.
impl Env for Vec<String> {
    fn get(&self, name: &str) -> Option<&str> {
        Env::get(self.as_slice(), name)
    }
}

/// An environment with nothing set.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEnv;

impl Env for NoEnv {
    fn get(&self, _name: &str) -> Option<&str> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_list_last_wins_and_bare_key_is_empty() {
        let env: Vec<String> = ["foo=bar", "car=hat", "car=bike", "bare", "eq=a=b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(Env::get(&env, "foo"), Some("bar"));
        assert_eq!(Env::get(&env, "car"), Some("bike"));
        assert_eq!(Env::get(&env, "bare"), Some(""));
        assert_eq!(Env::get(&env, "eq"), Some("a=b"));
        assert_eq!(Env::get(&env, "FOO"), None);
        assert_eq!(Env::get(&env, "missing"), None);
    }

    #[test]
    fn pair_list_last_wins() {
        let env = vec![
            ("A".to_string(), "1".to_string()),
            ("A".to_string(), "2".to_string()),
        ];
        assert_eq!(Env::get(&env, "A"), Some("2"));
        assert_eq!(Env::get(env.as_slice(), "B"), None);
    }

    #[test]
    fn maps_and_empty() {
        let mut h = HashMap::new();
        h.insert("A".to_string(), String::new());
        assert_eq!(Env::get(&h, "A"), Some(""));
        let b: BTreeMap<String, String> = [("B".to_string(), "x".to_string())].into();
        assert_eq!(Env::get(&b, "B"), Some("x"));
        assert_eq!(NoEnv.get("A"), None);
    }
}
