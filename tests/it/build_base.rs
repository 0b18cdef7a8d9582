//! Builds on the busybox fixture, as a `--build-context busybox=oci-layout://...` and as an
//! image loaded into the store with `builder load`: the image keeps every base file as it
//! was, adds exactly what the steps say (owners from `--chown`, numeric or by name from the
//! image's /etc/passwd and /etc/group; WORKDIR owned by USER), and `COPY --from` reads
//! other stages and images with their owners.

use std::collections::BTreeSet;
use std::process::Command;

use crate::build_support::{busybox, config_of, listing, unpack, Work};
use crate::common::{is_root, run};

/// Lines of `after` that are not in `before` (what the build added or changed).
fn added(before: &str, after: &str) -> String {
    let old: BTreeSet<&str> = before.lines().collect();
    after
        .lines()
        .filter(|l| !old.contains(l))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Lines of `before` that are gone from `after`.
fn removed(before: &str, after: &str) -> String {
    added(after, before)
}

#[test]
fn copy_onto_busybox_from_an_oci_layout_context() {
    let test = "copy_onto_busybox";
    let Some(layout) = busybox(test) else { return };
    if !is_root() {
        eprintln!("\n!!! SKIPPED {test}: owners need root (CI runs as root) !!!\n");
        return;
    }
    let w = Work::new();
    let base = listing(&unpack(&layout, "latest", &w.path("out/base")));
    w.file("f", "hi\n", 0o644)
        .file("tool", "#!/bin/sh\n", 0o755)
        .dockerfile(
            "FROM busybox\n\
             COPY --chown=user f /home/user/f\n\
             COPY --chown=1234:5678 f /opt/numeric\n\
             COPY --chown=user:nogroup f /opt/named\n\
             COPY tool /usr/bin/\n\
             COPY f /tmp/\n\
             WORKDIR /srv/app\n\
             USER user\n\
             WORKDIR /srv/app/data\n\
             WORKDIR /home/user\n",
        );
    let ctx = Work::busybox_context(&layout);
    let got = w.build_and_unpack("img", &["--build-context", &ctx]);
    // Missing parents are created 0755, owned by the --chown user (fsutil's MkdirAll).
    let want = r##"f /home/user/f 0644 1000:1000 "hi\n"
d /opt 0755 1234:5678
f /opt/named 0644 1000:65534 "hi\n"
f /opt/numeric 0644 1234:5678 "hi\n"
d /srv 0755 0:0
d /srv/app 0755 0:0
d /srv/app/data 0755 1000:1000
f /tmp/f 0644 0:0 "hi\n"
f /usr/bin/tool 0755 0:0 "#!/bin/sh\n"
"##;
    assert_eq!(added(&base, &got), want);
    assert_eq!(removed(&base, &got), "");

    // The config is busybox's, changed by the steps; the history is busybox's, then ours.
    let config = config_of(&format!("oci:{}:latest", w.path("out/img").display()));
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(config["config"]["User"], "user");
    assert_eq!(config["config"]["WorkingDir"], "/home/user");
    let history: Vec<&str> = config["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["created_by"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        [
            "umoci repack",
            "umoci config",
            "COPY --chown=user f /home/user/f # buildkit",
            "COPY --chown=1234:5678 f /opt/numeric # buildkit",
            "COPY --chown=user:nogroup f /opt/named # buildkit",
            "COPY tool /usr/bin/ # buildkit",
            "COPY f /tmp/ # buildkit",
            "WORKDIR /srv/app",
            "USER user",
            "WORKDIR /srv/app/data",
            "WORKDIR /home/user",
        ]
    );
    // WORKDIR of an existing directory makes no layer.
    let empty: Vec<bool> = config["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["empty_layer"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(
        empty,
        [false, true, false, false, false, false, false, false, true, false, true]
    );
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 8);
}

#[test]
fn base_loaded_into_the_store_and_copy_from_stages_and_images() {
    let test = "base_loaded_into_the_store";
    let Some(layout) = busybox(test) else { return };
    if !is_root() {
        eprintln!("\n!!! SKIPPED {test}: owners need root (CI runs as root) !!!\n");
        return;
    }
    let w = Work::new();
    let archive = w.path("out/busybox.tar");
    run(Command::new("skopeo").args([
        "copy",
        &format!("oci:{}:latest", layout.display()),
        &format!("docker-archive:{}:busybox:latest", archive.display()),
    ]));
    let out = w.builder(&["load", "-i", archive.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    w.file("f", "data\n", 0o600).dockerfile(
        "FROM busybox AS build\n\
         COPY --chown=user f /out/f\n\
         COPY --chown=1:2 f /out/sub/g\n\
         FROM scratch\n\
         COPY --from=build /out /out\n\
         COPY --from=busybox /etc/passwd /etc/group /etc/\n\
         COPY --from=0 /bin/busybox /bin/\n",
    );
    let got = w.build_and_unpack("multi", &[]);
    let passwd = std::fs::read_to_string(w.path("out/multi-bundle/rootfs/etc/passwd")).unwrap();
    assert!(passwd.starts_with("root:x:0:0:"), "{passwd}");
    let want = r##"d /bin 0755 0:0
f /bin/busybox 0755 0:0 BUSYBOX
d /etc 0755 0:0
f /etc/group 0644 0:0 GROUP
f /etc/passwd 0644 0:0 PASSWD
d /out 0755 0:0
f /out/f 0600 1000:1000 "data\n"
d /out/sub 0755 1:2
f /out/sub/g 0600 1:2 "data\n"
"##;
    let base = listing(&unpack(&layout, "latest", &w.path("out/base")));
    let line_of = |path: &str| {
        base.lines()
            .find(|l| l.split(' ').nth(1) == Some(path))
            .unwrap()
            .split(' ')
            .skip(4)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let want = want
        .replace("BUSYBOX", &line_of("/bin/busybox"))
        .replace("GROUP", &line_of("/etc/group"))
        .replace("PASSWD", &line_of("/etc/passwd"));
    assert_eq!(got, want);
}
