//! RUN smoke tests on the busybox fixture: a RUN that creates, changes and deletes files
//! (the layer holds the change and the whiteout; umoci shows the final tree), a failing
//! RUN (exit code, line, last output, nothing written), `USER 1000`, `--network=none`
//! and the demo example. The larger RUN suite is `run_*.rs`.
//!
//! Needs user namespaces: skips loudly without them, and fails instead with
//! `BUILDER_REQUIRE_SANDBOX=1` (CI).

use std::path::Path;
use std::process::Command;

use crate::build_support::{busybox, listing, unpack, Work};
use crate::common::{dir_names, text};

/// The busybox layout, when RUN can work here (the fixture tools and user namespaces).
fn setup(test: &str) -> Option<std::path::PathBuf> {
    let layout = busybox(test)?;
    let userns = Command::new("unshare")
        .args(["--user", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !userns {
        let msg = format!("{test}: user namespaces are not available here");
        assert!(
            std::env::var("BUILDER_REQUIRE_SANDBOX").as_deref() != Ok("1"),
            "{msg}"
        );
        eprintln!("\n!!! SKIPPED {msg} !!!\n");
        return None;
    }
    Some(layout)
}

/// The layers of the only image of the OCI layout at `dir`, summarized.
fn layer_summaries(dir: &Path) -> Vec<String> {
    let json = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let blob = |d: &str| dir.join("blobs/sha256").join(&d[7..]);
    let index = json(&dir.join("index.json"));
    let manifest = json(&blob(index["manifests"][0]["digest"].as_str().unwrap()));
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let data = std::fs::read(blob(l["digest"].as_str().unwrap())).unwrap();
            builder::diff::summarize(&data[..]).unwrap()
        })
        .collect()
}

#[test]
fn run_creates_changes_and_deletes_files() {
    let test = "run_creates_changes_and_deletes";
    let Some(layout) = setup(test) else { return };
    let w = Work::new();
    w.dockerfile(
        "FROM busybox\n\
         RUN mkdir /data && echo one > /data/a && echo two > /data/b && echo s > /data/s\n\
         RUN echo changed > /data/a && rm /data/b && ln -s a /data/link\n",
    );
    let ctx = Work::busybox_context(&layout);
    let got = w.build_and_unpack("img", &["--build-context", &ctx]);
    let data: Vec<&str> = got.lines().filter(|l| l.contains(" /data")).collect();
    assert_eq!(
        data,
        vec![
            "d /data 0755 0:0",
            "f /data/a 0644 0:0 \"changed\\n\"",
            "l /data/link -> a",
            "f /data/s 0644 0:0 \"s\\n\"",
        ],
        "{got}"
    );
    // No mount stub of the sandbox is left in the image.
    for stub in ["/etc/hosts", "/etc/resolv.conf"] {
        assert!(!got.contains(&format!(" {stub} ")), "{stub} in\n{got}");
    }
    let layers = layer_summaries(&w.path("out/img"));
    assert_eq!(layers.len(), 3, "busybox + two RUN layers");
    // The first RUN's layer: /data only (no /proc, /dev, /sys or /etc stubs).
    let first: Vec<&str> = layers[1]
        .lines()
        .map(|l| l.split(' ').nth(2).unwrap_or(l))
        .collect();
    assert_eq!(
        first,
        ["/data", "/data/a", "/data/b", "/data/s"],
        "{}",
        layers[1]
    );
    let last = &layers[2];
    let mut lines: Vec<String> = last
        .lines()
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        ["A d /data", "A f /data/a", "A l /data/link", "W /data/b"],
        "{last}"
    );
}

