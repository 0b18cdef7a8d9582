//! `builder images`, `inspect`, `tag` and `rmi` on a store populated through the library:
//! names in Docker's normal form, digests and prefixes, exit codes and messages.

use std::path::Path;
use std::process::Command;

use builder::image::ImageDescriptor;
use builder::store::digest::sha256;
use builder::store::{BlobStore, DirStore};

use crate::common::{builder, stderr, stdout, store_image};

/// Write a one-layer image with `label` into the store at `root` and name it `names`.
fn fixture(root: &Path, label: &str, names: &[&str]) -> ImageDescriptor {
    store_image(
        root,
        format!("layer of {label}").as_bytes(),
        sha256(label.as_bytes()),
        names,
        |config| {
            config.config.labels.insert("fixture".into(), label.into());
        },
    )
}

#[test]
fn images_lists_names_digests_sizes_and_age() {
    let dir = tempfile::tempdir().unwrap();
    let img = fixture(dir.path(), "one", &["app", "localhost:5000/app:v1"]);
    let out = builder(dir.path(), &["images"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("DIGEST"),
        "{text}"
    );
    let short = &img.digest().digest()[..12];
    assert!(
        lines[1].starts_with("docker.io/library/app:latest"),
        "{text}"
    );
    assert!(lines[1].contains(short), "{text}");
    assert!(
        lines[1].contains("B ") && lines[1].ends_with("ago"),
        "{text}"
    );
    assert!(lines[2].starts_with("localhost:5000/app:v1"), "{text}");
    let quiet = builder(dir.path(), &["images", "-q"]);
    assert_eq!(stdout(&quiet), format!("{short}\n"));
}

#[test]
fn images_on_an_empty_store_prints_only_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let out = builder(&dir.path().join("fresh"), &["images"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1);
}

#[test]
fn inspect_prints_manifest_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let img = fixture(dir.path(), "one", &["app"]);
    for query in [
        "app",
        "app:latest",
        "docker.io/library/app:latest",
        img.digest().as_ref(),
        &img.digest().digest()[..8],
    ] {
        let out = builder(dir.path(), &["inspect", query]);
        assert_eq!(out.status.code(), Some(0), "{query}: {}", stderr(&out));
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(v["digest"], img.digest().to_string(), "{query}");
        assert_eq!(v["names"][0], "docker.io/library/app:latest");
        assert_eq!(v["manifest"]["schemaVersion"], 2);
        assert_eq!(v["manifest"]["layers"].as_array().unwrap().len(), 1);
        assert_eq!(v["config"]["config"]["Labels"]["fixture"], "one");
        assert_eq!(v["config"]["rootfs"]["type"], "layers");
    }
}

#[test]
fn inspect_of_a_missing_image_fails_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), "one", &["app"]);
    let out = builder(dir.path(), &["inspect", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no such image: nosuch"),
        "{}",
        stderr(&out)
    );
    let out = builder(dir.path(), &["inspect", "Bad:Name!"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn tag_adds_a_name_and_rmi_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let img = fixture(dir.path(), "one", &["app"]);
    let out = builder(dir.path(), &["tag", "app", "localhost:5000/copy:v2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = builder(dir.path(), &["inspect", "localhost:5000/copy:v2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["digest"], img.digest().to_string());
    assert_eq!(v["names"].as_array().unwrap().len(), 2);

    let out = builder(dir.path(), &["rmi", "app"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Untagged: docker.io/library/app:latest\n");
    let listed = stdout(&builder(dir.path(), &["images"]));
    assert!(!listed.contains("docker.io/library/app:latest"), "{listed}");
    assert!(listed.contains("localhost:5000/copy:v2"), "{listed}");
    // The blobs stay for prune; the other name still works.
    let store = DirStore::new(dir.path()).unwrap();
    assert!(store.has(img.digest()).unwrap());
}

#[test]
fn tag_by_digest_prefix_and_rmi_by_digest_removes_every_name() {
    let dir = tempfile::tempdir().unwrap();
    let one = fixture(dir.path(), "one", &["app"]);
    fixture(dir.path(), "two", &["other"]);
    let prefix = &one.digest().digest()[..10];
    assert_eq!(
        builder(dir.path(), &["tag", prefix, "app:v1"])
            .status
            .code(),
        Some(0)
    );
    let out = builder(dir.path(), &["rmi", one.digest().as_ref()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "Untagged: docker.io/library/app:latest\nUntagged: docker.io/library/app:v1\n"
    );
    let listed = stdout(&builder(dir.path(), &["images"]));
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(
        listed.contains("docker.io/library/other:latest"),
        "{listed}"
    );
}

#[test]
fn tag_and_rmi_errors() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), "one", &["app"]);
    let out = builder(dir.path(), &["tag", "nosuch", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no such image: nosuch"),
        "{}",
        stderr(&out)
    );
    let out = builder(dir.path(), &["tag", "app", "UPPER/Case:x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("invalid image name"),
        "{}",
        stderr(&out)
    );
    // rmi reports every failure and still removes what it can.
    let out = builder(dir.path(), &["rmi", "gone1", "app", "gone2"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("no such image: gone1") && err.contains("no such image: gone2"),
        "{err}"
    );
    assert_eq!(stdout(&out), "Untagged: docker.io/library/app:latest\n");
}

#[test]
fn builder_root_environment_variable_locates_the_store() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path(), "one", &["app"]);
    let out = Command::new(env!("CARGO_BIN_EXE_builder"))
        .args(["images", "-q"])
        .env("BUILDER_ROOT", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1);
}
