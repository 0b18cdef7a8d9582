//! The build cache, end to end on the busybox fixture (as root and, when the tests run as
//! root, as the non-root `buildertest`): a second build is fully cached and gives the same
//! image; a changed file reruns exactly the steps that read it, and the miss says which
//! file; build args invalidate only the steps that see them; `.dockerignore`d files and
//! mtime-only changes keep the cache; concurrent builds share one store; a build killed
//! with `kill -9` during a RUN leaves a store the next build uses; `--no-cache` and
//! `--no-cache-filter` run what they name; a changed base image is named as the reason;
//! a `--cache-to` that cannot be written fails the build (exit 1).

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::build_support::busybox;
use crate::common::{run, text};
use crate::run_support::{processes_with, runners, token, wait_for, RunWork, Runner, TEST_USER};

/// One filesystem step of a build's plain progress (FROM excluded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    pub name: String,
    pub cached: bool,
    miss: Option<String>,
}

/// The filesystem steps of `progress`, in order.
pub(crate) fn steps(progress: &str) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    for line in progress.lines() {
        let Some((id, what)) = line.strip_prefix('#').and_then(|l| l.split_once(' ')) else {
            continue;
        };
        if let Some(&i) = by_id.get(id) {
            if what == "CACHED" {
                out[i].cached = true;
            } else if let Some(reason) = what.strip_prefix("cache miss: ") {
                out[i].miss = Some(reason.to_string());
            }
        } else if what.starts_with('[')
            && !what.starts_with("[internal]")
            && !what.contains("] FROM ")
        {
            by_id.insert(id.to_string(), out.len());
            out.push(Step {
                name: what.to_string(),
                cached: false,
                miss: None,
            });
        }
    }
    out
}

/// Which steps were cached.
pub(crate) fn cached(progress: &str) -> Vec<bool> {
    steps(progress).iter().map(|s| s.cached).collect()
}

/// The miss reasons, one per step (`None`: cached or not explained).
fn misses(progress: &str) -> Vec<Option<String>> {
    steps(progress).into_iter().map(|s| s.miss).collect()
}

/// A finished build: its progress and image id.
pub(crate) struct Built {
    pub progress: String,
    pub id: String,
}

/// Build `w` with `args`, which must succeed.
pub(crate) fn build(w: &RunWork, who: &str, args: &[&str]) -> Built {
    let iid = w.path("out/iid");
    let _ = std::fs::remove_file(&iid);
    let iid_arg = iid.display().to_string();
    let mut all = vec!["--iidfile", iid_arg.as_str()];
    all.extend_from_slice(args);
    let out = w.build(&all);
    let progress = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "as {who}: build failed:\n{progress}"
    );
    let id = std::fs::read_to_string(&iid).unwrap().trim().to_string();
    Built { progress, id }
}

/// `builder build --progress plain --build-context busybox=... ARGS... ctx` as `runner`, not
/// yet run (for builds started side by side or killed).
fn command(w: &RunWork, runner: Runner, args: &[&str]) -> Command {
    command_in(w, runner, args, "ctx")
}

/// [`command`] for the context directory `context` of the workspace.
fn command_in(w: &RunWork, runner: Runner, args: &[&str], context: &str) -> Command {
    let exe = env!("CARGO_BIN_EXE_builder");
    let mut cmd = match runner {
        Runner::Me => Command::new(exe),
        Runner::Rootless => {
            run(Command::new("chown")
                .args(["-R", &format!("{TEST_USER}:")])
                .arg(w.path("")));
            let mut c = Command::new("runuser");
            c.args(["-u", TEST_USER, "--", "env"])
                .arg(format!("HOME={}", w.path("").display()))
                .arg(exe);
            c
        }
    };
    let base = format!("busybox=oci-layout://{}", w.path("base").display());
    cmd.arg("--root")
        .arg(w.path("root"))
        .args(["build", "--progress", "plain", "--build-context", &base])
        .args(args)
        .arg(context)
        .current_dir(w.path(""))
        .env_remove("BUILDER_ROOT")
        .env_remove("SOURCE_DATE_EPOCH")
        .env("HOME", w.path(""));
    cmd
}

