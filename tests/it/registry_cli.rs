//! `builder pull` and `builder push` against a real registry (Debian's docker-registry on
//! 127.0.0.1): pull the skopeo-pushed busybox fixture and inspect it, push it elsewhere and
//! check with skopeo that the registry has the digest builder printed, copy it back with
//! skopeo, a second push uploads nothing, cross-repository mounts, Docker v2s2 media types,
//! platform selection from an index.

use std::io::Write;
use std::path::Path;

use builder::image::{write_image, ImageConfig, LayerCompression, ManifestFormat};
use builder::store::digest::sha256;
use builder::store::{BlobStore, DirStore};

use crate::registry_support::{
    builder, busybox_layout, ok, skopeo_copy, skopeo_inspect, text, Proxy, Registry, RegistryAuth,
};

/// A registry holding the busybox fixture as `busybox:latest`, and a scratch dir.
fn registry_with_busybox(test: &str) -> Option<(Registry, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let layout = busybox_layout(dir.path(), test)?;
    let reg = Registry::start(RegistryAuth::Open, test)?;
    skopeo_copy(
        &[],
        &format!("oci:{}:latest", layout.display()),
        &format!("docker://{}/busybox:latest", reg.host()),
    );
    Some((reg, dir))
}

fn last_line(s: &str) -> String {
    s.lines().last().unwrap_or("").trim().to_string()
}

#[test]
fn pull_inspect_push_and_copy_back() {
    let test = "pull_inspect_push_and_copy_back";
    let Some((reg, dir)) = registry_with_busybox(test) else {
        return;
    };
    let host = reg.host();
    let root = dir.path().join("root");
    let cfg = dir.path().join("docker");
    let remote = skopeo_inspect(&[], &format!("{host}/busybox:latest"));
    let digest = remote["Digest"].as_str().unwrap().to_string();

    let out = ok(
        &builder(&root, &cfg, &["pull", &format!("{host}/busybox")], &[]),
        "pull",
    );
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    assert_eq!(last_line(&out), format!("{host}/busybox:latest"));

    let inspect: serde_json::Value = serde_json::from_str(&ok(
        &builder(&root, &cfg, &["inspect", &format!("{host}/busybox")], &[]),
        "inspect",
    ))
    .unwrap();
    assert_eq!(inspect["digest"], digest.as_str());
    assert_eq!(
        inspect["names"][0],
        format!("{host}/busybox:latest").as_str()
    );
    assert_eq!(inspect["config"]["architecture"], "amd64");

    // Pulling again downloads nothing.
    let out = ok(
        &builder(
            &root,
            &cfg,
            &["pull", &format!("{host}/busybox:latest")],
            &[],
        ),
        "second pull",
    );
    assert!(out.contains("0 blob(s) downloaded"), "{out}");

    let iid = dir.path().join("iid");
    let out = builder(
        &root,
        &cfg,
        &[
            "push",
            &format!("{host}/busybox"),
            &format!("{host}/copy/busybox:v1"),
            "--iidfile",
            iid.to_str().unwrap(),
        ],
        &[],
    );
    let pushed = last_line(&ok(&out, "push"));
    assert_eq!(pushed, digest, "the manifest travels byte for byte");
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), pushed);
    let copy = skopeo_inspect(&[], &format!("{host}/copy/busybox:v1"));
    assert_eq!(copy["Digest"], pushed.as_str());
    assert_eq!(copy["Layers"], remote["Layers"]);

    let back = dir.path().join("back");
    skopeo_copy(
        &[],
        &format!("docker://{host}/copy/busybox:v1"),
        &format!("oci:{}:back", back.display()),
    );
    let local = skopeo_inspect_layout(&back, "back");
    assert_eq!(local["Layers"], remote["Layers"]);
}

