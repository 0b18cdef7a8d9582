//! Registry build cache, end to end against a local `docker-registry`: a store pushes its
//! steps with `--cache-to type=registry`, a fresh store builds the same Dockerfile with
//! `--cache-from` fully cached and to the same image (as root and as `buildertest`); a
//! changed file reruns only what reads it; `mode=min` leaves out the steps of other stages;
//! `image-manifest=true` and Docker media types; a missing ref is a notice; a foreign or
//! tampered artifact is refused without touching the store; `ignore-error=true` makes a
//! failed export a warning; two builds exporting to one ref at once leave a usable cache;
//! no `--secret` value reaches the artifact; `--cache-to type=inline` in a pushed image
//! serves `--cache-from IMAGE` (as root and as `buildertest`); a cache pushed next to its image mounts the image's layers
//! instead of uploading them again.

use std::path::Path;

use crate::build_cache::{build, cached, steps};
use crate::build_support::busybox;
use crate::common::text;
use crate::registry_support::{skopeo_copy, FaultKind, Proxy, Registry, RegistryAuth};
use crate::run_support::{runners, RunWork, Runner};

const CONFIG_TYPE: &str = "application/vnd.builder.cache.config.v1+json";

/// The busybox base, an open local registry and the first runner of `test` (`None`, said
/// loudly, when one of them is missing here).
fn fixture(test: &str) -> Option<(std::path::PathBuf, Registry, Runner)> {
    let layout = busybox(test)?;
    let reg = Registry::start(RegistryAuth::Open, test)?;
    let r = runners(test).into_iter().next()?;
    Some((layout, reg, r))
}

/// `skopeo inspect --raw` of `image` (a tag or `@digest`), as JSON.
fn raw(image: &str) -> serde_json::Value {
    let out = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw"])
        .arg(format!("docker://{image}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect --raw {image}: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The manifest of the artifact `image` (through its index when it has one).
fn artifact_manifest(image: &str) -> serde_json::Value {
    let top = raw(image);
    let Some(manifests) = top["manifests"].as_array() else {
        return top;
    };
    assert_eq!(manifests.len(), 1, "{top}");
    let repo = image.rsplit_once(':').unwrap().0;
    raw(&format!(
        "{repo}@{}",
        manifests[0]["digest"].as_str().unwrap()
    ))
}

/// The store's blobs and records, to see that a refused import wrote nothing.
fn store_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["blobs/sha256", "cache/records"] {
        if let Ok(rd) = std::fs::read_dir(root.join(sub)) {
            out.extend(rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()));
        }
    }
    out.sort();
    out
}

#[test]
fn registry_cache_serves_a_fresh_store_and_reruns_only_what_changed() {
    let test = "registry_cache_round_trip";
    let Some(layout) = busybox(test) else { return };
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.file("a", "a\n").file("b", "b\n").dockerfile(
            "FROM busybox\n\
             COPY a /a\n\
             COPY b /b\n\
             RUN cat /a /b > /ab\n",
        );
        let image = format!("{}/cache/app:{who}", reg.host());
        let to = format!("type=registry,ref={image},mode=max");
        let first = build(&w, who, &["--cache-to", &to]);
        assert!(
            first.progress.contains("exporting cache to registry"),
            "{}",
            first.progress
        );
        // skopeo reads the artifact: an OCI index whose one manifest has our config.
        let index = raw(&image);
        assert_eq!(
            index["mediaType"], "application/vnd.oci.image.index.v1+json",
            "{index}"
        );
        let manifest = artifact_manifest(&image);
        assert_eq!(manifest["config"]["mediaType"], CONFIG_TYPE, "{manifest}");
        assert_eq!(
            manifest["layers"].as_array().unwrap().len(),
            3,
            "{manifest}"
        );

        std::fs::remove_dir_all(w.path("root")).unwrap();
        let from = format!("type=registry,ref={image}");
        let second = build(&w, who, &["--cache-from", &from]);
        assert_eq!(
            cached(&second.progress),
            [true, true, true],
            "as {who}: {}",
            second.progress
        );
        assert_eq!(
            first.id, second.id,
            "as {who}: the imported cache changed the image"
        );
        assert_eq!(
            w.build_image(&[]).read("ab").as_deref(),
            Some("a\nb\n"),
            "as {who}"
        );

        // A fresh store again, one file changed: only the steps that read it run.
        std::fs::remove_dir_all(w.path("root")).unwrap();
        w.file("b", "changed\n");
        let third = build(&w, who, &["--cache-from", &image]);
        assert_eq!(
            cached(&third.progress),
            [true, false, false],
            "as {who}: {}",
            third.progress
        );
    }
}

