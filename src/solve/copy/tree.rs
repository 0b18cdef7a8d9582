//! Copying source entries into the layer with `cp -a` semantics, as fsutil's copier does:
//! directories recursively (symlinks inside are copied as symlinks, hard links inside one
//! source are kept), files with their content, mode, times and xattrs, devices and fifos
//! recreated; owner 0:0 from the build context, kept from stages and images, or `--chown`;
//! `--chmod` applied to every file and directory; `--exclude` and `--parents` include
//! patterns applied to paths relative to the copied source.
//!
//! The walk is one thread, in order; regular files are created by it and filled by the
//! [`FilePool`]. Inside a directory the copy itself created, nothing can exist yet, so its
//! entries are not looked up before they are written.

use std::collections::{HashMap, HashSet};

use nix::sys::stat::{mknod, Mode as NixMode, SFlag};

use super::dest::DestMeta;
use super::error::CopyError;
use super::files::{Dst, FileJob, FilePool};
use super::layer::{LayerWriter, Probe, Target};
use super::source::{ignore_check, join, FileSrc, SrcTree};
use super::CopyStats;
use crate::context::{Inclusion, MatchInfo, Matcher, Verdict};
use crate::domain::Chmod;
use crate::rooted::Meta;

/// Where the walk is in the source tree.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pos {
    /// Real path relative to the tree root (for `.dockerignore`).
    pub rel: String,
    /// Path relative to the copied source (for `--exclude` and `--parents`).
    pub sub: String,
    pub ignore: MatchInfo,
    pub exclude: MatchInfo,
}

/// Copies source entries into a layer.
pub(crate) struct Copier<'r, 'a> {
    pub layer: LayerWriter<'a>,
    pub tree: SrcTree<'r>,
    pub chown: Option<(u32, u32)>,
    pub chmod: Option<&'r Chmod>,
    pub excludes: Option<&'r Matcher>,
    /// `--parents` include patterns for the current source.
    pub includes: Option<Matcher>,
    pub stats: CopyStats,
    /// Directories seen while looking for include matches, created only when needed.
    pending: Vec<(Target, Meta, bool)>,
    /// Source files with several links: (source layer, device, inode) → first path copied.
    links: HashMap<(usize, u64, u64), String>,
    /// Source inodes a new file was linked to (a second use is copied, see `link_source`).
    linked: HashSet<(u64, u64)>,
    files: FilePool,
    /// The entry being copied is in a directory this source's copy created.
    fresh_parent: bool,
}

impl<'r, 'a> Copier<'r, 'a> {
    pub(crate) fn new(layer: LayerWriter<'a>, tree: SrcTree<'r>) -> Copier<'r, 'a> {
        Copier {
            layer,
            tree,
            chown: None,
            chmod: None,
            excludes: None,
            includes: None,
            stats: CopyStats::default(),
            pending: Vec::new(),
            links: HashMap::new(),
            linked: HashSet::new(),
            files: FilePool::default(),
            fresh_parent: false,
        }
    }

    /// Wait for the files of the source copied so far (the next source may look at them).
    pub(crate) fn sync_files(&mut self) -> Result<(), CopyError> {
        self.stats.bytes += self.files.finish()?;
        Ok(())
    }

    /// Wait for every file to be written, then set the directory times; what was copied.
    pub(crate) fn finish(mut self) -> Result<CopyStats, CopyError> {
        self.stats.bytes += self.files.finish()?;
        let stats = self.stats;
        self.layer.finish()?;
        Ok(stats)
    }

    /// The owner a copied entry gets.
    pub(crate) fn owner_of(&self, meta: &Meta) -> (u32, u32) {
        match self.chown {
            Some(owner) => owner,
            None if self.tree.preserve_owner => (meta.uid, meta.gid),
            None => (0, 0),
        }
    }

    /// The walk position of a copied source at `src_rel`.
    fn start(&self, src_rel: &str) -> Pos {
        Pos {
            rel: src_rel.to_string(),
            sub: String::new(),
            ignore: self.tree.ignore_info(src_rel),
            exclude: MatchInfo::default(),
        }
    }

    /// The owner of directories the copy creates on the way.
    pub(crate) fn new_dir_owner(&self) -> (u32, u32) {
        self.chown.unwrap_or((0, 0))
    }

