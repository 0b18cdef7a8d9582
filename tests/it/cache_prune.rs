//! `builder prune`, `builder du` and the store cap on real builds (busybox fixture): the
//! named image survives every prune and still exports and unpacks, a rebuild re-runs its
//! steps, `--keep-storage` and `--filter until=` keep the most recently used records,
//! `--all` leaves only what named images need, the cap is enforced after a build, a
//! prune waits for a running build, and a prune after `kill -9` of a build mid-RUN clears
//! what it left.
//!
//! Needs user namespaces (RUN): skips loudly without them, and fails instead with
//! `BUILDER_REQUIRE_SANDBOX=1` (CI).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use builder::cache::CacheStore;
use builder::store::usage;

use crate::build_support::busybox;
use crate::cache_prune_support::{
    age_records, builder_as, builder_ok, ensure_records, export_and_unpack, has_snapshot, named,
    names_in, ran, record_chains, wait_long,
};
use crate::common::text;
use crate::run_support::{processes_with, runners, token, RunWork, Runner};

const HOUR: Duration = Duration::from_secs(3600);

/// The busybox layout and the runners, or `None` (loudly) when RUN cannot work here.
fn setup(test: &str) -> Option<(PathBuf, Vec<Runner>)> {
    let layout = busybox(test)?;
    let runners = runners(test);
    (!runners.is_empty()).then_some((layout, runners))
}

/// `FROM busybox` and a RUN that writes `kb` kilobytes of random data to `/NAME`.
fn random_file(w: &RunWork, name: &str, kb: usize) {
    w.dockerfile(&format!(
        "FROM busybox\nRUN head -c {}000 /dev/urandom > /{name}\n",
        kb
    ));
}

/// `builder build --progress plain -t app ctx` as `r` with `env`, which must succeed; the
/// progress.
fn build_with_env(w: &RunWork, r: Runner, env: &[(&str, &str)]) -> String {
    let base = format!("busybox=oci-layout://{}", w.path("base").display());
    let args = [
        "build",
        "--progress",
        "plain",
        "--build-context",
        &base,
        "-t",
        "app",
        "ctx",
    ];
    let out = builder_as(w, r, &args, env);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "build failed:\n{err}");
    err
}

fn total(root: &Path) -> u64 {
    usage(root).unwrap().total
}