#[test]
fn registry_cache_mode_min_leaves_out_other_stages() {
    let test = "registry_cache_modes";
    let Some((layout, reg, r)) = fixture(test) else {
        return;
    };
    let w = RunWork::new(r, &layout);
    w.file("a", "a\n").file("b", "b\n").dockerfile(
        "FROM busybox AS build\n\
         COPY a /a\n\
         FROM busybox\n\
         COPY --from=build /a /copied\n\
         COPY b /b\n",
    );
    let (min, max) = (
        format!("{}/cache/modes:min", reg.host()),
        format!("{}/cache/modes:max", reg.host()),
    );
    let first = build(
        &w,
        "me",
        &[
            "--cache-to",
            &format!("type=registry,ref={min}"),
            "--cache-to",
            &format!("type=registry,ref={max},mode=max"),
        ],
    );
    // min: the final stage's two steps; max: the build stage's too.
    let layers = |image: &str| artifact_manifest(image)["layers"].as_array().unwrap().len();
    assert_eq!(layers(&min), 2);
    assert_eq!(layers(&max), 3);
    for (image, build_stage_cached) in [(&min, false), (&max, true)] {
        std::fs::remove_dir_all(w.path("root")).unwrap();
        let b = build(&w, "me", &["--cache-from", image]);
        for step in steps(&b.progress) {
            // The build stage's COPY reruns the same layer, so the final stage still hits.
            let in_build = step.name.contains("COPY a ");
            let want = !in_build || build_stage_cached;
            assert_eq!(step.cached, want, "{image}: {}: {}", step.name, b.progress);
        }
        assert_eq!(b.id, first.id, "{image}");
    }
}

#[test]
fn registry_cache_as_an_image_manifest_or_with_docker_media_types() {
    let test = "registry_cache_manifest_kinds";
    let Some((layout, reg, r)) = fixture(test) else {
        return;
    };
    let w = RunWork::new(r, &layout);
    w.file("a", "a\n")
        .dockerfile("FROM busybox\nCOPY a /a\nRUN cat /a > /b\n");
    let cases = [
        (
            "image-manifest=true",
            "application/vnd.oci.image.manifest.v1+json",
        ),
        (
            "oci-mediatypes=false",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        ),
    ];
    for (i, (key, media_type)) in cases.into_iter().enumerate() {
        let image = format!("{}/cache/kinds:{i}", reg.host());
        std::fs::remove_dir_all(w.path("root")).unwrap();
        let to = format!("type=registry,ref={image},{key}");
        let first = build(&w, "me", &["--cache-to", &to]);
        assert_eq!(raw(&image)["mediaType"], media_type, "{key}");
        assert_eq!(
            artifact_manifest(&image)["config"]["mediaType"],
            CONFIG_TYPE
        );
        std::fs::remove_dir_all(w.path("root")).unwrap();
        let second = build(
            &w,
            "me",
            &["--cache-from", &format!("type=registry,ref={image}")],
        );
        assert_eq!(
            cached(&second.progress),
            [true, true],
            "{key}: {}",
            second.progress
        );
        assert_eq!(first.id, second.id, "{key}");
    }
}

#[test]
fn a_missing_registry_cache_is_a_notice_and_a_failed_export_can_be_a_warning() {
    let test = "registry_cache_missing";
    let Some((layout, reg, r)) = fixture(test) else {
        return;
    };
    let w = RunWork::new(r, &layout);
    w.file("a", "a\n").dockerfile("FROM busybox\nCOPY a /a\n");
    let image = format!("{}/cache/never:pushed", reg.host());
    let b = build(&w, "me", &["--cache-from", &image]);
    assert!(
        b.progress
            .contains(&format!("{image}: not found; building without it")),
        "{}",
        b.progress
    );
    // Nothing listens on port 1: the export fails, and fails the build unless told not to.
    let dead = "type=registry,ref=127.0.0.1:1/cache/app:c";
    let out = w.build(&["--cache-to", dead]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("export build cache to 127.0.0.1:1/cache/app:c"));
    let warned = build(
        &w,
        "me",
        &["--cache-to", &format!("{dead},ignore-error=true")],
    );
    assert!(
        warned.progress.contains("WARNING: export build cache to"),
        "{}",
        warned.progress
    );
}

