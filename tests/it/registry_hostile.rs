//! `builder pull` of images whose manifest or config lie: a config with more diff_ids than
//! the manifest has layers is refused before any layer is fetched and never named; a
//! manifest giving a layer the store already holds another size is refused.

use std::io::{Read, Write};
use std::path::Path;

use crate::build_support::busybox;
use crate::hostile_base_support::{hostile_layout, Lie};
use crate::registry_support::{builder, ok, skopeo_copy, text, Registry, RegistryAuth};

/// PUT `manifest` as `repo:tag` of the registry on `port` (plain HTTP, no auth); the status.
fn put_manifest(port: u16, repo: &str, tag: &str, manifest: &[u8]) -> u16 {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "PUT /v2/{repo}/manifests/{tag} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/vnd.oci.image.manifest.v1+json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        manifest.len()
    )
    .unwrap();
    s.write_all(manifest).unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    reply
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The manifest of the only image of the layout at `layout`, as JSON.
fn manifest_of(layout: &Path) -> serde_json::Value {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    let path = layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_pulled_image_with_more_diff_ids_than_layers_is_not_named() {
    let test = "pull_lying_layer_count";
    let Some(layout) = busybox(test) else { return };
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let evil = hostile_layout(&layout, &dir.path().join("evil"), Lie::Count);
    let host = reg.host();
    skopeo_copy(
        &[],
        &format!("oci:{}:latest", evil.dir.display()),
        &format!("docker://{host}/evil:latest"),
    );
    let (root, cfg) = (dir.path().join("root"), dir.path().join("docker"));
    let out = builder(&root, &cfg, &["pull", &format!("{host}/evil")], &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("1 layers but 2 diff_ids in its config"),
        "{err}"
    );
    let images = ok(&builder(&root, &cfg, &["images"], &[]), "images");
    assert!(!images.contains("evil"), "{images}");
    // Refused before any layer was fetched.
    let layer = evil.layer.trim_start_matches("sha256:");
    assert!(!root.join("blobs/sha256").join(layer).exists());
}

#[test]
fn a_manifest_giving_a_stored_layer_another_size_is_refused() {
    let test = "pull_lying_layer_size";
    let Some(layout) = busybox(test) else { return };
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let host = reg.host();
    skopeo_copy(
        &[],
        &format!("oci:{}:latest", layout.display()),
        &format!("docker://{host}/busybox:latest"),
    );
    // The same blobs under another name, the layer's size off by one.
    let mut manifest = manifest_of(&layout);
    let size = manifest["layers"][0]["size"].as_u64().unwrap();
    manifest["layers"][0]["size"] = (size + 1).into();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    skopeo_copy(
        &[],
        &format!("oci:{}:latest", layout.display()),
        &format!("docker://{host}/evil:old"),
    );
    let status = put_manifest(
        reg.port,
        "evil",
        "latest",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    assert_eq!(status, 201, "{}", reg.log());

    let (root, cfg) = (dir.path().join("root"), dir.path().join("docker"));
    ok(
        &builder(&root, &cfg, &["pull", &format!("{host}/busybox")], &[]),
        "pull busybox",
    );
    let out = builder(&root, &cfg, &["pull", &format!("{host}/evil")], &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let want = format!(
        "blob {layer} from {host} is {size} bytes, expected {}",
        size + 1
    );
    assert!(err.contains(&want), "{err}");
    let images = ok(&builder(&root, &cfg, &["images"], &[]), "images");
    assert!(!images.contains("evil"), "{images}");
}
