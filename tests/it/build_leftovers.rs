//! What killed builds leave behind is collected: the temp an output was written in beside
//! its destination goes at the next build to that destination (a running build's stays),
//! whether it was left by `kill -9` mid-export or put there by hand, and chunk-index temps
//! in the store go at the next build or prune.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use builder::store::lock::FileLock;

use crate::build_support::Work;
use crate::common::{builder_cmd, dir_names, run};

fn context(w: &Work) {
    w.file("hello", "hello\n", 0o644)
        .dockerfile("FROM scratch\nCOPY hello /hello\n");
}

#[test]
fn a_killed_oci_outputs_temp_file_goes_at_the_next_build_and_a_live_one_stays() {
    let w = Work::new();
    context(&w);
    let out = w.path("out");
    // What `kill -9` mid-export leaves: a temp file with nobody holding its lock.
    let dead = out.join(".tmp-app.tar-Zq81xKpa");
    std::fs::write(&dead, vec![7u8; 1 << 20]).unwrap();
    // A concurrent build still writing the same destination holds its temp's lock.
    let live = out.join(".tmp-app.tar-Lv3ryB0d");
    let held = FileLock::exclusive(&live).unwrap();
    let dest = out.join("app.tar");
    let spec = format!("type=oci,dest={}", dest.display());
    w.build_ok(&["-t", "app", "-o", &spec]);
    assert_eq!(dir_names(&out), [".tmp-app.tar-Lv3ryB0d", "app.tar"]);
    // The output is whole.
    let listing = run(Command::new("tar").arg("tf").arg(&dest));
    assert!(listing.contains("index.json"), "{listing}");
    drop(held);
    // A directory output sweeps the same way.
    let dead_dir = out.join(".tmp-rootfs-Zq81xKpa");
    std::fs::create_dir_all(dead_dir.join("etc")).unwrap();
    let spec = format!("type=local,dest={}", out.join("rootfs").display());
    w.build_ok(&["-o", &spec]);
    assert_eq!(
        dir_names(&out),
        [".tmp-app.tar-Lv3ryB0d", "app.tar", "rootfs"]
    );
    assert_eq!(std::fs::read(out.join("rootfs/hello")).unwrap(), b"hello\n");
}

#[test]
fn chunk_index_temps_of_killed_builds_go_at_the_next_build_and_at_prune() {
    let w = Work::new();
    context(&w);
    let chunks = w.root().join("chunks");
    std::fs::create_dir_all(&chunks).unwrap();
    // What a build killed while writing a chunk index leaves.
    std::fs::write(chunks.join(".tmp-Q1w2E3"), b"builder-chunk-index 1\n").unwrap();
    w.build_ok(&["-t", "app"]);
    assert!(dir_names(&chunks).is_empty(), "{:?}", dir_names(&chunks));
    std::fs::write(chunks.join(".tmp-R4t5Y6"), b"builder-chunk-index 1\n").unwrap();
    let out = w.builder(&["prune"]);
    assert!(out.status.success(), "{}", crate::common::text(&out.stderr));
    assert!(dir_names(&chunks).is_empty(), "{:?}", dir_names(&chunks));
}

/// The temps of `dest` in its directory.
fn temps_of(dest: &Path) -> Vec<PathBuf> {
    let name = dest.file_name().unwrap().to_string_lossy().into_owned();
    let dir = dest.parent().unwrap();
    dir_names(dir)
        .into_iter()
        .filter(|n| n.starts_with(&format!(".tmp-{name}-")))
        .map(|n| dir.join(n))
        .collect()
}

/// Start an OCI archive build of `w` into `dest` and `kill -9` it while its temp exists;
/// whether that was caught (a fast export may end first).
fn kill_mid_export(w: &Work, dest: &Path) -> bool {
    let spec = format!("type=oci,dest={}", dest.display());
    let mut child = builder_cmd(&w.root())
        .args([
            "build",
            "--progress",
            "plain",
            "-t",
            "app",
            "-o",
            &spec,
            "ctx",
        ])
        .current_dir(w.path(""))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start builder");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if !temps_of(dest).is_empty() {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the build did not reach its export in 120 s");
}

#[test]
fn an_oci_output_killed_mid_export_leaves_a_temp_the_next_build_removes() {
    let w = Work::new();
    // 48 MiB that do not compress: writing the archive takes long enough to catch.
    let mut data = vec![0u8; 48 << 20];
    File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut data)
        .unwrap();
    std::fs::write(w.path("ctx/big"), &data).unwrap();
    w.dockerfile("FROM scratch\nCOPY big /big\n");
    w.build_ok(&["-t", "app"]);
    let dest = w.path("out/app.tar");
    let caught = (0..5).any(|_| {
        let _ = std::fs::remove_file(&dest);
        kill_mid_export(&w, &dest)
    });
    assert!(caught, "no export was caught with its temp");
    let left = temps_of(&dest);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(!dest.exists());
    // The build's namespace child dies with it (PR_SET_PDEATHSIG): then its lock is gone.
    let started = Instant::now();
    while FileLock::try_exclusive(&left[0]).unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the temp stays locked"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let spec = format!("type=oci,dest={}", dest.display());
    w.build_ok(&["-t", "app", "-o", &spec]);
    assert_eq!(dir_names(&w.path("out")), ["app.tar"]);
    let listing = run(Command::new("tar").arg("tf").arg(&dest));
    assert!(listing.contains("index.json"), "{listing}");
}
