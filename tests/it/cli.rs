//! The command line as a user meets it: exit codes, "not supported yet", and Dockerfile
//! errors that name the file and line, quote it, and say what is wrong.

use std::path::Path;
use std::process::Output;

use crate::common::{builder_cmd, stderr};

/// `builder ARGS...` in `dir`, with a private store in `dir/.builder-root`.
fn builder(args: &[&str], dir: &Path) -> Output {
    builder_cmd(&dir.join(".builder-root"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run builder")
}

/// Build a context holding `dockerfile` and return builder's result for `build .` plus `extra`.
fn build_with(dockerfile: &str, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("write Dockerfile");
    let mut args = vec!["build"];
    args.extend_from_slice(extra);
    args.push(".");
    builder(&args, dir.path())
}

/// Assert a Dockerfile error: exit 2, `Dockerfile:LINE`, the quoted line with its marker, and
/// the cause.
fn assert_dockerfile_error(out: &Output, line: usize, quoted: &str, cause: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr:\n{err}");
    assert!(
        err.contains(&format!("Dockerfile:{line}\n")),
        "names Dockerfile:{line}; stderr:\n{err}"
    );
    assert!(
        err.contains(&format!("{line:>4} | >>> {quoted}")),
        "quotes line {line} ({quoted:?}); stderr:\n{err}"
    );
    assert!(err.contains(cause), "says {cause:?}; stderr:\n{err}");
}

#[test]
fn help_lists_every_command_of_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let out = builder(&["--help"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "build", "images", "inspect", "history", "push", "pull", "save", "load", "tag", "rmi",
        "prune", "debug",
    ] {
        assert!(
            text.contains(&format!("  {cmd} ")),
            "help lists {cmd}:\n{text}"
        );
    }
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = builder(&["build", "--frobnicate", "."], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--frobnicate"));
}

#[test]
fn missing_dockerfile_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = builder(&["build", "."], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("read Dockerfile ./Dockerfile"), "{err}");
}

#[test]
fn unknown_instruction_is_reported_with_line_and_suggestion() {
    let out = build_with("FROM busybox\nFRUM busybox\n", &[]);
    assert_dockerfile_error(&out, 2, "FRUM busybox", "unknown instruction: FRUM");
}

#[test]
fn copy_with_one_argument() {
    let out = build_with("FROM busybox\n\nCOPY onlyone\n", &[]);
    assert_dockerfile_error(
        &out,
        3,
        "COPY onlyone",
        "COPY requires at least two arguments",
    );
}

#[test]
fn unterminated_heredoc() {
    let out = build_with("FROM busybox\nRUN <<EOF\necho hi\n", &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("Dockerfile:2"), "{err}");
    assert!(err.contains("unterminated heredoc"), "{err}");
}

#[test]
fn unknown_flag_in_dockerfile() {
    let out = build_with("FROM busybox\nCOPY --frobnicate=1 a b\n", &[]);
    assert_dockerfile_error(
        &out,
        2,
        "COPY --frobnicate=1 a b",
        "unknown flag: --frobnicate",
    );
}

#[test]
fn invalid_mount_spec() {
    let out = build_with(
        "FROM busybox\nRUN --mount=type=nosuch,target=/x true\n",
        &[],
    );
    assert_dockerfile_error(&out, 2, "RUN --mount=type=nosuch,target=/x true", "nosuch");
}

#[test]
fn empty_dockerfile() {
    let out = build_with("", &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("Dockerfile"), "{err}");
    assert!(err.contains("file with no instructions"), "{err}");
}

#[test]
fn instruction_before_from() {
    let out = build_with("RUN true\nFROM busybox\n", &[]);
    assert_dockerfile_error(&out, 1, "RUN true", "no build stage in current context");
}

#[test]
fn unknown_target_lists_the_stages() {
    let out = build_with(
        "FROM busybox AS build\nRUN true\nFROM busybox AS final\n",
        &["--target", "bild"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("stage \"bild\" not found; stages are: build, final"),
        "{err}"
    );
}

#[test]
fn cyclic_stage_reference() {
    let out = build_with(
        "FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nCOPY --from=a /y /y\n",
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("Dockerfile:2"), "{err}");
}

#[test]
fn run_without_a_shell_fails_at_its_line() {
    let out = build_with("FROM scratch\nRUN echo hi\n", &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Dockerfile:2"), "{err}");
    assert!(err.contains("   2 | >>> RUN echo hi"), "{err}");
    assert!(
        err.contains("process \"/bin/sh -c echo hi\" did not complete successfully"),
        "{err}"
    );
}