    /// The mode of a destination directory the copy creates (a missing parent of the
    /// destination, or the destination itself): an octal `--chmod` value's permission
    /// bits, else 0755. BuildKit's copy (fsutil `Copy`, since BuildKit 0.21) creates them
    /// with the octal mode it applies to the files; a symbolic value leaves them 0755.
    pub(crate) fn new_dir_mode(&self) -> u32 {
        self.chmod
            .and_then(Chmod::octal)
            .map_or(0o755, |bits| bits & 0o777)
    }

    /// Copies the contents of source directory `src_rel` into directory `dest` (which
    /// exists, or is created by the caller). The directory's own metadata is not copied.
    pub(crate) fn copy_contents(&mut self, src_rel: &str, dest: &Target) -> Result<(), CopyError> {
        let probe = self.layer.probe(dest)?;
        self.ensure_dir(dest, &probe)?;
        let probe = self.layer.probe(dest)?;
        let pos = self.start(src_rel);
        let all = self.includes.is_none();
        self.copy_children(&pos, dest, &probe, all, false)
    }

    /// Copies one entry (a file, or a directory with everything below it) to `target`.
    pub(crate) fn copy_one(
        &mut self,
        src_rel: &str,
        meta: &Meta,
        target: &Target,
    ) -> Result<(), CopyError> {
        let probe = self.layer.probe(target)?;
        let pos = self.start(src_rel);
        self.fresh_parent = false;
        self.copy_entry(&pos, meta, target, &probe)
    }

    /// Writes a file that has no source entry (a heredoc, a download) at `t`: `mode`
    /// before `--chmod`, owner `--chown` or root, `mtime` if known (else now).
    pub(crate) fn write_new_file(
        &mut self,
        t: &Target,
        content: &mut dyn std::io::Read,
        mode: u32,
        mtime: Option<(i64, i64)>,
    ) -> Result<(), CopyError> {
        let probe = self.layer.probe(t)?;
        self.layer.clear_for_file(t, &probe)?;
        let host = self.layer.host(&t.path);
        let mut dst = self.layer.create_file(t)?;
        let n = std::io::copy(content, &mut dst).map_err(CopyError::io("write", &t.path))?;
        drop(dst);
        self.stats.bytes += n;
        self.stats.files += 1;
        self.layer.set_owner(&host, &t.path, self.new_dir_owner())?;
        let mode = match self.chmod {
            Some(m) => m.apply(mode, false),
            None => mode,
        };
        self.layer.set_mode(&host, &t.path, mode)?;
        match mtime {
            Some(mt) => self.layer.set_times(&host, &t.path, mt, mt),
            None => Ok(()),
        }
    }

    /// A directory to copy into: an image directory is recreated in the layer, anything
    /// else is an error.
    fn ensure_dir(&mut self, t: &Target, probe: &Probe) -> Result<bool, CopyError> {
        match (&probe.upper, &probe.lower) {
            (Some(m), _) if m.is_dir() => Ok(false),
            (None, Some(l)) if l.is_dir() => {
                self.layer.materialize(t, l)?;
                Ok(false)
            }
            (None, None) => {
                self.layer.create_dir(t, 0o755, self.new_dir_owner())?;
                Ok(true)
            }
            _ => Err(CopyError::NotADirectory {
                path: t.path.clone(),
            }),
        }
    }

    /// Copies the children of source directory `dir` into `target`; `fresh` says the copy
    /// just created `target` (empty, and absent below).
    fn copy_children(
        &mut self,
        dir: &Pos,
        target: &Target,
        probe: &Probe,
        all: bool,
        fresh: bool,
    ) -> Result<(), CopyError> {
        for os_name in self.tree.sorted_names(&dir.rel)? {
            let Some(name) = os_name.to_str() else {
                return Err(CopyError::UnsupportedFile {
                    path: self
                        .tree
                        .host(&dir.rel)?
                        .join(&os_name)
                        .display()
                        .to_string(),
                });
            };
            let rel = join(&dir.rel, name);
            let meta = self.tree.lstat(&rel)?.ok_or_else(|| {
                let host = self.tree.host(&rel).unwrap_or_default();
                CopyError::io("read source", &host)(std::io::ErrorKind::NotFound.into())
            })?;
            let is_dir = meta.is_dir();
            let (verdict, ignore) = ignore_check(self.tree.ignore, &rel, is_dir, &dir.ignore);
            if verdict == Verdict::Skip {
                continue;
            }
            let sub = join(&dir.sub, name);
            let mut child_all = all;
            if !all {
                match self.includes.as_ref().map(|m| m.include(&sub, is_dir)) {
                    Some(Inclusion::Full) | None => child_all = true,
                    Some(Inclusion::Partial) if is_dir => {}
                    Some(_) => continue,
                }
            }
            let (verdict, exclude) = ignore_check(self.excludes, &sub, is_dir, &dir.exclude);
            if verdict == Verdict::Skip {
                continue;
            }
            let child = self.layer.child(target, probe, name);
            let child_probe = if fresh {
                Probe::default()
            } else {
                self.layer.probe(&child)?
            };
            let pos = Pos {
                rel,
                sub,
                ignore,
                exclude,
            };
            if child_all {
                self.fresh_parent = fresh;
                self.copy_entry(&pos, &meta, &child, &child_probe)?;
            } else {
                self.pending.push((child.clone(), meta, false));
                self.copy_children(&pos, &child, &child_probe, false, false)?;
                self.pending.pop();
            }
        }
        Ok(())
    }