#[test]
fn the_copy_fallback_makes_the_same_tree() {
    let test = "run_copy_fallback";
    let Some(layout) = setup(test) else { return };
    let w = Work::new();
    w.dockerfile(
        "FROM busybox\n\
         RUN mkdir -p /data/d && echo one > /data/a && echo two > /data/b && echo x > /data/d/x\n\
         RUN echo changed > /data/a && rm /data/b && rm -rf /data/d && mkdir /data/d && rm /etc/group\n",
    );
    let ctx = Work::busybox_context(&layout);
    let overlay = w.build_and_unpack("overlay", &["--build-context", &ctx]);
    let spec = format!("type=oci,dest={},tar=false", w.path("out/copy").display());
    let out = crate::common::builder_cmd(&w.root())
        .args(["build", "--build-context", &ctx, "-t", "app", "-o", &spec])
        .arg(w.path("ctx"))
        .env("BUILDER_SNAPSHOTTER", "copy")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let copy = listing(&unpack(
        &w.path("out/copy"),
        "latest",
        &w.path("out/copy-bundle"),
    ));
    assert_eq!(copy, overlay);
    assert!(!copy.contains(" /etc/group "), "{copy}");
    assert!(!copy.contains(" /data/b "), "{copy}");
    assert!(!copy.contains(" /data/d/x "), "{copy}");
    let layers = layer_summaries(&w.path("out/copy"));
    assert!(layers[2].contains("W /data/b\n"), "{}", layers[2]);
}

#[test]
fn run_mounts_bind_cache_tmpfs_and_secrets() {
    let test = "run_mounts";
    let Some(layout) = setup(test) else { return };
    let w = Work::new();
    w.file("src/a.txt", "from context\n", 0o644)
        .file("hidden.txt", "ignored\n", 0o644)
        .file(".dockerignore", "hidden.txt\n", 0o644)
        .dockerfile(
            "FROM busybox AS tools\n\
             RUN mkdir /opt && echo from stage > /opt/t\n\
             FROM busybox\n\
             RUN --mount=target=/ctx mkdir /out && ls /ctx > /out/ctx && cat /ctx/src/a.txt >> /out/ctx\n\
             RUN --mount=from=tools,source=/opt,target=/t cat /t/t > /out/stage\n\
             RUN --mount=type=bind,source=src,target=/s,rw touch /s/new && ls /s > /out/rw\n\
             RUN --mount=type=cache,target=/cache echo run >> /cache/log && cat /cache/log > /out/cache\n\
             RUN --mount=type=tmpfs,target=/scratch touch /scratch/f && stat -c %a /scratch > /out/tmpfs\n\
             RUN --mount=type=secret,id=tok cat /run/secrets/tok > /out/secret\n\
             RUN --mount=type=secret,id=tok,env=TOK echo \" $TOK\" >> /out/secret\n\
             RUN --mount=type=secret,id=absent echo optional > /out/absent\n",
        );
    std::fs::write(w.path("tok"), "s3cret").unwrap();
    let tok = format!("id=tok,src={}", w.path("tok").display());
    let ctx = Work::busybox_context(&layout);
    let args = ["--build-context", ctx.as_str(), "--secret", tok.as_str()];
    w.build_ok(&args);
    // Built again (every step run, not taken from the build cache): the cache mount keeps
    // what the first build wrote.
    let again = [&args[..], &["--no-cache"]].concat();
    let got = w.build_and_unpack("img", &again);
    let out: Vec<&str> = got.lines().filter(|l| l.contains(" /out/")).collect();
    assert_eq!(
        out,
        vec![
            "f /out/absent 0644 0:0 \"optional\\n\"",
            "f /out/cache 0644 0:0 \"run\\nrun\\n\"",
            "f /out/ctx 0644 0:0 \"Dockerfile\\nsrc\\nfrom context\\n\"",
            "f /out/rw 0644 0:0 \"a.txt\\nnew\\n\"",
            "f /out/secret 0644 0:0 \"s3cret s3cret\\n\"",
            "f /out/stage 0644 0:0 \"from stage\\n\"",
            "f /out/tmpfs 0644 0:0 \"1777\\n\"",
        ],
        "{got}"
    );
    for target in ["/ctx", "/t", "/s", "/cache", "/scratch", "/run"] {
        assert!(!got.contains(&format!(" {target} ")), "{target} in\n{got}");
    }
    assert!(!w.path("ctx/src/new").exists(), "rw bind mounts are copies");
}

