//! What RUN leaves in the image, over the busybox fixture, built as root and as a non-root
//! user: files created, modified (content and mode) and deleted (`.wh.NAME`), a directory
//! replaced (`.wh..wh..opq` plus its new contents), hard links, symlinks, files chowned to
//! uid 1000 inside; the RUN's layer holds exactly those changes (no /dev, /proc, /sys,
//! /etc/hosts or /etc/resolv.conf the sandbox needed) and umoci unpacks the expected tree.
//! A RUN that changes one file of 20,000 makes a one-file layer; the copy fallback
//! (`BUILDER_SNAPSHOTTER=copy`) makes the same changes.

use crate::build_support::busybox;
use crate::run_image::{base_tree, outside, owners_when_root, under};
use crate::run_support::{runners, RunWork};

const DOCKERFILE: &str = r#"FROM busybox
RUN mkdir -p /data/gone/sub /data/replace /data/keep \
 && echo old > /data/modify \
 && echo bye > /data/delete \
 && touch /data/gone/sub/f /data/replace/old1 /data/replace/old2 \
 && echo kept > /data/keep/k
RUN echo new > /data/new \
 && echo changed >> /data/modify \
 && rm /data/delete \
 && rm -rf /data/gone \
 && rm -rf /data/replace && mkdir /data/replace && echo fresh > /data/replace/new \
 && echo linked > /data/target && ln /data/target /data/hardlink \
 && ln -s target /data/symlink && ln -s /nowhere /data/dangling \
 && echo mine > /data/owned && chown 1000:1000 /data/owned \
 && mkdir -m 0750 /data/udir && chown 1000:1000 /data/udir \
 && touch /data/short-lived && rm /data/short-lived \
 && chmod 0600 /data/keep/k
"#;

/// The first RUN's layer: /data and what it made in it.
const FIRST_LAYER: &str = r#"d data 0755 0:0
f data/delete 0644 0:0 "bye\n"
d data/gone 0755 0:0
d data/gone/sub 0755 0:0
f data/gone/sub/f 0644 0:0 ""
d data/keep 0755 0:0
f data/keep/k 0644 0:0 "kept\n"
f data/modify 0644 0:0 "old\n"
d data/replace 0755 0:0
f data/replace/old1 0644 0:0 ""
f data/replace/old2 0644 0:0 ""
"#;

/// The second RUN's layer: every change, parents as BuildKit's change writer emits them,
/// nothing else.
const LAYER: &str = r#"d data 0755 0:0
wh data/.wh.delete
wh data/.wh.gone
l data/dangling -> /nowhere
f data/hardlink 0644 0:0 "linked\n"
d data/keep 0755 0:0
f data/keep/k 0600 0:0 "kept\n"
f data/modify 0644 0:0 "old\nchanged\n"
f data/new 0644 0:0 "new\n"
f data/owned 0644 1000:1000 "mine\n"
d data/replace 0755 0:0
wh data/replace/.wh..wh..opq
f data/replace/new 0644 0:0 "fresh\n"
l data/symlink -> target
h data/target => data/hardlink
d data/udir 0750 1000:1000
"#;

/// /data in the unpacked image.
const TREE: &str = r#"d /data 0755 0:0
l /data/dangling -> /nowhere
f /data/hardlink 0644 0:0 "linked\n"
d /data/keep 0755 0:0
f /data/keep/k 0600 0:0 "kept\n"
f /data/modify 0644 0:0 "old\nchanged\n"
f /data/new 0644 0:0 "new\n"
f /data/owned 0644 1000:1000 "mine\n"
d /data/replace 0755 0:0
f /data/replace/new 0644 0:0 "fresh\n"
l /data/symlink -> target
h /data/target => /data/hardlink
d /data/udir 0750 1000:1000
"#;

