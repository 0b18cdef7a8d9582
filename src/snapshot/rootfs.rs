//! The root file system a RUN step writes to, made the best way the host allows: an
//! overlay mount of the parent chain (the upper directory *is* the change set), or a copy
//! of the chain into a fresh directory (the change set is found later by comparing
//! trees). [`Backend::detect`] probes overlay once per process (a tiny mount with a
//! delete and a replaced directory) and reports a fallback once on stderr.

use std::io;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::copy::flatten;
use super::error::{Result, SnapshotError};
use super::overlay::{mount_overlay, OverlayMount};
use super::Active;

/// How RUN steps get a writable root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Overlay mounts with `userxattr`.
    Overlay,
    /// A copy of the chain per step (slow; for hosts where overlay does not work).
    Copy,
}

impl Backend {
    /// Overlay when a probe mount in `scratch` (a directory on the snapshots' file system)
    /// works, else the copy fallback. Probed once per process; the fallback is reported
    /// once on stderr.
    pub fn detect(scratch: &Path) -> Backend {
        static CHOICE: OnceLock<Backend> = OnceLock::new();
        *CHOICE.get_or_init(|| match probe(scratch) {
            Ok(()) => Backend::Overlay,
            Err(why) => {
                eprintln!(
                    "warning: overlay mounts do not work here ({why}); RUN steps copy their \
                     root file system instead, which is slower"
                );
                Backend::Copy
            }
        })
    }
}

impl Backend {
    /// Whether overlay mounts work for RUN steps here: a probe mount in `scratch` (a
    /// directory on the snapshots' file system), with the reason when they do not. For
    /// `builder doctor`; builds use [`Backend::detect`].
    pub fn probe(scratch: &Path) -> std::result::Result<(), String> {
        probe(scratch)
    }
}

/// Where a finished step's changes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changes {
    /// An overlay upper directory: whiteouts are char devices 0/0, opaque directories
    /// carry `user.overlay.opaque=y`.
    Upper(PathBuf),
    /// A full tree to compare against the chain `lowers` (top first).
    Compare {
        /// The parent chain, top first.
        lowers: Vec<PathBuf>,
        /// The step's whole root file system after it ran.
        tree: PathBuf,
    },
}

/// A step's writable root file system; an overlay is unmounted when this is dropped.
#[derive(Debug)]
pub struct StepRoot {
    path: PathBuf,
    changes: Changes,
    mount: Option<OverlayMount>,
}

impl StepRoot {
    /// Make the root for `active` (prepared on the chain `lowers`, top first) at `target`
    /// (an empty or absent directory).
    pub fn prepare(
        backend: Backend,
        lowers: &[PathBuf],
        active: &Active,
        target: &Path,
    ) -> Result<StepRoot> {
        std::fs::create_dir_all(target).map_err(|source| SnapshotError::Io {
            action: "create root file system directory",
            path: target.to_path_buf(),
            source,
        })?;
        match backend {
            Backend::Overlay if !lowers.is_empty() => {
                let mount = mount_overlay(lowers, &active.upper, &active.work, target)?;
                Ok(StepRoot {
                    path: target.to_path_buf(),
                    changes: Changes::Upper(active.upper.clone()),
                    mount: Some(mount),
                })
            }
            // Nothing below: the upper directory itself is the root.
            Backend::Overlay => Ok(StepRoot {
                path: active.upper.clone(),
                changes: Changes::Upper(active.upper.clone()),
                mount: None,
            }),
            Backend::Copy => {
                flatten(lowers, target)?;
                Ok(StepRoot {
                    path: target.to_path_buf(),
                    changes: Changes::Compare {
                        lowers: lowers.to_vec(),
                        tree: target.to_path_buf(),
                    },
                    mount: None,
                })
            }
        }
    }

    /// The directory to run in (`RunSpec::rootfs`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the step's changes are.
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// Unmount (overlay) now, reporting failure; the change set stays on disk.
    pub fn release(self) -> Result<Changes> {
        if let Some(mount) = self.mount {
            mount.unmount()?;
        }
        Ok(self.changes)
    }
}