#[test]
fn a_second_build_is_fully_cached_and_gives_the_same_image() {
    let test = "cache_second_build";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.file("a", "a\n").file("b", "b\n").dockerfile(
            "FROM busybox\n\
             COPY a /a\n\
             RUN echo ran > /ran\n\
             LABEL step=three\n\
             WORKDIR /work\n\
             ENV X=1\n\
             COPY b /b\n\
             CMD [\"sh\"]\n",
        );
        let first = build(&w, who, &[]);
        assert_eq!(
            cached(&first.progress),
            [false; 4],
            "as {who}: {}",
            first.progress
        );
        let second = build(&w, who, &[]);
        assert_eq!(
            cached(&second.progress),
            [true; 4],
            "as {who}: {}",
            second.progress
        );
        assert!(
            !second.progress.contains("cache miss"),
            "as {who}: {}",
            second.progress
        );
        assert_eq!(
            first.id, second.id,
            "as {who}: a cached rebuild changed the image"
        );
        let image = w.build_image(&[]);
        assert_eq!(image.read("ran").as_deref(), Some("ran\n"), "as {who}");
        assert_eq!(image.read("b").as_deref(), Some("b\n"), "as {who}");
    }
}

#[test]
fn touching_a_file_of_the_last_copy_rebuilds_only_that_layer() {
    let test = "cache_last_copy";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.file("first", "1\n").file("last", "old\n").dockerfile(
            "FROM busybox\n\
             COPY first /first\n\
             RUN echo ran > /ran\n\
             COPY last /last\n",
        );
        build(&w, who, &[]);
        let before = w.build_image(&[]);
        w.file("last", "new\n");
        let again = build(&w, who, &[]);
        assert_eq!(
            cached(&again.progress),
            [true, true, false],
            "as {who}: {}",
            again.progress
        );
        assert_eq!(
            misses(&again.progress)[2].as_deref(),
            Some("COPY last: last changed"),
            "as {who}: {}",
            again.progress
        );
        let after = w.build_image(&[]);
        let n = after.layer_count();
        assert_eq!(n, before.layer_count());
        for i in 0..n - 1 {
            assert_eq!(
                after.manifest["layers"][i], before.manifest["layers"][i],
                "as {who}: layer {i} changed"
            );
        }
        assert_ne!(
            after.manifest["layers"][n - 1],
            before.manifest["layers"][n - 1]
        );
        assert_eq!(after.read("last").as_deref(), Some("new\n"), "as {who}");
    }
}

#[test]
fn changing_a_file_copied_before_a_run_reruns_the_run_and_says_which() {
    let test = "cache_copy_then_run";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.file("src/main.rs", "fn main() {}\n")
            .file("src/old.txt", "old\n")
            .dockerfile(
                "FROM busybox\n\
                 COPY src/ /src/\n\
                 RUN cat /src/main.rs > /out\n",
            );
        build(&w, who, &[]);
        w.file("src/main.rs", "fn main() { run() }\n");
        let changed = build(&w, who, &[]);
        assert_eq!(cached(&changed.progress), [false, false], "as {who}");
        assert_eq!(
            misses(&changed.progress),
            [
                Some("COPY src/: src/main.rs changed".to_string()),
                Some("previous step changed".to_string())
            ],
            "as {who}: {}",
            changed.progress
        );
        w.file("src/new.txt", "new\n");
        std::fs::remove_file(w.path("ctx/src/old.txt")).unwrap();
        let moved = build(&w, who, &[]);
        assert_eq!(
            misses(&moved.progress)[0].as_deref(),
            Some("COPY src/: src/new.txt added, src/old.txt removed"),
            "as {who}: {}",
            moved.progress
        );
        for i in 0..5 {
            w.file(&format!("src/more{i}.txt"), "m\n");
        }
        let many = build(&w, who, &[]);
        assert_eq!(
            misses(&many.progress)[0].as_deref(),
            Some("COPY src/: src/more0.txt added, src/more1.txt added, src/more2.txt added and 2 more"),
            "as {who}: {}",
            many.progress
        );
        let image = w.build_image(&[]);
        assert_eq!(image.read("out").as_deref(), Some("fn main() { run() }\n"));
    }
}

