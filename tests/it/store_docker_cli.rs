//! The store commands as a docker or podman user types them, on images built from the
//! busybox fixture: `images` with the uncompressed size, `--format` and `--filter`,
//! `history`, `inspect --format`, `rmi -f`, and `push --all-tags` checked with skopeo.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::build_support::{busybox, Work};
use crate::common::{stderr, stdout, store_image};
use crate::registry_support::{self, Registry, RegistryAuth};

/// Two megabytes of zeros: a layer whose blob is tiny and whose tar is not.
const BIG: &str = "RUN head -c 2000000 /dev/zero > /big\n";

/// Build the context of `w` as `tag`, dated `epoch`, from the busybox fixture.
fn build(w: &Work, layout: &Path, tag: &str, epoch: &str) {
    let ctx = Work::busybox_context(layout);
    let sde = format!("SOURCE_DATE_EPOCH={epoch}");
    w.build_ok(&["-t", tag, "--build-context", &ctx, "--build-arg", &sde]);
}

/// A workspace with `app:1` (dated 2001) and `web:2` (dated 2004) built, and `app:1` also
/// named `localhost:5000/team/app:1`; `None` when the fixture cannot be made.
fn two_images(test: &str) -> Option<Work> {
    let layout = busybox(test)?;
    let w = Work::new();
    w.file("f", "hello\n", 0o644);
    w.dockerfile(&format!(
        "FROM busybox\n{BIG}ENV A=1\nLABEL version=1\n\
         RUN echo a-rather-long-command-line-that-docker-would-cut-short > /long\n\
         COPY f /f\n"
    ));
    build(&w, &layout, "app:1", "1000000000");
    w.dockerfile("FROM busybox\nRUN echo web > /web\n");
    build(&w, &layout, "web:2", "1100000000");
    ok(&w.builder(&["tag", "app:1", "localhost:5000/team/app:1"]));
    Some(w)
}

fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    stdout(out)
}

/// Assert a usage error (exit 2) whose message contains `what`.
fn refused(out: &Output, what: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    assert!(stderr(out).contains(what), "says {what:?}: {}", stderr(out));
}

/// The sum of the decompressed sizes of the layers of the image named `name`, read from the
/// store's blobs directly.
fn uncompressed_size(w: &Work, name: &str) -> u64 {
    let inspect: Value = serde_json::from_str(&ok(&w.builder(&["inspect", name]))).unwrap();
    let blobs = w.root().join("blobs/sha256");
    let mut total = 0;
    for layer in inspect["manifest"]["layers"].as_array().unwrap() {
        let hex = layer["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:");
        let file = std::fs::File::open(blobs.join(hex)).unwrap();
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(file)
            .read_to_end(&mut plain)
            .unwrap();
        total += plain.len() as u64;
    }
    total
}

/// `builder images ARGS...` as lines.
fn images(w: &Work, args: &[&str]) -> Vec<String> {
    let mut all = vec!["images"];
    all.extend_from_slice(args);
    ok(&w.builder(&all)).lines().map(str::to_string).collect()
}

