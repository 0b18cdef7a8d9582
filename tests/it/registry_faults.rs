//! Faults between builder and a real registry, injected by the test proxy on 127.0.0.1: a
//! `500` once (retried), a connection dropped mid-blob (resumed with `Range`), a blob whose
//! bytes do not match its digest (rejected, nothing left in the store), a `500` on an
//! upload (a fresh upload session), and a blob that stalls (resumed, or given up within
//! the bound `BUILDER_REGISTRY_TIMEOUT` sets).

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use builder::store::{BlobStore, DirStore};

use crate::registry_support::{
    builder, busybox_layout, ok, skopeo_copy, skopeo_inspect, text, FaultKind, Proxy, Registry,
    RegistryAuth,
};
use crate::run_support::output_within;

struct Setup {
    reg: Registry,
    proxy: Proxy,
    dir: tempfile::TempDir,
    layer: String,
    config: String,
}

fn setup(test: &str) -> Option<Setup> {
    let dir = tempfile::tempdir().unwrap();
    let layout = busybox_layout(dir.path(), test)?;
    let reg = Registry::start(RegistryAuth::Open, test)?;
    skopeo_copy(
        &[],
        &format!("oci:{}:latest", layout.display()),
        &format!("docker://{}/busybox:latest", reg.host()),
    );
    let raw = std::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/busybox:latest", reg.host()))
        .output()
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let config = manifest["config"]["digest"].as_str().unwrap().to_string();
    let proxy = Proxy::start(reg.port);
    Some(Setup {
        reg,
        proxy,
        dir,
        layer,
        config,
    })
}

fn blob_files(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root.join("blobs/sha256"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_500_once_is_retried() {
    let Some(s) = setup("a_500_once_is_retried") else {
        return;
    };
    let root = s.dir.path().join("root");
    let cfg = s.dir.path().join("docker");
    s.proxy.fault(
        "GET",
        "/v2/busybox/manifests/latest",
        FaultKind::Status500,
        1,
    );
    s.proxy.fault("GET", &s.layer, FaultKind::Status500, 1);
    let out = ok(
        &builder(
            &root,
            &cfg,
            &["pull", &format!("{}/busybox", s.proxy.host())],
            &[],
        ),
        "pull through 500s",
    );
    assert!(out.contains("2 blob(s) downloaded"), "{out}");
    assert_eq!(s.proxy.injected(), 2);
    assert_eq!(s.proxy.count("GET", "/v2/busybox/manifests/latest"), 2);
    assert_eq!(s.proxy.count("GET", &s.layer), 2);
}

#[test]
fn a_connection_dropped_mid_blob_is_resumed() {
    let Some(s) = setup("a_connection_dropped_mid_blob_is_resumed") else {
        return;
    };
    let root = s.dir.path().join("root");
    let cfg = s.dir.path().join("docker");
    s.proxy.fault("GET", &s.layer, FaultKind::DropMidBody, 1);
    ok(
        &builder(
            &root,
            &cfg,
            &["pull", &format!("{}/busybox", s.proxy.host())],
            &[],
        ),
        "pull through a dropped connection",
    );
    assert_eq!(s.proxy.injected(), 1);
    let gets: Vec<_> = s
        .proxy
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains(&s.layer))
        .collect();
    assert_eq!(gets.len(), 2, "{gets:?}");
    let range = gets[1].header("range").unwrap_or("");
    assert!(
        range.starts_with("bytes=") && range != "bytes=0-",
        "the retry resumes where the drop happened: {range:?}"
    );
    // The resumed blob is whole: it is committed under its digest and the image reads back.
    let store = DirStore::new(&root).unwrap();
    assert!(store.has(&s.layer.parse().unwrap()).unwrap());
    ok(
        &builder(
            &root,
            &cfg,
            &["inspect", &format!("{}/busybox", s.proxy.host())],
            &[],
        ),
        "inspect",
    );
}

#[test]
fn a_corrupt_blob_is_rejected_and_nothing_stays() {
    let Some(s) = setup("a_corrupt_blob_is_rejected_and_nothing_stays") else {
        return;
    };
    let root = s.dir.path().join("root");
    let cfg = s.dir.path().join("docker");
    s.proxy.fault("GET", &s.layer, FaultKind::CorruptBody, 1);
    let name = format!("{}/busybox", s.proxy.host());
    let out = builder(&root, &cfg, &["pull", &name], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("blob {} of busybox", s.layer))
            && err.contains("the download is corrupt, nothing was stored"),
        "{err}"
    );
    let store = DirStore::new(&root).unwrap();
    assert!(!store.has(&s.layer.parse().unwrap()).unwrap());
    let files = blob_files(&root);
    assert!(
        files.iter().all(|f| !f.starts_with(".tmp")),
        "no temp file left: {files:?}"
    );
    assert!(!files.contains(&s.layer.trim_start_matches("sha256:").to_string()));
    // The image is not named, and a clean pull afterwards works.
    let out = builder(&root, &cfg, &["inspect", &name], &[]);
    assert_eq!(out.status.code(), Some(1));
    ok(&builder(&root, &cfg, &["pull", &name], &[]), "clean pull");
    assert!(store.has(&s.config.parse().unwrap()).unwrap());
}