#[test]
fn prune_keeps_named_images_whole_and_a_rebuild_reruns_steps() {
    let test = "cache_prune_keeps_named_images";
    let Some((layout, runners)) = setup(test) else {
        return;
    };
    for r in runners {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.file("f", "hello\n").dockerfile(
            "FROM busybox\n\
             RUN echo one > /one && head -c 200000 /dev/urandom > /r\n\
             COPY f /f\n",
        );
        w.build_image(&[]);
        let root = w.path("root");
        let chains = ensure_records(&root, &named(&root, "app"));
        assert_eq!(chains.len(), 2, "as {who}");
        let out = builder_ok(&w, r, &["prune"]);
        assert!(
            out.contains("\nTotal:\t") || out.starts_with("Total:\t"),
            "as {who}: {out}"
        );
        assert!(record_chains(&root).is_empty(), "as {who}");
        let rootfs = export_and_unpack(&w, "app", "pruned");
        let read = |p: &str| std::fs::read_to_string(rootfs.join(p)).unwrap();
        assert_eq!(read("one"), "one\n", "as {who}");
        assert_eq!(read("f"), "hello\n", "as {who}");
        assert_eq!(std::fs::metadata(rootfs.join("r")).unwrap().len(), 200_000);
        // Nothing of the cache is left: the rebuild runs its steps again, and works.
        let out = w.build(&["-t", "app"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "as {who}: {err}");
        assert!(ran(&err, "RUN echo one"), "as {who}: {err}");
    }
}

#[test]
fn du_lists_records_and_its_totals_shrink_after_prune() {
    let test = "cache_du_lists_records";
    let Some((layout, _)) = setup(test) else {
        return;
    };
    let r = Runner::Me;
    let w = RunWork::new(r, &layout);
    w.file("f", "hello\n").dockerfile(
        "FROM busybox\nRUN echo one > /one && head -c 200000 /dev/urandom > /r\nCOPY f /f\n",
    );
    w.build_image(&[]);
    let root = w.path("root");
    ensure_records(&root, &named(&root, "app"));
    // Named, the image holds its layers and snapshots: its records free nothing.
    let du = builder_ok(&w, r, &["du"]);
    assert!(
        du.lines().nth(1).is_some_and(|l| l.contains(" false ")),
        "{du}"
    );
    // Unnamed, only the records hold them.
    builder_ok(&w, r, &["rmi", "app"]);
    let before = usage(&root).unwrap();
    let du = builder_ok(&w, r, &["du"]);
    let lines: Vec<&str> = du.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("RECLAIMABLE  SIZE"),
        "{du}"
    );
    assert!(lines[0].ends_with("LAST ACCESSED"), "{du}");
    let keys: Vec<String> = CacheStore::new(&root)
        .list()
        .unwrap()
        .iter()
        .map(|l| l.record.key.digest()[..12].to_string())
        .collect();
    assert!(keys.len() >= 2, "{keys:?}");
    for key in &keys {
        let row = lines.iter().find(|l| l.starts_with(key.as_str()));
        assert!(row.is_some_and(|l| l.contains(" true ")), "{key} in\n{du}");
    }
    for label in [
        "Cache records:",
        "Blobs:",
        "Snapshots:",
        "Reclaimable:",
        "Total:",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(label)),
            "{label} in\n{du}"
        );
    }
    let verbose = builder_ok(&w, r, &["du", "--verbose"]);
    assert!(
        verbose.contains("Description:") && verbose.contains("echo one"),
        "{verbose}"
    );
    assert!(before.reclaimable > 200_000, "{before:?}");

    let pruned = builder_ok(&w, r, &["prune", "-f"]);
    for key in &keys {
        assert!(pruned.contains(key.as_str()), "{key} in\n{pruned}");
    }
    let after = usage(&root).unwrap();
    assert!(after.records.is_empty(), "{after:?}");
    assert!(after.total < before.total, "{before:?}\n{after:?}");
    assert!(after.snapshots < before.snapshots, "{before:?}\n{after:?}");
    let du = builder_ok(&w, r, &["du"]);
    assert_eq!(
        du.lines()
            .filter(|l| keys.iter().any(|k| l.starts_with(k.as_str())))
            .count(),
        0
    );
    assert!(du.contains("Cache records:   0"), "{du}");
}

/// Two images in one store, each one RUN layer: `a` (big), built first and its records
/// made old, then `b` (small); `app` names `b`. The own chain ids of each.
fn old_a_new_b(w: &RunWork) -> (Vec<String>, Vec<String>) {
    let root = w.path("root");
    random_file(w, "a", 600);
    w.build_image(&[]);
    let a = ensure_records(&root, &named(&root, "app"));
    age_records(&root, &a, 2 * HOUR);
    random_file(w, "b", 200);
    w.build_image(&[]);
    let b = ensure_records(&root, &named(&root, "app"));
    (a, b)
}

#[test]
fn keep_storage_keeps_the_most_recently_used() {
    let test = "cache_keep_storage";
    let Some((layout, _)) = setup(test) else {
        return;
    };
    let w = RunWork::new(Runner::Me, &layout);
    let (a, b) = old_a_new_b(&w);
    let root = w.path("root");
    // Fitting 100 kB less needs a's records gone (600 kB of blob, as much snapshot), and
    // no more.
    let keep = (total(&root) - 100_000).to_string();
    let out = builder_ok(&w, Runner::Me, &["prune", "--keep-storage", &keep]);
    assert!(out.contains("RECLAIMABLE"), "{out}");
    let left = record_chains(&root);
    assert!(a.iter().all(|c| !left.contains(c)), "{out}");
    assert!(b.iter().all(|c| left.contains(c)), "{out}");
    assert!(!has_snapshot(&root, &a[0]) && has_snapshot(&root, &b[0]));
    assert!(total(&root) <= keep.parse::<u64>().unwrap());
    // Docker's units: 1024-based.
    let out = builder_ok(&w, Runner::Me, &["prune", "--keep-storage", "10GB"]);
    assert!(out.ends_with("Total:\t0B\n"), "{out}");
    assert!(record_chains(&root).contains(&b[0]));
}

