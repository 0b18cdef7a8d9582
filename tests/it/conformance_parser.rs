//! The structural parser against BuildKit's parser corpus (`conformance/parser`) and the
//! real-world corpus dumped by BuildKit's parser (`conformance/parser-real`).
//!
//! Every positive case must dump byte for byte like BuildKit (`dump(ast) + "\n"` equals
//! `result`); every negative or `error` case must be rejected.

use std::fs;
use std::path::{Path, PathBuf};

use builder::dockerfile::dump::dump;
use builder::dockerfile::{parse, Span};

use crate::common;

/// Outcome of one corpus folder.
#[derive(Default)]
struct Tally {
    passed: usize,
    total: usize,
    failures: Vec<String>,
}

impl Tally {
    fn record(&mut self, failure: Option<String>) {
        self.total += 1;
        match failure {
            None => self.passed += 1,
            Some(f) => self.failures.push(f),
        }
    }
}

fn read_text(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Compare our dump of `case/Dockerfile` with `case/result`; a description on mismatch.
fn check_dump(case: &Path) -> Option<String> {
    let input = read_text(&case.join("Dockerfile"));
    let expected = read_text(&case.join("result"));
    let actual = match parse(&input) {
        Ok(ast) => dump(&ast) + "\n",
        Err(e) => return Some(format!("{}: rejected: {e}", case.display())),
    };
    if actual == expected {
        return None;
    }
    let (n, want, got) = expected
        .lines()
        .zip(actual.lines().chain(std::iter::repeat("<missing>")))
        .enumerate()
        .find(|(_, (w, g))| w != g)
        .map(|(i, (w, g))| (i + 1, w.to_string(), g.to_string()))
        .unwrap_or_else(|| (0, "<same lines, different ends>".into(), String::new()));
    Some(format!(
        "{}: dump differs at result line {n}\n    want: {want}\n    got:  {got}",
        case.display()
    ))
}

/// Parsing `case/Dockerfile` must fail.
fn check_rejected(case: &Path) -> Option<String> {
    let input = read_text(&case.join("Dockerfile"));
    match parse(&input) {
        Ok(ast) => Some(format!(
            "{}: accepted, dump:\n{}",
            case.display(),
            dump(&ast)
        )),
        Err(_) => None,
    }
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

/// Every folder under `dir` (hidden ones included) holding a `result` or `error` file.
fn case_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    for sub in subdirs(dir) {
        if sub.join("result").is_file() || sub.join("error").is_file() {
            out.push(sub);
        } else {
            case_dirs(&sub, out);
        }
    }
}

fn report(tallies: &[(&str, &Tally)]) {
    let failures: Vec<&String> = tallies.iter().flat_map(|(_, t)| &t.failures).collect();
    if failures.is_empty() {
        return;
    }
    let shown: Vec<String> = failures.iter().take(8).map(|f| f.to_string()).collect();
    panic!(
        "{} parser corpus case(s) failed (first {} shown):\n{}\n(hint: compare `builder` dump with the case's result file line by line)",
        failures.len(),
        shown.len(),
        shown.join("\n")
    );
}

#[test]
fn parser_corpora_match_buildkit() {
    let Some(shared) = common::shared_dir("parser conformance corpora") else {
        return;
    };
    let corpus = shared.join("conformance/parser");
    let mut positive = Tally::default();
    for case in subdirs(&corpus.join("testfiles")) {
        positive.record(check_dump(&case));
    }
    let mut negative = Tally::default();
    for case in subdirs(&corpus.join("testfiles-negative")) {
        negative.record(check_rejected(&case));
    }
    let mut real = Tally::default();
    let mut cases = Vec::new();
    case_dirs(&shared.join("conformance/parser-real"), &mut cases);
    for case in &cases {
        if case.join("result").is_file() {
            real.record(check_dump(case));
        } else {
            real.record(check_rejected(case));
        }
    }
    println!(
        "parser corpus: {}/{} positive, {}/{} negative; real-world: {}/{}",
        positive.passed, positive.total, negative.passed, negative.total, real.passed, real.total
    );
    assert_eq!(positive.total, 33, "expected 33 positive cases");
    assert_eq!(negative.total, 4, "expected 4 negative cases");
    assert_eq!(real.total, 800, "expected 800 real-world cases");
    report(&[
        ("positive", &positive),
        ("negative", &negative),
        ("real", &real),
    ]);
}

#[test]
fn parser_line_spans_match_buildkit() {
    let Some(shared) = common::shared_dir("parser line-number check") else {
        return;
    };
    let input = read_text(&shared.join("conformance/parser/testfile-line/Dockerfile"));
    let ast = parse(&input).expect("testfile-line parses");
    assert_eq!(ast.span, Span::new(5, 31));
    let spans: Vec<Span> = ast.children.iter().map(|n| n.span).collect();
    assert_eq!(
        spans,
        vec![Span::new(5, 5), Span::new(11, 12), Span::new(17, 31)]
    );
}
