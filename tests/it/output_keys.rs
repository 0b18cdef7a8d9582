//! `-o` keys that change what is written: `force-compression=true` recompresses the base
//! layers a registry sent (gzip to zstd, checked by skopeo; zstd to gzip, unpacked by umoci),
//! which stay as they came without it; `type=image,name=N` names the image N in the store
//! (`builder images`, `builder inspect`); `name=a,name=b` and `"name=a,b"` name every output.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build_support::Work;
use crate::common::{stderr, stdout};
use crate::registry_support::{
    builder, busybox_layout, ok, skopeo_copy, text, Registry, RegistryAuth,
};

/// The OCI layout's manifest (first of index.json) and config.
fn manifest_and_config(dir: &Path) -> (serde_json::Value, serde_json::Value) {
    let blob = |d: &str| std::fs::read(dir.join("blobs/sha256").join(&d[7..])).unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let m: serde_json::Value =
        serde_json::from_slice(&blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    let c = serde_json::from_slice(&blob(m["config"]["digest"].as_str().unwrap())).unwrap();
    (m, c)
}

fn layer_types(m: &serde_json::Value) -> Vec<String> {
    m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap().to_string())
        .collect()
}

const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// The busybox fixture pushed to a new local registry as `busybox:COMPRESSION`, its layer
/// compressed so, and a context building `FROM` it with one RUN layer.
struct Fixture {
    dir: tempfile::TempDir,
    reg: Registry,
}