#[test]
fn until_filter_keeps_recent_records() {
    let test = "cache_until_filter";
    let Some((layout, _)) = setup(test) else {
        return;
    };
    let w = RunWork::new(Runner::Me, &layout);
    let (a, b) = old_a_new_b(&w);
    let root = w.path("root");
    for (filter, why) in [
        ("until=soon", "expects a duration"),
        ("type=regular", "only until=DURATION"),
        ("until", "expected KEY=VALUE"),
    ] {
        let out = builder_as(&w, Runner::Me, &["prune", "--filter", filter], &[]);
        assert_eq!(out.status.code(), Some(2), "{filter}");
        assert!(
            text(&out.stderr).contains(why),
            "{filter}: {}",
            text(&out.stderr)
        );
    }
    assert!(
        record_chains(&root).contains(&a[0]),
        "a failed prune removed nothing"
    );
    builder_ok(&w, Runner::Me, &["prune", "--filter", "until=1h"]);
    let left = record_chains(&root);
    assert!(!left.contains(&a[0]) && left.contains(&b[0]), "{left:?}");
    assert!(!has_snapshot(&root, &a[0]) && has_snapshot(&root, &b[0]));
}

#[test]
fn prune_all_leaves_only_what_named_images_need() {
    let test = "cache_prune_all";
    let Some((layout, _)) = setup(test) else {
        return;
    };
    let r = Runner::Me;
    let w = RunWork::new(r, &layout);
    w.file("f", "hello\n").dockerfile(
        "FROM busybox\n\
         RUN --mount=type=cache,target=/cache echo x > /cache/x && echo one > /one\n\
         COPY f /f\n",
    );
    let local = format!("type=local,dest={}", w.path("out/local").display());
    let out = w.build(&["-t", "app", "-o", &local]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let root = w.path("root");
    let app = named(&root, "app");
    ensure_records(&root, &app);
    for dir in ["snapshotter/snapshots", "rootfs", "cache-mounts"] {
        assert!(!names_in(&root.join(dir)).is_empty(), "{dir} is empty");
    }
    builder_ok(&w, r, &["prune", "--all"]);
    assert!(record_chains(&root).is_empty());
    assert_eq!(
        names_in(&root.join("snapshotter/snapshots")),
        Vec::<String>::new()
    );
    assert_eq!(names_in(&root.join("rootfs")), Vec::<String>::new());
    let mounts: Vec<String> = names_in(&root.join("cache-mounts"))
        .into_iter()
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert!(mounts.is_empty(), "{mounts:?}");
    // The blobs left are the named image's: manifest, config, layers.
    let store = builder::store::DirStore::new(&root).unwrap();
    let image = builder::image::read_image(&store, &app).unwrap();
    let mut needed: Vec<String> = image
        .manifest
        .layers()
        .iter()
        .map(|l| l.digest().digest().to_string())
        .collect();
    needed.push(image.manifest.config().digest().digest().to_string());
    needed.push(app.digest().to_string());
    needed.sort();
    assert_eq!(names_in(&root.join("blobs/sha256")), needed);
    let rootfs = export_and_unpack(&w, "app", "all");
    assert_eq!(
        std::fs::read_to_string(rootfs.join("f")).unwrap(),
        "hello\n"
    );
    w.build_image(&[]);
}

#[test]
fn the_cap_is_enforced_after_a_build() {
    let test = "cache_cap_enforced";
    let Some((layout, _)) = setup(test) else {
        return;
    };
    let r = Runner::Me;
    let w = RunWork::new(r, &layout);
    let root = w.path("root");
    random_file(&w, "a", 600);
    w.build_image(&[]);
    let a = ensure_records(&root, &named(&root, "app"));
    age_records(&root, &a, 2 * HOUR);
    // A generous cap: nothing to do.
    random_file(&w, "b", 200);
    let err = build_with_env(&w, r, &[("BUILDER_MAX_CACHE", "1GB")]);
    assert!(!err.contains("pruning build cache"), "{err}");
    let b = ensure_records(&root, &named(&root, "app"));
    assert!(record_chains(&root).contains(&a[0]));
    // A cap of what the store takes now, from the config file: the next build goes over
    // it, and the least recently used records (a's) go to make room; b's stay.
    let cap = total(&root);
    let config = w.path("out/config.toml");
    std::fs::write(&config, format!("# the store cap\nmax-cache = \"{cap}\"\n")).unwrap();
    random_file(&w, "c", 200);
    let config_env = config.display().to_string();
    let err = build_with_env(&w, r, &[("BUILDER_CONFIG", &config_env)]);
    assert!(err.contains("pruning build cache"), "{err}");
    let left = record_chains(&root);
    assert!(
        !left.contains(&a[0]) && left.contains(&b[0]),
        "{left:?}\n{err}"
    );
    assert!(total(&root) <= cap, "{} > {cap}", total(&root));
    let rootfs = export_and_unpack(&w, "app", "capped");
    assert_eq!(std::fs::metadata(rootfs.join("c")).unwrap().len(), 200_000);
}

#[test]
fn prune_waits_for_a_running_build() {
    let test = "cache_prune_waits";
    let Some((layout, runners)) = setup(test) else {
        return;
    };
    for r in runners {
        let who = r.name();
        let t = token();
        let w = RunWork::new(r, &layout);
        w.dockerfile(&format!("FROM busybox\nRUN sleep 3 && echo {t} > /done\n"));
        let (child, _) = w.spawn_build(&[]);
        wait_long("the RUN step to start", || !processes_with(&t).is_empty());
        let started = Instant::now();
        let out = builder_as(&w, r, &["prune"], &[]);
        let waited = started.elapsed();
        let build = child.wait_with_output().unwrap();
        assert_eq!(
            build.status.code(),
            Some(0),
            "as {who}: {}",
            text(&build.stderr)
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "as {who}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("waiting for running builds"),
            "as {who}: {}",
            text(&out.stderr)
        );
        assert!(waited > Duration::from_millis(1500), "as {who}: {waited:?}");
        let rootfs = export_and_unpack(&w, "app", "waited");
        assert_eq!(
            std::fs::read_to_string(rootfs.join("done")).unwrap(),
            format!("{t}\n")
        );
    }
}

#[test]
fn prune_after_kill_9_mid_run_clears_what_the_build_left() {
    let test = "cache_prune_after_kill";
    let Some((layout, runners)) = setup(test) else {
        return;
    };
    for r in runners {
        let who = r.name();
        let t = token();
        let w = RunWork::new(r, &layout);
        w.dockerfile(&format!(
            "FROM busybox\nRUN head -c 300000 /dev/urandom > /r && sleep {t}\n"
        ));
        let root = w.path("root");
        let (mut child, pid) = w.spawn_build(&[]);
        let sleeping = format!("sleep\0{t}");
        wait_long("the RUN step to start", || {
            !processes_with(&sleeping).is_empty()
        });
        assert!(names_in(&root.join("run"))
            .iter()
            .any(|n| n.starts_with("step-")));
        assert!(!names_in(&root.join("snapshotter/active")).is_empty());
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        let _ = child.wait();
        wait_long("the RUN command to die", || {
            processes_with(&sleeping).is_empty()
        });

        let out = builder_ok(&w, r, &["prune"]);
        assert!(out.contains("leftover"), "as {who}: {out}");
        let steps: Vec<String> = names_in(&root.join("run"))
            .into_iter()
            .filter(|n| n.starts_with("step-"))
            .collect();
        assert!(steps.is_empty(), "as {who}: {steps:?}");
        assert!(
            names_in(&root.join("snapshotter/active")).is_empty(),
            "as {who}"
        );
        let temps: Vec<String> = names_in(&root.join("blobs/sha256"))
            .into_iter()
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(temps.is_empty(), "as {who}: {temps:?}");
        assert!(names_in(&root.join("trash")).is_empty(), "as {who}");
        w.dockerfile("FROM busybox\nRUN echo ok > /ok\n");
        w.build_image(&[]);
    }
}