#[test]
fn images_show_uncompressed_size_and_take_docker_format_and_filters() {
    let Some(w) = two_images("images_show_uncompressed_size_and_take_docker_format_and_filters")
    else {
        return;
    };
    let size = uncompressed_size(&w, "app:1");
    assert!(size > 2_000_000, "{size}");
    let inspect_size = ok(&w.builder(&["inspect", "--format", "{{.Size}}", "app:1"]));
    assert_eq!(inspect_size.trim(), size.to_string());
    // Docker's decimal units, three digits: 2.xxMB or 3.xxMB for busybox plus 2MB.
    let shown = images(&w, &["--filter", "reference=app", "--format", "{{.Size}}"]);
    let mb = shown[0].trim_end_matches("MB").parse::<f64>().unwrap();
    assert!((mb - size as f64 / 1e6).abs() < 0.01, "{shown:?} vs {size}");
    assert!(w.root().join("layer-sizes.json").exists());
    // The default table still shows it, and the memo gives the same answer.
    let table = images(&w, &[]);
    assert!(
        table[0].starts_with("NAME") && table[0].contains("SIZE"),
        "{table:?}"
    );
    assert!(table.iter().any(|l| l.contains(&shown[0])), "{table:?}");

    let names = |args: &[&str]| {
        let mut all = vec!["--format", "{{.Repository}}:{{.Tag}}"];
        all.extend_from_slice(args);
        images(&w, &all)
    };
    assert_eq!(names(&[]), ["app:1", "web:2", "localhost:5000/team/app:1"]);
    assert_eq!(names(&["--filter", "reference=app"]), ["app:1"]);
    assert_eq!(names(&["--filter", "reference=*:2"]), ["web:2"]);
    assert_eq!(
        names(&["--filter", "reference=*/team/*"]),
        ["localhost:5000/team/app:1"]
    );
    assert_eq!(
        names(&["--filter", "reference=web", "--filter", "reference=app"]),
        ["app:1", "web:2"]
    );
    assert_eq!(
        names(&["--filter", "before=web:2"]),
        ["app:1", "localhost:5000/team/app:1"]
    );
    assert_eq!(names(&["--filter", "since=app:1"]), ["web:2"]);
    assert!(names(&["--filter", "dangling=true"]).is_empty());
    assert_eq!(names(&["--filter", "dangling=false"]).len(), 3);
    assert_eq!(
        names(&["--filter", "reference=app*", "--filter", "since=app:1"]),
        Vec::<String>::new()
    );

    let table = images(
        &w,
        &["--format", "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}"],
    );
    assert!(
        table[0].starts_with("REPOSITORY") && table[0].contains("IMAGE ID"),
        "{table:?}"
    );
    assert_eq!(table.len(), 4, "{table:?}");
    let docker = images(&w, &["--format", "table"]);
    let columns: Vec<&str> = docker[0]
        .split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        columns,
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    );
    assert_eq!(images(&w, &["--format", ""]), images(&w, &[]));
    let json = images(&w, &["--format", "json", "--filter", "reference=web"]);
    let v: Value = serde_json::from_str(&json[0]).unwrap();
    assert_eq!(
        (v["Repository"].as_str(), v["Tag"].as_str()),
        (Some("web"), Some("2"))
    );
    assert!(v["Digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(v["Digest"]
        .as_str()
        .unwrap()
        .contains(v["ID"].as_str().unwrap()));
    let quiet = images(&w, &["-q", "--filter", "reference=web"]);
    assert_eq!(quiet, [v["ID"].as_str().unwrap()]);

    refused(
        &w.builder(&["images", "--filter", "label=a=b"]),
        "invalid filter \"label\"",
    );
    refused(
        &w.builder(&["images", "--filter", "dangling=maybe"]),
        "dangling=maybe",
    );
    refused(&w.builder(&["images", "--format", "{{.Nope}}"]), ".Nope");
    refused(
        &w.builder(&["images", "--format", "{{.ID | printf}}"]),
        "unsupported",
    );
    let out = w.builder(&["images", "--filter", "since=nosuch"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn history_lists_steps_newest_first_with_layer_sizes() {
    let Some(w) = two_images("history_lists_steps_newest_first_with_layer_sizes") else {
        return;
    };
    let inspect: Value = serde_json::from_str(&ok(&w.builder(&["inspect", "app:1"]))).unwrap();
    let entries = inspect["config"]["history"].as_array().unwrap().len();
    let digest = inspect["digest"].as_str().unwrap();
    let rows: Vec<Value> = ok(&w.builder(&["history", "--format", "json", "app:1"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), entries);
    let by = |i: usize| rows[i]["CreatedBy"].as_str().unwrap().to_string();
    let size = |i: usize| rows[i]["Size"].as_str().unwrap().to_string();
    assert!(by(0).contains("COPY f /f"), "{rows:?}");
    // A tar of one small file: headers and padding make it a few kB.
    assert!(size(0).ends_with("kB"), "{rows:?}");
    assert!(by(1).contains("a-rather-long"), "{rows:?}");
    assert!(
        by(1).chars().count() <= 45 && by(1).ends_with('…'),
        "{}",
        by(1)
    );
    assert!(by(2).contains("LABEL") && size(2) == "0B", "{rows:?}");
    assert!(by(3).contains("ENV") && size(3) == "0B", "{rows:?}");
    assert!(by(4).contains("head -c 2000000"), "{rows:?}");
    assert!(size(4).ends_with("MB"), "{rows:?}");
    assert_eq!(rows[0]["ID"], digest.trim_start_matches("sha256:")[..12]);
    assert!(rows[1..].iter().all(|r| r["ID"] == "<missing>"));

    let table = ok(&w.builder(&["history", "app:1"]));
    let header = table.lines().next().unwrap();
    for column in ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"] {
        assert!(header.contains(column), "{header}");
    }
    assert_eq!(table.lines().count(), entries + 1, "{table}");
    assert_eq!(
        ok(&w.builder(&["history", "--format", "table", "app:1"])),
        table
    );
    let full = ok(&w.builder(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.ID}}|{{.CreatedBy}}",
        "app:1",
    ]));
    let second = full.lines().nth(1).unwrap();
    assert!(second.contains("docker-would-cut-short > /long"), "{full}");
    assert!(full.starts_with(&format!("{digest}|")), "{full}");
    let quiet = ok(&w.builder(&["history", "-q", "app:1"]));
    assert_eq!(quiet.lines().count(), entries);
    refused(
        &w.builder(&["history", "--format", "{{.Tag}}", "app:1"]),
        ".Tag",
    );
}