impl Fixture {
    fn new(test: &str, compression: &str) -> Option<Fixture> {
        let dir = tempfile::tempdir().unwrap();
        let layout = busybox_layout(dir.path(), test)?;
        let reg = Registry::start(RegistryAuth::Open, test)?;
        // skopeo keeps compressed blobs as they are: recompressed from a plain copy. One
        // compression per registry, as skopeo reuses a blob it knows the registry has for
        // the same tar, whatever its compression.
        let plain = dir.path().join("plain");
        skopeo_copy(
            &["--dest-decompress"],
            &format!("oci:{}:latest", layout.display()),
            &format!("dir:{}", plain.display()),
        );
        skopeo_copy(
            &["--dest-compress-format", compression],
            &format!("dir:{}", plain.display()),
            &format!("docker://{}/busybox:{compression}", reg.host()),
        );
        Some(Fixture { dir, reg })
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Build `FROM busybox:BASE` as `app:1` into the OCI layout `out` with `keys`.
    fn build(&self, base: &str, out: &str, keys: &str) -> PathBuf {
        let ctx = self.path(&format!("ctx-{base}"));
        std::fs::create_dir_all(&ctx).unwrap();
        let from = format!(
            "FROM {}/busybox:{base}\nRUN echo hi > /hi\n",
            self.reg.host()
        );
        std::fs::write(ctx.join("Dockerfile"), from).unwrap();
        let dest = self.path(out);
        let spec = format!("type=oci,dest={},tar=false{keys}", dest.display());
        let args = [
            "build",
            "--progress",
            "plain",
            "-t",
            "app:1",
            "-o",
            &spec,
            ctx.to_str().unwrap(),
        ];
        let (root, cfg) = (self.path("root"), self.path("docker"));
        ok(&builder(&root, &cfg, &args, &[]), keys);
        dest
    }
}

/// The blob `digest` of the layout `dir`, decompressed: its sha256 must be the diff_id.
fn plain_digest(dir: &Path, digest: &str, zstd: bool) -> String {
    let bytes = std::fs::read(dir.join("blobs/sha256").join(&digest[7..])).unwrap();
    let tar = if zstd {
        assert_eq!(bytes[..4], [0x28, 0xb5, 0x2f, 0xfd]);
        zstd::stream::decode_all(&bytes[..]).unwrap()
    } else {
        let mut v = Vec::new();
        let mut d = flate2::read::MultiGzDecoder::new(&bytes[..]);
        std::io::Read::read_to_end(&mut d, &mut v).unwrap();
        v
    };
    builder::store::digest::sha256(&tar).to_string()
}

#[test]
fn force_compression_recompresses_base_layers_to_zstd() {
    let Some(f) = Fixture::new("force_compression_recompresses_base_layers_to_zstd", "gzip") else {
        return;
    };
    // Without the flag: the base layer stays gzip, the RUN layer is zstd.
    let kept = f.build("gzip", "kept", ",compression=zstd");
    let (m, c) = manifest_and_config(&kept);
    let types = layer_types(&m);
    assert_eq!(types.first().map(String::as_str), Some(GZIP), "{m}");
    assert_eq!(types.last().map(String::as_str), Some(ZSTD), "{m}");

    let forced = f.build("gzip", "forced", ",compression=zstd,force-compression=true");
    let (fm, fc) = manifest_and_config(&forced);
    assert!(layer_types(&fm).iter().all(|t| t == ZSTD), "{fm}");
    // The same tars: the diff_ids do not change, the base blob does.
    assert_eq!(c["rootfs"], fc["rootfs"]);
    assert_ne!(m["layers"][0]["digest"], fm["layers"][0]["digest"]);
    assert_eq!(m["layers"][1]["digest"], fm["layers"][1]["digest"]);
    for (layer, diff_id) in fm["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(fc["rootfs"]["diff_ids"].as_array().unwrap())
    {
        let digest = layer["digest"].as_str().unwrap();
        assert_eq!(
            plain_digest(&forced, digest, true),
            diff_id.as_str().unwrap()
        );
    }
    // skopeo reads every blob back, checking its digest.
    skopeo_copy(
        &[],
        &format!("oci:{}:1", forced.display()),
        &format!("dir:{}", f.path("copy").display()),
    );
}

#[test]
fn force_compression_recompresses_base_layers_to_gzip() {
    let Some(f) = Fixture::new("force_compression_recompresses_base_layers_to_gzip", "zstd") else {
        return;
    };
    let kept = f.build("zstd", "kept", "");
    let (m, _) = manifest_and_config(&kept);
    assert_eq!(layer_types(&m), [ZSTD, GZIP], "{m}");

    let forced = f.build("zstd", "forced", ",force-compression=true");
    let (fm, fc) = manifest_and_config(&forced);
    assert_eq!(layer_types(&fm), [GZIP, GZIP], "{fm}");
    let base = fm["layers"][0]["digest"].as_str().unwrap();
    assert_eq!(
        plain_digest(&forced, base, false),
        fc["rootfs"]["diff_ids"][0].as_str().unwrap()
    );
    // umoci (which reads no zstd) unpacks the image.
    let mut umoci = Command::new("umoci");
    umoci.arg("unpack");
    if !crate::common::is_root() {
        umoci.arg("--rootless");
    }
    let bundle = f.path("bundle");
    let out = umoci
        .arg("--image")
        .arg(format!("{}:1", forced.display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(out.status.success(), "umoci: {}", text(&out.stderr));
    let hi = std::fs::read_to_string(bundle.join("rootfs/hi")).unwrap();
    assert_eq!(hi, "hi\n");
    assert!(bundle.join("rootfs/bin/busybox").exists());
}

/// A `FROM scratch` build with one file.
fn scratch(w: &Work) {
    w.file("f", "f\n", 0o644)
        .dockerfile("FROM scratch\nCOPY f /f\n");
}

#[test]
fn image_output_names_the_image_in_the_store() {
    let w = Work::new();
    scratch(&w);
    let iid = w.path("out/iid");
    w.build_ok(&[
        "-t",
        "tagged:1",
        "-o",
        "type=image,name=one:1,name=two:2",
        "-o",
        "type=image,\"name=three:3,example.com/four:4\"",
        "--iidfile",
        iid.to_str().unwrap(),
    ]);
    let iid = std::fs::read_to_string(&iid).unwrap();
    let images = stdout(&w.builder(&["images"]));
    for name in ["tagged", "one", "two", "three", "example.com/four"] {
        assert!(images.contains(name), "{name} in:\n{images}");
    }
    for name in [
        "one:1",
        "two:2",
        "three:3",
        "example.com/four:4",
        "tagged:1",
    ] {
        let out = w.builder(&["inspect", name]);
        assert!(out.status.success(), "inspect {name}: {}", stderr(&out));
        let doc = stdout(&out);
        assert!(doc.contains(iid.trim()), "{name}: {doc}");
    }
    // A name that is not a reference fails before the build, naming it.
    let out = w.build(&["-o", "type=image,name=Not A Name"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("name=\"Not A Name\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn image_output_name_takes_its_own_variant() {
    // The -t names take the first image output's media types; a later type=image output
    // with other media types names its own image.
    let w = Work::new();
    scratch(&w);
    w.build_ok(&[
        "-t",
        "oci:1",
        "-o",
        "type=image,name=oci-too:1",
        "-o",
        "type=image,name=docker:1,oci-mediatypes=false",
    ]);
    let manifest_type = |name: &str| {
        let out = w.builder(&["inspect", name]);
        assert!(out.status.success(), "inspect {name}: {}", stderr(&out));
        stdout(&out)
    };
    let oci = manifest_type("oci:1");
    assert_eq!(oci, manifest_type("oci-too:1"));
    assert_ne!(oci, manifest_type("docker:1"));
}

#[test]
fn docker_and_oci_outputs_carry_every_name() {
    let w = Work::new();
    scratch(&w);
    let (docker, oci) = (w.path("out/img.tar"), w.path("out/layout"));
    w.build_ok(&[
        "-t",
        "ignored:1",
        "-o",
        &format!("type=docker,dest={},name=a:1,name=b:2", docker.display()),
        "-o",
        &format!("type=oci,dest={},tar=false,\"name=c:3,d:4\"", oci.display()),
    ]);
    let mut archive = tar::Archive::new(std::fs::File::open(&docker).unwrap());
    let mut manifest = String::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_str() == Some("manifest.json") {
            std::io::Read::read_to_string(&mut entry, &mut manifest).unwrap();
        }
    }
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(
        m[0]["RepoTags"],
        serde_json::json!(["a:1", "b:2"]),
        "{manifest}"
    );
    let index = std::fs::read_to_string(oci.join("index.json")).unwrap();
    for tag in [
        "\"3\"",
        "\"4\"",
        "docker.io/library/c:3",
        "docker.io/library/d:4",
    ] {
        assert!(index.contains(tag), "{tag} in {index}");
    }
    assert!(!index.contains("ignored"), "{index}");
}

#[test]
fn keys_that_would_change_nothing_are_refused_before_the_build() {
    let w = Work::new();
    scratch(&w);
    let refused = |args: &[&str], text: &str| {
        let out = w.build(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(text), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("COPY f /f"),
            "{args:?} ran the build"
        );
    };
    let dest = format!("type=oci,dest={}", w.path("out/x").display());
    refused(
        &["-o", &format!("{dest},rewrite-timestamp=true")],
        "rewrite-timestamp=true needs SOURCE_DATE_EPOCH",
    );
    refused(&["--no-cache-filter", "nosuch"], "no such stage");
    refused(&["-o", "type=image,registry.insecure=true"], "push=true");
    refused(&["-o", "type=registry,push=false,name=a"], "always pushes");
    refused(&["--cache-to", "type=local,dest=c,mode=min"], "mode=min");
    // With an epoch, rewrite-timestamp is used.
    w.build_ok(&[
        "--build-arg",
        "SOURCE_DATE_EPOCH=0",
        "-o",
        &format!("{dest},rewrite-timestamp=true"),
    ]);
}
