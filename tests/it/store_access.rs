//! Who can reach the store: its root is private to its owner (0700), so the setuid programs
//! a root build leaves in snapshots are out of reach of every other local user; a store of
//! ours that is open to others is made private again, with one notice.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build_support::{busybox, Work};
use crate::common::{have, is_root, text};
use crate::run_support::{runners, RunWork};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o7777
}

/// Regular files named `name` with the setuid bit anywhere under `dir`.
fn setuid_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = e.path().symlink_metadata().unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else if meta.is_file() && meta.mode() & 0o4000 != 0 && e.file_name() == name {
                found.push(e.path());
            }
        }
    }
    found
}

#[test]
fn a_root_build_keeps_setuid_files_out_of_reach_of_other_users() {
    let test = "store_private_after_root_build";
    if !is_root() || !have(test, &["setpriv"]) {
        eprintln!("\n!!! SKIPPED {test}: needs root to switch to an unprivileged user !!!\n");
        return;
    }
    let w = Work::new();
    // Everything above the store is open, as a store outside /root may well be.
    std::fs::set_permissions(w.path(""), std::fs::Permissions::from_mode(0o755)).unwrap();
    w.file("tool", "#!/bin/sh\n", 0o4755)
        .dockerfile("FROM scratch\nCOPY tool /usr/bin/tool\n");
    w.build_ok(&["-t", "app"]);
    let root = w.root();
    assert_eq!(mode(&root), 0o700);
    let found = setuid_files(&root, "tool");
    assert!(!found.is_empty(), "no setuid tool in the store");
    for path in found {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg("stat")
            .arg(&path)
            .output()
            .expect("run setpriv");
        assert!(
            !out.status.success() && text(&out.stderr).contains("Permission denied"),
            "nobody reached {}: {}{}",
            path.display(),
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[test]
fn an_open_store_is_made_private_with_one_notice() {
    let test = "store_open_tightened";
    let Some(layout) = busybox(test) else { return };
    for runner in runners(test) {
        let w = RunWork::new(runner, &layout);
        w.dockerfile("FROM busybox\nCOPY Dockerfile /\n");
        let build = || {
            let out = w.build(&[]);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "as {}: {err}", runner.name());
            err
        };
        let root = w.path("root");
        // An empty directory is simply made private, as if the store were created there.
        assert_eq!(mode(&root), 0o755);
        let first = build();
        assert!(!first.contains("notice:"), "as {}: {first}", runner.name());
        assert_eq!(mode(&root), 0o700, "as {}", runner.name());

        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let second = build();
        let notice = format!(
            "notice: the store {} was open to other users (mode 0755); it is now 0700",
            root.display()
        );
        assert_eq!(
            second.matches(&notice).count(),
            1,
            "as {}: {second}",
            runner.name()
        );
        assert_eq!(mode(&root), 0o700, "as {}", runner.name());
        let third = build();
        assert!(!third.contains("notice:"), "as {}: {third}", runner.name());
    }
}