#[test]
fn inspect_format_reads_docker_image_inspect_fields() {
    let Some(w) = two_images("inspect_format_reads_docker_image_inspect_fields") else {
        return;
    };
    let doc: Value = serde_json::from_str(&ok(&w.builder(&["inspect", "app:1"]))).unwrap();
    let config_digest = doc["manifest"]["config"]["digest"].as_str().unwrap();
    assert_eq!(doc["Id"], config_digest);
    let fmt = |t: &str| {
        ok(&w.builder(&["inspect", "--format", t, "app:1"]))
            .trim_end()
            .to_string()
    };
    assert_eq!(fmt("{{.Id}}"), config_digest);
    assert_eq!(fmt("{{.Os}}/{{.Architecture}}"), "linux/amd64");
    assert_eq!(fmt("{{.RepoTags}}"), "[app:1 localhost:5000/team/app:1]");
    let digest = doc["digest"].as_str().unwrap();
    assert_eq!(
        fmt("{{.RepoDigests}}"),
        format!("[app@{digest} localhost:5000/team/app@{digest}]")
    );
    assert!(fmt("{{.Config.Env}}").contains("A=1"));
    let env: Vec<String> = serde_json::from_str(&fmt("{{json .Config.Env}}")).unwrap();
    assert!(env.contains(&"A=1".to_string()), "{env:?}");
    assert_eq!(fmt("{{.Config.Labels.version}}"), "1");
    assert_eq!(fmt("{{.Created}}"), "2001-09-09T01:46:40Z");
    let all: Value = serde_json::from_str(&fmt("json")).unwrap();
    assert_eq!(all[0]["Id"], config_digest);
    assert_eq!(all[0]["Config"]["Labels"]["version"], "1");
    let layers: Vec<String> = serde_json::from_str(&fmt("{{json .RootFS.Layers}}")).unwrap();
    assert_eq!(
        layers.len(),
        doc["manifest"]["layers"].as_array().unwrap().len()
    );
    let refuse =
        |t: &str, what: &str| refused(&w.builder(&["inspect", "--format", t, "app:1"]), what);
    refuse("{{.Nope}}", ".Nope");
    refuse("{{.Config.Nope}}", ".Config.Nope");
    refuse("{{len .RootFS.Layers}}", "unsupported");
    refuse("{{.Id", "not closed");
    refuse("table", "no table");
}

