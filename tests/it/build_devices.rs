//! Device nodes in a base layer: where the build may not make them (in its user namespace,
//! whether started by root or not) they are skipped with one warning per layer naming how
//! many and the first few.

use crate::build_support::Work;
use crate::common::{store_tar_image, text};
use crate::run_support::{runners, Runner};

/// A layer with `dev/` holding four char devices, and `/hello`.
fn device_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, mode: u32, dev: (u32, u32), data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        if kind == tar::EntryType::Char {
            h.set_device_major(dev.0).unwrap();
            h.set_device_minor(dev.1).unwrap();
        }
        b.append_data(&mut h, path, data).unwrap();
    };
    add("dev/", tar::EntryType::Directory, 0o755, (0, 0), b"");
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("random", 1, 8),
        ("tty", 5, 0),
    ] {
        let path = format!("dev/{name}");
        add(&path, tar::EntryType::Char, 0o666, (major, minor), b"");
    }
    add("hello", tar::EntryType::Regular, 0o644, (0, 0), b"hello\n");
    b.into_inner().unwrap()
}

/// A workspace whose store holds the image `devs` (the device layer), and a context that
/// builds on it.
fn workspace() -> Work {
    let w = Work::new();
    let tar = device_layer();
    store_tar_image(&w.root(), &tar, &["devs"]);
    w.file("note", "note\n", 0o644)
        .dockerfile("FROM devs\nCOPY note /note\n");
    w
}

const WARNING: &str = "warning: skipped 4 device nodes (\"dev/null\", \"dev/zero\", \
                       \"dev/random\" and 1 more): no privilege to create device nodes";

fn output_spec(w: &Work) -> String {
    format!("type=local,dest={}", w.path("out/rootfs").display())
}

/// Build `w` as `runner` with `args` (which must succeed); the build's stderr.
fn build_as(w: &Work, runner: Runner, args: &[&str]) -> String {
    match runner {
        Runner::Me => w.build_ok(args),
        Runner::Rootless => {
            w.give_to_test_user();
            let mut all = vec!["build", "--progress", "plain"];
            all.extend_from_slice(args);
            all.push("ctx");
            let out = w.builder_as_test_user(&all);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "as {}: {err}", runner.name());
            err
        }
    }
}

#[test]
fn device_nodes_skipped_in_the_build_namespace_are_told_once_per_layer() {
    // Builds run in a user namespace of their own, whoever starts them (root too), and
    // there mknod is refused.
    for runner in runners("device_nodes_skipped") {
        let who = runner.name();
        let w = workspace();
        let err = build_as(&w, runner, &["-o", &output_spec(&w)]);
        // Once when the base layer is unpacked for COPY, once when it is flattened for
        // the output: each time one line for the layer, none per node.
        assert_eq!(err.matches(WARNING).count(), 2, "as {who}: {err}");
        assert!(!err.contains("skipped device \""), "as {who}: {err}");
        let rootfs = w.path("out/rootfs");
        assert_eq!(std::fs::read(rootfs.join("hello")).unwrap(), b"hello\n");
        assert_eq!(std::fs::read(rootfs.join("note")).unwrap(), b"note\n");
        assert!(std::fs::symlink_metadata(rootfs.join("dev/null")).is_err());
    }
}
