//! How confined a RUN is, built as root and as a non-root user: Docker's seccomp profile
//! with `no_new_privs`, read-only kernel settings and no host cgroup to write, and
//! `RUN --security=insecure`, which runs only with `--allow security.insecure` and as
//! real root, and then with every capability, no filter and nothing masked (a rootless
//! build of the same Dockerfile fails at the insecure step's line). `--allow` takes
//! BuildKit's entitlement names only. `RUN --mount=type=tmpfs` is a real tmpfs with its
//! `size=`, and a secret's file lives on a tmpfs, read-only, never on a disk. `--add-host`,
//! `--shm-size` and `--ulimit` reach every RUN step and are inputs of its key.

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

/// Every capability the kernel knows, as `/proc/self/status` shows a set (hex).
fn every_capability() -> String {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    format!("{:016x}", (1u128 << (last + 1)) - 1)
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
    // Every capability the kernel has (CapEff and CapBnd full, held in the step's own
    // identity-mapped user namespace); CAP_SYS_ADMIN is bit 21;
    // /proc/interrupts is masked only in the sandbox. The sandboxed step has Docker's
    // default set.
    w.dockerfile(
        "FROM busybox\n\
         ARG FULLCAP\n\
         RUN --security=insecure grep -x 'Seccomp:.0' /proc/self/status \\\n\
           && grep -x 'NoNewPrivs:.0' /proc/self/status \\\n\
           && [ \"$(awk '/^CapEff:/ { print $2 }' /proc/self/status)\" = \"$FULLCAP\" ] \\\n\
           && [ \"$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)\" = \"$FULLCAP\" ] \\\n\
           && [ $(( 0x$(awk '/^CapEff:/ { print $2 }' /proc/self/status) >> 21 & 1 )) = 1 ] \\\n\
           && [ -n \"$(head -c1 /proc/interrupts)\" ] \\\n\
           && unshare -Urm true\n\
         RUN grep -x 'Seccomp:.2' /proc/self/status \\\n\
           && grep -x 'CapEff:.00000000a80425fb' /proc/self/status\n",
    );
    let caps = format!("FULLCAP={}", every_capability());
    let arg = ["--build-arg", caps.as_str()];
    w.build_image(
        &[
            &arg[..],
            &["--allow", "security.insecure", "--allow", "network.host"],
        ]
        .concat(),
    );
    // The step is cached now; without the entitlement the build still fails at it.
    std::fs::remove_dir_all(w.path("out/img")).unwrap();
    let err = w.build_fails(&arg);
    assert_eq!(lines_named(&err), [3], "{err}");
    assert!(err.contains("--allow security.insecure"), "{err}");
}

#[test]
fn the_insecure_build_fails_rootless_at_its_line() {
    let test = "run_insecure_same_build_rootless";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        if r == Runner::Me && is_root() {
            continue;
        }
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox\n\
             RUN grep -x 'Seccomp:.2' /proc/self/status\n\
             RUN --security=insecure grep -x 'Seccomp:.0' /proc/self/status\n",
        );
        let err = w.build_fails(&["--allow", "security.insecure"]);
        assert_eq!(lines_named(&err), [3], "as {}: {err}", r.name());
        assert!(
            err.contains("RUN --security=insecure needs builder to run as real root"),
            "as {}: {err}",
            r.name()
        );
    }
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

#[test]
fn tmpfs_mounts_and_secret_files_live_in_memory() {
    let test = "run_tmpfs_secret_memory";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        w.file("tok", "s3cret-in-memory\n");
        // Each check fails the build when the mount is not what it should be.
        w.dockerfile(
            "FROM busybox\n\
             RUN --mount=type=tmpfs,target=/t,size=1m grep ' /t ' /proc/self/mountinfo | grep -q ' - tmpfs ' \\\n                 && ! dd if=/dev/zero of=/t/big bs=1024 count=2048 2>/dev/null\n\
             RUN --mount=type=secret,id=tok grep ' /run/secrets/tok ' /proc/self/mountinfo | grep -q ' - tmpfs ' \\\n                 && grep -q cret-in-mem /run/secrets/tok && ! sh -c 'echo x > /run/secrets/tok' \\\n                 && test \"$(stat -c %a /run/secrets/tok)\" = 400\n",
        );
        let secret = format!("id=tok,src={}", w.path("ctx/tok").display());
        w.build_image(&["--secret", &secret]);
        let found = Command::new("grep")
            .args(["-rl", "s3cret-in-memory"])
            .arg(w.path("root"))
            .output()
            .expect("grep");
        assert!(
            found.stdout.is_empty(),
            "as {}: {}",
            r.name(),
            text(&found.stdout)
        );
    }
}

#[test]
fn add_host_shm_size_and_ulimit_reach_run_steps() {
    let test = "run_add_host_shm_ulimit";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        // Each check fails the build when the option did not reach the step. Lowering a
        // limit needs no privilege, so the rootless build can do it too.
        w.dockerfile(
            "FROM busybox\n\
             RUN grep -q '^10.0.0.5.db.local$' /etc/hosts && grep -q '^::1.v6.local$' /etc/hosts \\\n                 && test \"$(ulimit -n)\" = 512 && test \"$(ulimit -Hn)\" = 1000 \\\n                 && df -k /dev/shm | awk 'NR == 2 { exit !($2 == 131072) }' \\\n                 && cat /etc/hosts > /hosts\n",
        );
        let flags = [
            "--add-host",
            "db.local:10.0.0.5",
            "--add-host",
            "v6.local=::1",
            "--shm-size",
            "128m",
            "--ulimit",
            "nofile=512:1000",
        ];
        let first = w.build_image(&flags);
        // Another host entry is another step: not taken from the cache.
        let mut other = flags.to_vec();
        other[1] = "db.local:10.0.0.6";
        let out = w.build(&other);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "as {}: {err}", r.name());
        let second = w.build_image(&flags);
        assert_eq!(first.read("hosts"), second.read("hosts"), "as {}", r.name());
        assert!(
            first
                .read("hosts")
                .unwrap_or_default()
                .contains("10.0.0.5\tdb.local"),
            "as {}",
            r.name()
        );
    }
}
