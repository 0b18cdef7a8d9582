//! What killed builds leave behind is collected: the temp an output was written in beside
//! its destination goes at the next build to that destination (a running build's stays),
//! and chunk-index temps in the store go at the next build or prune.

use std::process::Command;

use builder::store::lock::FileLock;

use crate::build_support::Work;
use crate::common::{dir_names, run};

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
