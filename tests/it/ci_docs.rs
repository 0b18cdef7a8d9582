//! The CI recipes of docs/ci/, checked offline: the Kubernetes Job against the Kubernetes
//! schema (strict) with the pinned `kubernetes-validate` of the venv scripts/setup.sh makes
//! (target/ci-venv; it ships its schemas), the GitHub Actions and GitLab CI files parsed and
//! their shape checked (tests/it/ci_docs_check.py), and every `builder build` line of the
//! three, as the job's shell expands it, accepted by builder's own command line: run with a
//! context that does not exist, each fails on the context and not on a flag.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{builder, text};

/// The venv of scripts/setup.sh (`$BUILDER_CI_VENV` overrides), if it is there; skips
/// loudly when it is not, and fails with `CI` set.
fn venv(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("BUILDER_CI_VENV").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ci-venv"),
        PathBuf::from,
    );
    if dir.join("bin/kubernetes-validate").is_file() {
        return Some(dir);
    }
    let msg = format!(
        "{test}: {} has no kubernetes-validate (scripts/setup.sh makes it)",
        dir.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{msg}");
    eprintln!("\n!!! SKIPPED {msg} !!!\n");
    None
}

fn docs_ci() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ci")
}

#[test]
fn the_kubernetes_job_of_the_ci_docs_is_valid_against_the_schema() {
    let Some(venv) = venv("ci_docs_kubernetes") else {
        return;
    };
    let out = Command::new(venv.join("bin/kubernetes-validate"))
        .args(["--strict", "--kubernetes-version", "1.37.0"])
        .arg(docs_ci().join("k8s-job.yaml"))
        // Offline: a proxy that leads nowhere makes any download fail loudly.
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .output()
        .unwrap();
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{said}");
    assert!(said.contains("passed for resource job/build-app"), "{said}");
}

#[test]
fn the_builder_lines_of_the_ci_docs_parse_with_builder() {
    let Some(venv) = venv("ci_docs_commands") else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/ci_docs_check.py");
    let out = Command::new(venv.join("bin/python"))
        .arg(script)
        .arg(docs_ci())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let commands = found["commands"].as_array().unwrap();
    let files: Vec<&str> = commands.iter().filter_map(|c| c["file"].as_str()).collect();
    for file in ["github-actions.yml", "gitlab-ci.yml", "k8s-job.yaml"] {
        assert!(files.contains(&file), "no builder build line in {file}");
    }
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("no-such-context");
    for c in commands {
        let args = rewrite(c, &missing);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = builder(&root.path().join("store"), &refs);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{c}: {err}");
        let want = format!("read Dockerfile {}/Dockerfile", missing.display());
        assert!(err.contains(&want), "{c}: {err}");
    }
}

/// The argv of `command` without its program name, its own `--root DIR` dropped (the test
/// gives one) and its context (the last argument) replaced by `context`.
fn rewrite(command: &serde_json::Value, context: &Path) -> Vec<String> {
    let argv: Vec<String> = command["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(argv[0], "builder", "{command}");
    let mut args = Vec::new();
    let mut rest = argv[1..argv.len() - 1].iter();
    while let Some(a) = rest.next() {
        if a == "--root" {
            rest.next();
        } else if !a.starts_with("--root=") {
            args.push(a.clone());
        }
    }
    args.push(context.display().to_string());
    args
}
