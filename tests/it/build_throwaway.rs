//! Throwaway stages (used only through `COPY --from`): their layers are written as plain
//! tar and never compressed, as root and as a non-root user. After the build the store holds
//! no compressed blob of them and their cache records say so; a later `--target` build of
//! that stage reuses the steps and compresses their layers from the snapshots, and its
//! image (checked by skopeo and umoci) is the one a store that never saw the throwaway
//! stage builds: the same manifest digest. A `--cache-to` export ships those layers
//! compressed (made from the snapshots, as an eager build makes them), never plain tar.

use std::path::Path;
use std::process::Command;

use builder::store::digest::sha256;

use crate::build_support::{busybox, unpack};
use crate::common::{have, run, step_number, text};
use crate::run_support::{runners, RunWork};

const DOCKERFILE: &str = "FROM busybox AS build\n\
                          COPY data/ /data/\n\
                          RUN mkdir -p /out && seq 1 50000 > /out/seq && echo made > /out/made\n\
                          FROM scratch\n\
                          COPY --from=build /out/made /made\n";

const BUILD_STEPS: [&str; 2] = [
    "[build 2/3] COPY data/ /data/",
    "[build 3/3] RUN mkdir -p /out && seq 1 50000 > /out/seq && echo made > /out/made",
];

fn workspace(w: RunWork) -> RunWork {
    w.dockerfile(DOCKERFILE);
    for f in 0..20 {
        w.file(&format!("data/f{f:02}"), &format!("file {f}\n").repeat(500));
    }
    w
}

/// Build into `out/NAME` (times clamped) with `args`; the image id and the progress.
fn build(w: &RunWork, who: &str, name: &str, args: &[&str]) -> (String, String) {
    let spec = format!(
        "type=oci,dest={},tar=false,rewrite-timestamp=true",
        w.path(&format!("out/{name}")).display()
    );
    let iid = format!("out/{name}.iid");
    let mut all = vec!["-t", "app", "-o", spec.as_str(), "--iidfile", iid.as_str()];
    all.extend_from_slice(args);
    let out = w.build(&all);
    let progress = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "as {who}:\n{progress}");
    (std::fs::read_to_string(w.path(&iid)).unwrap(), progress)
}

/// The cache records of the build stage's steps: (diff_id, blob digest, stand-in).
fn build_records(root: &Path) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root.join("cache/records")).unwrap() {
        let r: serde_json::Value =
            serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap();
        if !r["description"].as_str().unwrap().starts_with("[build") {
            continue;
        }
        let l = &r["layer"];
        out.push((
            l["diff_id"].as_str().unwrap().to_string(),
            l["descriptor"]["digest"].as_str().unwrap().to_string(),
            l["uncompressed_stand_in"].as_bool().unwrap_or(false),
        ));
    }
    out.sort();
    out
}

/// The tar digests of every gzip blob in the store at `root`.
fn gzip_tars(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root.join("blobs/sha256")).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut tar = Vec::new();
            let mut gz = flate2::read::GzDecoder::new(&bytes[..]);
            std::io::Read::read_to_end(&mut gz, &mut tar).unwrap();
            out.push(sha256(&tar).to_string());
        }
    }
    out
}

