//! `--platform linux/amd64,linux/arm64` with Dockerfiles that need no emulation: a
//! `FROM --platform=$BUILDPLATFORM` stage runs on the host once per target, and every output
//! carries an image index with one manifest per platform (registry, OCI tar and layout, the
//! store, `save`/`load`, `push`); `type=local`/`type=tar` hold a directory per platform; a
//! base that is itself an index is picked per platform; a platform built alone before is a
//! cache hit in the multi-platform build. `--annotation` values land on the manifests (all,
//! or one platform's) and on the index, as buildx puts them, checked with skopeo.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::build_support::{busybox, unpack, Work};
use crate::common::{builder, have, is_root, run, stdout, step_number, text};
use crate::registry_support::{skopeo_copy, skopeo_inspect, Registry, RegistryAuth};
use crate::sandbox::ensure_test_user;

const CROSS: &str = "FROM --platform=$BUILDPLATFORM busybox AS build\n\
                     ARG TARGETARCH\n\
                     RUN echo $TARGETARCH > /arch\n\
                     FROM scratch\n\
                     COPY --from=build /arch /arch\n";

const BOTH: &str = "linux/amd64,linux/arm64";

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The platforms (`os/arch`) an index lists, in order.
fn platforms(index: &Value) -> Vec<String> {
    index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("not an index: {index}"))
        .iter()
        .map(|m| {
            let p = &m["platform"];
            format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            )
        })
        .collect()
}

/// `skopeo copy --override-arch ARCH SRC` into an OCI layout, unpacked: its `/arch`.
fn arch_of(w: &Work, src: &str, arch: &str, name: &str) -> String {
    let layout = w.path(&format!("out/{name}"));
    skopeo_copy(
        &["--override-arch", arch],
        src,
        &format!("oci:{}:latest", layout.display()),
    );
    let rootfs = unpack(&layout, "latest", &w.path(&format!("out/{name}-bundle")));
    std::fs::read_to_string(rootfs.join("arch")).unwrap()
}

