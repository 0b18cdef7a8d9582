//! `builder doctor`: one line per thing the host gives builder, each `ok`, `warn` or
//! `FAIL` with what to do; exit 0 when RUN steps can run. As root and as the rootless test
//! user on this host, and under a seccomp filter that refuses `unshare` (a container's
//! default), where root falls back to chroot isolation and anyone else cannot run RUN.

use std::process::Command;

use crate::build_support::Work;
use crate::common::{is_root, text};
use crate::no_unshare::wrapper;
use crate::sandbox::{ensure_test_user, TEST_USER};

fn line<'a>(out: &'a str, what: &str) -> &'a str {
    out.lines()
        .find(|l| l[6..].starts_with(&format!("{what}:")))
        .unwrap_or_else(|| panic!("no {what} line in\n{out}"))
}

/// `PREFIX... builder --root ROOT doctor` (the prefix runs it confined); its exit code and
/// standard output.
fn confined_doctor(prefix: &mut Command, w: &Work) -> (Option<i32>, String) {
    let out = prefix
        .arg(env!("CARGO_BIN_EXE_builder"))
        .arg("--root")
        .arg(w.root())
        .arg("doctor")
        .output()
        .expect("run doctor");
    (out.status.code(), text(&out.stdout))
}

#[test]
fn doctor_reports_each_thing_with_what_to_do() {
    let test = "doctor";
    if !is_root() || ensure_test_user().is_err() {
        eprintln!("\n!!! SKIPPED {test}: needs root to switch to {TEST_USER} !!!\n");
        return;
    }
    let w = Work::new();
    let out = w.builder(&["doctor"]);
    let text_out = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text_out}{}",
        text(&out.stderr)
    );
    for what in [
        "kernel",
        "user namespaces",
        "ids",
        "overlay",
        "network",
        "seccomp",
        "emulators",
        "store",
    ] {
        let l = line(&text_out, what);
        assert!(l.starts_with("ok  ") || l.starts_with("warn"), "{l}");
    }
    assert!(line(&text_out, "ids").contains("real root"), "{text_out}");
    assert!(line(&text_out, "store").contains(&w.root().display().to_string()));

    // The rootless user: its subordinate range.
    w.give_to_test_user();
    let out = w.builder_as_test_user(&["doctor"]);
    let text_out = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text_out}{}",
        text(&out.stderr)
    );
    assert!(
        line(&text_out, "ids").contains("subordinate ids"),
        "{text_out}"
    );

    let Some(wrap) = wrapper(&w.path("")) else {
        eprintln!("\n!!! SKIPPED {test} (seccomp part): no C compiler !!!\n");
        return;
    };
    // Root in a default container: chroot isolation, still exit 0.
    let (code, text_out) = confined_doctor(Command::new(&wrap).arg("--docker"), &w);
    assert_eq!(code, Some(0), "{text_out}");
    let l = line(&text_out, "user namespaces");
    assert!(
        l.starts_with("warn") && l.contains("chroot isolation") && l.contains("seccomp=unconfined"),
        "{l}"
    );
    // Anyone else there: no RUN at all, exit 1.
    let mut as_user = Command::new("runuser");
    as_user.args(["-u", TEST_USER, "--"]).arg(&wrap);
    let (code, text_out) = confined_doctor(&mut as_user, &w);
    assert_eq!(code, Some(1), "{text_out}");
    let l = line(&text_out, "user namespaces");
    assert!(
        l.starts_with("FAIL") && l.contains("RUN steps cannot run"),
        "{l}"
    );
}
