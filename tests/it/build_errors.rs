//! Bad input fails clearly: exit 1, the Dockerfile line quoted with `Dockerfile:LINE`, the
//! cause naming the path or user, and nothing at any destination (no output, no iidfile, no
//! metadata file, no image name, no temp files left beside them).

use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use crate::build_support::Work;
use crate::common::{dir_names, text};

/// Every destination a failing build is given.
fn outputs(w: &Work) -> Vec<String> {
    let p = |rel: &str| w.path(rel).display().to_string();
    vec![
        "-t".into(),
        "app".into(),
        "-o".into(),
        format!("type=oci,dest={}", p("out/app.tar")),
        "-o".into(),
        format!("type=oci,dest={},tar=false", p("out/layout")),
        "-o".into(),
        format!("type=docker,dest={}", p("out/docker.tar")),
        "-o".into(),
        format!("type=local,dest={}", p("out/rootfs")),
        "--iidfile".into(),
        p("out/iid"),
        "--metadata-file".into(),
        p("out/meta.json"),
    ]
}

/// Exit 1, the line quoted, the cause; the destinations untouched.
fn assert_failed(w: &Work, out: &Output, line: usize, quoted: &str, cause: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "exit code; stderr:\n{err}");
    assert!(err.contains(&format!("Dockerfile:{line}\n")), "{err}");
    assert!(
        err.contains(&format!("{line:>4} | >>> {quoted}\n")),
        "{err}"
    );
    assert!(err.contains(cause), "cause {cause:?}; stderr:\n{err}");
    let left = dir_names(&w.path("out"));
    assert!(left.is_empty(), "destinations touched: {left:?}");
    let images = text(&w.builder(&["images"]).stdout);
    assert!(!images.contains("app"), "{images}");
}

fn build(w: &Work) -> Output {
    let args = outputs(w);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    w.build(&args)
}

#[test]
fn missing_copy_source_names_the_path_and_line() {
    let w = Work::new();
    w.file("a", "a", 0o644)
        .dockerfile("FROM scratch\nCOPY a /a\nCOPY missing.txt /x\nCOPY a /b\n");
    let out = build(&w);
    assert_failed(
        &w,
        &out,
        3,
        "COPY missing.txt /x",
        "COPY failed: source \"missing.txt\" not found in the build context",
    );
    // The plain progress says which step failed.
    assert!(text(&out.stderr).contains("[3/4] COPY missing.txt /x\n"));
}

#[test]
fn excluded_source_says_dockerignore_excludes_it() {
    let w = Work::new();
    w.file("secret", "s", 0o644)
        .file(".dockerignore", "secret\n", 0o644)
        .dockerfile("FROM scratch\nCOPY secret /s\n");
    let out = build(&w);
    assert_failed(&w, &out, 2, "COPY secret /s", "excluded by .dockerignore");
}

#[test]
fn sources_never_leave_the_context() {
    let w = Work::new();
    std::fs::write(w.path("outside"), "secret").unwrap();
    w.symlink("link", "../outside")
        .symlink("abs", "/etc/passwd")
        .dockerfile("FROM scratch\nCOPY ../outside /x\n");
    let out = build(&w);
    assert_failed(
        &w,
        &out,
        2,
        "COPY ../outside /x",
        "not found in the build context",
    );
    // A symlink is resolved inside the context root: `../outside` is `/outside` there.
    w.dockerfile("FROM scratch\n# a comment\nCOPY link /x\n");
    let out = build(&w);
    assert_failed(
        &w,
        &out,
        3,
        "COPY link /x",
        "not found in the build context",
    );
    w.dockerfile("FROM scratch\nCOPY abs /x\n");
    let out = build(&w);
    assert_failed(&w, &out, 2, "COPY abs /x", "not found in the build context");
}

#[test]
fn unknown_chown_user_is_an_error() {
    let w = Work::new();
    w.file("a", "a", 0o644)
        .file("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644)
        .dockerfile("FROM scratch\nCOPY etc/passwd /etc/passwd\nCOPY --chown=nobody2 a /a\n");
    let out = build(&w);
    assert_failed(
        &w,
        &out,
        3,
        "COPY --chown=nobody2 a /a",
        "unable to find user nobody2: no matching entries in passwd file",
    );
}

#[test]
fn run_without_a_shell_fails_at_its_line() {
    let w = Work::new();
    w.dockerfile("FROM scratch\nRUN echo hi\n");
    let out = build(&w);
    assert_failed(
        &w,
        &out,
        2,
        "RUN echo hi",
        "process \"/bin/sh -c echo hi\" did not complete successfully: exec \"/bin/sh\"",
    );
}

#[test]
fn unreadable_source_file_is_an_error() {
    let w = Work::new();
    w.file("a", "a", 0o644)
        .file("locked", "x", 0o000)
        .dockerfile("FROM scratch\nCOPY a /a\nCOPY locked /l\n");
    let args = outputs(&w);
    let mut all = vec!["build", "--progress", "plain"];
    all.extend(args.iter().map(String::as_str));
    all.push("ctx");
    // Root reads any file: run the build as an unprivileged user.
    let Some(out) = w.builder_as_nobody("unreadable_source_file", &all) else {
        return;
    };
    assert_failed(&w, &out, 3, "COPY locked /l", "Permission denied");
}

/// A base image the store names but whose config is damaged fails at its FROM line, naming
/// the image and the cause (not "unknown image", not a build from an empty config).
#[test]
fn damaged_base_config_in_the_store_fails_at_its_from_line() {
    let w = Work::new();
    w.file("a", "a\n", 0o644)
        .dockerfile("FROM scratch\nCOPY a /a\n");
    let iid = w.path("base.iid");
    w.build_ok(&["-t", "base", "--iidfile", iid.to_str().unwrap()]);
    let blob = |digest: &str| {
        w.root()
            .join("blobs/sha256")
            .join(digest.trim().trim_start_matches("sha256:"))
    };
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(blob(&std::fs::read_to_string(&iid).unwrap())).unwrap(),
    )
    .unwrap();
    let config = blob(manifest["config"]["digest"].as_str().unwrap());
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&config, b"{ not json").unwrap();

    w.dockerfile("FROM base\nCOPY a /b\n");
    let out = build(&w);
    assert_failed(&w, &out, 1, "FROM base", "cannot be read");
    assert!(text(&out.stderr).contains("base"), "{}", text(&out.stderr));
}
