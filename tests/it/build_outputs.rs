//! Every output of one build, accepted by real tools: `skopeo inspect` of `oci:`,
//! `oci-archive:` and `docker-archive:`, `skopeo copy` from our layout, `umoci unpack` by
//! tag; `type=local` and `type=tar` hold the same files; `--iidfile`, `--metadata-file` and
//! `-q` agree; `compression=zstd|uncompressed` and `oci-mediatypes=false` change the
//! manifest; layers match golden summaries; pushing says it is not supported yet.
//! `--load` (and `type=docker` without `dest`) loads the image into the local engine
//! (podman here: no docker daemon answers), and without an engine says what to use.

use std::path::Path;
use std::process::Command;

use crate::build_support::{config_of, inspect, listing, unpack, Work};
use crate::common::{have, run, text};

fn context(w: &Work) {
    w.file("app/main.sh", "#!/bin/sh\necho main\n", 0o755)
        .file("app/data/config.json", "{}\n", 0o640)
        .file("README", "readme\n", 0o644)
        .symlink("app/current", "main.sh")
        .dir("app", 0o755)
        .dir("app/data", 0o750)
        .dockerfile(
            "FROM scratch\n\
             COPY app /app/\n\
             WORKDIR /app/data\n\
             COPY README .\n\
             CMD [\"/app/main.sh\"]\n",
        );
}

#[test]
fn every_output_is_accepted_by_skopeo_and_umoci() {
    if !have("every_output", &["skopeo", "umoci"]) {
        return;
    }
    let w = Work::new();
    context(&w);
    let p = |rel: &str| w.path(rel).display().to_string();
    let stderr = w.build_ok(&[
        "-t",
        "app:1",
        "-t",
        "example.com/team/app:2",
        "-o",
        &format!("type=oci,dest={}", p("out/app.oci.tar")),
        "-o",
        &format!("type=oci,dest={},tar=false", p("out/layout")),
        "-o",
        &format!("type=docker,dest={}", p("out/app.docker.tar")),
        "-o",
        &format!("type=local,dest={}", p("out/rootfs")),
        "-o",
        &format!("type=tar,dest={}", p("out/rootfs.tar")),
        "--iidfile",
        &p("out/iid"),
        "--metadata-file",
        &p("out/meta.json"),
    ]);
    // Plain progress: each step, numbered as BuildKit numbers them, with its time.
    assert!(stderr.contains("[2/4] COPY app /app/\n"), "{stderr}");
    assert!(stderr.contains("[3/4] WORKDIR /app/data\n"), "{stderr}");
    assert!(stderr.contains("[4/4] COPY README .\n"), "{stderr}");
    assert!(stderr.contains(" DONE "), "{stderr}");

    let iid = std::fs::read_to_string(w.path("out/iid")).unwrap();
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.path("out/meta.json")).unwrap()).unwrap();
    assert_eq!(meta["containerimage.digest"], iid.as_str());
    assert_eq!(
        meta["image.name"],
        "docker.io/library/app:1,example.com/team/app:2"
    );
    let config_digest = meta["containerimage.config.digest"].as_str().unwrap();

    for reference in [
        format!("oci:{}:1", p("out/layout")),
        format!("oci:{}:2", p("out/layout")),
        format!("oci-archive:{}:1", p("out/app.oci.tar")),
    ] {
        let i = inspect(&reference);
        assert_eq!(i["Digest"], iid.as_str(), "{reference}");
        // WORKDIR /app/data exists after `COPY app /app/`: no layer for it.
        assert_eq!(i["Layers"].as_array().unwrap().len(), 2, "{reference}");
    }
    let docker = inspect(&format!("docker-archive:{}", p("out/app.docker.tar")));
    assert_eq!(docker["Layers"].as_array().unwrap().len(), 2);
    let raw = run(Command::new("skopeo").args([
        "inspect",
        "--raw",
        &format!("docker-archive:{}", p("out/app.docker.tar")),
    ]));
    assert!(
        raw.contains("application/vnd.docker.distribution.manifest.v2+json"),
        "{raw}"
    );
    // The config is the same document in both families.
    let cfg = config_of(&format!("docker-archive:{}", p("out/app.docker.tar")));
    assert_eq!(cfg["config"]["Cmd"], serde_json::json!(["/app/main.sh"]));
    let blob = std::fs::read(w.path("out/layout/blobs/sha256").join(&config_digest[7..]));
    assert!(blob.is_ok(), "config blob {config_digest} in the layout");

    // skopeo copies our layout to another layout and to a docker archive.
    run(Command::new("skopeo").args([
        "copy",
        &format!("oci:{}:1", p("out/layout")),
        &format!("oci:{}:copied", p("out/copy")),
    ]));
    let copied = inspect(&format!("oci:{}:copied", p("out/copy")));
    assert_eq!(copied["Digest"], iid.as_str());

    // umoci unpacks the same files that type=local and type=tar hold.
    let rootfs = unpack(&w.path("out/layout"), "1", &w.path("out/bundle"));
    let unpacked = listing(&rootfs);
    let want = r##"d /app 0755 0:0
