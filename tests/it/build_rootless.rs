//! Builds without root: the build runs as root of its own user namespace, so COPY writes
//! files owned 0:0 (and, with a subordinate id range, any `--chown` owner) whoever runs it,
//! and RUN runs as root or as any USER of the image.

use crate::build_support::{busybox, listing, unpack, Work};
use crate::common::{have, is_root, text};
use crate::sandbox::ensure_test_user;

#[test]
fn copy_without_root_writes_root_owned_files() {
    let test = "copy_without_root";
    if !have(test, &["umoci"]) {
        return;
    }
    let w = Work::new();
    w.file("app/run.sh", "run\n", 0o755)
        .file("app/conf", "c\n", 0o604)
        .symlink("app/link", "run.sh")
        .dockerfile("FROM scratch\nCOPY app /app/\nWORKDIR /work\n");
    let layout = w.path("out/layout");
    let spec = format!("type=oci,dest={},tar=false", layout.display());
    let Some(out) = w.builder_as_nobody(test, &["build", "-t", "app", "-o", &spec, "ctx"]) else {
        return;
    };
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got = listing(&unpack(&layout, "latest", &w.path("out/bundle")));
    let want = r#"d /app 0755 0:0
f /app/conf 0604 0:0 "c\n"
l /app/link -> run.sh
f /app/run.sh 0755 0:0 "run\n"
d /work 0755 0:0
"#;
    assert_eq!(got, want);
}

#[test]
fn copy_without_root_makes_parents_with_a_mode_that_shuts_the_owner_out() {
    let test = "copy_chmod_parents_without_root";
    if !have(test, &["umoci"]) {
        return;
    }
    let w = Work::new();
    w.file("a", "a\n", 0o644)
        .dockerfile("FROM scratch\nCOPY --chmod=0640 a /x/y/\nCOPY --chmod=0044 a /p/q\n");
    let layout = w.path("out/layout");
    let spec = format!("type=oci,dest={},tar=false", layout.display());
    let Some(out) = w.builder_as_nobody(test, &["build", "-t", "app", "-o", &spec, "ctx"]) else {
        return;
    };
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got = listing(&unpack(&layout, "latest", &w.path("out/bundle")));
    let want = r#"d /p 0044 0:0
f /p/q 0044 0:0 "a\n"
d /x 0640 0:0
d /x/y 0640 0:0
f /x/y/a 0640 0:0 "a\n"
"#;
    assert_eq!(got, want);
}

#[test]
fn copy_without_root_honours_chown_with_an_id_range() {
    let test = "copy_chown_without_root";
    if !is_root() || !have(test, &["umoci", "runuser"]) {
        eprintln!("\n!!! SKIPPED {test}: needs root to switch to an unprivileged user !!!\n");
        return;
    }
    if let Err(why) = ensure_test_user() {
        panic!("{test}: cannot make the test user: {why}");
    }
    let w = Work::new();
    w.file("app/run.sh", "run\n", 0o755)
        .file("conf", "c\n", 0o644)
        .dockerfile(
            "FROM scratch\nCOPY --chown=1000:1000 app /app/\nCOPY --chown=7:50 conf /conf\n",
        );
    w.give_to_test_user();
    let layout = w.path("out/layout");
    let spec = format!("type=oci,dest={},tar=false", layout.display());
    let out = w.builder_as_test_user(&["build", "-t", "app", "-o", &spec, "ctx"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got = listing(&unpack(&layout, "latest", &w.path("out/bundle")));
    let want = r#"d /app 0755 1000:1000
f /app/run.sh 0755 1000:1000 "run\n"
f /conf 0644 7:50 "c\n"
"#;
    assert_eq!(got, want);
}

#[test]
fn run_without_root_maps_every_id_with_a_range() {
    let test = "run_without_root";
    if !is_root() || !have(test, &["umoci", "runuser"]) {
        eprintln!("\n!!! SKIPPED {test}: needs root to switch to an unprivileged user !!!\n");
        return;
    }
    let Some(layout) = busybox(test) else { return };
    if let Err(why) = ensure_test_user() {
        panic!("{test}: cannot make the test user: {why}");
    }
    let w = Work::new();
    w.dockerfile(
        "FROM busybox\n\
         RUN mkdir /data && id -u > /data/root && chown 1000:1000 /data/root\n\
         USER 1000\n\
         RUN id -u > /tmp/user\n",
    );
    let base = w.busybox_copy(&layout);
    w.give_to_test_user();
    let out_dir = w.path("out/layout");
    let spec = format!("type=oci,dest={},tar=false", out_dir.display());
    let ctx = Work::busybox_context(&base);
    let out = w.builder_as_test_user(&[
        "build",
        "--build-context",
        &ctx,
        "-t",
        "app",
        "-o",
        &spec,
        "ctx",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got = listing(&unpack(&out_dir, "latest", &w.path("out/bundle")));
    assert!(
        got.contains("f /data/root 0644 1000:1000 \"0\\n\""),
        "{got}"
    );
    assert!(
        got.contains("f /tmp/user 0644 1000:1000 \"1000\\n\""),
        "{got}"
    );
}
