//! Progress modes and full logs with real builds, as root and as a non-root user: plain
//! has BuildKit's step lines, RUN output and ends; rawjson parses line by line with a start
//! and an end for every step; quiet prints only the image id; `builder logs` gives a
//! 10 MiB RUN output back byte for byte, and a failed step's output after a failed build.

use std::collections::BTreeMap;
use std::path::Path;

use crate::build_support::busybox;
use crate::common::{builder, step_number, text};
use crate::run_support::{runners, RunWork};

/// `builder --root ROOT logs ARGS...`, which must succeed; its stdout as bytes.
fn logs(root: &Path, args: &[&str]) -> Vec<u8> {
    let mut all = vec!["logs"];
    all.extend_from_slice(args);
    let out = builder(root, &all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "builder logs {args:?}:\n{}",
        text(&out.stderr)
    );
    out.stdout
}

#[test]
fn plain_progress_has_step_lines_run_output_and_ends() {
    let test = "plain_progress";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        w.file("f", "f\n");
        w.dockerfile("FROM busybox\nRUN echo hello-from-run\nCOPY f /f\n");
        // Not a terminal: auto is plain.
        let out = w.build(&["--progress", "auto"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "as {}:\n{err}", r.name());
        let run = step_number(&err, "[2/3] RUN echo hello-from-run");
        let copy = step_number(&err, "[3/3] COPY f /f");
        step_number(&err, "[1/3] FROM busybox");
        let lines: Vec<&str> = err.lines().collect();
        // `#N 0.123 hello-from-run`: seconds since the step started.
        let output = lines
            .iter()
            .find(|l| {
                let mut parts = l.split(' ');
                parts.next() == Some(&run)
                    && parts.next().is_some_and(|t| t.parse::<f64>().is_ok())
                    && parts.next() == Some("hello-from-run")
            })
            .unwrap_or_else(|| panic!("no RUN output line:\n{err}"));
        let secs = output.split(' ').nth(1).unwrap();
        assert!(secs.len() == 5 && secs.parse::<f64>().is_ok(), "{output}");
        for n in [&run, &copy] {
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with(&format!("{n} DONE ")) && l.ends_with('s')),
                "as {}: no DONE for {n}:\n{err}",
                r.name()
            );
        }
        // Each step is announced after a blank line (but the first).
        assert!(
            err.contains(&format!("\n\n{copy} [3/3] COPY f /f\n")),
            "{err}"
        );
        assert!(!err.starts_with('\n'), "{err}");
        assert!(
            out.stdout.is_empty(),
            "plain prints nothing on stdout: {}",
            text(&out.stdout)
        );
    }
}

#[test]
fn rawjson_progress_parses_line_by_line() {
    let test = "rawjson_progress";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        w.file("f", "f\n");
        w.dockerfile(
            "FROM busybox\nRUN echo 'say \"hi\"' && printf 'tab\\there\\n' >&2\nCOPY f /f\n",
        );
        let out = w.build(&["--progress", "rawjson"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "as {}:\n{err}", r.name());
        let events: Vec<serde_json::Value> = err
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect();
        let mut open: BTreeMap<u64, String> = BTreeMap::new();
        let mut ended = 0;
        for e in &events {
            assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
            match e["event"].as_str().unwrap() {
                "start" => {
                    let v = e["vertex"].as_u64().unwrap();
                    let name = e["name"].as_str().unwrap().to_string();
                    assert!(open.insert(v, name).is_none(), "started twice: {e}");
                }
                "done" | "cached" | "error" => {
                    let v = e["vertex"].as_u64().unwrap();
                    assert!(open.remove(&v).is_some(), "ended without a start: {e}");
                    ended += 1;
                }
                "log" | "miss" | "progress" | "result" => {}
                other => panic!("unknown event {other}: {e}"),
            }
        }
        assert!(open.is_empty(), "steps never ended: {open:?}");
        assert!(ended >= 4, "{err}");
        let names: Vec<&str> = events
            .iter()
            .filter(|e| e["event"] == "start")
            .filter_map(|e| e["name"].as_str())
            .collect();
        assert!(names.contains(&"[3/3] COPY f /f"), "{names:?}");
        let said: Vec<&str> = events
            .iter()
            .filter(|e| e["event"] == "log" && e["from"] == "process")
            .filter_map(|e| e["line"].as_str())
            .collect();
        assert!(said.contains(&"say \"hi\""), "{said:?}");
        assert!(said.contains(&"tab\there"), "{said:?}");
        let last = events.last().unwrap();
        assert_eq!(last["event"], "result", "{err}");
        assert_eq!(last["status"], "ok");
        let image = last["image"].as_str().unwrap();
        assert!(image.starts_with("sha256:") && image.len() == 71, "{image}");
        let build = last["build"].as_str().unwrap();
        let listed = text(&logs(&w.path("root"), &[]));
        assert!(listed.contains(build), "{listed}");
    }
}

#[test]
fn quiet_prints_only_the_image_id() {
    let test = "quiet_progress";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        w.dockerfile("FROM busybox\nRUN echo not-shown\n");
        let out = w.build(&["-q"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "as {}: {}",
            r.name(),
            text(&out.stderr)
        );
        let id = text(&out.stdout);
        assert!(
            id.starts_with("sha256:") && id.len() == 72 && id.ends_with('\n'),
            "as {}: {id:?}",
            r.name()
        );
        assert_eq!(text(&out.stderr), "", "as {}", r.name());
        // Run again (not from the build cache), so the quiet build has a RUN log of its own.
        let out = w.build(&["--progress", "quiet", "--no-cache"]);
        assert_eq!(out.status.code(), Some(0), "as {}", r.name());
        assert!(
            out.stdout.is_empty() && out.stderr.is_empty(),
            "as {}",
            r.name()
        );
        // Quiet builds keep their logs all the same.
        assert_eq!(logs(&w.path("root"), &["--step", "RUN"]), b"not-shown\n");
    }
}