l /app/current -> main.sh
d /app/data 0750 0:0
f /app/data/README 0644 0:0 "readme\n"
f /app/data/config.json 0640 0:0 "{}\n"
f /app/main.sh 0755 0:0 "#!/bin/sh\necho main\n"
"##;
    assert_eq!(unpacked, want);
    assert_eq!(listing(&w.path("out/rootfs")), want);
    std::fs::create_dir(w.path("out/untar")).unwrap();
    run(Command::new("tar")
        .arg("-xpf")
        .arg(w.path("out/rootfs.tar"))
        .arg("-C")
        .arg(w.path("out/untar")));
    assert_eq!(listing(&w.path("out/untar")), want);

    // The store names the image by every tag.
    let out = w.builder(&["images"]);
    let images = text(&out.stdout);
    assert!(images.contains("docker.io/library/app:1"), "{images}");
    assert!(images.contains("example.com/team/app:2"), "{images}");
}

/// The manifest and config of the only image of the layout at `dir`, read from its files
/// (skopeo 1.9's `oci:` transport ignores Docker-typed manifests in a layout).
fn manifest_and_config(dir: &Path) -> (serde_json::Value, serde_json::Value) {
    let blob = |d: &str| std::fs::read(dir.join("blobs/sha256").join(&d[7..])).unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let m: serde_json::Value =
        serde_json::from_slice(&blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    let c = serde_json::from_slice(&blob(m["config"]["digest"].as_str().unwrap())).unwrap();
    (m, c)
}

#[test]
fn compression_and_media_types_follow_the_output_spec() {
    if !have("compression_and_media_types", &["skopeo"]) {
        return;
    }
    for (keys, layer_type) in [
        ("", "application/vnd.oci.image.layer.v1.tar+gzip"),
        (
            ",compression=zstd",
            "application/vnd.oci.image.layer.v1.tar+zstd",
        ),
        (
            ",compression=uncompressed",
            "application/vnd.oci.image.layer.v1.tar",
        ),
        (
            ",oci-mediatypes=false",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        ),
    ] {
        let w = Work::new();
        context(&w);
        let dir = w.path("out/layout");
        w.build_ok(&[
            "-t",
            "app",
            "-o",
            &format!("type=oci,dest={},tar=false{keys}", dir.display()),
        ]);
        let (m, cfg) = manifest_and_config(&dir);
        for layer in m["layers"].as_array().unwrap() {
            assert_eq!(layer["mediaType"], layer_type, "{keys}");
        }
        let diff_ids = cfg["rootfs"]["diff_ids"].as_array().unwrap();
        if keys.contains("uncompressed") {
            for (layer, diff_id) in m["layers"].as_array().unwrap().iter().zip(diff_ids) {
                assert_eq!(&layer["digest"], diff_id);
            }
        }
        if keys.contains("oci-mediatypes=false") {
            assert_eq!(
                m["mediaType"],
                "application/vnd.docker.distribution.manifest.v2+json"
            );
            continue;
        }
        // skopeo reads every layer back (and checks its digest).
        run(Command::new("skopeo").args([
            "copy",
            &format!("oci:{}:latest", dir.display()),
            &format!("dir:{}", w.path("out/dir").display()),
        ]));
    }
}

#[test]
fn quiet_prints_only_the_image_digest() {
    let w = Work::new();
    context(&w);
    let out = w.builder(&["build", "-q", "ctx"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("sha256:") && stdout.trim().len() == 71,
        "{stdout:?}"
    );
    assert_eq!(text(&out.stderr), "");
}

/// Every layer of the only image of the layout at `dir`, summarized, our own ids shown as
/// `0:0` (a build without root keeps the caller's).
fn layer_summaries(dir: &Path) -> String {
    let (m, _) = manifest_and_config(dir);
    let blob = |d: &str| std::fs::read(dir.join("blobs/sha256").join(&d[7..])).unwrap();
    let ids = format!(
        " {}:{}",
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw()
    );
    let mut all = String::new();
    for (i, layer) in m["layers"].as_array().unwrap().iter().enumerate() {
        let summary =
            builder::diff::summarize(&blob(layer["digest"].as_str().unwrap())[..]).unwrap();
        all.push_str(&format!("# layer {i}\n{}", summary.replace(&ids, " 0:0")));
    }
    all
}

#[test]
fn layers_match_golden_summaries() {
    let w = Work::new();
    context(&w);
    let dir = w.path("out/layout");
    let spec = format!("type=oci,dest={},tar=false", dir.display());
    w.build_ok(&["-t", "app", "-o", &spec]);
    crate::build_support::golden("build-copy-workdir.txt", &layer_summaries(&dir));

    if !crate::common::is_root() {
        eprintln!("\n!!! SKIPPED the --chown golden: owners need root !!!\n");
        return;
    }
    let w = Work::new();
    w.file("bin/tool", "tool\n", 0o700)
        .file("etc/app.conf", "x=1\n", 0o600)
        .dockerfile(
            "FROM scratch\n\
             COPY --chown=10:20 --chmod=0755 bin /usr/local/bin/\n\
             COPY --chown=33 etc/app.conf /etc/app/\n\
             COPY <<EOF /etc/motd\n\
             hello\n\
             EOF\n",
        );
    std::fs::hard_link(w.path("ctx/bin/tool"), w.path("ctx/bin/tool2")).unwrap();
    let dir = w.path("out/layout");
    let spec = format!("type=oci,dest={},tar=false", dir.display());
    w.build_ok(&["-t", "app", "-o", &spec]);
    crate::build_support::golden("build-chown-chmod.txt", &layer_summaries(&dir));
}

#[test]
fn pushing_without_a_name_is_refused_before_any_work() {
    let w = Work::new();
    context(&w);
    for args in [&["--push"][..], &["-o", "type=registry"]] {
        let out = w.build(args);
        assert_eq!(out.status.code(), Some(2));
        let err = text(&out.stderr);
        assert!(err.contains("pushing needs a name"), "{err}");
    }
    assert!(!w.path("root/images.json").exists());
}

#[test]
fn tar_and_oci_outputs_stream_to_standard_output() {
    let w = Work::new();
    context(&w);
    // `-o -` is the root file system as one tar on stdout; progress stays on stderr.
    let out = w.build(&["-o", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let tar = w.path("out/rootfs.tar");
    std::fs::write(&tar, &out.stdout).unwrap();
    let list = run(Command::new("tar").arg("-tf").arg(&tar));
    assert!(
        list.lines()
            .any(|l| l.trim_end_matches('/') == "app/main.sh"),
        "{list}"
    );
    let out = w.build(&["-t", "app", "-o", "type=oci,dest=-"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    std::fs::write(w.path("out/app.tar"), &out.stdout).unwrap();
    let list = run(Command::new("tar").arg("-tf").arg(w.path("out/app.tar")));
    assert!(list.lines().any(|l| l == "index.json"), "{list}");
    // One stream only, and not mixed with -q's digest.
    let out = w.build(&["-o", "-", "-o", "type=docker,dest=-"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = w.build(&["-q", "-o", "type=tar,dest=-"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}

#[test]
fn load_puts_the_image_into_the_local_engine() {
    let test = "load_into_engine";
    if !crate::common::is_root() || !have(test, &["podman"]) {
        return;
    }
    let w = Work::new();
    context(&w);
    let name = format!("builder-load-test-{}:1", std::process::id());
    let err = w.build_ok(&["-t", &name, "--load", "--iidfile", "iid"]);
    assert!(err.contains("loaded into "), "{err}");
    // The engine's image id is the config digest.
    let engine = if err.contains("loaded into docker") {
        "docker"
    } else {
        "podman"
    };
    let id = run(Command::new(engine).args(["image", "inspect", "--format", "{{.Id}}", &name]));
    let ours = w.builder(&["inspect", &name]);
    let ours: serde_json::Value = serde_json::from_slice(&ours.stdout).unwrap();
    let digest = ours["manifest"]["config"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        format!("sha256:{}", id.trim().trim_start_matches("sha256:")),
        digest
    );
    let _ = Command::new(engine).args(["rmi", &name]).output();

    // No engine at all: the build fails saying what to use instead.
    let out = crate::common::builder_cmd(&w.root())
        .args(["build", "--progress", "plain", "-o", "type=docker"])
        .arg(w.path("ctx"))
        .env("PATH", "/nonexistent")
        .output()
        .expect("run builder");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no docker daemon answers and podman is not installed"),
        "{err}"
    );
    assert!(err.contains("type=docker,dest=app.tar"), "{err}");
}
