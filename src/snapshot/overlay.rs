//! Writable root file systems for RUN steps: an overlay mount of a snapshot's chain
//! (lower directories, top first) with the step's upper and work directories, or, where
//! overlay does not work, a plain copy of the chain (chosen automatically, said once).
//!
//! Overlay is always mounted with `userxattr` (the build runs in a user namespace, and
//! snapshots keep opaque markers as `user.overlay.opaque`), through the mount API's
//! `lowerdir+` (one path per call, no length limit) where the kernel has it (6.8+), else
//! through `mount(2)` data, which must stay under a page. Chains longer than overlay's
//! 500 layers, or too long for the page, are folded: the bottom part is mounted first as a
//! read-only overlay and used as one lower directory.
//!
//! A writable overlay is mounted `volatile` where the kernel has it (5.10+; through the
//! mount API): overlay then neither passes the step's `fsync`s on nor syncs the whole file
//! system below when it is unmounted — which, after a large COPY, meant writing all of the
//! COPY's files out before the next step could go on (0.1–0.2 s for 200 MB), and made every
//! `fsync` of a package manager a disk flush. A step's change set is read back right after
//! through the page cache, and the store is made durable where it counts: blobs are
//! fsynced before a cache record names them. (Snapshots are not, neither COPY's nor
//! RUN's: after a power loss, `builder prune --all` drops them and they are made again.)
//!
//! After a step, [`StepRoot::changes`] says where its change set is: the upper directory
//! (overlay) or the copied tree to compare with the chain (copy fallback).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::CWD;
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, UnmountFlags};

use super::error::{Result, SnapshotError};

/// Overlay's limit on lower layers (`OVL_MAX_STACK`).
const MAX_LOWERS: usize = 500;
/// `mount(2)` data must fit in one page, terminator included.
const MAX_DATA: usize = 4095;

/// The kernel rejected `lowerdir+`: use `mount(2)` data from now on.
static LEGACY: AtomicBool = AtomicBool::new(false);

fn mount_err(path: &Path) -> impl FnOnce(io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        action: "mount overlay on",
        path: path.to_path_buf(),
        source,
    }
}

/// A mounted overlay; unmounted (with its folds) when dropped.
#[derive(Debug)]
pub struct OverlayMount {
    target: PathBuf,
    /// Read-only overlays holding the bottom of a long chain, mounted at these dirs.
    folds: Vec<PathBuf>,
    mounted: bool,
}

impl OverlayMount {
    /// Where it is mounted.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Unmount now, reporting failure (dropping unmounts too, silently).
    pub fn unmount(mut self) -> Result<()> {
        self.release()
    }