#[test]
fn run_layers_hold_created_modified_deleted_and_replaced_files() {
    let test = "run_layers_hold_changes";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        w.dockerfile(DOCKERFILE);
        let img = w.build_image(&[]);
        assert_eq!(img.layer_count(), 3, "as {}", r.name());
        assert_eq!(
            img.layer(1),
            FIRST_LAYER,
            "as {}: the first RUN's layer",
            r.name()
        );
        assert_eq!(
            img.last_layer(),
            LAYER,
            "as {}: the second RUN's layer",
            r.name()
        );

        let tree = img.tree(&w.path("out/bundle"));
        assert_eq!(
            under(&tree, "/data"),
            owners_when_root(TREE),
            "as {}: /data in the unpacked image",
            r.name()
        );
        assert_eq!(
            outside(&tree, "/data"),
            base_tree(&layout),
            "as {}: RUN changed nothing outside /data",
            r.name()
        );
    }
}

#[test]
fn a_run_that_changes_one_file_of_twenty_thousand_makes_a_one_file_layer() {
    let test = "run_one_file_of_20000";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        for d in 0..100 {
            for f in 0..200 {
                let n = d * 200 + f;
                w.file(&format!("many/d{d:02}/f{n:05}"), &format!("{n}\n"));
            }
        }
        w.dockerfile(
            "FROM busybox\n\
             COPY many /many\n\
             RUN echo more >> /many/d42/f08442\n",
        );
        let started = std::time::Instant::now();
        let img = w.build_image(&[]);
        eprintln!("{test}: as {}: built in {:?}", r.name(), started.elapsed());
        assert_eq!(img.layer_count(), 3, "as {}", r.name());
        let copied = img.layer(1);
        assert_eq!(
            copied.lines().filter(|l| l.starts_with("f ")).count(),
            20_000,
            "as {}: the COPY layer",
            r.name()
        );
        // The file, and its parents as BuildKit's change writer adds them; nothing else.
        assert_eq!(
            img.last_layer(),
            "d many 0755 0:0\n\
             d many/d42 0755 0:0\n\
             f many/d42/f08442 0644 0:0 \"8442\\nmore\\n\"\n",
            "as {}: the RUN layer",
            r.name()
        );
    }
}

#[test]
fn the_first_run_commits_only_its_changes() {
    let test = "run_commits_no_mount_points";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        w.dockerfile("FROM busybox\nRUN touch /x\n");
        let img = w.build_image(&[]);
        // The fixture has no /dev, /proc or /sys: the sandbox makes them as mount points,
        // and, like /etc/hosts and /etc/resolv.conf, they are stubs, not the step's changes
        // (BuildKit's MountStubsCleanerForSpec removes runtime-created stubs such as /proc).
        assert_eq!(
            img.last_layer(),
            "f x 0644 0:0 \"\"\n",
            "as {}: the layer of the first RUN over busybox",
            r.name()
        );
    }
}

#[test]
fn the_copy_fallback_makes_the_same_changes() {
    let test = "run_copy_fallback";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout).env("BUILDER_SNAPSHOTTER", "copy");
        w.dockerfile(DOCKERFILE);
        let img = w.build_image(&[]);
        assert_eq!(
            img.layer(1),
            FIRST_LAYER,
            "as {}: the first RUN's layer",
            r.name()
        );
        // Comparing trees cannot tell a replaced directory from one whose entries were
        // deleted: per-entry whiteouts are as right as the opaque marker.
        let per_entry = LAYER.replace(
            "wh data/replace/.wh..wh..opq\n",
            "wh data/replace/.wh.old1\nwh data/replace/.wh.old2\n",
        );
        let last = img.last_layer();
        assert!(
            last == LAYER || last == per_entry,
            "as {}: the second RUN's layer:\n{last}",
            r.name()
        );
        let tree = img.tree(&w.path("out/bundle"));
        assert_eq!(
            under(&tree, "/data"),
            owners_when_root(TREE),
            "as {}",
            r.name()
        );
        assert_eq!(
            outside(&tree, "/data"),
            base_tree(&layout),
            "as {}",
            r.name()
        );
    }
}
