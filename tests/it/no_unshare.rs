//! builder where a seccomp filter refuses `unshare`, as inside a container started with its
//! runtime's default profile: one warning line names the filter, with a hint on how to run
//! the container (not how to change the host's sysctls); a build without RUN steps still
//! goes through.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build_support::Work;
use crate::common::{is_root, text};
use crate::sandbox::{ensure_test_user, TEST_USER};

/// `no_unshare.c` beside this file, built once into `dir`.
fn wrapper(dir: &Path) -> Option<PathBuf> {
    let out = dir.join("no_unshare");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/no_unshare.c");
    let made = Command::new("cc")
        .arg("-o")
        .arg(&out)
        .arg(&source)
        .output()
        .ok()?;
    made.status.success().then_some(out)
}

#[test]
fn a_seccomp_filter_that_refuses_unshare_is_named() {
    let test = "no_unshare";
    if !is_root() || ensure_test_user().is_err() {
        eprintln!("\n!!! SKIPPED {test}: needs root to switch to {TEST_USER} !!!\n");
        return;
    }
    let w = Work::new();
    let Some(wrap) = wrapper(&w.path("")) else {
        eprintln!("\n!!! SKIPPED {test}: no C compiler (apt-get install gcc) !!!\n");
        return;
    };
    w.file("a", "a\n", 0o644);
    w.dockerfile("FROM scratch\nCOPY a /a\n");
    w.give_to_test_user();
    let out = Command::new("runuser")
        .args(["-u", TEST_USER, "--"])
        .arg(&wrap)
        .arg(env!("CARGO_BIN_EXE_builder"))
        .arg("--root")
        .arg(w.root())
        .args(["build", "--progress", "plain", "-t", "app", "ctx"])
        .current_dir(w.path(""))
        .env_remove("BUILDER_ROOT")
        .output()
        .expect("run runuser");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("refused by this process's seccomp filter"),
        "{err}"
    );
    assert!(err.contains("RUN steps cannot run"), "{err}");
    assert!(err.contains("--security-opt seccomp=unconfined"), "{err}");
    assert!(!err.contains("sysctl -w"), "{err}");
}