fn skopeo_inspect_layout(layout: &Path, tag: &str) -> serde_json::Value {
    let out = std::process::Command::new("skopeo")
        .args(["inspect", &format!("oci:{}:{tag}", layout.display())])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn second_push_uploads_no_blob_and_other_repos_mount() {
    let test = "second_push_uploads_no_blob_and_other_repos_mount";
    let Some((reg, dir)) = registry_with_busybox(test) else {
        return;
    };
    let proxy = Proxy::start(reg.port);
    let host = proxy.host();
    let root = dir.path().join("root");
    let cfg = dir.path().join("docker");
    // Load the fixture from an archive, so the store knows no source repository.
    let archive = dir.path().join("bb.tar");
    skopeo_copy(
        &[],
        &format!("oci:{}:latest", dir.path().join("busybox").display()),
        &format!("oci-archive:{}:bb:1", archive.display()),
    );
    ok(
        &builder(&root, &cfg, &["load", "-i", archive.to_str().unwrap()], &[]),
        "load",
    );

    let push = |dest: &str| {
        let out = builder(
            &root,
            &cfg,
            &["push", "bb:1", &format!("{host}/{dest}")],
            &[],
        );
        (last_line(&ok(&out, "push")), text(&out.stderr))
    };
    let (first, _) = push("twice:v1");
    let uploads = proxy.count("POST", "/v2/twice/blobs/uploads/");
    let puts = proxy.count("PUT", "/v2/twice/blobs/uploads/");
    assert_eq!(uploads, 2, "config and layer uploaded");
    assert_eq!(puts, 2);

    proxy.reset();
    let (second, stderr) = push("twice:v1");
    assert_eq!(second, first);
    assert_eq!(
        proxy.count("POST", "/blobs/uploads/"),
        0,
        "no upload started"
    );
    assert_eq!(proxy.count("PUT", "/blobs/uploads/"), 0, "no blob uploaded");
    assert_eq!(proxy.count("HEAD", "/v2/twice/blobs/"), 2);
    assert_eq!(proxy.count("PUT", "/v2/twice/manifests/v1"), 1);
    assert!(
        stderr.contains("0 blob(s) uploaded, 0 mounted, 2 already present"),
        "{stderr}"
    );

    // Another repository of the same registry: the blobs are mounted, not uploaded.
    proxy.reset();
    let (third, stderr) = push("elsewhere:v1");
    assert_eq!(third, first);
    assert_eq!(
        proxy.count("POST", "mount=sha256"),
        2,
        "{:?}",
        proxy.requests()
    );
    assert_eq!(proxy.count("PUT", "/blobs/uploads/"), 0);
    assert!(stderr.contains("2 mounted"), "{stderr}");
    let copy = skopeo_inspect(&[], &format!("{}/elsewhere:v1", reg.host()));
    assert_eq!(copy["Digest"], first.as_str());
}

/// A one-layer image written by the library with `format`'s media types, named `name`.
fn library_image(root: &Path, name: &str, arch: &str, format: ManifestFormat) -> String {
    let store = DirStore::new(root).unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(6);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    tar.append_data(&mut h, format!("{arch}.txt"), &b"hello\n"[..])
        .unwrap();
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let blob = store.put_bytes(&gz).unwrap();
    let mut config = ImageConfig::scratch("linux", arch, None);
    config.created = Some("2024-01-02T03:04:05Z".into());
    config.push_layer(sha256(&tar), "COPY x /", config.created.clone());
    let desc = write_image(
        &store,
        &config,
        &[blob.descriptor(format.layer_media_type(LayerCompression::Gzip))],
        format,
    )
    .unwrap();
    store
        .images()
        .set(name, desc.record(config.created.clone()))
        .unwrap();
    desc.digest().to_string()
}

#[test]
fn docker_media_types_are_pushed_and_pulled_as_written() {
    let test = "docker_media_types_are_pushed_and_pulled_as_written";
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    if !crate::registry_support::have(&["skopeo"], test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let cfg = dir.path().join("docker");
    let host = reg.host();
    let digest = library_image(&root, "v2s2:1", "amd64", ManifestFormat::Docker);
    let out = builder(
        &root,
        &cfg,
        &["push", "v2s2:1", &format!("{host}/v2s2:1")],
        &[],
    );
    assert_eq!(last_line(&ok(&out, "push")), digest);
    let raw = std::process::Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{host}/v2s2:1"))
        .output()
        .unwrap();
    assert_eq!(sha256(&raw.stdout).to_string(), digest);
    let manifest: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.docker.container.image.v1+json"
    );

    let other = dir.path().join("other");
    let out = ok(
        &builder(&other, &cfg, &["pull", &format!("{host}/v2s2:1")], &[]),
        "pull",
    );
    assert!(out.contains(&format!("Digest: {digest}")), "{out}");
    let inspect: serde_json::Value = serde_json::from_str(&ok(
        &builder(&other, &cfg, &["inspect", &format!("{host}/v2s2:1")], &[]),
        "inspect",
    ))
    .unwrap();
    assert_eq!(
        inspect["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
}

#[test]
fn an_index_selects_the_platform() {
    let test = "an_index_selects_the_platform";
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let cfg = dir.path().join("docker");
    let host = reg.host();
    let amd = library_image(&root, "multi:amd64", "amd64", ManifestFormat::Oci);
    let arm = library_image(&root, "multi:arm64", "arm64", ManifestFormat::Oci);
    for tag in ["amd64", "arm64"] {
        ok(
            &builder(
                &root,
                &cfg,
                &[
                    "push",
                    &format!("multi:{tag}"),
                    &format!("{host}/multi:{tag}"),
                ],
                &[],
            ),
            "push",
        );
    }
    let store = DirStore::new(&root).unwrap();
    let entry = |digest: &str, arch: &str| {
        let size = store.size(&digest.parse().unwrap()).unwrap();
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": size,
            "platform": {"architecture": arch, "os": "linux"}
        })
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry(&arm, "arm64"), entry(&amd, "amd64")]
    })
    .to_string();
    let resp = reqwest::blocking::Client::new()
        .put(format!("http://{host}/v2/multi/manifests/latest"))
        .header("Content-Type", "application/vnd.oci.image.index.v1+json")
        .body(index.clone())
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);

    let fresh = dir.path().join("fresh");
    let out = ok(
        &builder(
            &fresh,
            &cfg,
            &[
                "pull",
                "--platform",
                "linux/arm64",
                &format!("{host}/multi"),
            ],
            &[],
        ),
        "pull arm64",
    );
    assert!(out.contains(&format!("Digest: {arm}")), "{out}");
    assert!(
        out.contains(&format!("Index: {}", sha256(index.as_bytes()))),
        "{out}"
    );
    let out = ok(
        &builder(
            &fresh,
            &cfg,
            &[
                "pull",
                "--platform",
                "linux/amd64",
                &format!("{host}/multi"),
            ],
            &[],
        ),
        "pull amd64",
    );
    assert!(out.contains(&format!("Digest: {amd}")), "{out}");
    let out = builder(
        &fresh,
        &cfg,
        &[
            "pull",
            "--platform",
            "linux/s390x",
            &format!("{host}/multi"),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no manifest for platform linux/s390x"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn missing_images_and_registries_are_clear_errors() {
    let test = "missing_images_and_registries_are_clear_errors";
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let cfg = dir.path().join("docker");
    let out = builder(
        &root,
        &cfg,
        &["pull", &format!("{}/nothing:here", reg.host())],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "manifest nothing:here not found in {}",
            reg.host()
        )),
        "{err}"
    );
    // Nobody listens on this port.
    let port = crate::registry_support::free_port();
    let out = builder(&root, &cfg, &["pull", &format!("127.0.0.1:{port}/x")], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("127.0.0.1:{port}")),
        "{}",
        text(&out.stderr)
    );
    let out = builder(
        &root,
        &cfg,
        &["push", "nothing:here", &format!("{}/x", reg.host())],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no such image"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn library_pull_then_offline_reuse_for_from() {
    let test = "library_pull_then_offline_reuse_for_from";
    let Some((reg, dir)) = registry_with_busybox(test) else {
        return;
    };
    use builder::image::{read_image, Platform, PlatformExt};
    use builder::registry::{ensure_image, pull, Auth};
    use builder::store::Reference;
    let store = DirStore::new(dir.path().join("root")).unwrap();
    let auth = Auth::default();
    let r = Reference::parse(&format!("{}/busybox", reg.host())).unwrap();
    let digest = pull(&r, &Platform::host(), &store, &auth).unwrap();
    let image = read_image(&store, &digest).unwrap();
    assert_eq!(image.manifest.layers().len(), 1);
    // By digest too, with the name it was pulled under.
    let pinned = Reference::parse(&format!("{}/busybox@{digest}", reg.host())).unwrap();
    assert_eq!(
        ensure_image(&pinned, &Platform::host(), &store, &auth, false).unwrap(),
        digest
    );
    drop(reg);
    // The registry is gone: a tag in the store is used offline, `--pull` asks the registry.
    assert_eq!(
        ensure_image(&r, &Platform::host(), &store, &auth, false).unwrap(),
        digest
    );
    let err = ensure_image(&r, &Platform::host(), &store, &auth, true).unwrap_err();
    assert!(err.to_string().contains(r.domain()), "{err}");
}

#[test]
fn insecure_registries_come_from_the_environment() {
    let test = "insecure_registries_come_from_the_environment";
    let Some((reg, dir)) = registry_with_busybox(test) else {
        return;
    };
    // 127.0.0.2 is loopback, but only localhost, 127.0.0.1 and [::1] are plain HTTP unasked.
    let proxy = Proxy::start_on("127.0.0.2", reg.port);
    let root = dir.path().join("root");
    let cfg = dir.path().join("docker");
    let name = format!("{}/busybox", proxy.host());
    let out = builder(&root, &cfg, &["pull", &name], &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "https to a plain HTTP registry fails"
    );
    assert_eq!(proxy.count("GET", "/v2/"), 0, "nothing reached it as HTTP");
    let listed = format!("other.example, {}", proxy.host());
    ok(
        &builder(
            &root,
            &cfg,
            &["pull", &name],
            &[("BUILDER_INSECURE_REGISTRIES", &listed)],
        ),
        "pull from a listed registry",
    );
    ok(
        &builder(&root, &cfg, &["pull", "--insecure", &name], &[]),
        "pull with --insecure",
    );
}