#[test]
fn a_failed_upload_starts_a_fresh_session() {
    let Some(s) = setup("a_failed_upload_starts_a_fresh_session") else {
        return;
    };
    let root = s.dir.path().join("root");
    let cfg = s.dir.path().join("docker");
    ok(
        &builder(
            &root,
            &cfg,
            &["pull", &format!("{}/busybox", s.reg.host())],
            &[],
        ),
        "pull",
    );
    // Failed blob PUTs: each failure starts a fresh upload session, and the push succeeds.
    s.proxy
        .fault("PUT", "/v2/target/blobs/uploads/", FaultKind::Status500, 3);
    let out = builder(
        &root,
        &cfg,
        &[
            "push",
            &format!("{}/busybox", s.reg.host()),
            &format!("{}/target:v1", s.proxy.host()),
        ],
        &[],
    );
    let digest = ok(&out, "push through failing uploads");
    assert_eq!(s.proxy.injected(), 3);
    assert_eq!(s.proxy.count("POST", "/v2/target/blobs/uploads/"), 2 + 3);
    let remote = skopeo_inspect(&[], &format!("{}/target:v1", s.reg.host()));
    assert_eq!(remote["Digest"], digest.trim());
}

/// `builder ARGS` against the proxied registry, killed (and failed) after `limit`.
fn builder_within(s: &Setup, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_builder"));
    cmd.arg("--root")
        .arg(s.dir.path().join("root"))
        .args(args)
        .env_remove("BUILDER_ROOT")
        .env_remove("BUILDER_INSECURE_REGISTRIES")
        .env("DOCKER_CONFIG", s.dir.path().join("docker"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    output_within(&mut cmd, limit)
}

#[test]
fn a_blob_that_stalls_gives_up_within_the_documented_bound() {
    let Some(s) = setup("a_blob_that_stalls_gives_up_within_the_documented_bound") else {
        return;
    };
    s.proxy.fault("GET", &s.layer, FaultKind::StallMidBody, 100);
    let started = Instant::now();
    // A wait of 1 s: 5 tries that each end after 1 s without a byte (plus pauses of at
    // most 3 s in all), and the pull gives up.
    let out = builder_within(
        &s,
        &["pull", &format!("{}/busybox", s.proxy.host())],
        &[("BUILDER_REGISTRY_TIMEOUT", "1")],
        Duration::from_secs(40),
    );
    let took = started.elapsed();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(took < Duration::from_secs(15), "took {took:?}: {err}");
    assert!(err.contains(&format!("download blob {}", s.layer)), "{err}");
    assert!(
        err.contains("no data for 1s") && err.contains("BUILDER_REGISTRY_TIMEOUT"),
        "{err}"
    );
    assert_eq!(s.proxy.count("GET", &s.layer), 5);
    // Nothing of the blob stays in the store.
    let layer_hex = s.layer.trim_start_matches("sha256:");
    assert!(!blob_files(&s.dir.path().join("root")).contains(&layer_hex.to_string()));
}

#[test]
fn a_blob_that_stalls_once_is_resumed() {
    let Some(s) = setup("a_blob_that_stalls_once_is_resumed") else {
        return;
    };
    s.proxy.fault("GET", &s.layer, FaultKind::StallMidBody, 1);
    let out = builder_within(
        &s,
        &["pull", &format!("{}/busybox", s.proxy.host())],
        &[("BUILDER_REGISTRY_TIMEOUT", "1")],
        Duration::from_secs(40),
    );
    ok(&out, "pull through a stall");
    assert_eq!(s.proxy.injected(), 1);
    assert_eq!(s.proxy.count("GET", &s.layer), 2);
}

#[test]
fn an_invalid_registry_timeout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nLABEL a=b\n").unwrap();
    let ctx = ctx.to_str().unwrap();
    for (bad, command) in [
        ("0", vec!["pull", "127.0.0.1:9/busybox"]),
        ("soon", vec!["pull", "127.0.0.1:9/busybox"]),
        ("1.5", vec!["build", ctx]),
    ] {
        let out = builder(
            &dir.path().join("root"),
            &dir.path().join("docker"),
            &command,
            &[("BUILDER_REGISTRY_TIMEOUT", bad)],
        );
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {err}");
        assert!(
            err.contains(&format!("invalid BUILDER_REGISTRY_TIMEOUT=\"{bad}\"")),
            "{command:?}: {err}"
        );
    }
}
