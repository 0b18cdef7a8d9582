//! Mount stubs out of the layer, as BuildKit's stub cleaner does (`executor/stubs.go`, with
//! `removeMountStubsRecursive`, which the Dockerfile frontend sets): the files and
//! directories the sandbox created as mount points — /etc/resolv.conf, /etc/hosts, the RUN
//! mounts, and /proc, /dev and /sys in an image that lacks them — and the parents it
//! created for them are removed after the run when they are still empty, children first,
//! and the times of the directory that held each are put back. (runc would leave /proc,
//! /dev and /sys behind; a layer here holds only what the command changed.)
//!
//! [`remove_empty_stubs`] works on the step's root file system after the run (every
//! process of the step is gone), never following a symlink. [`prune_copied_up`] then drops
//! directories that overlay copied up only because a stub was created in them, so they do
//! not show up as changes (BuildKit's differ skips a directory whose mode and owner match
//! the one below).

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, Timespec, Timestamps, CWD};

use crate::solve::copy::DestFs;

/// `path` (as the image sees it) under `root`, if no component on the way is a symlink
/// or missing; the final component is not followed.
fn host_path(root: &Path, path: &Path) -> Option<PathBuf> {
    let mut host = root.to_path_buf();
    let comps: Vec<_> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    let (last, parents) = comps.split_last()?;
    for c in parents {
        host.push(c);
        let meta = std::fs::symlink_metadata(&host).ok()?;
        if !meta.is_dir() {
            return None;
        }
    }
    host.push(last);
    Some(host)
}

/// Remove the still-empty stubs among `stubs` (parents first, as the sandbox reports
/// them) from `root`; returns the image paths removed.
pub fn remove_empty_stubs(root: &Path, stubs: &[PathBuf]) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for stub in stubs.iter().rev() {
        let Some(host) = host_path(root, stub) else {
            continue;
        };
        let Ok(meta) = std::fs::symlink_metadata(&host) else {
            continue;
        };
        let empty = if meta.is_dir() {
            std::fs::read_dir(&host).is_ok_and(|mut d| d.next().is_none())
        } else {
            meta.is_file() && meta.len() == 0
        };
        if !empty {
            continue;
        }
        let parent = host.parent().map(Path::to_path_buf);
        let times = parent.as_deref().and_then(|p| std::fs::metadata(p).ok());
        let gone = if meta.is_dir() {
            std::fs::remove_dir(&host)
        } else {
            std::fs::remove_file(&host)
        };
        if gone.is_ok() {
            if let (Some(p), Some(t)) = (parent, times) {
                let _ = restore_times(&p, &t);
            }
            removed.push(stub.clone());
        }
    }
    removed
}

/// Set `dir`'s access and modification times (not following a symlink) to `meta`'s.
pub(super) fn restore_times(dir: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: meta.atime(),
            tv_nsec: meta.atime_nsec() as _,
        },
        last_modification: Timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec() as _,
        },
    };
    rustix::fs::utimensat(CWD, dir, &times, AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

/// In the upper directory `upper`, remove each parent of a `removed` stub that is now an
/// empty, non-opaque directory with the same kind, mode and owner as below (`below`): it
/// was only copied up for the stub. Walks up while that holds.
pub fn prune_copied_up(upper: &Path, removed: &[PathBuf], below: &dyn DestFs) {
    for stub in removed {
        let mut dir = stub.parent();
        while let Some(d) = dir {
            if d == Path::new("/") || !prune_one(upper, d, below) {
                break;
            }
            dir = d.parent();
        }
    }
}

fn prune_one(upper: &Path, dir: &Path, below: &dyn DestFs) -> bool {
    let Some(host) = host_path(upper, dir) else {
        return false;
    };
    let Ok(meta) = std::fs::symlink_metadata(&host) else {
        return false;
    };
    if !meta.is_dir() || !std::fs::read_dir(&host).is_ok_and(|mut d| d.next().is_none()) {
        return false;
    }
    let opaque = ["user.overlay.opaque", "trusted.overlay.opaque"]
        .iter()
        .any(|k| matches!(xattr::get(&host, k), Ok(Some(v)) if v == b"y"));
    if opaque {
        return false;
    }
    let same = match below.lstat(&dir.to_string_lossy()) {
        Ok(Some(b)) => {
            b.is_dir()
                && b.mode == meta.mode() & 0o7777
                && b.uid == meta.uid()
                && b.gid == meta.gid()
        }
        _ => false,
    };
    same && std::fs::remove_dir(&host).is_ok()
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::solve::lower::LayeredDest;

    #[test]
    fn empty_stubs_go_and_filled_ones_stay() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/hosts"), "").unwrap();
        fs::write(root.join("etc/resolv.conf"), "nameserver 1.1.1.1\n").unwrap();
        fs::create_dir_all(root.join("run/secrets")).unwrap();
        fs::write(root.join("run/secrets/token"), "").unwrap();
        fs::create_dir_all(root.join("src")).unwrap();
        fs::write(root.join("src/kept"), "x").unwrap();
        fs::create_dir_all(root.join("proc")).unwrap();
        fs::create_dir_all(root.join("dev")).unwrap();
        fs::write(root.join("dev/kept"), "x").unwrap();
        let stubs: Vec<PathBuf> = [
            "/proc",
            "/dev",
            "/etc/hosts",
            "/etc/resolv.conf",
            "/run",
            "/run/secrets",
            "/run/secrets/token",
            "/src",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let removed = remove_empty_stubs(root, &stubs);
        assert_eq!(
            removed,
            [
                "/run/secrets/token",
                "/run/secrets",
                "/run",
                "/etc/hosts",
                "/proc"
            ]
            .iter()
            .map(PathBuf::from)
            .collect::<Vec<_>>()
        );
        assert!(
            root.join("etc/resolv.conf").exists(),
            "written by the command"
        );
        assert!(root.join("src/kept").exists());
        assert!(!root.join("proc").exists());
        assert!(root.join("dev/kept").exists(), "filled by the command");
        assert!(!root.join("run").exists());
    }

    #[test]
    fn symlinked_parents_are_not_followed() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("hosts"), "").unwrap();
        let root = t.path().join("root");
        fs::create_dir_all(&root).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("etc")).unwrap();
        let removed = remove_empty_stubs(&root, &[PathBuf::from("/etc/hosts")]);
        assert!(removed.is_empty());
        assert!(outside.join("hosts").exists());
    }

    #[test]
    fn copied_up_parents_are_pruned_when_unchanged() {
        let t = tempfile::tempdir().unwrap();
        let (low, up) = (t.path().join("low"), t.path().join("up"));
        fs::create_dir_all(low.join("etc")).unwrap();
        fs::create_dir_all(up.join("etc")).unwrap();
        fs::create_dir_all(low.join("var")).unwrap();
        fs::create_dir_all(up.join("var")).unwrap();
        fs::write(up.join("var/new"), "x").unwrap();
        let below = LayeredDest::new(vec![low]);
        let removed = vec![PathBuf::from("/etc/hosts"), PathBuf::from("/var/hosts")];
        prune_copied_up(&up, &removed, &below);
        assert!(!up.join("etc").exists());
        assert!(up.join("var/new").exists());
    }
}
