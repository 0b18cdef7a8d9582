//! Outputs and imports checked with real tools: `builder save` as OCI and docker tarballs and
//! `type=oci,tar=false` layouts read by `skopeo inspect`/`skopeo copy` and unpacked by `umoci`;
//! `builder load` of skopeo-made archives of the busybox fixture; save -> load round trips;
//! `oci-layout://` imports; nothing at a destination on failure.
//!
//! Needs skopeo, umoci and busybox-static (apt); each test skips loudly without them.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use builder::export::{self, ExportInput, LayoutRef, OutputSpec};
use builder::image::{read_image, ImageDescriptor, Platform, PlatformExt};
use builder::store::digest::sha256;
use builder::store::{BlobStore, DirStore};

use crate::build_support::{busybox, unpack};
use crate::common::{builder, dir_names, have, have_optional, is_root, run, store_image, text};

/// A real gzip layer: `hello.txt`, `bin/run.sh` (0755) and `link -> hello.txt`.
fn layer_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, kind: tar::EntryType, mode: u32, data: &[u8], link: Option<&str>| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        match link {
            Some(l) => b.append_link(&mut h, name, l).unwrap(),
            None => b.append_data(&mut h, name, data).unwrap(),
        }
    };
    add("bin/", tar::EntryType::Directory, 0o755, b"", None);
    add(
        "bin/run.sh",
        tar::EntryType::Regular,
        0o755,
        b"#!/bin/sh\necho run\n",
        None,
    );
    add(
        "hello.txt",
        tar::EntryType::Regular,
        0o644,
        b"hello\n",
        None,
    );
    add(
        "link",
        tar::EntryType::Symlink,
        0o777,
        b"",
        Some("hello.txt"),
    );
    b.into_inner().unwrap()
}

/// Put a one-layer image named `names` into the store at `root`.
fn fixture(root: &Path, names: &[&str]) -> ImageDescriptor {
    let tar = layer_tar();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    store_image(root, &gz.finish().unwrap(), sha256(&tar), names, |config| {
        config.config.cmd = vec!["/bin/run.sh".into()];
    })
}