#[test]
fn a_ten_mib_run_log_is_kept_whole() {
    let test = "ten_mib_log";
    let Some(layout) = busybox(test) else { return };
    const SIZE: usize = 10 << 20;
    let expected: Vec<u8> = b"0123456789abcdef\n"
        .iter()
        .copied()
        .cycle()
        .take(SIZE)
        .collect();
    let hash = |b: &[u8]| hex::encode(ring::digest::digest(&ring::digest::SHA256, b));
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        w.dockerfile("FROM busybox\nRUN yes 0123456789abcdef | head -c 10485760\n");
        let out = w.build(&["-t", "big:1"]);
        let err = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "as {}:\n{}",
            r.name(),
            &err[err.len().saturating_sub(3000)..]
        );
        // The display clips; the log does not.
        assert!(err.len() < 4 << 20, "plain showed {} bytes", err.len());
        assert!(
            err.contains("[output clipped, log limit 2MiB reached"),
            "as {}",
            r.name()
        );
        let run = step_number(&err, "[2/2] RUN yes 0123456789abcdef | head -c 10485760");
        let root = w.path("root");
        for sel in [run.as_str(), "RUN yes"] {
            let kept = logs(&root, &["--step", sel]);
            assert_eq!(kept.len(), SIZE, "as {}: --step {sel}", r.name());
            assert_eq!(
                hash(&kept),
                hash(&expected),
                "as {}: --step {sel}",
                r.name()
            );
        }
        let listed = text(&logs(&root, &[]));
        let line = listed.lines().nth(1).unwrap_or_default();
        assert!(line.contains(" ok ") && line.ends_with("big:1"), "{listed}");
        // The whole build, each output line under its step's number.
        let whole = text(&logs(&root, &["last"]));
        assert!(whole.contains(&format!("\n{run} 0123456789abcdef\n")));
        assert_eq!(whole.matches("0123456789abcdef").count(), SIZE / 17 + 1);
    }
}

#[test]
fn a_failed_steps_log_is_kept() {
    let test = "failed_step_log";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox\nRUN echo fine\nRUN echo before-the-end; printf 'no newline' >&2; exit 7\n",
        );
        let out = w.build(&[]);
        assert_eq!(out.status.code(), Some(1), "as {}", r.name());
        let root = w.path("root");
        let failed = text(&logs(&root, &["--failed"]));
        assert!(
            failed == "before-the-end\nno newline" || failed == "no newlinebefore-the-end\n",
            "as {}: {failed:?}",
            r.name()
        );
        let listed = text(&logs(&root, &[]));
        assert!(
            listed.lines().nth(1).unwrap().contains(" failed "),
            "{listed}"
        );
        let whole = text(&logs(&root, &["last"]));
        assert!(whole.contains(" fine\n"), "{whole}");
        assert!(whole.contains("ERROR: "), "{whole}");
        assert!(whole.contains("exit code: 7"), "{whole}");
        // A step of a build that does not exist is a usage error.
        let out = builder(&root, &["logs", "--step", "99"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let out = builder(&root, &["logs", "1999"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    }
}

#[test]
fn tty_progress_needs_a_terminal() {
    let root = tempfile::tempdir().unwrap();
    let out = builder(root.path(), &["build", "--progress", "tty", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--progress=tty needs a terminal"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn transfers_show_bytes_when_pulling_and_pushing() {
    use crate::registry_support::{self as reg_support, Registry, RegistryAuth};
    let test = "transfers_show_bytes";
    let dir = tempfile::tempdir().unwrap();
    let Some(layout) = reg_support::busybox_layout(dir.path(), test) else {
        return;
    };
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    let host = reg.host();
    reg_support::skopeo_copy(
        &[],
        &format!("oci:{}:latest", layout.display()),
        &format!("docker://{host}/busybox:latest"),
    );
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("f"), "f\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {host}/busybox\nCOPY f /f\n"),
    )
    .unwrap();
    let name = format!("{host}/progress:1");
    let out = reg_support::builder(
        &dir.path().join("root"),
        &dir.path().join("docker"),
        &[
            "build",
            "--progress",
            "plain",
            "-t",
            &name,
            "--push",
            ctx.to_str().unwrap(),
        ],
        &[],
    );
    reg_support::ok(&out, "build with pull and push");
    let err = text(&out.stderr);
    let pull = step_number(
        &err,
        &format!("[internal] load metadata for {host}/busybox:latest"),
    );
    let push = step_number(&err, &format!("pushing {name}"));
    // `#N sha256:… 1.09MB / 1.09MB 0.1s done`: every blob ends complete.
    for n in [&pull, &push] {
        let done: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with(&format!("{n} sha256:")) && l.ends_with(" done"))
            .collect();
        assert!(done.len() >= 2, "{n}: config and layer blobs:\n{err}");
        for l in done {
            let amounts: Vec<&str> = l.split(' ').collect();
            assert_eq!(amounts[3], "/", "{l}");
            assert_eq!(amounts[2], amounts[4], "{l}");
        }
    }
}