/// Mount a tiny overlay, delete a lower file and replace a lower directory through it,
/// and check the upper directory says so the way the differ reads it.
fn probe(scratch: &Path) -> std::result::Result<(), String> {
    let dir = tempfile::Builder::new()
        .prefix(".overlay-probe-")
        .tempdir_in(scratch)
        .map_err(|e| format!("create a probe directory in {}: {e}", scratch.display()))?;
    let p = |name: &str| dir.path().join(name);
    let io = |what: &str, e: io::Error| format!("{what}: {e}");
    for d in ["lower/d", "upper", "work", "merged"] {
        std::fs::create_dir_all(p(d)).map_err(|e| io("create probe dirs", e))?;
    }
    std::fs::write(p("lower/gone"), b"x").map_err(|e| io("write probe file", e))?;
    std::fs::write(p("lower/d/old"), b"x").map_err(|e| io("write probe file", e))?;
    let mount =
        mount_overlay(&[p("lower")], &p("upper"), &p("work"), &p("merged")).map_err(|e| {
            match std::error::Error::source(&e) {
                Some(cause) => format!("{e}: {cause}"),
                None => e.to_string(),
            }
        })?;
    let merged = p("merged");
    let steps = (|| -> io::Result<()> {
        std::fs::remove_file(merged.join("gone"))?;
        std::fs::remove_dir_all(merged.join("d"))?;
        std::fs::create_dir(merged.join("d"))?;
        std::fs::write(merged.join("new"), b"y")
    })();
    mount.unmount().map_err(|e| e.to_string())?;
    steps.map_err(|e| io("write through the probe mount", e))?;
    let gone = std::fs::symlink_metadata(p("upper/gone")).map_err(|e| io("no whiteout", e))?;
    if !(gone.file_type().is_char_device() && gone.rdev() == 0) {
        return Err("a deleted file left no whiteout".into());
    }
    let opaque = xattr::get(p("upper/d"), "user.overlay.opaque")
        .ok()
        .flatten();
    if opaque.as_deref() != Some(b"y") {
        return Err("a replaced directory is not marked opaque".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{DirSnapshotter, Snapshotter};

    fn chain(snaps: &DirSnapshotter) -> Vec<PathBuf> {
        let base = snaps.prepare(None).unwrap();
        std::fs::create_dir_all(base.upper.join("etc")).unwrap();
        std::fs::write(base.upper.join("etc/os"), "base").unwrap();
        std::fs::write(base.upper.join("gone"), "x").unwrap();
        let id = snaps.commit(base, "base").unwrap();
        snaps.view(&id).unwrap()
    }

    #[test]
    fn the_copy_backend_flattens_and_compares() {
        let tmp = tempfile::tempdir().unwrap();
        let snaps = DirSnapshotter::new(&tmp.path().join("snaps")).unwrap();
        let lowers = chain(&snaps);
        let base = snaps.get("base").unwrap().unwrap();
        let active = snaps.prepare(Some(&base)).unwrap();
        let target = tmp.path().join("root");
        let root = StepRoot::prepare(Backend::Copy, &lowers, &active, &target).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.path().join("etc/os")).unwrap(),
            "base"
        );
        assert_eq!(
            root.release().unwrap(),
            Changes::Compare {
                lowers,
                tree: target
            }
        );
    }

    #[test]
    fn the_overlay_backend_is_probed_and_mounts() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: mounting needs root (the integration tests cover rootless)");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(Backend::detect(tmp.path()), Backend::Overlay);
        let snaps = DirSnapshotter::new(&tmp.path().join("snaps")).unwrap();
        let lowers = chain(&snaps);
        let base = snaps.get("base").unwrap().unwrap();
        let active = snaps.prepare(Some(&base)).unwrap();
        let target = tmp.path().join("root");
        let root = StepRoot::prepare(Backend::Overlay, &lowers, &active, &target).unwrap();
        std::fs::remove_file(root.path().join("gone")).unwrap();
        std::fs::write(root.path().join("etc/os"), "changed").unwrap();
        let changes = root.release().unwrap();
        assert_eq!(changes, Changes::Upper(active.upper.clone()));
        assert_eq!(
            std::fs::read_to_string(active.upper.join("etc/os")).unwrap(),
            "changed"
        );
        let gone = std::fs::symlink_metadata(active.upper.join("gone")).unwrap();
        assert!(gone.file_type().is_char_device() && gone.rdev() == 0);
        assert!(!target.join("etc").exists(), "unmounted");
    }
}
