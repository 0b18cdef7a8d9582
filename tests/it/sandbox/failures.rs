//! How runs end badly: exit codes, missing commands, bad users and working directories,
//! signals, Ctrl-C, and a user with no subordinate ids.

use super::*;

#[test]
fn exit_code_of_a_failing_command_is_returned() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(&r, &[], &["sh", "-c", "echo partial; exit 7"]);
        assert_eq!(
            out.status.code(),
            Some(7),
            "as {}: {}",
            r.name(),
            stderr(&out)
        );
        assert_eq!(stdout(&out), "partial\n");
    }
}

#[test]
fn bad_commands_users_and_workdirs_are_clear_errors() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(&r, &[], &["nosuchcommand", "x"]);
        assert_eq!(out.status.code(), Some(127), "as {}", r.name());
        assert!(
            stderr(&out).contains("exec \"nosuchcommand\": executable file not found in $PATH"),
            "{}",
            stderr(&out)
        );
        let out = fx.run(&r, &["--cwd", "/etc/passwd"], &["true"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("working directory /etc/passwd is not a directory"),
            "{}",
            stderr(&out)
        );
        let out = fx.run(&r, &["--user", "nobody"], &["true"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("unable to find user nobody: no matching entries in passwd file"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn a_killed_command_reports_the_signal() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let tok = token();
        let child = r
            .command()
            .args(["debug", "run", "--rootfs"])
            .arg(fx.root())
            .args(["--", "sleep", &tok])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for("the command to start", || !sleeping(&tok).is_empty());
        for pid in sleeping(&tok) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(137),
            "as {}: {}",
            r.name(),
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("killed by signal 9 (SIGKILL)"),
            "{}",
            stderr(&out)
        );
        fx.assert_clean();
        assert!(sleeping(&tok).is_empty());
    }
}

#[test]
fn interrupt_leaves_no_process_and_no_mount() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let (a, b) = (token(), token());
        let script = format!("sleep {a} & sleep {b}");
        let child = r
            .command()
            .args(["debug", "run", "--rootfs"])
            .arg(fx.root())
            .args(["--", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for("both sleeps to start", || {
            !sleeping(&a).is_empty() && !sleeping(&b).is_empty()
        });
        // The outermost builder process: root's, or the one runuser started.
        let target = match r {
            Runner::Me => child.id(),
            Runner::Rootless { .. } => children_of(child.id())
                .into_iter()
                .next()
                .expect("the rootless builder process"),
        };
        let _ = Command::new("kill")
            .args(["-INT", &target.to_string()])
            .status();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(130),
            "as {}: {}",
            r.name(),
            stderr(&out)
        );
        assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
        wait_for("no process of the run is left", || {
            sleeping(&a).is_empty() && sleeping(&b).is_empty()
        });
        fx.assert_clean();
    }
}

#[test]
fn without_a_range_only_root_is_mapped_and_said_so() {
    if !is_root() || runners().is_empty() {
        return;
    }
    const SINGLE: &str = "buildertest1";
    if Command::new("id")
        .arg(SINGLE)
        .output()
        .is_ok_and(|o| !o.status.success())
    {
        // No subordinate ids for this one.
        let status = Command::new("useradd")
            .args([
                "-M",
                "-s",
                "/bin/sh",
                "-K",
                "SUB_UID_COUNT=0",
                "-K",
                "SUB_GID_COUNT=0",
            ])
            .arg(SINGLE)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let dir = tempfile::Builder::new()
        .prefix("builder-sandbox-")
        .tempdir()
        .unwrap();
    let root = dir.path().join("root");
    make_rootfs(&root);
    let owner = format!("{SINGLE}:");
    assert!(Command::new("chown")
        .args(["-R", &owner])
        .arg(dir.path())
        .status()
        .unwrap()
        .success());
    let run = |flags: &[&str], cmd: &[&str]| {
        Command::new("runuser")
            .args([
                "-u",
                SINGLE,
                "--",
                env!("CARGO_BIN_EXE_builder"),
                "debug",
                "run",
                "--rootfs",
            ])
            .arg(&root)
            .args(flags)
            .arg("--")
            .args(cmd)
            .current_dir("/")
            .output()
            .unwrap()
    };
    let out = run(
        &[],
        &[
            "sh",
            "-c",
            "id -u; touch /tmp/f; chown 1000 /tmp/f || echo refused",
        ],
    );
    assert_eq!(stdout(&out), "0\nrefused\n", "{}", stderr(&out));
    assert_eq!(
        stderr(&out).matches("only your own user is mapped").count(),
        1,
        "{}",
        stderr(&out)
    );
    let out = run(&["--user", "user"], &["true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot run as uid 1000"),
        "{}",
        stderr(&out)
    );
}
