//! Base images whose manifest or config lie are refused, and poison nothing: snapshots are
//! shared by chain id, so a layer that claims busybox's diff_id over other content must
//! never become the snapshot an honest `FROM busybox` in the same store reuses. As root and
//! as the non-root `buildertest` user (whose unpack runs in the build's user namespace).

use std::process::Command;

use crate::build_support::{busybox, Work};
use crate::common::{dir_names, run, text};
use crate::hostile_base_support::{hostile_layout, Lie};
use crate::run_support::{runners, RunWork};

#[test]
fn a_base_image_lying_about_its_diff_id_is_refused_and_poisons_nothing() {
    let test = "lying_diff_id";
    let Some(layout) = busybox(test) else { return };
    for runner in runners(test) {
        let w = RunWork::new(runner, &layout);
        let evil = hostile_layout(&w.path("base"), &w.path("evil"), Lie::DiffId);
        let context = format!("evil=oci-layout://{}", evil.dir.display());
        w.dockerfile("FROM evil\nRUN true\n");
        let err = w.build_fails(&["--build-context", &context]);
        let want = format!(
            "unpack layer 1/1 ({}) of build context evil (manifest sha256:",
            evil.layer
        );
        assert!(err.contains(&want), "as {}: {err}", runner.name());
        let want = format!("but the image config's diff_id is {}", evil.diff_id);
        assert!(err.contains(&want), "as {}: {err}", runner.name());
        let snapshots = w.path("root/snapshotter/snapshots");
        assert!(
            !dir_names(&snapshots).contains(&evil.diff_id),
            "as {}: a snapshot is named by the unverified chain id",
            runner.name()
        );
        let active = dir_names(&w.path("root/snapshotter/active"));
        assert!(active.is_empty(), "as {}: {active:?} left", runner.name());

        // The honest image with that diff_id, in the same store, gets its own content.
        w.dockerfile("FROM busybox\nRUN test ! -e /pwned && test -x /bin/busybox\n");
        let out = w.build(&[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "as {}: {}",
            runner.name(),
            text(&out.stderr)
        );
    }
}

#[test]
fn a_layer_blob_of_another_size_than_its_descriptor_is_refused() {
    let test = "lying_layer_size";
    let Some(layout) = busybox(test) else { return };
    let w = Work::new();
    let evil = hostile_layout(&layout, &w.path("evil"), Lie::Size);
    w.dockerfile("FROM evil\nCOPY Dockerfile /\n");
    let context = format!("evil=oci-layout://{}", evil.dir.display());
    let out = w.build(&["--build-context", &context]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let size = std::fs::metadata(
        evil.dir
            .join("blobs/sha256")
            .join(evil.layer.trim_start_matches("sha256:")),
    )
    .unwrap()
    .len();
    let want = format!(
        "the layer blob {} is {size} bytes, but its descriptor says {}",
        evil.layer,
        size + 1
    );
    assert!(err.contains(&want), "{err}");
}

#[test]
fn an_archive_whose_config_has_more_diff_ids_than_layers_is_not_loaded() {
    let test = "lying_layer_count";
    let Some(layout) = busybox(test) else { return };
    let w = Work::new();
    let evil = hostile_layout(&layout, &w.path("evil"), Lie::Count);
    let archive = w.path("evil.tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(&evil.dir)
        .arg("-cf")
        .arg(&archive)
        .arg("."));
    let before = text(&w.builder(&["images"]).stdout);
    let out = w.builder(&["load", "-i", archive.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("1 layers but 2 diff_ids in its config"),
        "{err}"
    );
    assert_eq!(
        text(&w.builder(&["images"]).stdout),
        before,
        "nothing is named"
    );
}