#[test]
fn build_args_invalidate_only_the_steps_that_see_them() {
    let test = "cache_build_args";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.file("a", "a\n").dockerfile(
            "FROM busybox\n\
             RUN echo before > /before\n\
             ARG V=1\n\
             ARG UNUSED=x\n\
             COPY a /a\n\
             RUN echo $V > /v\n",
        );
        build(&w, who, &["--build-arg", "V=1"]);
        // An arg no ARG declares, and one only RUN sees: nothing else reruns.
        let other = build(
            &w,
            who,
            &["--build-arg", "V=1", "--build-arg", "NOT_DECLARED=1"],
        );
        assert_eq!(cached(&other.progress), [true, true, true], "as {who}");
        let unused = build(&w, who, &["--build-arg", "V=1", "--build-arg", "UNUSED=y"]);
        assert_eq!(cached(&unused.progress), [true, true, false], "as {who}");
        assert_eq!(
            misses(&unused.progress)[2].as_deref(),
            Some("build arg UNUSED changed"),
            "as {who}: {}",
            unused.progress
        );
        let changed = build(&w, who, &["--build-arg", "V=2", "--build-arg", "UNUSED=y"]);
        assert_eq!(cached(&changed.progress), [true, true, false], "as {who}");
        assert_eq!(
            misses(&changed.progress)[2].as_deref(),
            Some("build arg V changed"),
            "as {who}: {}",
            changed.progress
        );
        assert_eq!(
            w.build_image(&["--build-arg", "V=2"]).read("v").as_deref(),
            Some("2\n")
        );
    }
}

#[test]
fn ignored_files_and_mtime_only_changes_keep_the_cache() {
    let test = "cache_ignored_and_mtime";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.file(".dockerignore", "**/*.log\n")
            .file("app/main.sh", "echo hi\n")
            .file("app/debug.log", "one\n")
            .dockerfile(
                "FROM busybox\n\
                 COPY . /app/\n\
                 RUN ls /app > /listing\n",
            );
        let first = build(&w, who, &[]);
        w.file("app/debug.log", "two, longer\n");
        let ignored = build(&w, who, &[]);
        assert_eq!(
            cached(&ignored.progress),
            [true, true],
            "as {who}: {}",
            ignored.progress
        );
        let file = std::fs::File::options()
            .write(true)
            .open(w.path("ctx/app/main.sh"))
            .unwrap();
        file.set_modified(std::time::SystemTime::now() + Duration::from_secs(60))
            .unwrap();
        drop(file);
        let touched = build(&w, who, &[]);
        assert_eq!(
            cached(&touched.progress),
            [true, true],
            "as {who}: {}",
            touched.progress
        );
        assert_eq!(first.id, touched.id, "as {who}");
    }
}

#[test]
fn two_concurrent_builds_on_one_store_both_succeed_with_one_image() {
    let test = "cache_concurrent";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.file("a", "a\n").dockerfile(
            "FROM busybox\n\
             COPY a /a\n\
             RUN sleep 1 && date +%s%N > /when\n\
             COPY a /b\n",
        );
        let children: Vec<_> = (0..2)
            .map(|i| {
                let iid = w.path(&format!("out/iid{i}")).display().to_string();
                command(&w, r, &["--iidfile", &iid])
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut progress = Vec::new();
        for child in children {
            let out = child.wait_with_output().unwrap();
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "as {who}: {err}");
            progress.push(err);
        }
        let ids: Vec<String> = (0..2)
            .map(|i| std::fs::read_to_string(w.path(&format!("out/iid{i}"))).unwrap())
            .collect();
        // The RUN wrote the time: one image means it ran once and the other build waited.
        assert_eq!(ids[0], ids[1], "as {who}: {progress:?}");
        let runs = progress
            .iter()
            .flat_map(|p| steps(p))
            .filter(|s| s.name.contains("RUN") && !s.cached)
            .count();
        assert_eq!(runs, 1, "as {who}: {progress:?}");
        w.assert_nothing_left(&[]);
    }
}

