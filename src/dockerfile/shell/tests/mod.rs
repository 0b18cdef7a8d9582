//! Table tests of the public API: `buildkit` mirrors BuildKit's `lex_test.go`
//! (TestProcessWithMatches, TestProcessWithMatchesPlatform, TestShellParserMandatoryEnvVars);
//! `behaviour` covers the options, the backtick escape, word splitting, errors and limits.

mod behaviour;
mod buildkit;

use std::collections::{BTreeSet, HashMap};

pub(super) fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(super) fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}
