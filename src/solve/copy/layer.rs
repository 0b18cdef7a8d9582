//! The new layer: a fresh, empty directory (the step's upper directory) into which files are
//! written at their final paths in the image, seen together with the destination image
//! below it ([`DestFs`]) as one filesystem, the way overlayfs merges them.
//!
//! Invariants: every path handed to the host filesystem is `out_dir` joined with plain
//! components (no `..`, no `.`), whose existing parents in `out_dir` are real directories
//! (symlinks are followed logically, inside the image, never by the kernel), so nothing is
//! ever written outside `out_dir`. Parent directories that exist in the image are recreated
//! in the layer with the mode, owner and times they have in the image.

use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;

use super::dest::{host_path, lstat_opt, DestFs, DestMeta, EntryKind};
use super::error::CopyError;
use super::Ownership;
use crate::context::matcher::clean_path;

/// Most symlinks followed while resolving one path (Linux's own limit is 40; BuildKit's
/// resolver allows 255).
pub(crate) const MAX_SYMLINKS: usize = 255;

/// A path in the image, and whether the destination image may hold entries below its
/// parent (false once some parent is missing from, or not a directory in, the image).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// Absolute, clean, symlink-free path in the image.
    pub path: String,
    /// Whether to look this path up in the destination image.
    pub lower_ok: bool,
}

impl Target {
    pub(crate) fn root() -> Target {
        Target {
            path: "/".to_string(),
            lower_ok: true,
        }
    }
}

/// What is at a [`Target`]: in the new layer, and in the image below it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Probe {
    pub upper: Option<Metadata>,
    pub lower: Option<DestMeta>,
}

impl Probe {
    pub(crate) fn kind(&self) -> Option<EntryKind> {
        match (&self.upper, &self.lower) {
            (Some(m), _) => Some(DestMeta::from_metadata(m).kind),
            (None, Some(l)) => Some(l.kind.clone()),
            (None, None) => None,
        }
    }
    pub(crate) fn exists(&self) -> bool {
        self.upper.is_some() || self.lower.is_some()
    }
    pub(crate) fn is_dir(&self) -> bool {
        self.kind() == Some(EntryKind::Dir)
    }
    fn lower_is_dir(&self) -> bool {
        self.lower.as_ref().is_some_and(DestMeta::is_dir)
    }
}

/// A directory's recorded times: path, atime, mtime (seconds, nanoseconds).
type DirTimes = (String, (i64, i64), (i64, i64));

/// The layer being written, over the destination image.
pub(crate) struct LayerWriter<'a> {
    out: PathBuf,
    lower: &'a dyn DestFs,
    ownership: Ownership,
    /// Directory times to set once everything is written (writing into a directory
    /// changes its mtime).
    dir_times: Vec<DirTimes>,
    /// Modes of created directories that would keep their owner out (no `rwx` for the
    /// owner), set once everything below them is written.
    dir_modes: Vec<(String, u32)>,
}

fn ts((sec, nsec): (i64, i64)) -> TimeSpec {
    TimeSpec::new(sec, nsec)
}