#[test]
fn a_build_killed_during_run_leaves_a_store_the_next_build_uses() {
    let test = "cache_kill_9";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        let tok = token();
        w.file("a", "a\n").dockerfile(
            "FROM busybox\n\
             ARG SLEEP=0\n\
             COPY a /a\n\
             RUN sleep $SLEEP && echo done > /done\n",
        );
        let sleep = format!("SLEEP={tok}");
        let mut child = command(&w, r, &["--build-arg", &sleep])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let needle = format!("sleep\0{tok}");
        wait_for("the RUN to start", || !processes_with(&needle).is_empty());
        let group = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL).unwrap();
        child.wait().unwrap();
        wait_for("the command to go with its build", || {
            processes_with(&needle).is_empty()
        });
        let again = build(&w, who, &[]);
        assert_eq!(
            cached(&again.progress),
            [true, false],
            "as {who}: the COPY finished before the kill: {}",
            again.progress
        );
        let last = build(&w, who, &[]);
        assert_eq!(cached(&last.progress), [true, true], "as {who}");
        assert_eq!(again.id, last.id);
        assert_eq!(w.build_image(&[]).read("done").as_deref(), Some("done\n"));
    }
}

#[test]
fn no_cache_and_no_cache_filter_run_what_they_name() {
    let test = "cache_no_cache";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox AS build\n\
             RUN echo b > /b\n\
             FROM busybox\n\
             COPY --from=build /b /b\n\
             RUN cat /b > /f\n",
        );
        build(&w, who, &[]);
        let all = build(&w, who, &["--no-cache"]);
        assert_eq!(
            cached(&all.progress),
            [false, false, false],
            "as {who}: {}",
            all.progress
        );
        assert_eq!(
            misses(&all.progress)[0].as_deref(),
            Some("--no-cache"),
            "as {who}: {}",
            all.progress
        );
        let final_only = build(&w, who, &["--no-cache-filter", "1"]);
        assert_eq!(
            cached(&final_only.progress),
            [true, false, false],
            "as {who}: {}",
            final_only.progress
        );
        assert_eq!(
            misses(&final_only.progress)[1].as_deref(),
            Some("--no-cache-filter 1"),
            "as {who}: {}",
            final_only.progress
        );
        let build_only = build(&w, who, &["--no-cache-filter", "build"]);
        assert!(
            !cached(&build_only.progress)[0],
            "as {who}: {}",
            build_only.progress
        );
        let cached_again = build(&w, who, &[]);
        assert_eq!(
            cached(&cached_again.progress),
            [true, true, true],
            "as {who}"
        );
        assert_eq!(cached_again.id, build_only.id);
    }
}