#[test]
fn rmi_force_skips_missing_names_as_docker_rmi_f() {
    let dir = tempfile::tempdir().unwrap();
    store_image(
        dir.path(),
        b"layer",
        builder::store::digest::sha256(b"x"),
        &["app", "app:2"],
        |_| {},
    );
    let rmi = |args: &[&str]| {
        let mut all = vec!["rmi"];
        all.extend_from_slice(args);
        crate::common::builder(dir.path(), &all)
    };
    let out = rmi(&["gone", "app"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no such image: gone"),
        "{}",
        stderr(&out)
    );
    let out = rmi(&["-f", "gone", "app:2", "sha256:ffff"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Untagged: docker.io/library/app:2\n");
    assert_eq!(stderr(&out), "");
    let out = crate::common::builder(dir.path(), &["images", "-q"]);
    assert_eq!(stdout(&out), "");
}

#[test]
fn push_all_tags_pushes_every_tag_of_the_repository() {
    let test = "push_all_tags_pushes_every_tag_of_the_repository";
    let Some(layout) = busybox(test) else { return };
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    let host = reg.host();
    let w = Work::new();
    w.dockerfile("FROM busybox\nRUN echo one > /one\n");
    build(&w, &layout, &format!("{host}/app:1"), "1000000000");
    w.dockerfile("FROM busybox\nRUN echo two > /two\n");
    build(&w, &layout, &format!("{host}/app:2"), "1000000000");
    ok(&w.builder(&["tag", &format!("{host}/app:1"), &format!("{host}/other:1")]));
    let out = ok(&w.builder(&["push", "--all-tags", &format!("{host}/app")]));
    let pushed: Vec<&str> = out.lines().collect();
    assert_eq!(pushed.len(), 2, "{out}");
    for (tag, digest) in ["1", "2"].iter().zip(&pushed) {
        let remote = registry_support::skopeo_inspect(&[], &format!("{host}/app:{tag}"));
        assert_eq!(remote["Digest"].as_str(), Some(*digest), "{tag}");
    }
    let tags = Command::new("skopeo")
        .args(["list-tags", "--tls-verify=false"])
        .arg(format!("docker://{host}/app"))
        .output()
        .unwrap();
    let tags: Value = serde_json::from_slice(&tags.stdout).unwrap();
    let mut tags: Vec<&str> = tags["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    tags.sort_unstable();
    assert_eq!(tags, ["1", "2"]);
    let other = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{host}/other:1"))
        .output()
        .unwrap();
    assert!(!other.status.success(), "other:1 was not to be pushed");

    refused(
        &w.builder(&["push", "--all-tags", &format!("{host}/app:1")]),
        "without tag",
    );
    refused(
        &w.builder(&["push", "--all-tags", &format!("{host}/app"), "x"]),
        "--all-tags",
    );
    let out = w.builder(&["push", "--all-tags", &format!("{host}/nothing")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no tag of that repository"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn store_commands_read_a_multi_platform_image() {
    let test = "store_commands_read_a_multi_platform_image";
    let Some(layout) = busybox(test) else { return };
    let w = Work::new();
    w.dockerfile(
        "FROM --platform=$BUILDPLATFORM busybox AS build\nARG TARGETARCH\n\
         RUN echo $TARGETARCH > /arch\nFROM scratch\nCOPY --from=build /arch /arch\n",
    );
    let ctx = Work::busybox_context(&layout);
    w.build_ok(&[
        "--platform",
        "linux/amd64,linux/arm64",
        "-t",
        "multi",
        "--build-context",
        &ctx,
    ]);
    // A row per platform under the index's, each with a size.
    let table = images(&w, &[]);
    assert_eq!(table.len(), 4, "{table:?}");
    assert!(
        table[2].trim_start().starts_with("linux/amd64"),
        "{table:?}"
    );
    assert!(table.iter().all(|l| !l.contains('?')), "{table:?}");
    let rows = images(&w, &["--format", "{{.Repository}} {{.Size}}"]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].starts_with("multi ") && rows[0].ends_with("kB"),
        "{rows:?}"
    );
    // history and inspect --format read the host's platform.
    let history = ok(&w.builder(&["history", "--format", "{{.CreatedBy}}", "multi"]));
    assert!(
        history.lines().next().unwrap().contains("COPY /arch /arch"),
        "{history}"
    );
    let doc: Value = serde_json::from_str(&ok(&w.builder(&["inspect", "multi"]))).unwrap();
    assert_eq!(doc["platforms"][0]["platform"], "linux/amd64");
    let amd64_id = doc["platforms"][0]["Id"].as_str().unwrap();
    assert_ne!(doc["platforms"][1]["Id"].as_str(), Some(amd64_id));
    let fmt = ok(&w.builder(&["inspect", "--format", "{{.Id}} {{.Architecture}}", "multi"]));
    assert_eq!(fmt.trim_end(), format!("{amd64_id} amd64"));
}