#[test]
fn a_throwaway_stage_is_never_compressed_and_its_target_build_matches_an_eager_one() {
    let test = "build_throwaway";
    let Some(layout) = busybox(test) else { return };
    if !have(test, &["skopeo", "umoci"]) {
        return;
    }
    for r in runners(test) {
        let who = r.name();
        let lazy = workspace(RunWork::new(r, &layout).env("SOURCE_DATE_EPOCH", "1600000000"));
        build(&lazy, who, "full", &[]);
        let root = lazy.path("root");
        let records = build_records(&root);
        assert_eq!(records.len(), 2, "as {who}: {records:?}");
        let tars = gzip_tars(&root);
        for (diff_id, blob, stand_in) in &records {
            assert!(stand_in, "as {who}: {records:?}");
            assert_eq!(diff_id, blob, "as {who}: the blob is the tar");
            let hex = diff_id.trim_start_matches("sha256:");
            assert!(root.join("blobs/sha256").join(hex).is_file(), "as {who}");
            assert!(
                !tars.contains(diff_id),
                "as {who}: {diff_id} was compressed"
            );
        }

        // `--target build` reuses the steps and compresses their layers from the snapshots,
        // as a fresh store would have written them.
        let (iid, progress) = build(&lazy, who, "build", &["--target", "build"]);
        for step in BUILD_STEPS {
            let n = step_number(&progress, step);
            let said = |l: &str| l.starts_with(&format!("{n} layer sha256:"));
            assert!(progress.lines().any(said), "as {who}:\n{progress}");
            let cached = format!("{n} CACHED");
            assert!(
                progress.lines().any(|l| l == cached),
                "as {who}:\n{progress}"
            );
        }
        let eager = workspace(RunWork::new(r, &layout).env("SOURCE_DATE_EPOCH", "1600000000"));
        let (eager_iid, eager_progress) = build(&eager, who, "build", &["--target", "build"]);
        assert_eq!(iid, eager_iid, "as {who}:\n{progress}\n{eager_progress}");
        let inspect = |w: &RunWork| -> serde_json::Value {
            let dest = format!("oci:{}", w.path("out/build").display());
            serde_json::from_str(&run(Command::new("skopeo").args(["inspect", &dest]))).unwrap()
        };
        let (got, want) = (inspect(&lazy), inspect(&eager));
        assert_eq!(got["Layers"], want["Layers"], "as {who}");
        assert_eq!(got["Digest"], iid.as_str(), "as {who}");
        let rootfs = unpack(&lazy.path("out/build"), "latest", &lazy.path("out/bundle"));
        let made = std::fs::read_to_string(rootfs.join("out/made")).ok();
        assert_eq!(made.as_deref(), Some("made\n"), "as {who}");
        assert!(rootfs.join("data/f19").is_file(), "as {who}");
        for (_, _, stand_in) in build_records(&root) {
            assert!(
                !stand_in,
                "as {who}: the compressed records replace the stand-ins"
            );
        }

        // The compressed records serve the full build too: every step is cached.
        let (_, again) = build(&lazy, who, "full", &[]);
        for step in BUILD_STEPS {
            let n = step_number(&again, step);
            assert!(
                again.lines().any(|l| l == format!("{n} CACHED")),
                "as {who}: {step} not cached:\n{again}"
            );
        }
    }
}

#[test]
fn a_cache_export_compresses_the_throwaway_layers_it_ships() {
    let test = "build_throwaway_cache_export";
    let Some(layout) = busybox(test) else { return };
    let Some(r) = runners(test).into_iter().next() else {
        return;
    };
    let who = r.name();
    let w = workspace(RunWork::new(r, &layout).env("SOURCE_DATE_EPOCH", "1600000000"));
    let cache = w.path("out/cache");
    let to = format!("type=local,dest={},mode=max", cache.display());
    build(&w, who, "full", &["--cache-to", &to]);
    // The store's records of the build stage are compressed now, and so is what went out.
    let records = build_records(&w.path("root"));
    assert_eq!(records.len(), 2, "{records:?}");
    for (diff_id, blob, stand_in) in &records {
        assert!(!stand_in, "{records:?}");
        assert_ne!(diff_id, blob, "the record names the compressed blob");
        let shipped = cache
            .join("blobs/sha256")
            .join(blob.trim_start_matches("sha256:"));
        let bytes = std::fs::read(&shipped).unwrap_or_else(|e| panic!("{blob}: {e}"));
        assert!(bytes.starts_with(&[0x1f, 0x8b]), "{blob} is not gzip");
    }
    // The same layers an eager build of that stage makes.
    let eager = workspace(RunWork::new(r, &layout).env("SOURCE_DATE_EPOCH", "1600000000"));
    build(&eager, who, "build", &["--target", "build"]);
    let mut eager_blobs: Vec<String> = build_records(&eager.path("root"))
        .into_iter()
        .map(|(_, blob, _)| blob)
        .collect();
    eager_blobs.sort();
    let mut ours: Vec<String> = records.into_iter().map(|(_, blob, _)| blob).collect();
    ours.sort();
    assert_eq!(ours, eager_blobs);
}