#[test]
fn a_changed_base_image_is_named_as_the_reason() {
    let test = "cache_base_changed";
    if runners(test).is_empty() {
        return;
    }
    let Some(layout) = busybox(test) else { return };
    let w = RunWork::new(Runner::Me, &layout);
    w.file("a", "a\n")
        .dockerfile("FROM busybox\nCOPY a /a\nRUN echo x > /x\n");
    build(&w, "root", &[]);
    // A new base: busybox with one more layer, written by a build of another context.
    std::fs::create_dir_all(w.path("ctx2")).unwrap();
    std::fs::write(w.path("ctx2/extra"), "extra\n").unwrap();
    std::fs::write(
        w.path("ctx2/Dockerfile"),
        "FROM busybox\nCOPY extra /extra\n",
    )
    .unwrap();
    let spec = format!("type=oci,dest={},tar=false", w.path("base2").display());
    let out = command_in(&w, Runner::Me, &["-t", "b", "-o", &spec], "ctx2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    std::fs::remove_dir_all(w.path("base")).unwrap();
    std::fs::rename(w.path("base2"), w.path("base")).unwrap();
    let again = build(&w, "root", &[]);
    let reasons = misses(&again.progress);
    let first = reasons[0].as_deref().unwrap_or_default();
    assert!(
        first.starts_with("base image digest changed (") && first.contains(" -> "),
        "{}",
        again.progress
    );
    assert_eq!(reasons[1], reasons[0], "{}", again.progress);
    assert!(Path::new(&w.path("root/cache/explain")).is_dir());
}

#[test]
fn snapshots_committed_under_one_name_at_once_keep_one_and_fail_none() {
    use builder::snapshot::{DirSnapshotter, Snapshotter};
    let t = tempfile::tempdir().unwrap();
    let snaps = DirSnapshotter::new(t.path()).unwrap();
    for round in 0..20 {
        let name = format!("sha256-{round}");
        let winners: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|i| {
                    let (snaps, name) = (&snaps, &name);
                    s.spawn(move || {
                        let active = snaps.prepare(None).unwrap();
                        std::fs::write(active.upper.join("who"), format!("{i}")).unwrap();
                        let id = snaps.commit(active, name).unwrap();
                        let dirs = snaps.view(&id).unwrap();
                        std::fs::read_to_string(dirs[0].join("who")).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        // Every committer sees the one snapshot that won.
        assert!(winners.iter().all(|w| *w == winners[0]), "{winners:?}");
    }
    let left = std::fs::read_dir(t.path().join("active")).unwrap().count();
    assert_eq!(left, 0, "prepared snapshots were left behind");
}

#[test]
fn cache_exported_to_a_directory_serves_a_build_with_a_fresh_store() {
    let test = "cache_to_from_local";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.file("a", "a\n").dockerfile(
            "FROM busybox\n\
             COPY a /a\n\
             RUN echo ran > /ran\n",
        );
        let dir = w.path("exported");
        let to = format!("type=local,dest={}", dir.display());
        let first = build(&w, who, &["--cache-to", &to]);
        assert!(dir.join("oci-layout").exists(), "as {who}");
        // A fresh store: only the exported directory has the steps.
        std::fs::remove_dir_all(w.path("root")).unwrap();
        let from = format!("type=local,src={}", dir.display());
        let second = build(&w, who, &["--cache-from", &from]);
        assert_eq!(
            cached(&second.progress),
            [true, true],
            "as {who}: {}",
            second.progress
        );
        assert_eq!(
            first.id, second.id,
            "as {who}: the imported cache changed the image"
        );
        let image = w.build_image(&[]);
        assert_eq!(image.read("ran").as_deref(), Some("ran\n"), "as {who}");
        // An unknown registry cache key is refused clearly, before anything runs.
        let out = w.build(&[
            "--cache-to",
            "type=registry,ref=127.0.0.1:1/app:cache,dest=x",
        ]);
        assert_eq!(out.status.code(), Some(2), "as {who}");
        assert!(
            text(&out.stderr).contains("unknown key \"dest\""),
            "as {who}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_cache_export_that_cannot_be_written_fails_the_build_not_the_command_line() {
    let test = "cache_to_unwritable";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.file("a", "a\n").dockerfile("FROM busybox\nCOPY a /a\n");
        // A directory below a regular file cannot be made, whoever asks (root included).
        std::fs::write(w.path("blocker"), "x").unwrap();
        let to = format!("type=local,dest={}", w.path("blocker/cache").display());
        let out = w.build(&["--cache-to", &to]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "as {who}: {err}");
        assert!(
            err.contains("error: export build cache to "),
            "as {who}: {err}"
        );
    }
}