    /// Creates the directories passed on the way to an include match, with their source
    /// metadata (fsutil's createParentDirs).
    fn flush_pending(&mut self) -> Result<(), CopyError> {
        for i in 0..self.pending.len() {
            let Some((t, meta, done)) = self.pending.get(i).cloned() else {
                continue;
            };
            if done {
                continue;
            }
            let probe = self.layer.probe(&t)?;
            let created = self.ensure_dir(&t, &probe)?;
            if created {
                self.apply_meta(&t, &meta)?;
            }
            if let Some(entry) = self.pending.get_mut(i) {
                entry.2 = true;
            }
        }
        Ok(())
    }

    /// Copies one source entry (at `pos`, with `meta`) to `t`: a directory with its
    /// children, a regular file, or a symlink, device or fifo with its metadata and xattrs.
    fn copy_entry(
        &mut self,
        pos: &Pos,
        meta: &Meta,
        t: &Target,
        probe: &Probe,
    ) -> Result<(), CopyError> {
        let fresh_parent = std::mem::take(&mut self.fresh_parent);
        self.flush_pending()?;
        if meta.is_dir() {
            return self.copy_dir(pos, meta, t, probe);
        }
        self.layer.clear_for_file(t, probe)?;
        let dst_host = self.layer.host(&t.path);
        if meta.is_file() {
            return self.copy_file(pos, meta, t, dst_host, fresh_parent);
        }
        self.create_other(pos, meta, t, &dst_host)?;
        self.apply_meta(t, meta)?;
        self.tree
            .with_entry_path(&pos.rel, |src| copy_xattrs(src, &dst_host))?;
        Ok(())
    }

    /// Copies a source directory: ensures the target directory, copies the children, then
    /// applies the directory's metadata.
    fn copy_dir(
        &mut self,
        pos: &Pos,
        meta: &Meta,
        t: &Target,
        probe: &Probe,
    ) -> Result<(), CopyError> {
        let created = self.ensure_dir(t, probe)?;
        let probe = self.layer.probe(t)?;
        self.copy_children(pos, t, &probe, true, created)?;
        self.apply_meta(t, meta)?;
        self.stats.dirs += 1;
        Ok(())
    }

    /// Copies a regular file to `dst_host` (path `t`): a hard link to the copy of an
    /// inode already copied, a link to the snapshot file (see `link_source`), or a new
    /// file filled by the file pool. `fresh_parent` lets the pool create the file itself.
    fn copy_file(
        &mut self,
        pos: &Pos,
        meta: &Meta,
        t: &Target,
        dst_host: std::path::PathBuf,
        fresh_parent: bool,
    ) -> Result<(), CopyError> {
        let key = (self.tree.layer_of(&pos.rel), meta.dev, meta.ino);
        if meta.nlink > 1 && self.link_copied(&key, &dst_host) {
            self.stats.hardlinks += 1;
            return Ok(());
        }
        let mode = match self.chmod {
            Some(m) => m.apply(meta.mode & 0o7777, false),
            None => meta.mode & 0o7777,
        };
        let owner = self.layer.applies_owners().then(|| self.owner_of(meta));
        let src = self.tree.file_source(&pos.rel)?;
        if self.link_source(&src, &dst_host, meta, owner, mode) {
            self.stats.files += 1;
            self.stats.linked += 1;
            if meta.nlink > 1 {
                self.links.insert(key, t.path.clone());
            }
            return Ok(());
        }
        // Only the walk may create what it could look at again.
        let dst = if fresh_parent && meta.nlink == 1 {
            Dst::Create(dst_host)
        } else {
            Dst::Open(self.layer.create_file(t)?)
        };
        self.files.submit(FileJob {
            src,
            dst,
            size: meta.size,
            path: t.path.clone(),
            owner,
            mode,
            times: (meta.atime, meta.mtime),
        })?;
        self.stats.files += 1;
        if meta.nlink > 1 {
            self.links.insert(key, t.path.clone());
        }
        Ok(())
    }

