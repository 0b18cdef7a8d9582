//! BuildKit's shell-lexer corpus (`shared/conformance/shell`): every Linux row of `envVarTest`
//! (one word, `process_word`) and every row of `wordsTest` (`process_words`), parsed as the
//! corpus README describes.

use std::collections::HashMap;
use std::path::PathBuf;

use builder::dockerfile::shell::{Env, Lexer};

use crate::common;

fn corpus_dir() -> Option<PathBuf> {
    let dir = common::shared_dir("shell conformance corpus")?.join("conformance/shell");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "\n!!! SKIPPED shell conformance corpus: {} not found !!!\n",
            dir.display()
        );
        None
    }
}

/// What a row expects: the output, or that processing fails.
#[derive(Debug, PartialEq)]
enum Expect<T> {
    Value(T),
    Error,
}

/// Run `envVarTest`: returns (passed, run, failures).
fn run_env_var_test(text: &str) -> (usize, usize, Vec<String>) {
    let lex = Lexer::new('\\');
    let pairs = [
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
    ];
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let list: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let (mut passed, mut run, mut failures) = (0, 0, Vec::new());
    for (n, raw) in text.lines().enumerate() {
        if raw.starts_with('#') || raw.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = raw.trim().split('|').map(str::trim).collect();
        let [platform, input, expected] = fields[..] else {
            panic!("envVarTest line {}: not three fields: {raw:?}", n + 1);
        };
        match platform {
            "A" | "U" => {}
            "W" => continue,
            other => panic!("envVarTest line {}: unknown platform {other:?}", n + 1),
        }
        run += 1;
        let want = match expected {
            "error" => Expect::Error,
            v => Expect::Value(v.to_string()),
        };
        let envs: [(&str, &dyn Env); 2] = [("map", &map), ("KEY=VALUE list", &list)];
        let mut ok = true;
        for (env_name, env) in envs {
            let got = match lex.process_word(input, env) {
                Ok(v) => Expect::Value(v),
                Err(_) => Expect::Error,
            };
            if got != want {
                ok = false;
                failures.push(format!(
                    "envVarTest:{} {input:?} ({env_name}): want {want:?}, got {got:?}",
                    n + 1
                ));
            }
        }
        passed += usize::from(ok);
    }
    (passed, run, failures)
}

/// Run `wordsTest`: returns (passed, run, failures).
fn run_words_test(text: &str) -> (usize, usize, Vec<String>) {
    let lex = Lexer::new('\\');
    let mut env: Vec<(String, String)> = Vec::new();
    let (mut passed, mut run, mut failures) = (0, 0, Vec::new());
    for (n, raw) in text.lines().enumerate() {
        if raw.starts_with('#') {
            continue;
        }
        if let Some(rest) = raw.strip_prefix("ENV ") {
            let entry = rest.trim_start_matches(' ');
            let (k, v) = entry.split_once('=').unwrap_or((entry, ""));
            env.push((k.to_string(), v.to_string()));
            continue;
        }
        let fields: Vec<&str> = raw.split('|').collect();
        let [input, expected] = fields[..] else {
            panic!("wordsTest line {}: not exactly one '|': {raw:?}", n + 1);
        };
        let input = input.trim();
        let expected = expected.trim_start_matches(' ');
        run += 1;
        let want = match expected {
            "error" => Expect::Error,
            v => Expect::Value(v.split(',').map(str::to_string).collect::<Vec<_>>()),
        };
        let got = match lex.process_words(input, &env) {
            Ok(words) => Expect::Value(words),
            Err(_) => Expect::Error,
        };
        if got == want {
            passed += 1;
        } else {
            failures.push(format!(
                "wordsTest:{} {input:?}: want {want:?}, got {got:?}",
                n + 1
            ));
        }
    }
    (passed, run, failures)
}

#[test]
fn shell_corpus_matches_buildkit() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.join(name).display()))
    };
    let (env_pass, env_run, env_fail) = run_env_var_test(&read("envVarTest"));
    let (words_pass, words_run, words_fail) = run_words_test(&read("wordsTest"));
    println!("shell corpus: envVarTest {env_pass}/{env_run}, wordsTest {words_pass}/{words_run}");
    let failures: Vec<String> = env_fail.into_iter().chain(words_fail).collect();
    assert!(
        failures.is_empty(),
        "{} failing rows:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(env_run, 228, "envVarTest should have 228 Linux rows");
    assert_eq!(words_run, 24, "wordsTest should have 24 rows");
}
