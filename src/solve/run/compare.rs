//! The copy fallback's change set: where overlay does not work, a RUN ran on a full copy
//! of its parent chain, and its changes are found here by comparing that tree with the
//! chain, then written into the step's upper directory in overlay form, so the rest of the
//! step (the layer writer, the snapshot) cannot tell the difference.
//!
//! Rules (continuity's double-walking differ, which BuildKit uses without overlay): a path
//! absent below is added; a directory present on both sides is changed when its mode or
//! owner differ, and walked; any other path is changed when its kind, mode, owner, size,
//! modification time (to the nanosecond), link target or device differ; a path below that
//! the tree lacks gets a whiteout (a character device 0/0). Changed entries are moved (not
//! copied) from the tree, which is thrown away afterwards; directories created in the upper
//! directory for them get the tree's metadata.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::snapshot::{is_opaque, is_whiteout};
use crate::solve::copy::{DestFs, DestMeta, EntryKind};
use crate::solve::error::{StepError, StepResult};
use crate::solve::lower::LayeredDest;

/// Write the changes of `tree` against `lowers` (top first) into the empty `upper`.
pub fn to_upper(tree: &Path, lowers: &[PathBuf], upper: &Path) -> StepResult<()> {
    let below = LayeredDest::new(lowers.to_vec());
    let mut c = Comparer {
        tree,
        lowers,
        upper,
        below: &below,
        made: Vec::new(),
    };
    c.dir(Path::new(""))
        .map_err(|e| StepError::io("compare the step's root file system with", tree)(e))?;
    // Directory times last (writing into them changed them), deepest first.
    for rel in c.made.iter().rev() {
        let meta = std::fs::symlink_metadata(tree.join(rel))
            .map_err(StepError::io("read", tree.join(rel)))?;
        super::stubs::restore_times(&upper.join(rel), &meta)
            .map_err(StepError::io("set times of", upper.join(rel)))?;
    }
    Ok(())
}

struct Comparer<'a> {
    tree: &'a Path,
    lowers: &'a [PathBuf],
    upper: &'a Path,
    below: &'a LayeredDest,
    /// Directories created in the upper directory (relative), parents first.
    made: Vec<PathBuf>,
}

impl Comparer<'_> {
    /// Compare the directory `rel`, present on both sides.
    fn dir(&mut self, rel: &Path) -> io::Result<()> {
        let mut names: Vec<OsString> = std::fs::read_dir(self.tree.join(rel))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        let mut gone = names_below(self.lowers, rel)?;
        for name in names {
            gone.remove(&name);
            let path = rel.join(&name);
            let meta = std::fs::symlink_metadata(self.tree.join(&path))?;
            match self.below.lstat(&image_path(&path))? {
                None => self.take(&path)?,
                Some(b) if b.is_dir() && meta.is_dir() => {
                    if b.mode != meta.mode() & 0o7777 || b.uid != meta.uid() || b.gid != meta.gid()
                    {
                        self.ensure_dir(&path)?;
                    }
                    self.dir(&path)?;
                }
                Some(b) => {
                    if !self.same(&path, &meta, &b)? {
                        self.take(&path)?;
                    }
                }
            }
        }
        for name in gone {
            self.ensure_dir(rel)?;
            nix::sys::stat::mknod(
                &self.upper.join(rel).join(&name),
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::empty(),
                0,
            )
            .map_err(io::Error::from)?;
        }
        Ok(())
    }

    fn same(&self, path: &Path, meta: &Metadata, b: &DestMeta) -> io::Result<bool> {
        let kind = DestMeta::from_metadata(meta).kind;
        if kind != b.kind
            || b.mode != meta.mode() & 0o7777
            || b.uid != meta.uid()
            || b.gid != meta.gid()
            || b.mtime != (meta.mtime(), meta.mtime_nsec())
        {
            return Ok(false);
        }
        let lower = self.below_host(path)?;
        let lower_meta = std::fs::symlink_metadata(&lower)?;
        Ok(match kind {
            EntryKind::Symlink => {
                std::fs::read_link(&lower)? == std::fs::read_link(self.tree.join(path))?
            }
            EntryKind::File => lower_meta.len() == meta.len(),
            _ => lower_meta.rdev() == meta.rdev() && lower_meta.file_type() == meta.file_type(),
        })
    }

    /// The host path of `path` in the topmost lower layer that has it.
    fn below_host(&self, path: &Path) -> io::Result<PathBuf> {
        self.lowers
            .iter()
            .map(|l| l.join(path))
            .find(|p| std::fs::symlink_metadata(p).is_ok())
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    /// Move `path` (and what is under it) from the tree into the upper directory.
    fn take(&mut self, path: &Path) -> io::Result<()> {
        if let Some(parent) = path.parent() {
            self.ensure_dir(parent)?;
        }
        std::fs::rename(self.tree.join(path), self.upper.join(path))
    }

    /// Make `rel` and its parents directories of the upper directory, with the tree's
    /// mode, owner and extended attributes (times are set at the end).
    fn ensure_dir(&mut self, rel: &Path) -> io::Result<()> {
        let mut cur = PathBuf::new();
        for c in rel.components() {
            cur.push(c);
            let dest = self.upper.join(&cur);
            if std::fs::symlink_metadata(&dest).is_ok() {
                continue;
            }
            let src = self.tree.join(&cur);
            let meta = std::fs::symlink_metadata(&src)?;
            std::fs::create_dir(&dest)?;
            std::os::unix::fs::lchown(&dest, Some(meta.uid()), Some(meta.gid()))?;
            std::fs::set_permissions(&dest, meta.permissions())?;
            if let Ok(names) = xattr::list(&src) {
                for name in names {
                    if let Ok(Some(v)) = xattr::get(&src, &name) {
                        let _ = xattr::set(&dest, &name, &v);
                    }
                }
            }
            self.made.push(cur.clone());
        }
        Ok(())
    }
}