/// Upload `bytes` as a blob of `repo` and return its digest (the registry API, by hand).
fn upload(host: &str, repo: &str, bytes: &[u8]) -> String {
    let digest = builder::store::digest::sha256(bytes).to_string();
    let client = reqwest::blocking::Client::new();
    let started = client
        .post(format!("http://{host}/v2/{repo}/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(started.status().as_u16(), 202);
    let location = started.headers()["location"].to_str().unwrap().to_string();
    let location = if location.starts_with('/') {
        format!("http://{host}{location}")
    } else {
        location
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let put = client
        .put(format!("{location}{sep}digest={digest}"))
        .body(bytes.to_vec())
        .send()
        .unwrap();
    assert_eq!(
        put.status().as_u16(),
        201,
        "{}",
        put.text().unwrap_or_default()
    );
    digest
}

#[test]
fn a_foreign_or_tampered_registry_cache_is_refused_and_the_store_is_unharmed() {
    let test = "registry_cache_refused";
    let Some((layout, reg, r)) = fixture(test) else {
        return;
    };
    let host = reg.host();
    let w = RunWork::new(r, &layout);
    w.file("a", "a\n").dockerfile("FROM busybox\nCOPY a /a\n");
    let good = format!("{host}/cache/good:1");
    build(
        &w,
        "me",
        &["--cache-to", &format!("type=registry,ref={good}")],
    );
    // A good artifact whose config arrives corrupted, through a proxy.
    let config = artifact_manifest(&good)["config"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let proxy = Proxy::start(reg.port);
    proxy.fault("GET", &config, FaultKind::CorruptBody, 100);
    let corrupted = format!("{}/cache/good:1", proxy.host());
    // An image is not a cache: said, and the build goes on without it.
    let foreign = format!("{host}/cache/foreign:1");
    skopeo_copy(
        &[],
        &format!("oci:{}:latest", layout.display()),
        &format!("docker://{foreign}"),
    );
    // A cache config whose records do not parse, pushed under the ref by hand.
    let repo = "cache/tampered";
    let config = br#"{"schemaVersion":1,"records":[{"key":"sha256:nope"}]}"#;
    let config_digest = upload(&host, repo, config);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": config.len()},
        "layers": [],
    });
    let put = reqwest::blocking::Client::new()
        .put(format!("http://{host}/v2/{repo}/manifests/1"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(serde_json::to_vec(&manifest).unwrap())
        .send()
        .unwrap();
    assert_eq!(put.status().as_u16(), 201);
    let out = w.build(&["--cache-from", &foreign]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{foreign}: {err}");
    assert!(
        err.contains(&format!("{foreign}: "))
            && err.contains("not a builder cache; building without it"),
        "{err}"
    );
    let before = store_files(&w.path("root"));
    for (image, reason) in [
        (corrupted, "the download is corrupt"),
        (format!("{host}/{repo}:1"), "cache records do not parse"),
    ] {
        let out = w.build(&["--cache-from", &image]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{image}: {err}");
        assert!(
            err.contains(&format!("import build cache from {image}")),
            "{err}"
        );
        assert!(err.contains(reason), "{image}: {err}");
        assert_eq!(
            store_files(&w.path("root")),
            before,
            "{image}: the store changed"
        );
    }
}

#[test]
fn two_builds_exporting_to_one_registry_ref_at_once_leave_a_usable_cache() {
    let test = "registry_cache_concurrent";
    let Some((layout, reg, r)) = fixture(test) else {
        return;
    };
    let image = format!("{}/cache/shared:c", reg.host());
    let to = format!("type=registry,ref={image},mode=max");
    let works: Vec<RunWork> = ["one", "two"]
        .iter()
        .map(|content| {
            let w = RunWork::new(r, &layout);
            w.file("a", content)
                .dockerfile("FROM busybox\nCOPY a /a\nRUN cat /a > /b\n");
            w
        })
        .collect();
    std::thread::scope(|s| {
        for w in &works {
            let to = &to;
            s.spawn(move || build(w, "me", &["--cache-to", to]));
        }
    });
    let mut fully = 0;
    for w in &works {
        std::fs::remove_dir_all(w.path("root")).unwrap();
        let b = build(w, "me", &["--cache-from", &image]);
        if cached(&b.progress) == [true, true] {
            fully += 1;
        }
    }
    assert_eq!(fully, 1, "exactly the last export's steps are cached");
}

#[test]
fn a_registry_cache_holds_no_secret() {
    let test = "registry_cache_secrets";
    let Some((layout, reg, r)) = fixture(test) else {
        return;
    };
    let host = reg.host();
    let w = RunWork::new(r, &layout);
    let secret = format!("tok-{}", std::process::id());
    std::fs::write(w.path("tok"), &secret).unwrap();
    w.dockerfile(
        "FROM busybox\n\
         RUN --mount=type=secret,id=tok,env=TOK test -n \"$TOK\" && echo used > /used\n\
         RUN --mount=type=secret,id=tok cat /run/secrets/tok | wc -c > /size\n",
    );
    let image = format!("{host}/cache/secret:c");
    let tok = format!("id=tok,src={}", w.path("tok").display());
    let to = format!("type=registry,ref={image},mode=max");
    build(&w, "me", &["--secret", &tok, "--cache-to", &to]);
    let manifest = artifact_manifest(&image);
    let config = manifest["config"]["digest"].as_str().unwrap();
    let get = |path: &str| {
        reqwest::blocking::get(format!("http://{host}/v2/cache/secret/{path}"))
            .unwrap()
            .text()
            .unwrap()
    };
    let records = get(&format!("blobs/{config}"));
    assert!(records.contains("\"records\""), "{records}");
    assert!(records.contains("RUN --mount=type=secret"), "{records}");
    for doc in [records, get("manifests/c"), manifest.to_string()] {
        assert!(!doc.contains(&secret), "the secret is in the cache: {doc}");
    }
}

#[test]
fn an_inline_cache_in_a_pushed_image_serves_a_fresh_store() {
    let test = "registry_cache_inline";
    let Some(layout) = busybox(test) else { return };
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.file("a", "a\n")
            .dockerfile("FROM busybox\nCOPY a /a\nRUN cat /a > /b\n");
        let image = format!("{}/inline/app:{who}", reg.host());
        let args = ["-t", &image, "--push", "--cache-to", "type=inline"];
        let first = build(&w, who, &args);
        let config = crate::registry_support::skopeo_inspect(&["--config"], &image);
        let label = config["config"]["Labels"]["builder.cache.v1"]
            .as_str()
            .unwrap_or_else(|| panic!("as {who}: no inline cache label: {config}"));
        assert!(label.contains("\"records\""), "as {who}: {label}");
        std::fs::remove_dir_all(w.path("root")).unwrap();
        let second = build(&w, who, &[&args[..], &["--cache-from", &image]].concat());
        assert_eq!(
            cached(&second.progress),
            [true, true],
            "as {who}: {}",
            second.progress
        );
        assert_eq!(
            first.id, second.id,
            "as {who}: the inline cache changed the image"
        );
    }
}

#[test]
fn a_cache_pushed_next_to_its_image_uploads_no_layer_twice() {
    let test = "registry_cache_mounts";
    let Some((layout, reg, r)) = fixture(test) else {
        return;
    };
    let w = RunWork::new(r, &layout);
    w.file("a", "a\n")
        .dockerfile("FROM busybox\nCOPY a /a\nRUN cat /a > /b\n");
    let image = format!("{}/mount/app:1", reg.host());
    let cache = format!("type=registry,ref={}/mount/cache:c", reg.host());
    build(&w, "me", &["-t", &image, "--push", "--cache-to", &cache]);
    let log = reg.log();
    let uploads = |repo: &str| {
        log.lines()
            .filter(|l| l.contains(&format!("\"PUT /v2/mount/{repo}/blobs/uploads/")))
            .count()
    };
    // The image's config and its layers (the base's and two); the cache's config only:
    // its layers are mounted from the image's repository.
    assert_eq!(uploads("cache"), 1, "{log}");
    assert!(uploads("app") >= 3, "{log}");
    let mounts = log
        .lines()
        .filter(|l| l.contains("\"POST /v2/mount/cache/blobs/uploads/?") && l.contains("mount="))
        .count();
    assert_eq!(mounts, 2, "{log}");
}

#[test]
fn a_registry_without_index_support_takes_the_cache_as_an_image_manifest() {
    let test = "registry_cache_no_index";
    let Some((layout, reg, r)) = fixture(test) else {
        return;
    };
    // A registry that refuses image indexes, as some do: a proxy answering their PUT 400.
    let proxy = Proxy::start(reg.port);
    proxy.fault("PUT", "/manifests/", FaultKind::RefuseIndex, 1000);
    let image = format!("{}/cache/noindex:1", proxy.host());
    let w = RunWork::new(r, &layout);
    w.file("a", "a\n")
        .dockerfile("FROM busybox\nCOPY a /a\nRUN cat /a > /b\n");
    // The default, an index, is refused by that registry: the export fails, clearly.
    let out = w.build(&["--cache-to", &format!("type=registry,ref={image}")]);
    let err = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("MANIFEST_INVALID") || err.contains("400"),
        "{err}"
    );
    assert!(proxy.injected() >= 1);
    // As an image manifest it is taken, and a fresh store builds from it.
    let to = format!("type=registry,ref={image},image-manifest=true");
    let first = build(&w, "me", &["--cache-to", &to]);
    assert_eq!(
        raw(&format!("{}/cache/noindex:1", reg.host()))["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    std::fs::remove_dir_all(w.path("root")).unwrap();
    let second = build(
        &w,
        "me",
        &["--cache-from", &format!("type=registry,ref={image}")],
    );
    assert_eq!(
        cached(&second.progress),
        [true, true],
        "{}",
        second.progress
    );
    assert_eq!(first.id, second.id);
}