impl<'a> LayerWriter<'a> {
    pub(crate) fn new(
        out: &Path,
        lower: &'a dyn DestFs,
        ownership: Ownership,
    ) -> Result<LayerWriter<'a>, CopyError> {
        let meta = std::fs::metadata(out).map_err(CopyError::io("open layer directory", out))?;
        if !meta.is_dir() {
            return Err(CopyError::Io {
                action: "open layer directory",
                path: out.to_path_buf(),
                source: std::io::Error::from_raw_os_error(nix::libc::ENOTDIR),
            });
        }
        Ok(LayerWriter {
            out: out.to_path_buf(),
            lower,
            ownership,
            dir_times: Vec::new(),
            dir_modes: Vec::new(),
        })
    }

    /// The host path of an image path inside the layer directory.
    pub(crate) fn host(&self, path: &str) -> PathBuf {
        debug_assert!(
            path.split('/').all(|c| c != ".." && c != "."),
            "unclean layer path {path}"
        );
        host_path(&self.out, path)
    }

    pub(crate) fn probe(&self, t: &Target) -> Result<Probe, CopyError> {
        let upper = lstat_opt(&self.host(&t.path)).map_err(CopyError::io("inspect", &t.path))?;
        let lower = if t.lower_ok {
            self.lower
                .lstat(&t.path)
                .map_err(CopyError::io("inspect image path", &t.path))?
        } else {
            None
        };
        Ok(Probe { upper, lower })
    }

    /// The target for `name` inside directory `parent` (probed as `parent_probe`).
    pub(crate) fn child(&self, parent: &Target, parent_probe: &Probe, name: &str) -> Target {
        Target {
            path: child_path(&parent.path, name),
            lower_ok: parent.lower_ok && parent_probe.lower_is_dir(),
        }
    }

    fn read_link(&self, t: &Target, probe: &Probe) -> Result<String, CopyError> {
        let target = if probe.upper.is_some() {
            std::fs::read_link(self.host(&t.path))
        } else {
            self.lower.read_link(&t.path)
        }
        .map_err(CopyError::io("read symlink", &t.path))?;
        Ok(target.to_string_lossy().into_owned())
    }

    /// Opens a regular file of the image below (to copy it up).
    pub(crate) fn open_lower(&self, path: &str) -> Result<std::fs::File, CopyError> {
        self.lower
            .open(path)
            .map_err(CopyError::io("read image file", path))
    }

    /// Resolves `path` inside the image like a chroot would (BuildKit's `fs.RootPath`):
    /// symlinks are followed, absolute ones from the image root, and `..` never climbs
    /// above it. A missing component ends the walk; the rest is appended as is.
    pub(crate) fn resolve(
        &self,
        path: &str,
        follow_last: bool,
    ) -> Result<(Target, Probe), CopyError> {
        self.resolve_in(&Target::root(), path, follow_last, None)
    }

    /// Like [`LayerWriter::resolve`], but inside directory `base` (an extraction root): absolute
    /// symlinks lead to `base`, and `escape` names the error for relative links leaving it.
    pub(crate) fn resolve_in(
        &self,
        base: &Target,
        path: &str,
        follow_last: bool,
        escape: Option<&dyn Fn(&str) -> CopyError>,
    ) -> Result<(Target, Probe), CopyError> {
        let base_probe = self.probe(base)?;
        let mut rel = clean_path(&format!("/{path}"));
        let mut hops = 0;
        'restart: loop {
            let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
            let mut cur = base.clone();
            let mut cur_probe = base_probe.clone();
            let mut walked: Vec<&str> = Vec::new();
            for (i, comp) in comps.iter().enumerate() {
                let child = self.child(&cur, &cur_probe, comp);
                let probe = self.probe(&child)?;
                let last = i + 1 == comps.len();
                match probe.kind() {
                    Some(EntryKind::Symlink) if !last || follow_last => {
                        hops += 1;
                        if hops > MAX_SYMLINKS {
                            return Err(CopyError::TooManySymlinks {
                                path: path.to_string(),
                            });
                        }
                        let link = self.read_link(&child, &probe)?;
                        let rest = comps.get(i + 1..).unwrap_or(&[]).join("/");
                        let joined = if link.starts_with('/') {
                            format!("{link}/{rest}")
                        } else {
                            let relative = if walked.is_empty() {
                                link.clone()
                            } else {
                                format!("{}/{link}", walked.join("/"))
                            };
                            if let Some(make_err) = escape {
                                let cleaned = clean_path(&relative);
                                if cleaned == ".." || cleaned.starts_with("../") {
                                    return Err(make_err(&child.path));
                                }
                            }
                            format!("/{relative}/{rest}")
                        };
                        rel = clean_path(&format!("/{joined}"));
                        continue 'restart;
                    }
                    Some(EntryKind::Dir) => {
                        walked.push(comp);
                        cur = child;
                        cur_probe = probe;
                    }
                    Some(_) if !last => {
                        return Err(CopyError::NotADirectory { path: child.path });
                    }
                    Some(_) => return Ok((child, probe)),
                    None => {
                        let rest = comps.get(i..).unwrap_or(&[]).join("/");
                        let t = Target {
                            path: child_path(&cur.path, &rest),
                            lower_ok: last && child.lower_ok,
                        };
                        return Ok((t, Probe::default()));
                    }
                }
            }
            return Ok((cur, cur_probe));
        }
    }

    /// Makes sure `path` (resolved in the image) is a directory, creating what is missing
    /// (with `mode` and `owner`) and recreating existing image directories in the layer
    /// with their own metadata. Returns the directory's target.
    pub(crate) fn mkdir_all(
        &mut self,
        path: &str,
        mode: u32,
        owner: (u32, u32),
    ) -> Result<(Target, Probe), CopyError> {
        let (t, _) = self.resolve(path, true)?;
        self.mkdir_resolved(&Target::root(), &t.path, mode, owner)
    }

    /// [`LayerWriter::mkdir_all`] for a path already resolved, relative to `base`.
    pub(crate) fn mkdir_resolved(
        &mut self,
        base: &Target,
        path: &str,
        mode: u32,
        owner: (u32, u32),
    ) -> Result<(Target, Probe), CopyError> {
        let mut cur = base.clone();
        let mut cur_probe = self.probe(&cur)?;
        let rel = path.strip_prefix(base.path.as_str()).unwrap_or(path);
        for comp in rel.split('/').filter(|c| !c.is_empty()) {
            let child = self.child(&cur, &cur_probe, comp);
            let probe = self.probe(&child)?;
            match probe.kind() {
                Some(EntryKind::Dir) => {
                    if probe.upper.is_none() {
                        if let Some(meta) = probe.lower.clone() {
                            self.materialize(&child, &meta)?;
                        }
                    }
                }
                Some(_) => return Err(CopyError::NotADirectory { path: child.path }),
                None if mode & 0o700 == 0o700 => self.create_dir(&child, mode, owner)?,
                None => {
                    self.create_dir(&child, mode | 0o700, owner)?;
                    self.dir_modes.push((child.path.clone(), mode));
                }
            }
            cur_probe = self.probe(&child)?;
            cur = child;
        }
        Ok((cur, cur_probe))
    }

    /// Recreates an image directory in the layer with its image metadata.
    pub(crate) fn materialize(&mut self, t: &Target, meta: &DestMeta) -> Result<(), CopyError> {
        self.create_dir(t, meta.mode, (meta.uid, meta.gid))?;
        self.defer_times(&t.path, meta.atime, meta.mtime);
        Ok(())
    }

    /// Creates directory `t` in the layer with `mode` and `owner`.
    pub(crate) fn create_dir(
        &mut self,
        t: &Target,
        mode: u32,
        owner: (u32, u32),
    ) -> Result<(), CopyError> {
        let host = self.host(&t.path);
        std::fs::create_dir(&host).map_err(CopyError::io("create directory", &t.path))?;
        self.set_owner(&host, &t.path, owner)?;
        self.set_mode(&host, &t.path, mode)
    }

    /// Creates a new regular file at `t` in the layer, mode 0600 until the caller sets it;
    /// something already there (a symlink too) is an error.
    pub(crate) fn create_file(&self, t: &Target) -> Result<File, CopyError> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .mode(0o600)
            .open(self.host(&t.path))
            .map_err(CopyError::io("write", &t.path))
    }

    /// Makes room for a non-directory at `t`: an existing directory is an error, an
    /// existing file or link in the layer is removed.
    pub(crate) fn clear_for_file(&self, t: &Target, probe: &Probe) -> Result<(), CopyError> {
        if probe.is_dir() {
            return Err(CopyError::ReplaceDirectory {
                path: t.path.clone(),
            });
        }
        if probe.upper.is_some() {
            std::fs::remove_file(self.host(&t.path)).map_err(CopyError::io("replace", &t.path))?;
        }
        Ok(())
    }

    /// Removes whatever the layer holds at `t` (an archive entry replacing it).
    pub(crate) fn remove_upper(&self, t: &Target, probe: &Probe) -> Result<(), CopyError> {
        match &probe.upper {
            Some(m) if m.is_dir() => std::fs::remove_dir_all(self.host(&t.path)),
            Some(_) => std::fs::remove_file(self.host(&t.path)),
            None => Ok(()),
        }
        .map_err(CopyError::io("replace", &t.path))
    }

    /// Whether owners are set at all.
    pub(crate) fn applies_owners(&self) -> bool {
        self.ownership == Ownership::Apply
    }

    pub(crate) fn set_owner(
        &self,
        host: &Path,
        path: &str,
        (uid, gid): (u32, u32),
    ) -> Result<(), CopyError> {
        if self.ownership == Ownership::Ignore {
            return Ok(());
        }
        std::os::unix::fs::lchown(host, Some(uid), Some(gid)).map_err(|source| CopyError::Chown {
            path: path.to_string(),
            uid,
            gid,
            source,
        })
    }

    /// Sets permission bits (never call on a symlink: chmod follows links).
    pub(crate) fn set_mode(&self, host: &Path, path: &str, mode: u32) -> Result<(), CopyError> {
        std::fs::set_permissions(host, std::fs::Permissions::from_mode(mode & 0o7777))
            .map_err(CopyError::io("set mode of", path))
    }

    /// Sets access and modification times without following a symlink.
    pub(crate) fn set_times(
        &self,
        host: &Path,
        path: &str,
        atime: (i64, i64),
        mtime: (i64, i64),
    ) -> Result<(), CopyError> {
        utimensat(
            nix::fcntl::AT_FDCWD,
            host,
            &ts(atime),
            &ts(mtime),
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| CopyError::Io {
            action: "set times of",
            path: PathBuf::from(path),
            source: std::io::Error::from(e),
        })
    }

    /// Records times for a directory, applied by [`LayerWriter::finish`].
    pub(crate) fn defer_times(&mut self, path: &str, atime: (i64, i64), mtime: (i64, i64)) {
        self.dir_times.push((path.to_string(), atime, mtime));
    }

    /// Applies the recorded directory times, deepest first, the latest record winning,
    /// then the modes held back from created directories, deepest first.
    pub(crate) fn finish(mut self) -> Result<(), CopyError> {
        let mut seen = std::collections::HashSet::new();
        let mut times: Vec<_> = self
            .dir_times
            .drain(..)
            .rev()
            .filter(|(p, _, _)| seen.insert(p.clone()))
            .collect();
        times.sort_by_key(|(p, _, _)| std::cmp::Reverse(p.matches('/').count()));
        for (path, atime, mtime) in &times {
            let host = self.host(path);
            if lstat_opt(&host).ok().flatten().is_some_and(|m| m.is_dir()) {
                self.set_times(&host, path, *atime, *mtime)?;
            }
        }
        let mut modes = std::mem::take(&mut self.dir_modes);
        modes.sort_by_key(|(p, _)| std::cmp::Reverse(p.matches('/').count()));
        for (path, mode) in &modes {
            let host = self.host(path);
            if lstat_opt(&host).ok().flatten().is_some_and(|m| m.is_dir()) {
                self.set_mode(&host, path, *mode)?;
            }
        }
        Ok(())
    }
}

/// The parent directory and base name of an absolute image path (`/` for a top-level one).
pub(crate) fn split_parent(path: &str) -> (&str, &str) {
    let (parent, base) = path.rsplit_once('/').unwrap_or(("", path));
    (if parent.is_empty() { "/" } else { parent }, base)
}

/// The image path of `name` inside image directory `dir`.
pub(crate) fn child_path(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}