/// `/a/b` for the relative `a/b`.
fn image_path(rel: &Path) -> String {
    format!("/{}", rel.display())
}

/// The names in directory `rel` of the merged chain `lowers` (top first).
fn names_below(lowers: &[PathBuf], rel: &Path) -> io::Result<BTreeSet<OsString>> {
    let mut decided: BTreeMap<OsString, bool> = BTreeMap::new();
    'layers: for layer in lowers {
        let mut dir = layer.clone();
        let mut last = false;
        for c in rel.components() {
            dir.push(c);
            match std::fs::symlink_metadata(&dir) {
                Err(e) if e.kind() == io::ErrorKind::NotFound && !last => continue 'layers,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break 'layers,
                Err(e) => return Err(e),
                Ok(m) if is_whiteout(&m) || !m.is_dir() => break 'layers,
                Ok(_) => last |= is_opaque(&dir),
            }
        }
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if let std::collections::btree_map::Entry::Vacant(slot) = decided.entry(name) {
                slot.insert(!is_whiteout(&entry.metadata()?));
            }
        }
        if last {
            break;
        }
    }
    Ok(decided
        .into_iter()
        .filter_map(|(n, present)| present.then_some(n))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::snapshot::flatten;

    #[test]
    fn changes_become_an_upper_directory() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: whiteouts need root (the integration tests cover rootless)");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let (low, tree, up) = (
            t.path().join("low"),
            t.path().join("tree"),
            t.path().join("up"),
        );
        fs::create_dir_all(low.join("etc")).unwrap();
        fs::write(low.join("etc/keep"), "k").unwrap();
        fs::write(low.join("etc/edit"), "old").unwrap();
        fs::write(low.join("gone"), "x").unwrap();
        fs::create_dir_all(low.join("dir/sub")).unwrap();
        fs::write(low.join("dir/sub/f"), "x").unwrap();
        std::os::unix::fs::symlink("keep", low.join("etc/link")).unwrap();
        let lowers = vec![low];
        flatten(&lowers, &tree).unwrap();
        fs::create_dir(&up).unwrap();
        // The step.
        fs::write(tree.join("etc/edit"), "new!").unwrap();
        fs::remove_file(tree.join("gone")).unwrap();
        fs::remove_dir_all(tree.join("dir/sub")).unwrap();
        fs::create_dir_all(tree.join("new/deep")).unwrap();
        fs::write(tree.join("new/deep/f"), "n").unwrap();

        to_upper(&tree, &lowers, &up).unwrap();
        let mut got = Vec::new();
        for e in walkdir::WalkDir::new(&up).sort_by_file_name().min_depth(1) {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(&up).unwrap().display().to_string();
            let m = e.path().symlink_metadata().unwrap();
            let kind = if is_whiteout(&m) {
                "W"
            } else if m.is_dir() {
                "d"
            } else {
                "f"
            };
            got.push(format!("{kind} {rel}"));
        }
        assert_eq!(
            got,
            vec![
                "d dir",
                "W dir/sub",
                "d etc",
                "f etc/edit",
                "W gone",
                "d new",
                "d new/deep",
                "f new/deep/f",
            ]
        );
    }
}
