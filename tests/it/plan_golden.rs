//! Golden build plans: every `testdata/plans/<name>.Dockerfile` is planned by the binary
//! (`builder debug plan -f <name>.Dockerfile` with the flags in `<name>.args` when present,
//! and `--platform linux/amd64` unless they name a platform) and the output must equal `<name>.plan`. A failing plan is
//! recorded as its exit code and stderr. `UPDATE_GOLDEN=1` rewrites the expected files.

use std::path::Path;
use std::process::Command;

use crate::common;

fn run_case(dir: &Path, name: &str) -> String {
    let mut args: Vec<String> = vec!["debug".into(), "plan".into()];
    let args_file = dir.join(format!("{name}.args"));
    if let Ok(text) = std::fs::read_to_string(&args_file) {
        for l in text.lines() {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            args.extend(l.split_whitespace().map(str::to_string));
        }
    }
    if !args.iter().any(|a| a == "--platform") {
        args.extend(["--platform".to_string(), "linux/amd64".to_string()]);
    }
    args.push("-f".into());
    args.push(format!("{name}.Dockerfile"));
    let out = Command::new(env!("CARGO_BIN_EXE_builder"))
        .args(&args)
        .current_dir(dir)
        .env_remove("BUILDER_ROOT")
        .output()
        .expect("run builder");
    if out.status.success() {
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        format!(
            "exit code {}\n{}",
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

#[test]
fn plans_match_golden_files() {
    let dir = common::testdata().join("plans");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let names: Vec<String> = common::dir_names(&dir)
        .iter()
        .filter_map(|n| n.strip_suffix(".Dockerfile"))
        .map(str::to_string)
        .collect();
    assert!(names.len() >= 30, "expected at least 30 golden plans");
    let mut failures = Vec::new();
    for name in &names {
        let got = run_case(&dir, name);
        let path = dir.join(format!("{name}.plan"));
        if update {
            std::fs::write(&path, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if got != want {
            failures.push(format!("--- {name}.plan\n{want}\n+++ got\n{got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} plans differ (UPDATE_GOLDEN=1 rewrites them):\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}