    fn release(&mut self) -> Result<()> {
        let mut first_err = None;
        let targets = std::iter::once(&self.target)
            .filter(|_| self.mounted)
            .chain(self.folds.iter().rev());
        for target in targets {
            if let Err(e) = unmount(target) {
                first_err.get_or_insert(SnapshotError::Io {
                    action: "unmount overlay",
                    path: target.clone(),
                    source: e,
                });
            }
        }
        for fold in self.folds.drain(..).rev() {
            let _ = std::fs::remove_dir(&fold);
        }
        self.mounted = false;
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for OverlayMount {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

fn unmount(target: &Path) -> io::Result<()> {
    match rustix::mount::unmount(target, UnmountFlags::empty()) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::BUSY) => Ok(rustix::mount::unmount(target, UnmountFlags::DETACH)?),
        Err(e) => Err(e.into()),
    }
}

/// Mount overlay on `target`: `lowers` top first, `upper` and `work` on one file system.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use builder::snapshot::mount_overlay;
/// let lowers = ["/snaps/2/fs".into(), "/snaps/1/fs".into()];
/// let m = mount_overlay(&lowers, "/act/fs".as_ref(), "/act/work".as_ref(), "/act/root".as_ref())?;
/// // ... run the step on /act/root ...
/// m.unmount()?;
/// # Ok(()) }
/// ```
pub fn mount_overlay(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<OverlayMount> {
    if lowers.is_empty() {
        return Err(mount_err(target)(io::Error::other("no lower directory")));
    }
    let mut mount = OverlayMount {
        target: target.to_path_buf(),
        folds: Vec::new(),
        mounted: false,
    };
    mount_chain(lowers, (upper, work), target, &mut mount.folds).map_err(mount_err(target))?;
    mount.mounted = true;
    Ok(mount)
}

/// Whether `chain` can be mounted in one go.
fn fits(chain: &[PathBuf], upper: Option<(&Path, &Path)>) -> bool {
    chain.len() <= MAX_LOWERS
        && (!LEGACY.load(Ordering::Relaxed) || legacy_data(chain, upper).len() <= MAX_DATA)
}

/// Mount `chain` with `upper`/`work` on `target`, folding when it does not fit: the chain
/// (top first) is cut greedily into groups that fit, each group of two or more is mounted
/// read-only beside `work` (`fold0`, `fold1`, ...) and stands in for its layers. One level
/// of folding keeps overlay's stacking depth at two.
fn mount_chain(
    chain: &[PathBuf],
    (upper, work): (&Path, &Path),
    target: &Path,
    folds: &mut Vec<PathBuf>,
) -> io::Result<()> {
    let rw = Some((upper, work));
    if fits(chain, rw) {
        match mount_one(chain, rw, target) {
            Ok(()) => return Ok(()),
            // Only now found the kernel too old for `lowerdir+`, and too long for a page.
            Err(_) if !fits(chain, rw) => {}
            Err(e) => return Err(e),
        }
    }
    let groups = group(chain, |g| fits(g, None));
    let mut lowers = Vec::new();
    for group in groups {
        match group.as_slice() {
            [] => {}
            [one] => lowers.push(one.clone()),
            _ => {
                let dir = work.with_file_name(format!("fold{}", folds.len()));
                std::fs::create_dir_all(&dir)?;
                mount_one(&group, None, &dir)?;
                folds.push(dir.clone());
                lowers.push(dir);
            }
        }
    }
    if !fits(&lowers, rw) {
        return Err(io::Error::other(format!(
            "a chain of {} layers is too long to mount, even folded",
            chain.len()
        )));
    }
    mount_one(&lowers, rw, target)
}

/// Cut `chain` (top first) greedily into consecutive groups that each `fit`.
fn group(chain: &[PathBuf], fit: impl Fn(&[PathBuf]) -> bool) -> Vec<Vec<PathBuf>> {
    let mut groups: Vec<Vec<PathBuf>> = Vec::new();
    let mut current: Vec<PathBuf> = Vec::new();
    for lower in chain {
        current.push(lower.clone());
        if current.len() > 1 && !fit(&current) {
            current.pop();
            groups.push(std::mem::replace(&mut current, vec![lower.clone()]));
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

/// One overlay mount, through the mount API unless the kernel is too old for it.
fn mount_one(lowers: &[PathBuf], upper: Option<(&Path, &Path)>, target: &Path) -> io::Result<()> {
    if !LEGACY.load(Ordering::Relaxed) {
        match mount_api(lowers, upper, target) {
            Err(Unsupported) => LEGACY.store(true, Ordering::Relaxed),
            Ok(result) => return result,
        }
    }
    let data = legacy_data(lowers, upper);
    if data.len() > MAX_DATA {
        return Err(io::Error::other("overlay mount options exceed a page"));
    }
    let data = std::ffi::CString::new(data).map_err(io::Error::other)?;
    Ok(rustix::mount::mount(
        "overlay",
        target,
        "overlay",
        rustix::mount::MountFlags::empty(),
        data.as_c_str(),
    )?)
}

/// The kernel has no `fsopen` or no `lowerdir+`.
struct Unsupported;

fn mount_api(
    lowers: &[PathBuf],
    upper: Option<(&Path, &Path)>,
    target: &Path,
) -> std::result::Result<io::Result<()>, Unsupported> {
    use rustix::mount::{
        fsconfig_create, fsconfig_set_flag, fsconfig_set_string, fsmount, fsopen, move_mount,
    };
    let fs = match fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC) {
        Ok(fs) => fs,
        Err(rustix::io::Errno::NOSYS) => return Err(Unsupported),
        Err(e) => return Ok(Err(e.into())),
    };
    let mut first = true;
    for lower in lowers {
        match fsconfig_set_string(&fs, "lowerdir+", lower) {
            Ok(()) => {}
            Err(rustix::io::Errno::INVAL) if first => return Err(Unsupported),
            Err(e) => return Ok(Err(with_log(&fs, e, lower))),
        }
        first = false;
    }
    let result = (|| {
        if let Some((upper, work)) = upper {
            fsconfig_set_string(&fs, "upperdir", upper).map_err(|e| with_log(&fs, e, upper))?;
            fsconfig_set_string(&fs, "workdir", work).map_err(|e| with_log(&fs, e, work))?;
            match fsconfig_set_flag(&fs, "volatile") {
                // A kernel without it (before 5.10) syncs as before.
                Ok(()) | Err(rustix::io::Errno::INVAL) => {}
                Err(e) => return Err(with_log(&fs, e, target)),
            }
        }
        fsconfig_set_flag(&fs, "userxattr").map_err(|e| with_log(&fs, e, target))?;
        fsconfig_create(&fs).map_err(|e| with_log(&fs, e, target))?;
        let mnt = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())?;
        move_mount(
            &mnt,
            "",
            CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )?;
        Ok(())
    })();
    Ok(result)
}

/// The error with what the kernel logged on the file system context, if anything.
fn with_log(fs: &impl std::os::fd::AsFd, e: rustix::io::Errno, path: &Path) -> io::Error {
    let mut buf = [0u8; 512];
    let mut log = Vec::new();
    while let Ok(n) = rustix::io::read(fs, &mut buf) {
        if n == 0 {
            break;
        }
        if let Some(msg) = buf.get(..n) {
            log.push(String::from_utf8_lossy(msg).trim().to_string());
        }
    }
    let detail = if log.is_empty() {
        String::new()
    } else {
        format!(" ({})", log.join("; "))
    };
    io::Error::new(
        io::Error::from(e).kind(),
        format!("{}: {}{detail}", path.display(), io::Error::from(e)),
    )
}

/// `mount(2)` data: paths escaped for overlay's option parser.
fn legacy_data(lowers: &[PathBuf], upper: Option<(&Path, &Path)>) -> String {
    let esc = |p: &Path| {
        let mut out = String::new();
        for c in p.to_string_lossy().chars() {
            if matches!(c, '\\' | ':' | ',') {
                out.push('\\');
            }
            out.push(c);
        }
        out
    };
    let lower: Vec<String> = lowers.iter().map(|p| esc(p)).collect();
    let mut data = format!("lowerdir={}", lower.join(":"));
    if let Some((upper, work)) = upper {
        data.push_str(&format!(",upperdir={},workdir={}", esc(upper), esc(work)));
    }
    data.push_str(",userxattr");
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_data_escapes_separators() {
        let data = legacy_data(
            &["/a:b".into(), "/c,d".into()],
            Some((Path::new("/u\\x"), Path::new("/w"))),
        );
        assert_eq!(
            data,
            "lowerdir=/a\\:b:/c\\,d,upperdir=/u\\\\x,workdir=/w,userxattr"
        );
        assert_eq!(legacy_data(&["/l".into()], None), "lowerdir=/l,userxattr");
    }

    #[test]
    fn groups_are_consecutive_and_fit() {
        let chain: Vec<PathBuf> = (0..7).map(|i| PathBuf::from(format!("/l{i}"))).collect();
        let groups = group(&chain, |g| g.len() <= 3);
        assert_eq!(groups.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
        assert_eq!(groups.concat(), chain);
        assert_eq!(group(&chain[..1], |_| false).len(), 1);
    }

    fn is_root() -> bool {
        rustix::process::geteuid().is_root()
    }

    #[test]
    fn a_chain_longer_than_overlay_allows_is_folded() {
        if !is_root() {
            eprintln!("skipped: mounting needs root (the integration tests cover rootless)");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let mut lowers = Vec::new();
        // Top first: l599 is the top layer; each layer writes its own file and `shared`.
        for i in (0..600).rev() {
            let dir = tmp.path().join(format!("l{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("f{i}")), "x").unwrap();
            std::fs::write(dir.join("shared"), i.to_string()).unwrap();
            lowers.push(dir);
        }
        let (upper, work, merged) = (
            tmp.path().join("a/upper"),
            tmp.path().join("a/work"),
            tmp.path().join("merged"),
        );
        for d in [&upper, &work, &merged] {
            std::fs::create_dir_all(d).unwrap();
        }
        let m = mount_overlay(&lowers, &upper, &work, &merged).unwrap();
        assert!(merged.join("f0").exists() && merged.join("f599").exists());
        assert_eq!(
            std::fs::read_to_string(merged.join("shared")).unwrap(),
            "599"
        );
        std::fs::write(merged.join("new"), "n").unwrap();
        m.unmount().unwrap();
        assert!(upper.join("new").exists());
        assert!(!merged.join("f0").exists(), "unmounted");
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        assert!(!mounts.contains(&tmp.path().to_string_lossy().into_owned()));
        assert!(
            !tmp.path().join("a/fold0").exists(),
            "fold directories removed"
        );
    }

    #[test]
    fn a_writable_overlay_is_volatile_and_its_directories_go_away() {
        if !is_root() {
            eprintln!("skipped: mounting needs root (the integration tests cover rootless)");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let p = |n: &str| tmp.path().join(n);
        for d in ["lower", "upper", "work", "merged"] {
            std::fs::create_dir_all(p(d)).unwrap();
        }
        std::fs::write(p("lower/f"), "x").unwrap();
        let m = mount_overlay(&[p("lower")], &p("upper"), &p("work"), &p("merged")).unwrap();
        let merged = p("merged").to_string_lossy().into_owned();
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        let line = mounts
            .lines()
            .find(|l| l.split(' ').nth(1) == Some(merged.as_str()))
            .expect("the overlay is mounted");
        assert!(line.contains("volatile"), "{line}");
        // A file written and fsynced through it is in the upper directory after unmounting.
        let f = std::fs::File::create(p("merged/new")).unwrap();
        std::io::Write::write_all(&mut &f, b"n").unwrap();
        f.sync_all().unwrap();
        drop(f);
        m.unmount().unwrap();
        assert_eq!(std::fs::read_to_string(p("upper/new")).unwrap(), "n");
        // The work directory (with overlay's volatile marker) can be removed like any other.
        std::fs::remove_dir_all(p("work")).unwrap();
        assert!(!p("work").exists());
    }
}