/// `builder save ARGS... -o DEST`, which must succeed.
fn save(root: &Path, args: &[&str], dest: &Path) {
    let dest = dest.to_str().unwrap();
    let mut all = vec!["save"];
    all.extend_from_slice(args);
    all.extend(["-o", dest]);
    let out = builder(root, &all);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

fn skopeo_digest(transport_ref: &str) -> String {
    let out = run(Command::new("skopeo").args(["inspect", transport_ref]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["Digest"].as_str().unwrap_or_default().to_string()
}

fn manifest_digest_of(root: &Path, name: &str) -> String {
    let out = builder(root, &["inspect", name]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["digest"].as_str().unwrap().to_string()
}

#[test]
fn saved_oci_archive_is_read_by_skopeo_and_loads_back_to_the_same_digest() {
    let test = "saved_oci_archive_is_read_by_skopeo";
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let img = fixture(&root, &["app:v1", "example.com/team/app:2"]);
    let out_tar = dir.path().join("app.tar");
    save(&root, &["app:v1", "example.com/team/app:2"], &out_tar);
    // The index has one entry per name, annotated as BuildKit does.
    let listing = run(Command::new("tar").arg("-tf").arg(&out_tar));
    assert!(
        listing.contains("oci-layout") && listing.contains("index.json"),
        "{listing}"
    );
    let index = run(Command::new("tar")
        .arg("-xOf")
        .arg(&out_tar)
        .arg("index.json"));
    assert!(
        index.contains(r#""org.opencontainers.image.ref.name":"v1""#),
        "{index}"
    );
    assert!(
        index.contains(r#""io.containerd.image.name":"example.com/team/app:2""#),
        "{index}"
    );
    // Deterministic: saving again gives the same bytes.
    let again = dir.path().join("again.tar");
    save(&root, &["app:v1", "example.com/team/app:2"], &again);
    assert_eq!(
        std::fs::read(&out_tar).unwrap(),
        std::fs::read(&again).unwrap()
    );

    if have(test, &["skopeo"]) {
        let d = skopeo_digest(&format!("oci-archive:{}:v1", out_tar.display()));
        assert_eq!(d, img.digest().to_string());
    }
    // Round trip into a fresh store.
    let fresh = dir.path().join("fresh");
    let out = builder(&fresh, &["load", "-i", out_tar.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "Loaded image: app:v1\nLoaded image: example.com/team/app:2\n"
    );
    assert_eq!(
        manifest_digest_of(&fresh, "app:v1"),
        img.digest().to_string()
    );
    assert_eq!(
        manifest_digest_of(&fresh, "example.com/team/app:2"),
        img.digest().to_string()
    );
}

#[test]
fn oci_layout_directory_is_read_by_skopeo_and_unpacked_by_umoci() {
    let test = "oci_layout_directory_is_read_by_skopeo_and_unpacked_by_umoci";
    if !have(test, &["skopeo", "umoci"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let img = fixture(&root, &["app:v1"]);
    let store = DirStore::new(&root).unwrap();
    let layout = dir.path().join("layout");
    let spec = OutputSpec::parse(&format!("type=oci,dest={},tar=false", layout.display())).unwrap();
    let tags = vec!["app:v1".to_string(), "app:latest".to_string()];
    let input = ExportInput {
        store: &store,
        manifest: img.digest(),
        tags: &tags,
        rootfs: None,
        source_date_epoch: None,
    };
    export::write_output(&spec, &input).unwrap();
    assert_eq!(
        skopeo_digest(&format!("oci:{}:v1", layout.display())),
        img.digest().to_string()
    );
    assert_eq!(
        skopeo_digest(&format!("oci:{}:latest", layout.display())),
        img.digest().to_string()
    );
    // skopeo copies from our layout into another one.
    let copy = dir.path().join("copy");
    run(Command::new("skopeo").args([
        "copy",
        "-q",
        &format!("oci:{}:v1", layout.display()),
        &format!("oci:{}:copied", copy.display()),
    ]));
    assert_eq!(
        skopeo_digest(&format!("oci:{}:copied", copy.display())),
        img.digest().to_string()
    );
    // umoci unpacks it by tag, file by file.
    let rootfs = unpack(&layout, "v1", &dir.path().join("bundle"));
    assert_eq!(std::fs::read(rootfs.join("hello.txt")).unwrap(), b"hello\n");
    use std::os::unix::fs::PermissionsExt;
    let layout_mode = std::fs::metadata(&layout).unwrap().permissions().mode();
    assert_eq!(layout_mode & 0o777, 0o755);
    let mode = std::fs::metadata(rootfs.join("bin/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        std::fs::read_link(rootfs.join("link")).unwrap(),
        Path::new("hello.txt")
    );
    // Writing into the existing layout adds a name and keeps the others.
    let spec = OutputSpec::parse(&format!(
        "type=oci,dest={},tar=false,name=app:v2",
        layout.display()
    ))
    .unwrap();
    export::write_output(&spec, &input).unwrap();
    for tag in ["v1", "latest", "v2"] {
        assert_eq!(
            skopeo_digest(&format!("oci:{}:{tag}", layout.display())),
            img.digest().to_string()
        );
    }
    // Our layout as a build context: by tag, and an unknown tag names the ones there are.
    let fresh = DirStore::new(dir.path().join("fresh")).unwrap();
    let amd64 = Platform::parse_full("linux/amd64").unwrap();
    let d = export::import_layout_path(&layout, "v2", &amd64, &fresh).unwrap();
    assert_eq!(d, *img.digest());
    let err = export::import_layout_path(&layout, "nope", &amd64, &fresh)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no image tagged \"nope\" in the layout; it has: v1, latest, v2"),
        "{err}"
    );
}

#[test]
fn docker_archive_is_read_by_skopeo_and_loads_back() {
    let test = "docker_archive_is_read_by_skopeo_and_loads_back";
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let img = fixture(&root, &["app:v1"]);
    let out_tar = dir.path().join("docker.tar");
    save(&root, &["app:v1", "--format", "docker"], &out_tar);
    let manifest = run(Command::new("tar")
        .arg("-xOf")
        .arg(&out_tar)
        .arg("manifest.json"));
    let v: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(v[0]["RepoTags"][0], "app:v1");
    assert!(v[0]["Config"]
        .as_str()
        .unwrap()
        .starts_with("blobs/sha256/"));
    let repos = run(Command::new("tar")
        .arg("-xOf")
        .arg(&out_tar)
        .arg("repositories"));
    assert!(repos.starts_with(r#"{"app":{"v1":""#), "{repos}");
    if have(test, &["skopeo"]) {
        let out = run(Command::new("skopeo")
            .args(["inspect", &format!("docker-archive:{}", out_tar.display())]));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["Layers"].as_array().unwrap().len(), 1);
        assert_eq!(v["Architecture"], "amd64");
        // A copy makes skopeo check each layer against the config's diff_ids.
        let copy = dir.path().join("copy");
        run(Command::new("skopeo").args([
            "copy",
            "-q",
            &format!("docker-archive:{}", out_tar.display()),
            &format!("oci:{}:x", copy.display()),
        ]));
    }
    let fresh = dir.path().join("fresh");
    let out = builder(&fresh, &["load", "-i", out_tar.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Loaded image: app:v1\n");
    assert_eq!(
        manifest_digest_of(&fresh, "app:v1"),
        img.digest().to_string()
    );
}

#[test]
fn load_of_skopeo_made_docker_and_oci_archives() {
    let test = "load_of_skopeo_made_docker_and_oci_archives";
    let dir = tempfile::tempdir().unwrap();
    let Some(layout) = busybox(test) else {
        return;
    };
    let src = format!("oci:{}:latest", layout.display());
    let docker_tar = dir.path().join("bb-docker.tar");
    let oci_tar = dir.path().join("bb-oci.tar");
    run(Command::new("skopeo").args([
        "copy",
        "-q",
        &src,
        &format!("docker-archive:{}:busybox:latest", docker_tar.display()),
    ]));
    run(Command::new("skopeo").args([
        "copy",
        "-q",
        &src,
        &format!("oci-archive:{}:busybox:1.0", oci_tar.display()),
    ]));
    let root = dir.path().join("store");
    let out = builder(&root, &["load", "-i", docker_tar.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Loaded image: busybox:latest\n");
    let out = builder(&root, &["inspect", "busybox"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["config"]["config"]["Cmd"][0], "sh");
    let layers = v["manifest"]["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    // skopeo's docker archive has plain tar layers: the blob is the diff_id.
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar"
    );
    assert_eq!(layers[0]["digest"], v["config"]["rootfs"]["diff_ids"][0]);

    // The OCI archive keeps the manifest digest of the layout.
    let out = builder(&root, &["load", "-i", oci_tar.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Loaded image: busybox:1.0\n");
    assert_eq!(
        manifest_digest_of(&root, "busybox:1.0"),
        skopeo_digest(&format!("oci:{}:latest", layout.display()))
    );

    // A gzip-compressed archive loads too (docker save | gzip).
    let gz = dir.path().join("bb.tar.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(&docker_tar).unwrap()).unwrap();
    enc.finish().unwrap();
    let fresh = dir.path().join("fresh");
    let out = builder(&fresh, &["load", "-q", "-i", gz.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        manifest_digest_of(&fresh, "busybox"),
        manifest_digest_of(&root, "busybox")
    );
    let leftovers: Vec<_> = dir_names(&fresh)
        .into_iter()
        .filter(|n| n.starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn oci_layout_build_context_is_imported_by_tag_or_digest() {
    let test = "oci_layout_build_context_is_imported_by_tag_or_digest";
    let dir = tempfile::tempdir().unwrap();
    let Some(layout) = busybox(test) else {
        return;
    };
    let store = DirStore::new(dir.path().join("store")).unwrap();
    let amd64 = Platform::parse_full("linux/amd64").unwrap();
    let expected = skopeo_digest(&format!("oci:{}:latest", layout.display()));
    let by_tag = LayoutRef::parse(&format!("oci-layout://{}", layout.display())).unwrap();
    let d = export::import_layout(&by_tag, &amd64, &store).unwrap();
    assert_eq!(d.to_string(), expected);
    let image = read_image(&store, &d).unwrap();
    assert_eq!(image.config.config.cmd, ["sh"]);
    for layer in image.manifest.layers() {
        assert!(store.has(layer.digest()).unwrap());
    }
    let by_digest = LayoutRef::parse(&format!(
        "oci-layout://{}:ignored@{expected}",
        layout.display()
    ))
    .unwrap();
    let fresh = DirStore::new(dir.path().join("fresh")).unwrap();
    assert_eq!(
        export::import_layout(&by_digest, &amd64, &fresh)
            .unwrap()
            .to_string(),
        expected
    );
    // One entry: buildx takes the only image whatever the tag.
    let d = export::import_layout_path(&layout, "nope", &amd64, &fresh).unwrap();
    assert_eq!(d.to_string(), expected);
    let err = export::import_layout_path(&dir.path().join("missing"), "latest", &amd64, &fresh)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no such OCI layout directory"), "{err}");
}

#[test]
fn save_of_an_unknown_name_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    fixture(&root, &["app"]);
    let outdir = dir.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let dest = outdir.join("x.tar");
    for format in ["oci", "docker"] {
        let out = builder(
            &root,
            &[
                "save",
                "app",
                "nosuch",
                "--format",
                format,
                "-o",
                dest.to_str().unwrap(),
            ],
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stderr).contains("no such image: nosuch"),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(dir_names(&outdir), Vec::<String>::new());
    // A destination in a missing directory is refused before anything is written.
    let out = builder(
        &root,
        &[
            "save",
            "app",
            "-o",
            outdir.join("no/x.tar").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("does not exist"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn load_refuses_a_layer_that_does_not_match_its_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#;
    let archive = dir.path().join("bad.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    };
    add(
        "manifest.json",
        br#"[{"Config":"c.json","RepoTags":["bad:1"],"Layers":["l/layer.tar"]}]"#,
    );
    add("c.json", config);
    add("l/layer.tar", &layer_tar());
    b.finish().unwrap();
    drop(b);
    let root = dir.path().join("store");
    let out = builder(&root, &["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("does not match the config"), "{err}");
    let out = builder(&root, &["images", "-q"]);
    assert_eq!(text(&out.stdout), "");
    let store = DirStore::new(&root).unwrap();
    assert!(!store.has(&sha256(&layer_tar())).unwrap());

    let not_an_archive = dir.path().join("junk");
    std::fs::write(&not_an_archive, vec![0u8; 2048]).unwrap();
    let out = builder(&root, &["load", "-i", not_an_archive.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not an OCI archive or a docker archive"));
}

#[test]
fn rootfs_outputs_are_read_by_gnu_tar() {
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::write(rootfs.join("etc/motd"), b"hi\n").unwrap();
    std::os::unix::fs::symlink("etc/motd", rootfs.join("motd")).unwrap();
    let store = DirStore::new(dir.path().join("store")).unwrap();
    let digest = sha256(b"unused");
    let input = ExportInput {
        store: &store,
        manifest: &digest,
        tags: &[],
        rootfs: Some(&rootfs),
        source_date_epoch: Some(0),
    };
    let tar_path = dir.path().join("rootfs.tar");
    let spec = OutputSpec::parse(&format!(
        "type=tar,dest={},rewrite-timestamp=true",
        tar_path.display()
    ))
    .unwrap();
    export::write_output(&spec, &input).unwrap();
    let listing = run(Command::new("tar").arg("-tvf").arg(&tar_path));
    assert!(listing.contains("etc/motd"), "{listing}");
    assert!(listing.contains("motd -> etc/motd"), "{listing}");
    assert!(listing.contains("1970-01-01"), "{listing}");
    let local = dir.path().join("local");
    export::write_output(&OutputSpec::parse(local.to_str().unwrap()).unwrap(), &input).unwrap();
    assert_eq!(std::fs::read(local.join("etc/motd")).unwrap(), b"hi\n");
    // An image output without the image fails and leaves nothing.
    let bad = dir.path().join("bad.tar");
    let spec = OutputSpec::parse(&format!("type=oci,dest={}", bad.display())).unwrap();
    assert!(export::write_output(&spec, &input).is_err());
    assert!(!bad.exists());
    let _ = store.list();
}

#[test]
fn podman_loads_both_tarballs() {
    let test = "podman_loads_both_tarballs";
    if !is_root() {
        eprintln!("\n!!! SKIPPED {test}: podman load with a private store needs root !!!\n");
        return;
    }
    if !have_optional(test, "podman") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    fixture(&root, &["app:v1"]);
    for format in ["docker", "oci"] {
        let out_tar = dir.path().join(format!("{format}.tar"));
        save(&root, &["app:v1", "--format", format], &out_tar);
        let storage = dir.path().join(format!("podman-{format}"));
        let out = run(Command::new("podman")
            .arg("--root")
            .arg(storage.join("root"))
            .arg("--runroot")
            .arg(storage.join("run"))
            .args(["--storage-driver", "vfs", "load", "-i"])
            .arg(&out_tar));
        assert!(out.contains("app:v1"), "{format}: {out}");
    }
}