#[test]
fn multi_platform_build_writes_an_index_to_every_output() {
    let test = "multi_platform_build_writes_an_index_to_every_output";
    let Some(layout) = busybox(test) else { return };
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    let w = Work::new();
    w.dockerfile(CROSS);
    let host = reg.host();
    let pushed = format!("{host}/app:latest");
    let out = |rel: &str| w.path(&format!("out/{rel}")).display().to_string();
    let specs = [
        format!("type=registry,name={pushed}"),
        format!("type=oci,dest={}", out("oci.tar")),
        format!("type=oci,dest={},tar=false", out("layout")),
        format!("type=local,dest={}", out("local")),
        format!("type=tar,dest={}", out("rootfs.tar")),
    ];
    let context = Work::busybox_context(&layout);
    let mut args = vec!["--platform", BOTH, "-t", "app", "--build-context", &context];
    for s in &specs {
        args.extend(["-o", s.as_str()]);
    }
    let (iid, meta) = (out("iid"), out("meta.json"));
    args.extend(["--iidfile", &iid, "--metadata-file", &meta]);
    let err = w.build_ok(&args);
    // Each platform's steps are named with it; the build stage runs on the host each time.
    assert!(
        err.contains("[linux/arm64 build 2/2] RUN echo arm64 > /arch"),
        "{err}"
    );
    assert!(
        err.contains("[linux/amd64 build 2/2] RUN echo amd64 > /arch"),
        "{err}"
    );
    assert!(err.contains("exporting manifest list sha256:"), "{err}");

    // --iidfile and --metadata-file give the index.
    let iid = std::fs::read_to_string(&iid).unwrap();
    let meta = json(Path::new(&meta));
    assert_eq!(meta["containerimage.digest"], iid.as_str(), "{meta}");
    assert_eq!(
        meta["containerimage.descriptor"]["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert!(meta.get("containerimage.config.digest").is_none(), "{meta}");

    // The registry: an index of two platforms, under the same digest; each pulled back.
    let raw = skopeo_inspect(&["--raw"], &pushed);
    assert_eq!(
        raw["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{raw}"
    );
    assert_eq!(platforms(&raw), ["linux/amd64", "linux/arm64"], "{raw}");
    for arch in ["amd64", "arm64"] {
        let got = arch_of(
            &w,
            &format!("docker://{pushed}"),
            arch,
            &format!("reg-{arch}"),
        );
        assert_eq!(got, format!("{arch}\n"));
    }

    // The OCI layout and tar: index.json names the index, which lists both platforms.
    let index = json(&w.path("out/layout/index.json"));
    let top = &index["manifests"][0];
    assert_eq!(
        top["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{index}"
    );
    assert_eq!(top["digest"], iid.as_str(), "{index}");
    let hex = iid.trim_start_matches("sha256:");
    let nested = json(&w.path(&format!("out/layout/blobs/sha256/{hex}")));
    assert_eq!(platforms(&nested), ["linux/amd64", "linux/arm64"]);
    for arch in ["amd64", "arm64"] {
        let src = format!("oci:{}:latest", out("layout"));
        assert_eq!(
            arch_of(&w, &src, arch, &format!("dir-{arch}")),
            format!("{arch}\n")
        );
        let src = format!("oci-archive:{}:latest", out("oci.tar"));
        assert_eq!(
            arch_of(&w, &src, arch, &format!("tar-{arch}")),
            format!("{arch}\n")
        );
    }

    // type=local and type=tar: a directory per platform.
    for arch in ["amd64", "arm64"] {
        let file = w.path(&format!("out/local/linux_{arch}/arch"));
        assert_eq!(std::fs::read_to_string(file).unwrap(), format!("{arch}\n"));
    }
    let listing = run(Command::new("tar").arg("-tf").arg(out("rootfs.tar")));
    for entry in [
        "linux_amd64/",
        "linux_amd64/arch",
        "linux_arm64/",
        "linux_arm64/arch",
    ] {
        assert!(listing.lines().any(|l| l == entry), "{entry}:\n{listing}");
    }

    // The store names the index: `images` and `inspect` show its platforms.
    let images = stdout(&w.builder(&["images"]));
    let short = &hex[..12];
    assert!(
        images.contains(&format!("docker.io/library/app:latest   {short}")),
        "{images}"
    );
    assert!(images.contains("  linux/amd64"), "{images}");
    assert!(images.contains("  linux/arm64"), "{images}");
    let inspect: Value = serde_json::from_str(&stdout(&w.builder(&["inspect", "app"]))).unwrap();
    assert_eq!(inspect["digest"], iid.as_str(), "{inspect}");
    let shown: Vec<_> = (inspect["platforms"].as_array().unwrap().iter())
        .map(|p| p["platform"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(shown, ["linux/amd64", "linux/arm64"], "{inspect}");
    assert_eq!(inspect["platforms"][1]["config"]["architecture"], "arm64");

    // `builder push` of the name pushes the index and both images.
    let again = format!("{host}/again:v1");
    let pushed_out = w.builder(&["push", "app", &again]);
    assert_eq!(
        stdout(&pushed_out).trim(),
        iid,
        "{}",
        text(&pushed_out.stderr)
    );
    let raw = skopeo_inspect(&["--raw"], &again);
    assert_eq!(platforms(&raw), ["linux/amd64", "linux/arm64"], "{raw}");
    assert_eq!(
        arch_of(&w, &format!("docker://{again}"), "arm64", "again"),
        "arm64\n"
    );

    // save / load keep the index.
    let saved = out("app.tar");
    let done = w.builder(&["save", "app", "-o", &saved]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let fresh = w.path("fresh");
    let loaded = builder(&fresh, &["load", "-i", &saved]);
    assert_eq!(
        stdout(&loaded),
        "Loaded image: app:latest\n",
        "{}",
        text(&loaded.stderr)
    );
    let inspect: Value =
        serde_json::from_str(&stdout(&builder(&fresh, &["inspect", "app"]))).unwrap();
    assert_eq!(inspect["digest"], iid.as_str(), "{inspect}");
    assert_eq!(
        inspect["platforms"].as_array().unwrap().len(),
        2,
        "{inspect}"
    );
    // A docker archive cannot hold an index.
    let docker = w.builder(&["save", "--format", "docker", "app", "-o", &out("d.tar")]);
    assert_eq!(docker.status.code(), Some(1));
    assert!(text(&docker.stderr).contains("does not support exporting manifest lists"));
}

#[test]
fn type_docker_is_refused_for_several_platforms() {
    let w = Work::new();
    w.dockerfile("FROM scratch\nCOPY Dockerfile /\n");
    let dest = w.path("out/d.tar").display().to_string();
    let spec = format!("type=docker,dest={dest}");
    let out = w.build(&["--platform", BOTH, "-o", &spec]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("does not support exporting manifest lists"),
        "{err}"
    );
    assert!(!Path::new(&dest).exists());
    // Nothing needs a base: `-q` prints the index digest, which the store names.
    let out = w.build(&["-q", "--platform", BOTH, "-t", "plain"]);
    let digest = stdout(&out).trim().to_string();
    assert!(digest.starts_with("sha256:"), "{}", text(&out.stderr));
    let inspect: Value = serde_json::from_str(&stdout(&w.builder(&["inspect", "plain"]))).unwrap();
    assert_eq!(inspect["digest"], digest.as_str(), "{inspect}");
    assert_eq!(
        inspect["index"]["manifests"][1]["platform"]["architecture"], "arm64",
        "{inspect}"
    );
    // A platform given twice is a usage error.
    let out = w.build(&["--platform", "linux/arm64,linux/arm64"]);
    assert!(text(&out.stderr).contains("linux/arm64 is given twice"));
}

/// Write `bytes` as a blob of the layout at `layout`; its descriptor.
fn put_blob(layout: &Path, media_type: &str, bytes: &[u8]) -> Value {
    let digest = builder::store::digest::sha256(bytes).to_string();
    let hex = digest.trim_start_matches("sha256:");
    std::fs::write(layout.join(format!("blobs/sha256/{hex}")), bytes).unwrap();
    serde_json::json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
}

/// The busybox image of `layout` plus a layer holding `/which` (= `arch`), its config saying
/// `arch`: the manifest's descriptor, with its platform.
fn busybox_for(layout: &Path, arch: &str) -> Value {
    let top = json(&layout.join("index.json"));
    let blob = |d: &Value| {
        let hex = d["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_string();
        json(&layout.join(format!("blobs/sha256/{hex}")))
    };
    let mut manifest = blob(&top["manifests"][0]);
    let mut config = blob(&manifest["config"]);
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(arch.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, "which", arch.as_bytes()).unwrap();
    let tar = tar.into_inner().unwrap();
    let diff_id = builder::store::digest::sha256(&tar).to_string();
    let layer = put_blob(layout, "application/vnd.oci.image.layer.v1.tar", &tar);
    config["architecture"] = arch.into();
    config["rootfs"]["diff_ids"]
        .as_array_mut()
        .unwrap()
        .push(diff_id.into());
    let config = serde_json::to_vec(&config).unwrap();
    manifest["config"] = put_blob(layout, "application/vnd.oci.image.config.v1+json", &config);
    manifest["layers"].as_array_mut().unwrap().push(layer);
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let mut d = put_blob(
        layout,
        "application/vnd.oci.image.manifest.v1+json",
        &manifest,
    );
    d["platform"] = serde_json::json!({"architecture": arch, "os": "linux"});
    d
}

/// A two-platform OCI archive of the busybox fixture, each platform with its own `/which`
/// in a layer of its own, named `base:latest` through a nested index.
fn two_platform_base(w: &Work, busybox: &Path) -> (PathBuf, PathBuf) {
    let layout = w.busybox_copy(busybox);
    let nested = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [busybox_for(&layout, "amd64"), busybox_for(&layout, "arm64")],
    });
    let mut entry = put_blob(
        &layout,
        "application/vnd.oci.image.index.v1+json",
        &serde_json::to_vec(&nested).unwrap(),
    );
    entry["annotations"] = serde_json::json!({
        "io.containerd.image.name": "docker.io/library/base:latest",
        "org.opencontainers.image.ref.name": "latest",
    });
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [entry]});
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    let tar = w.path("base.tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(&layout)
        .arg("-cf")
        .arg(&tar)
        .args(["oci-layout", "index.json", "blobs"]));
    (layout, tar)
}

#[test]
fn a_base_index_is_picked_per_platform() {
    let test = "a_base_index_is_picked_per_platform";
    let Some(layout) = busybox(test) else { return };
    let w = Work::new();
    let (base, tar) = two_platform_base(&w, &layout);
    let loaded = w.builder(&["load", "-i", tar.to_str().unwrap()]);
    assert_eq!(
        stdout(&loaded),
        "Loaded image: base:latest\n",
        "{}",
        text(&loaded.stderr)
    );
    let images = stdout(&w.builder(&["images"]));
    assert!(images.contains("  linux/arm64"), "{images}");
    w.file("hello", "hi\n", 0o644);
    w.dockerfile("FROM base\nCOPY hello /hello\n");
    let check = |name: &str, extra: &[&str]| {
        let dest = w.path(&format!("out/{name}")).display().to_string();
        let spec = format!("type=local,dest={dest}");
        let mut args = vec!["--platform", BOTH, "-o", &spec];
        args.extend_from_slice(extra);
        let err = w.build_ok(&args);
        assert!(!err.contains("InvalidBaseImagePlatform"), "{err}");
        for arch in ["amd64", "arm64"] {
            let dir = w.path(&format!("out/{name}/linux_{arch}"));
            assert_eq!(std::fs::read_to_string(dir.join("which")).unwrap(), arch);
            assert_eq!(std::fs::read_to_string(dir.join("hello")).unwrap(), "hi\n");
            assert!(dir.join("bin/busybox").is_file(), "{arch}");
        }
    };
    // From the store, where `load` kept the index.
    check("store", &[]);
    // From the layout itself, as a build context.
    let context = format!("base=oci-layout://{}", base.display());
    check("context", &["--build-context", &context]);
}

#[test]
fn a_platform_built_alone_is_cached_in_a_multi_platform_build() {
    let test = "a_platform_built_alone_is_cached_in_a_multi_platform_build";
    let Some(layout) = busybox(test) else { return };
    let w = Work::new();
    w.dockerfile(CROSS);
    let context = Work::busybox_context(&layout);
    w.build_ok(&["--platform", "linux/arm64", "--build-context", &context]);
    let err = w.build_ok(&["--platform", BOTH, "--build-context", &context]);
    let arm = step_number(&err, "[linux/arm64 build 2/2] RUN echo arm64 > /arch");
    let amd = step_number(&err, "[linux/amd64 build 2/2] RUN echo amd64 > /arch");
    assert!(err.contains(&format!("{arm} CACHED")), "{err}");
    assert!(!err.contains(&format!("{amd} CACHED")), "{err}");
    // Exported with --cache-to, every platform's steps serve a fresh store.
    let dir = w.path("out/cache");
    let to = format!("type=local,dest={},mode=max", dir.display());
    w.build_ok(&[
        "--platform",
        BOTH,
        "--build-context",
        &context,
        "--cache-to",
        &to,
    ]);
    let fresh = Work::new();
    fresh.dockerfile(CROSS);
    let from = format!("type=local,src={}", dir.display());
    let err = fresh.build_ok(&[
        "--platform",
        BOTH,
        "--build-context",
        &context,
        "--cache-from",
        &from,
    ]);
    for arch in ["amd64", "arm64"] {
        let run = step_number(
            &err,
            &format!("[linux/{arch} build 2/2] RUN echo {arch} > /arch"),
        );
        assert!(err.contains(&format!("{run} CACHED")), "{err}");
    }
    // And the other way round: now both are in the cache.
    let err = w.build_ok(&["--platform", "linux/amd64", "--build-context", &context]);
    let amd = step_number(&err, "[build 2/2] RUN echo amd64 > /arch");
    assert!(err.contains(&format!("{amd} CACHED")), "{err}");
}

#[test]
fn multi_platform_build_without_root() {
    let test = "multi_platform_build_without_root";
    if !is_root() || !have(test, &["umoci", "runuser"]) {
        eprintln!("\n!!! SKIPPED {test}: needs root to switch to an unprivileged user !!!\n");
        return;
    }
    let Some(layout) = busybox(test) else { return };
    if let Err(why) = ensure_test_user() {
        panic!("{test}: cannot make the test user: {why}");
    }
    let w = Work::new();
    w.dockerfile(CROSS);
    let base = w.busybox_copy(&layout);
    w.give_to_test_user();
    let context = Work::busybox_context(&base);
    let dest = w.path("out/local").display().to_string();
    let spec = format!("type=local,dest={dest}");
    let args = [
        "build",
        "--platform",
        BOTH,
        "-t",
        "app",
        "--build-context",
        &context,
    ];
    let mut all = args.to_vec();
    all.extend(["-o", &spec, "ctx"]);
    let out = w.builder_as_test_user(&all);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for arch in ["amd64", "arm64"] {
        let file = w.path(&format!("out/local/linux_{arch}/arch"));
        assert_eq!(std::fs::read_to_string(file).unwrap(), format!("{arch}\n"));
    }
    let images = stdout(&w.builder_as_test_user(&["images"]));
    assert!(images.contains("  linux/arm64"), "{images}");
}

#[test]
fn a_registry_base_index_is_pulled_per_platform() {
    let test = "a_registry_base_index_is_pulled_per_platform";
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("\n!!! SKIPPED {test}: the fixture's binaries are amd64 !!!\n");
        return;
    }
    let Some(layout) = busybox(test) else { return };
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    let w = Work::new();
    let (base, _) = two_platform_base(&w, &layout);
    let pushed = format!("{}/base:latest", reg.host());
    skopeo_copy(
        &["--all"],
        &format!("oci:{}:latest", base.display()),
        &format!("docker://{pushed}"),
    );
    w.file("hello", "hi\n", 0o644);
    w.dockerfile(&format!(
        "FROM --platform=$BUILDPLATFORM {pushed} AS build\n\
         RUN cat /which > /built-on\n\
         FROM {pushed}\n\
         COPY --from=build /built-on /built-on\n\
         COPY hello /hello\n"
    ));
    let dest = w.path("out/local").display().to_string();
    let spec = format!("type=local,dest={dest}");
    let err = w.build_ok(&["--platform", BOTH, "-o", &spec]);
    assert!(!err.contains("InvalidBaseImagePlatform"), "{err}");
    for arch in ["amd64", "arm64"] {
        let dir = w.path(&format!("out/local/linux_{arch}"));
        assert_eq!(std::fs::read_to_string(dir.join("which")).unwrap(), arch);
        // The build stage ran on the host, from the host's image.
        assert_eq!(
            std::fs::read_to_string(dir.join("built-on")).unwrap(),
            "amd64"
        );
        assert_eq!(std::fs::read_to_string(dir.join("hello")).unwrap(), "hi\n");
    }
    // The store names an index over both platforms; a second build pulls nothing.
    let images = stdout(&w.builder(&["images"]));
    assert!(images.contains(&format!("{pushed}   ")), "{images}");
    assert!(images.contains("  linux/arm64"), "{images}");
    let err = w.build_ok(&["--platform", BOTH, "-o", &spec]);
    assert!(!err.contains("load metadata"), "{err}");
    // A single-platform build reads its platform from the index.
    let dest = w.path("out/arm").display().to_string();
    let spec = format!("type=local,dest={dest}");
    let err = w.build_ok(&["--platform", "linux/arm64", "-o", &spec]);
    assert!(!err.contains("InvalidBaseImagePlatform"), "{err}");
    let which = std::fs::read_to_string(w.path("out/arm/which")).unwrap();
    assert_eq!(which, "arm64");
}

#[test]
fn annotations_land_on_the_manifests_and_the_index() {
    let test = "annotations";
    let Some(layout) = busybox(test) else { return };
    let w = Work::new();
    w.dockerfile(CROSS);
    let context = Work::busybox_context(&layout);
    let dest = w.path("out/layout");
    let spec = format!("type=oci,dest={},tar=false", dest.display());
    w.build_ok(&[
        "--platform",
        BOTH,
        "--build-context",
        &context,
        "-o",
        &spec,
        "--annotation",
        "org.opencontainers.image.title=App",
        "--annotation",
        "index:org.opencontainers.image.vendor=Acme",
        "--annotation",
        "manifest[linux/arm64]:org.opencontainers.image.url=https://e.com/arm",
    ]);
    let raw = run(Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!("oci:{}", dest.display())));
    let index: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        index["annotations"]["org.opencontainers.image.vendor"], "Acme",
        "{raw}"
    );
    for (arch, entry) in ["amd64", "arm64"]
        .iter()
        .zip(index["manifests"].as_array().unwrap())
    {
        assert_eq!(entry["platform"]["architecture"], *arch, "{raw}");
        let digest = entry["digest"].as_str().unwrap();
        let raw = std::fs::read_to_string(dest.join("blobs/sha256").join(&digest[7..])).unwrap();
        let manifest: Value = serde_json::from_str(&raw).unwrap();
        let a = &manifest["annotations"];
        assert_eq!(a["org.opencontainers.image.title"], "App", "{arch}: {raw}");
        let url = a["org.opencontainers.image.url"].as_str();
        assert_eq!(
            url,
            (*arch == "arm64").then_some("https://e.com/arm"),
            "{arch}: {raw}"
        );
    }
    // One platform has no index to annotate; docker media types carry no annotations.
    let e = w.build(&["--build-context", &context, "--annotation", "index:a=b"]);
    assert!(
        text(&e.stderr).contains("index annotations need an index"),
        "{}",
        text(&e.stderr)
    );
    let docker = format!("type=docker,dest={}", w.path("out/d.tar").display());
    let e = w.build(&[
        "--build-context",
        &context,
        "-o",
        &docker,
        "--annotation",
        "a=b",
    ]);
    assert!(
        text(&e.stderr).contains("need OCI media types"),
        "{}",
        text(&e.stderr)
    );
    assert!(!w.path("out/d.tar").exists());
}
