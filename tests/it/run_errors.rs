//! RUN steps that fail, built as root and as a non-root user: a non-zero exit, a command
//! killed by a signal, a command not found, a USER that does not exist and a WORKDIR that
//! is a file, and a build interrupted during a RUN. Each is a clear error at its Dockerfile
//! line with exit status 1, nothing is written to the output, and no mount and no process
//! of the build is left
//! ([`RunWork::build`] checks both after every build).

use crate::build_support::busybox;
use crate::common::lines_named;
use crate::run_support::{processes_with, runners, token, wait_for, RunWork};

/// The last `n` lines of `err`.
fn tail(err: &str, n: usize) -> String {
    let lines: Vec<&str> = err.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Build `w`'s Dockerfile expecting failure: stderr and its last 30 lines, which must name
/// exactly Dockerfile line `line`.
fn fails_at(w: &RunWork, line: u32, who: &str) -> (String, String) {
    let err = w.build_fails(&[]);
    let end = tail(&err, 30);
    assert_eq!(lines_named(&end), [line], "as {who}: {err}");
    (err, end)
}

#[test]
fn a_failing_run_reports_its_line_exit_code_and_last_output() {
    let test = "run_fails_with_exit_code";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox\n\
             RUN echo setup > /tmp/setup\n\
             RUN for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo out-$i; done; echo last-words >&2; exit 3\n\
             RUN echo never > /tmp/never\n",
        );
        let (err, end) = fails_at(&w, 3, who);
        assert!(
            end.contains("RUN for i in 1 2 3"),
            "as {who}: the instruction is not quoted: {err}"
        );
        assert!(end.contains("exit code: 3"), "as {who}: {err}");
        assert!(
            end.contains("last-words") && end.contains("out-12"),
            "as {who}: the tail of the output is missing: {err}"
        );
        assert!(!err.contains("[4/4]"), "as {who}: a later step ran: {err}");
    }
}

#[test]
fn a_failing_run_leaves_no_background_process() {
    let test = "run_fails_leaves_nothing";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let tok = token();
        let w = RunWork::new(r, &layout);
        w.dockerfile(&format!(
            "FROM busybox\n\
             RUN sleep {tok} & sleep {tok} & echo started; exit 3\n"
        ));
        let err = w.build_fails(&[]);
        assert!(err.contains("exit code: 3"), "as {who}: {err}");
        assert_eq!(lines_named(&tail(&err, 30)), [2], "as {who}: {err}");
        w.assert_nothing_left(&[&tok]);
    }
}

#[test]
fn a_run_killed_by_a_signal_is_an_error() {
    let test = "run_killed_by_signal";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let tok = token();
        let w = RunWork::new(r, &layout);
        w.dockerfile(&format!(
            "FROM busybox\n\
             RUN echo waiting; exec sleep {tok}\n"
        ));
        // Kill the step's command from outside, as the OOM killer or an admin would.
        let needle = format!("sleep\0{tok}");
        let killer = std::thread::spawn(move || {
            wait_for("the step's sleep to start", || {
                !processes_with(&needle).is_empty()
            });
            for pid in processes_with(&needle) {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        });
        let err = w.build_fails(&[]);
        killer.join().unwrap();
        let end = tail(&err, 30);
        assert_eq!(lines_named(&end), [2], "as {who}: {err}");
        // runc reports a command killed by SIGKILL as exit code 137.
        assert!(
            end.contains("exit code: 137") || end.contains("signal 9") || end.contains("SIGKILL"),
            "as {who}: the signal is not reported: {err}"
        );
        w.assert_nothing_left(&[&tok]);
    }
}

#[test]
fn a_command_not_found_names_the_command() {
    let test = "run_command_not_found";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox\n\
             RUN nosuchcmd --flag\n",
        );
        let (err, end) = fails_at(&w, 2, who);
        assert!(end.contains("exit code: 127"), "as {who}: {err}");
        assert!(end.contains("nosuchcmd: not found"), "as {who}: {err}");

        // Exec form: no shell, the sandbox cannot exec it.
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox\n\
             RUN [\"nosuchcmd\", \"--flag\"]\n",
        );
        let (err, end) = fails_at(&w, 2, who);
        assert!(
            end.contains("\"nosuchcmd\": executable file not found in $PATH"),
            "as {who}: {err}"
        );
    }
}

#[test]
fn a_user_that_does_not_exist_is_named() {
    let test = "run_unknown_user";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox\n\
             USER nobody2\n\
             RUN true\n",
        );
        // BuildKit resolves the user when the RUN starts, so the RUN's line is named.
        let (err, end) = fails_at(&w, 3, who);
        assert!(
            end.contains("unable to find user nobody2: no matching entries in passwd file"),
            "as {who}: {err}"
        );
    }
}

#[test]
fn a_workdir_that_is_a_file_is_an_error() {
    let test = "run_workdir_is_a_file";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox\n\
             RUN touch /f\n\
             WORKDIR /f\n\
             RUN true\n",
        );
        let err = w.build_fails(&[]);
        let end = tail(&err, 30);
        let named = lines_named(&end);
        assert!(
            named == [3] || named == [4],
            "as {who}: WORKDIR's or RUN's line should be named: {err}"
        );
        assert!(
            end.contains("/f")
                && (end.contains("not a directory") || end.contains("non-directory")),
            "as {who}: {err}"
        );
    }
}

#[test]
fn an_interrupted_build_leaves_no_process_and_no_mount() {
    let test = "run_interrupted";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let (a, b) = (token(), token());
        let w = RunWork::new(r, &layout);
        w.dockerfile(&format!(
            "FROM busybox\n\
             RUN sleep {a} & sleep {b}\n"
        ));
        let (child, builder) = w.spawn_build(&[]);
        let (na, nb) = (format!("sleep\0{a}"), format!("sleep\0{b}"));
        wait_for("both sleeps to start", || {
            !processes_with(&na).is_empty() && !processes_with(&nb).is_empty()
        });
        // SIGINT to builder alone, as a CI runner cancelling a job sends it.
        let _ = std::process::Command::new("kill")
            .args(["-INT", &builder.to_string()])
            .status();
        let out = child.wait_with_output().unwrap();
        let err = crate::common::text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "as {who}: {err}");
        assert_eq!(lines_named(&tail(&err, 30)), [2], "as {who}: {err}");
        assert!(err.contains("interrupted"), "as {who}: {err}");
        assert!(
            !w.path("out/img").exists(),
            "as {who}: an output was written"
        );
        w.assert_nothing_left(&[&a, &b]);
    }
}
