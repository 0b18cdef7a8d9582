//! How confined a RUN is, built as root and as a non-root user: Docker's seccomp profile
//! with `no_new_privs`, read-only kernel settings and no host cgroup to write, and
//! `RUN --security=insecure`, which runs only with `--allow security.insecure` and as
//! real root, and then with every capability, no filter and nothing masked. `--allow`
//! takes BuildKit's entitlement names only.

use std::process::Command;

use crate::build_support::busybox;
use crate::common::{is_root, lines_named, text};
use crate::run_support::{runners, RunWork, Runner};

#[test]
fn run_steps_are_confined_by_seccomp_and_read_only_kernel_settings() {
    let test = "run_confined";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        // Each check fails the build when the step is not confined.
        w.dockerfile(
            "FROM busybox\n\
             RUN grep -x 'Seccomp:.2' /proc/self/status && grep -x 'NoNewPrivs:.1' /proc/self/status\n\
             RUN ! unshare -Urm true\n\
             RUN ! sh -c 'echo x > /proc/sys/kernel/hostname'\n\
             RUN awk '$5 ~ \"^/sys(/|$)\" && $6 !~ /^ro/ { print; bad = 1 } END { exit bad }' /proc/self/mountinfo\n",
        );
        w.build_image(&[]);
    }
}

#[test]
fn insecure_run_needs_the_entitlement() {
    let test = "run_insecure_without_allow";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        w.dockerfile("FROM busybox\nRUN --security=insecure true\n");
        let err = w.build_fails(&[]);
        assert_eq!(lines_named(&err), [2], "as {}: {err}", r.name());
        assert!(
            err.contains("RUN --security=insecure is not allowed")
                && err.contains("--allow security.insecure"),
            "as {}: {err}",
            r.name()
        );
    }
}

#[test]
fn insecure_run_needs_real_root() {
    let test = "run_insecure_rootless";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        if r == Runner::Me && is_root() {
            continue;
        }
        let w = RunWork::new(r, &layout);
        w.dockerfile("FROM busybox\nRUN --security=insecure true\n");
        let err = w.build_fails(&["--allow", "security.insecure"]);
        assert_eq!(lines_named(&err), [2], "as {}: {err}", r.name());
        assert!(
            err.contains("needs builder to run as real root"),
            "as {}: {err}",
            r.name()
        );
    }
}

#[test]
fn insecure_run_has_every_capability_and_no_filter() {
    let test = "run_insecure";
    let Some(layout) = busybox(test) else { return };
    if !is_root() {
        eprintln!("\n!!! SKIPPED {test}: insecure mode needs the tests to run as root !!!\n");
        return;
    }
    let w = RunWork::new(Runner::Me, &layout);
    // CAP_SYS_ADMIN is bit 21 of CapEff; /proc/interrupts is masked only in the sandbox.
    w.dockerfile(
        "FROM busybox\n\
         RUN --security=insecure grep -x 'Seccomp:.0' /proc/self/status \\\n\
           && grep -x 'NoNewPrivs:.0' /proc/self/status \\\n\
           && [ $(( 0x$(awk '/^CapEff:/ { print $2 }' /proc/self/status) >> 21 & 1 )) = 1 ] \\\n\
           && [ -n \"$(head -c1 /proc/interrupts)\" ] \\\n\
           && unshare -Urm true\n\
         RUN grep -x 'Seccomp:.2' /proc/self/status\n",
    );
    w.build_image(&["--allow", "security.insecure", "--allow", "network.host"]);
    // The step is cached now; without the entitlement the build still fails at it.
    std::fs::remove_dir_all(w.path("out/img")).unwrap();
    let err = w.build_fails(&[]);
    assert_eq!(lines_named(&err), [2], "{err}");
    assert!(err.contains("--allow security.insecure"), "{err}");
}

#[test]
fn unknown_entitlements_are_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_builder"))
        .args(["--root"])
        .arg(dir.path().join("root"))
        .args(["build", "--allow", "security.unsafe"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "invalid --allow \"security.unsafe\": expected security.insecure or network.host"
        ),
        "{err}"
    );
}
