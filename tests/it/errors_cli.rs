//! Golden error output: one case per error class, run through the real binary with
//! `--progress quiet` (so stderr is the error report alone) and compared, with its exit code,
//! to `testdata/errors/<case>.txt`. Variable parts are normalised: RUN output times,
//! digests and the workspace path. `UPDATE_GOLDEN=1` rewrites the files.
//!
//! Registry look-ups never leave the machine: images are named on `127.0.0.1:1` and any
//! other registry is reached through a proxy on `127.0.0.1:1`, where nothing listens.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::build_support::{busybox, Work};
use crate::common::{builder_cmd, dir_names, testdata, text};

/// `ctx/` with `files` (path, content) and `dockerfile`.
fn work(dockerfile: &str, files: &[(&str, &str)]) -> Work {
    let w = Work::new();
    for (path, content) in files {
        w.file(path, content, 0o644);
    }
    w.dockerfile(dockerfile);
    w
}

/// `builder build --progress quiet ARGS... ctx` in `w`, with registries unreachable.
fn build_cmd(w: &Work, args: &[&str]) -> Command {
    let mut cmd = builder_cmd(&w.root());
    cmd.args(["build", "--progress", "quiet"])
        .args(args)
        .arg("ctx")
        .current_dir(w.path(""))
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env("HTTPS_PROXY", "http://127.0.0.1:1")
        .env("https_proxy", "http://127.0.0.1:1")
        .env("HTTP_PROXY", "http://127.0.0.1:1")
        .env("http_proxy", "http://127.0.0.1:1");
    cmd
}

fn build(w: &Work, args: &[&str]) -> Output {
    build_cmd(w, args).output().expect("run builder")
}

/// `--build-context busybox=oci-layout://...`, or `None` (loudly) without the tools.
fn busybox_args(test: &str) -> Option<Vec<String>> {
    let layout = busybox(test)?;
    Some(vec![
        "--build-context".into(),
        Work::busybox_context(&layout),
    ])
}

/// Exit code and stderr with the variable parts replaced.
fn normalise(out: &Output, work: &Path) -> String {
    let stderr = text(&out.stderr);
    let digest = regex::Regex::new("sha256:[0-9a-f]{64}").unwrap();
    let time = regex::Regex::new(r"(?m)^\d+\.\d{3} ").unwrap();
    let mut body = String::new();
    for line in stderr.lines().filter(|l| !l.starts_with("warning: ")) {
        body.push_str(line);
        body.push('\n');
    }
    let body = body.replace(&work.display().to_string(), "<work>");
    let body = digest.replace_all(&body, "sha256:<digest>");
    let body = time.replace_all(&body, "0.000 ");
    format!("exit code {}\n{body}", out.status.code().unwrap_or(-1))
}

/// Compare (or with `UPDATE_GOLDEN` set, write) `testdata/errors/<case>.txt`.
fn golden(case: &str, out: &Output, w: &Work) {
    let got = normalise(out, &w.path(""));
    let path = testdata().join("errors").join(format!("{case}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(
        got,
        want,
        "{case}: stderr differs from {} (UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

#[test]
fn parse_error() {
    let w = work("FROM scratch\nCOPY onlyone\n", &[]);
    let out = build(&w, &[]);
    golden("parse_error", &out, &w);
}

#[test]
fn unknown_instruction_suggests_one() {
    let w = work("FROM scratch\nFRUM scratch\nCOPY a /a\n", &[]);
    let out = build(&w, &[]);
    golden("unknown_instruction", &out, &w);
}

#[test]
fn parse_error_in_dockerfile_from_stdin() {
    let w = work("", &[]);
    let mut child = build_cmd(&w, &["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run builder");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"FROM scratch\r\nRUN \\\r\n  true\r\nCOPY --nope a /a\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    golden("stdin_parse_error", &out, &w);
}

#[test]
fn missing_copy_source() {
    let w = work(
        "FROM scratch\nCOPY a /a\nCOPY missing.txt /x\n",
        &[("a", "a")],
    );
    let out = build(&w, &[]);
    golden("copy_missing_source", &out, &w);
}

#[test]
fn copy_source_excluded_by_dockerignore() {
    let w = work(
        "FROM scratch\nCOPY secret.env /app/\n",
        &[("secret.env", "x"), (".dockerignore", "*.env\n")],
    );
    let out = build(&w, &[]);
    golden("copy_ignored_source", &out, &w);
}

#[test]
fn run_exit_code_with_log_tail_and_no_outputs() {
    let Some(bb) = busybox_args("run_exit_code_with_log_tail_and_no_outputs") else {
        return;
    };
    let w = work(
        "FROM busybox\nCOPY a /a\nRUN echo building; echo oops >&2; exit 3\nCMD [\"sh\"]\n",
        &[("a", "a")],
    );
    let oci = format!("type=oci,dest={}", w.path("out/app.tar").display());
    let iid = w.path("out/iid").display().to_string();
    let mut args: Vec<&str> = bb.iter().map(String::as_str).collect();
    args.extend(["-t", "app", "-o", &oci, "--iidfile", &iid]);
    let out = build(&w, &args);
    golden("run_exit_code", &out, &w);
    assert!(
        dir_names(&w.path("out")).is_empty(),
        "outputs written on failure"
    );
    let images = text(&w.builder(&["images"]).stdout);
    assert!(!images.contains("app"), "{images}");
}

#[test]
fn run_multi_line_marks_every_line() {
    let Some(bb) = busybox_args("run_multi_line_marks_every_line") else {
        return;
    };
    let w = work(
        "FROM busybox\nRUN echo one && \\\n    echo two && \\\n    false\nRUN echo never\n",
        &[],
    );
    let args: Vec<&str> = bb.iter().map(String::as_str).collect();
    let out = build(&w, &args);
    golden("run_multi_line", &out, &w);
}

#[test]
fn run_command_not_found_hints() {
    let Some(bb) = busybox_args("run_command_not_found_hints") else {
        return;
    };
    let w = work("FROM busybox\nRUN nosuchtool --version\n", &[]);
    let args: Vec<&str> = bb.iter().map(String::as_str).collect();
    let out = build(&w, &args);
    golden("run_command_not_found", &out, &w);
}

#[test]
fn unknown_stage_in_copy_from() {
    let w = work(
        "FROM scratch AS build\nCOPY a /a\n\nFROM scratch\nCOPY --from=biuld /a /a\n",
        &[("a", "a")],
    );
    let out = build(&w, &[]);
    golden("unknown_stage_from", &out, &w);
}

#[test]
fn missing_base_image() {
    let w = work("FROM 127.0.0.1:1/missing/base:1.0\nRUN true\n", &[]);
    let out = build(&w, &[]);
    golden("missing_base_image", &out, &w);
}

#[test]
fn bad_build_arg() {
    let w = work("FROM scratch\n", &[]);
    let out = build(&w, &["--build-arg", "=value"]);
    golden("bad_build_arg", &out, &w);
}

#[test]
fn unknown_target() {
    let w = work("FROM scratch AS base\nFROM base AS app\n", &[]);
    let out = build(&w, &["--target", "ap"]);
    golden("unknown_target", &out, &w);
}

#[test]
fn unknown_flag_is_a_clap_usage_error() {
    let w = work("FROM scratch\n", &[]);
    let out = build(&w, &["--no-cahce"]);
    golden("unknown_flag", &out, &w);
}