    /// Makes `dst_host` a hard link to the layer file an earlier link of the same source
    /// inode (`key`) was copied to; false when there is none or the link fails.
    fn link_copied(&self, key: &(usize, u64, u64), dst_host: &std::path::Path) -> bool {
        match self.links.get(key) {
            Some(first) => std::fs::hard_link(self.layer.host(first), dst_host).is_ok(),
            None => false,
        }
    }

    /// Creates a symlink, device or fifo at `dst_host` (path `t`) like the source entry;
    /// any other file type is an error.
    fn create_other(
        &mut self,
        pos: &Pos,
        meta: &Meta,
        t: &Target,
        dst_host: &std::path::Path,
    ) -> Result<(), CopyError> {
        if meta.is_symlink() {
            let link = self.tree.read_link(&pos.rel)?;
            std::os::unix::fs::symlink(&link, dst_host)
                .map_err(CopyError::io("create symlink", &t.path))?;
            self.stats.symlinks += 1;
        } else if meta.is_special() {
            let kind = SFlag::from_bits_truncate(meta.mode & SFlag::S_IFMT.bits());
            mknod(
                dst_host,
                kind,
                NixMode::from_bits_truncate(0o600),
                meta.rdev,
            )
            .map_err(|e| CopyError::io("create device", &t.path)(e.into()))?;
            self.stats.specials += 1;
        } else {
            return Err(CopyError::UnsupportedFile {
                path: self.tree.host(&pos.rel)?.display().to_string(),
            });
        }
        Ok(())
    }

    /// Makes the new file at `dst` a hard link to the source file when that gives exactly
    /// the file a copy would: the source is an immutable snapshot (a stage or image, never
    /// a context a user may edit), the owner and mode the copy sets are the source's own,
    /// and the times and xattrs it copies are the inode's anyway. Snapshots are read-only
    /// by contract and every later change to a layer file replaces it (see
    /// `LayerWriter::clear_for_file`), so the shared inode never changes. One source inode is
    /// linked once per copy: a second path to it (not a hard link in the source) gets its
    /// own copy, so the layer does not gain a hard link the source did not have. False
    /// when the link cannot be made (another file system, the link limit): the caller
    /// copies.
    fn link_source(
        &mut self,
        src: &FileSrc,
        dst: &std::path::Path,
        meta: &Meta,
        owner: Option<(u32, u32)>,
        mode: u32,
    ) -> bool {
        let FileSrc::Path(src) = src else {
            return false;
        };
        if !self.tree.linkable()
            || owner != Some((meta.uid, meta.gid))
            || mode != meta.mode & 0o7777
            || self.linked.contains(&(meta.dev, meta.ino))
        {
            return false;
        }
        if std::fs::hard_link(src, dst).is_err() {
            return false;
        }
        self.linked.insert((meta.dev, meta.ino));
        true
    }

    /// Owner, mode (`--chmod`) and times of a copied entry; directory times are deferred.
    fn apply_meta(&mut self, t: &Target, meta: &Meta) -> Result<(), CopyError> {
        let host = self.layer.host(&t.path);
        let src = DestMeta::from_meta(meta);
        self.layer.set_owner(&host, &t.path, self.owner_of(meta))?;
        let (atime, mtime) = (meta.atime, meta.mtime);
        if meta.is_symlink() {
            return self.layer.set_times(&host, &t.path, atime, mtime);
        }
        let mode = match self.chmod {
            Some(m) => m.apply(src.mode, meta.is_dir()),
            None => src.mode,
        };
        self.layer.set_mode(&host, &t.path, mode)?;
        if meta.is_dir() {
            self.layer.defer_times(&t.path, atime, mtime);
            Ok(())
        } else {
            self.layer.set_times(&host, &t.path, atime, mtime)
        }
    }
}

/// Copies extended attributes, ignoring failures as BuildKit does; SELinux labels of the
/// host are never carried into the image.
fn copy_xattrs(src: &std::path::Path, dst: &std::path::Path) {
    let Ok(names) = xattr::list(src) else {
        return;
    };
    for name in names {
        if name.to_string_lossy().starts_with("security.selinux") {
            continue;
        }
        if let Ok(Some(value)) = xattr::get(src, &name) {
            let _ = xattr::set(dst, &name, &value);
        }
    }
}
