//! Fixtures for the prune tests: `builder` commands other than `build` run as a RUN
//! test's runner, the cache records of an image (made here, as the solve step writes
//! them, when the build wrote none for a layer), their ages, and checking that an image
//! named in the store still exports and unpacks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use builder::cache::{CacheStore, Record, RecordLayer};
use builder::image::read_image;
use builder::store::digest::sha256;
use builder::store::DirStore;
use oci_spec::image::Digest;

use crate::build_support::unpack;
use crate::common::{run, text};
use crate::run_support::{output_within, RunWork, Runner, TEST_USER};

/// Layers of the busybox fixture: the image's own layers come after them.
pub const BASE_LAYERS: usize = 1;

/// `builder --root ROOT ARGS...` as `r` in `w`'s workspace, with `env` set.
pub fn builder_as(w: &RunWork, r: Runner, args: &[&str], env: &[(&str, &str)]) -> Output {
    let exe = env!("CARGO_BIN_EXE_builder");
    let home = w.path("");
    let mut cmd = match r {
        Runner::Me => Command::new(exe),
        Runner::Rootless => {
            // Records this process wrote must be the runner's to remove.
            if w.path("root/cache").exists() {
                run(Command::new("chown")
                    .args(["-R", &format!("{TEST_USER}:")])
                    .arg(w.path("root/cache")));
            }
            let mut c = Command::new("runuser");
            c.args(["-u", TEST_USER, "--", "env"])
                .arg(format!("HOME={}", home.display()))
                .args(env.iter().map(|(k, v)| format!("{k}={v}")))
                .arg(exe);
            c
        }
    };
    cmd.arg("--root")
        .arg(w.path("root"))
        .args(args)
        .current_dir(&home)
        .env_remove("BUILDER_ROOT")
        .env_remove("BUILDER_MAX_CACHE")
        .env_remove("BUILDER_CONFIG")
        .env("HOME", &home)
        .envs(env.iter().copied());
    output_within(&mut cmd, Duration::from_secs(120))
}

/// Like [`builder_as`], which must succeed; its stdout.
pub fn builder_ok(w: &RunWork, r: Runner, args: &[&str]) -> String {
    let out = builder_as(w, r, args, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "builder {args:?} as {}:\n{}{}",
        r.name(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The manifest digest the store names `name`.
pub fn named(root: &Path, name: &str) -> Digest {
    let store = DirStore::new(root).unwrap();
    store
        .images()
        .get(name)
        .unwrap()
        .expect("image named")
        .digest
}

/// The chain ids of the image's own layers (above the base).
pub fn own_chains(root: &Path, manifest: &Digest) -> Vec<String> {
    let store = DirStore::new(root).unwrap();
    let image = read_image(&store, manifest).unwrap();
    let mut chains: Vec<String> = Vec::new();
    for d in &image.config.rootfs.diff_ids {
        let next = match chains.last() {
            None => d.to_string(),
            Some(parent) => sha256(format!("{parent} {d}").as_bytes()).to_string(),
        };
        chains.push(next);
    }
    chains.split_off(BASE_LAYERS)
}

/// The chain ids that cache records name.
pub fn record_chains(root: &Path) -> BTreeSet<String> {
    CacheStore::new(root)
        .list()
        .unwrap()
        .into_iter()
        .filter_map(|l| l.record.layer.map(|x| x.chain_id.to_string()))
        .collect()
}

/// Make sure every own layer of the image has a cache record (writing one as the solve
/// step does when the build wrote none); the image's own chain ids.
pub fn ensure_records(root: &Path, manifest: &Digest) -> Vec<String> {
    let store = DirStore::new(root).unwrap();
    let image = read_image(&store, manifest).unwrap();
    let chains = own_chains(root, manifest);
    let have = record_chains(root);
    let cache = CacheStore::new(root);
    let steps: Vec<&builder::image::History> = image
        .config
        .history
        .iter()
        .filter(|h| !h.empty_layer)
        .collect();
    for (i, chain) in chains.iter().enumerate() {
        if have.contains(chain) {
            continue;
        }
        let at = i + BASE_LAYERS;
        cache
            .put(&Record {
                key: sha256(format!("test record {chain}").as_bytes()),
                layer: Some(RecordLayer {
                    descriptor: image.manifest.layers()[at].clone(),
                    diff_id: image.config.rootfs.diff_ids[at].clone(),
                    chain_id: chain.parse().unwrap(),
                    uncompressed_stand_in: false,
                }),
                created: "2026-01-01T00:00:00Z".into(),
                description: steps
                    .get(at)
                    .map(|h| h.created_by.clone())
                    .unwrap_or_default(),
            })
            .unwrap();
    }
    chains
}

/// Make every record whose chain id is in `chains` last used `ago` before now.
pub fn age_records(root: &Path, chains: &[String], ago: Duration) {
    let when = SystemTime::now() - ago;
    for listed in CacheStore::new(root).list().unwrap() {
        let chain = listed.record.layer.map(|l| l.chain_id.to_string());
        if chain.is_some_and(|c| chains.contains(&c)) {
            std::fs::File::options()
                .write(true)
                .open(&listed.path)
                .unwrap()
                .set_modified(when)
                .unwrap();
        }
    }
}

/// Whether the snapshot of `chain` is in the store.
pub fn has_snapshot(root: &Path, chain: &str) -> bool {
    root.join("snapshotter/snapshots")
        .join(chain)
        .join("fs")
        .is_dir()
}

/// Save the store's image `name` as an OCI archive, copy it with skopeo into a layout
/// and unpack it with umoci; the unpacked root file system.
pub fn export_and_unpack(w: &RunWork, name: &str, tag: &str) -> PathBuf {
    let archive = w.path(&format!("out/{tag}.tar"));
    let out = Command::new(env!("CARGO_BIN_EXE_builder"))
        .arg("--root")
        .arg(w.path("root"))
        .args(["save", "-o"])
        .arg(&archive)
        .arg(name)
        .output()
        .unwrap();
    assert!(out.status.success(), "save {name}: {}", text(&out.stderr));
    let layout = w.path(&format!("out/{tag}-layout"));
    run(Command::new("skopeo")
        .arg("copy")
        .arg(format!("oci-archive:{}", archive.display()))
        .arg(format!("oci:{}:{tag}", layout.display())));
    unpack(&layout, tag, &w.path(&format!("out/{tag}-bundle")))
}

/// Whether the step whose progress name holds `step` ran (was not `CACHED`) in the plain
/// progress `err`.
pub fn ran(err: &str, step: &str) -> bool {
    let Some(id) = err.lines().find_map(|l| {
        let (num, rest) = l.strip_prefix('#')?.split_once(' ')?;
        rest.contains(step).then(|| num.to_string())
    }) else {
        panic!("no step {step:?} in:\n{err}");
    };
    !err.lines().any(|l| l == format!("#{id} CACHED"))
}

/// Entry names under `dir` (none when it is missing).
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Wait up to a minute for `cond` (a build on a loaded machine takes a while to reach its
/// RUN step).
pub fn wait_long(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