#[test]
fn a_failing_run_reports_its_exit_code_and_line_and_writes_nothing() {
    let test = "failing_run";
    let Some(layout) = setup(test) else { return };
    let w = Work::new();
    w.dockerfile(
        "FROM busybox\n\
         RUN echo first && echo second >&2 && exit 3\n\
         RUN echo never\n",
    );
    let dest = w.path("out/rootfs");
    let spec = format!("type=local,dest={}", dest.display());
    let ctx = Work::busybox_context(&layout);
    let out = w.build(&["--build-context", &ctx, "-t", "app", "-o", &spec]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Dockerfile:2\n"), "{err}");
    assert!(err.contains("   2 | >>> RUN echo first"), "{err}");
    assert!(
        err.contains(
            "ERROR: failed to solve: process \"/bin/sh -c echo first && echo second >&2 && exit 3\" \
             did not complete successfully: exit code: 3"
        ),
        "{err}"
    );
    // BuildKit's block with the end of the output, above the error.
    assert!(err.contains("------\n > [2/3] RUN echo first"), "{err}");
    assert!(err.lines().any(|l| l.ends_with(" second")), "{err}");
    assert!(
        !err.contains("[3/3] RUN"),
        "the next step never starts:\n{err}"
    );
    assert!(
        dir_names(&w.path("out")).is_empty(),
        "nothing at the destination"
    );
    assert!(!text(&w.builder(&["images"]).stdout).contains("app"));
    let active = w.path("root/snapshotter/active");
    assert!(dir_names(&active).is_empty(), "no snapshot left prepared");
}

#[test]
fn user_1000_runs_as_1000() {
    let test = "run_as_user_1000";
    let Some(layout) = setup(test) else { return };
    let w = Work::new();
    w.dockerfile(
        "FROM busybox\n\
         USER 1000\n\
         RUN id && touch /tmp/mine\n",
    );
    let ctx = Work::busybox_context(&layout);
    let err = w.build_ok(&["--build-context", &ctx]);
    assert!(
        err.lines().any(
            |l| l.ends_with(" uid=1000(user) gid=1000(user) groups=1000(user)")
                || l.ends_with(" uid=1000(user) gid=1000(user)")
        ),
        "{err}"
    );
}

#[test]
fn network_none_shows_only_lo() {
    let test = "run_network_none";
    let Some(layout) = setup(test) else { return };
    let w = Work::new();
    w.dockerfile(
        "FROM busybox\n\
         RUN --network=none echo step: $(ls /sys/class/net | tr '\\n' ' ')\n\
         RUN echo build: $(ls /sys/class/net | tr '\\n' ' ')\n",
    );
    let ctx = Work::busybox_context(&layout);
    let err = w.build_ok(&["--build-context", &ctx, "--network", "none"]);
    // The command's output line, not the step's name (which quotes the command).
    let says = |what: &str| {
        err.lines()
            .filter(|l| !l.contains("$("))
            .find_map(|l| l.split_once(what).map(|(_, rest)| rest.trim().to_string()))
            .unwrap_or_else(|| panic!("no {what} line in\n{err}"))
    };
    assert_eq!(says("step:"), "lo");
    assert_eq!(says("build:"), "lo");
}

#[test]
fn the_demo_example_builds() {
    let test = "demo_example";
    let Some(layout) = setup(test) else { return };
    let w = Work::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello");
    let dest = w.path("out/rootfs");
    let spec = format!("type=local,dest={}", dest.display());
    let ctx = Work::busybox_context(&layout);
    let out = w.builder(&[
        "build",
        "--progress",
        "plain",
        "--build-context",
        &ctx,
        "--build-arg",
        "GREETING=hi there",
        "-t",
        "hello",
        "-o",
        &spec,
        example.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got = listing(&dest);
    assert!(
        got.contains("f /app/greeting.txt 0644 0:0 \"greetings: hi there\\n\""),
        "{got}"
    );
    assert!(got.contains("f /app/greet.sh 0755 0:0"), "{got}");
    // The image's own layout export unpacks too.
    let layout_dir = w.path("out/layout");
    let spec = format!("type=oci,dest={},tar=false", layout_dir.display());
    let out = w.builder(&[
        "build",
        "--build-context",
        &ctx,
        "-o",
        &spec,
        "-t",
        "hello",
        example.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rootfs = unpack(&layout_dir, "latest", &w.path("out/bundle"));
    assert!(rootfs.join("app/greeting.txt").is_file());
}
