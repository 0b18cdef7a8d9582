//! The source side of `COPY --from` read straight from a stage's or image's snapshot chain
//! (the overlay-form lower directories, top first), so no flattened copy of the source
//! rootfs is ever made: each path is found in the topmost layer that holds it, with
//! overlay's rules — a character device 0/0 is a whiteout hiding the path below, a
//! directory marked opaque (`user.overlay.opaque` or `trusted.overlay.opaque` = `y`) hides
//! the lower layers' contents, a non-directory hides whole subtrees below it.
//!
//! The walk asks for a directory's names before its children's paths, so the merged
//! listing records which layer each child comes from; a path looked up on its own (a
//! source pattern, a symlink target) is resolved component by component. The files
//! returned are the snapshots' own: read-only by contract, which is what lets the copy link
//! them instead of copying their data (see `tree.rs`).

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fs::Metadata;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use super::dest::{host_path, lstat_opt};
use crate::snapshot::{is_opaque, is_whiteout};

/// A merged, read-only view of snapshot directories (top first).
#[derive(Debug, Default)]
pub(crate) struct LayeredSrc {
    lowers: Vec<PathBuf>,
    /// Directory (relative path) → the layers that contribute entries to it, top first.
    dirs: Mutex<HashMap<String, Option<Vec<usize>>>>,
    /// Path → the layer it comes from (`None`: it does not exist), learnt from listings.
    found: Mutex<HashMap<String, Option<usize>>>,
}

/// The map behind `m` (a panic elsewhere cannot leave it half-updated: every update is one
/// insert).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn parent_of(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(p, _)| p)
}

impl LayeredSrc {
    /// The view of `lowers`, top first (what `Snapshotter::view` returns); at least one.
    pub(crate) fn new(lowers: Vec<PathBuf>) -> LayeredSrc {
        LayeredSrc {
            lowers,
            ..LayeredSrc::default()
        }
    }

    /// The layer `rel` comes from (`None`: it does not exist in the merged view).
    pub(crate) fn layer_of(&self, rel: &str) -> io::Result<Option<usize>> {
        if rel.is_empty() {
            return Ok((!self.lowers.is_empty()).then_some(0));
        }
        if let Some(known) = lock(&self.found).get(rel) {
            return Ok(*known);
        }
        let found = match self.dir_layers(parent_of(rel))? {
            Some(layers) => self.winner(&layers, rel)?.map(|(i, _)| i),
            None => None,
        };
        lock(&self.found).insert(rel.to_string(), found);
        Ok(found)
    }

    /// The host path of `rel`: in the layer it comes from, else (it does not exist) in the
    /// top layer, where looking at it finds nothing.
    pub(crate) fn host(&self, rel: &str) -> io::Result<PathBuf> {
        let layer = self.layer_of(rel)?.unwrap_or(0);
        Ok(match self.lowers.get(layer) {
            Some(dir) => host_path(dir, rel),
            None => PathBuf::from("/nonexistent-layer"),
        })
    }

    /// The topmost of `layers` holding `rel`, with its metadata; `None` if a whiteout hides
    /// it or no layer has it.
    fn winner(&self, layers: &[usize], rel: &str) -> io::Result<Option<(usize, Metadata)>> {
        for &i in layers {
            let Some(dir) = self.lowers.get(i) else {
                continue;
            };
            match lstat_opt(&host_path(dir, rel))? {
                Some(m) if is_whiteout(&m) => return Ok(None),
                Some(m) => return Ok(Some((i, m))),
                None => {}
            }
        }
        Ok(None)
    }

    /// The layers contributing to directory `rel`, top first (`None`: it is not a
    /// directory in the merged view).
    fn dir_layers(&self, rel: &str) -> io::Result<Option<Vec<usize>>> {
        if let Some(known) = lock(&self.dirs).get(rel) {
            return Ok(known.clone());
        }
        let parent: Vec<usize> = if rel.is_empty() {
            (0..self.lowers.len()).collect()
        } else {
            match self.dir_layers(parent_of(rel))? {
                Some(p) => p,
                None => {
                    lock(&self.dirs).insert(rel.to_string(), None);
                    return Ok(None);
                }
            }
        };
        let mut layers = Vec::new();
        for i in parent {
            let Some(dir) = self.lowers.get(i) else {
                continue;
            };
            let host = host_path(dir, rel);
            match lstat_opt(&host)? {
                None => continue,
                Some(m) if m.is_dir() => {
                    layers.push(i);
                    if !rel.is_empty() && is_opaque(&host) {
                        break;
                    }
                }
                // A whiteout or a non-directory: hides everything below (or, on top, means
                // this is no directory at all).
                Some(_) => break,
            }
        }
        let result = (!layers.is_empty()).then_some(layers);
        lock(&self.dirs).insert(rel.to_string(), result.clone());
        Ok(result)
    }

    /// The names in directory `rel` of the merged view, sorted; each child's layer is
    /// remembered for the walk's next questions.
    pub(crate) fn sorted_names(&self, rel: &str) -> io::Result<Vec<OsString>> {
        let Some(layers) = self.dir_layers(rel)? else {
            return Err(io::Error::from_raw_os_error(nix::libc::ENOTDIR));
        };
        // name → (layer, is a whiteout); the topmost layer's entry wins.
        let mut merged: BTreeMap<Vec<u8>, (usize, bool)> = BTreeMap::new();
        for i in layers {
            let Some(dir) = self.lowers.get(i) else {
                continue;
            };
            for entry in std::fs::read_dir(host_path(dir, rel))? {
                let entry = entry?;
                let name = entry.file_name();
                let key = name.as_bytes().to_vec();
                if merged.contains_key(&key) {
                    continue;
                }
                let whiteout = entry.file_type()?.is_char_device()
                    && entry.metadata().is_ok_and(|m| is_whiteout(&m));
                merged.insert(key, (i, whiteout));
            }
        }
        let mut found = lock(&self.found);
        let mut names = Vec::with_capacity(merged.len());
        for (key, (layer, whiteout)) in merged {
            let name = OsString::from(std::ffi::OsStr::from_bytes(&key));
            let child = match rel {
                "" => name.to_string_lossy().into_owned(),
                _ => format!("{rel}/{}", name.to_string_lossy()),
            };
            if whiteout {
                found.insert(child, None);
            } else {
                found.insert(child, Some(layer));
                names.push(name);
            }
        }
        Ok(names)
    }

    /// The metadata of the merged root (the top layer's root directory).
    pub(crate) fn root_meta(&self) -> io::Result<Metadata> {
        match self.lowers.first() {
            Some(top) => std::fs::metadata(top),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn whiteout(path: &std::path::Path) -> bool {
        nix::sys::stat::mknod(
            path,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .is_ok()
    }

    fn names(src: &LayeredSrc, rel: &str) -> Vec<String> {
        src.sorted_names(rel)
            .unwrap()
            .into_iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn merges_listings_with_the_top_layer_winning() {
        let t = tempfile::tempdir().unwrap();
        let (low, up) = (t.path().join("low"), t.path().join("up"));
        fs::create_dir_all(low.join("etc/sub")).unwrap();
        fs::write(low.join("etc/passwd"), "low").unwrap();
        fs::write(low.join("etc/group"), "low").unwrap();
        fs::create_dir_all(low.join("dir")).unwrap();
        fs::write(low.join("dir/inner"), "x").unwrap();
        fs::create_dir_all(up.join("etc")).unwrap();
        fs::write(up.join("etc/passwd"), "up").unwrap();
        fs::write(up.join("etc/new"), "up").unwrap();
        fs::write(up.join("dir"), "now a file").unwrap();
        let src = LayeredSrc::new(vec![up.clone(), low.clone()]);
        assert_eq!(names(&src, ""), ["dir", "etc"]);
        assert_eq!(names(&src, "etc"), ["group", "new", "passwd", "sub"]);
        assert_eq!(src.host("etc/passwd").unwrap(), up.join("etc/passwd"));
        assert_eq!(src.host("etc/group").unwrap(), low.join("etc/group"));
        assert_eq!(src.host("etc/sub").unwrap(), low.join("etc/sub"));
        assert_eq!(src.layer_of("dir").unwrap(), Some(0));
        // The file on top hides the directory below, also when asked directly.
        assert_eq!(src.layer_of("dir/inner").unwrap(), None);
        assert!(src.sorted_names("dir").is_err());
        // Asked without a listing first.
        let fresh = LayeredSrc::new(vec![up.clone(), low.clone()]);
        assert_eq!(fresh.host("etc/sub").unwrap(), low.join("etc/sub"));
        assert_eq!(fresh.layer_of("nope/x").unwrap(), None);
        assert!(fresh.root_meta().unwrap().is_dir());
    }

    #[test]
    fn whiteouts_and_opaque_directories_hide_lower_entries() {
        let t = tempfile::tempdir().unwrap();
        let (low, up) = (t.path().join("low"), t.path().join("up"));
        fs::create_dir_all(low.join("cache")).unwrap();
        fs::write(low.join("cache/old"), "x").unwrap();
        fs::write(low.join("gone"), "x").unwrap();
        fs::create_dir_all(up.join("cache")).unwrap();
        fs::write(up.join("cache/new"), "x").unwrap();
        let opaque = xattr::set(up.join("cache"), "user.overlay.opaque", b"y").is_ok();
        let white = whiteout(&up.join("gone"));
        let src = LayeredSrc::new(vec![up, low]);
        if opaque {
            assert_eq!(names(&src, "cache"), ["new"]);
            assert_eq!(src.layer_of("cache/old").unwrap(), None);
        } else {
            eprintln!("opaque part skipped: no user xattrs on this file system");
        }
        if white {
            assert_eq!(names(&src, ""), ["cache"]);
            assert_eq!(src.layer_of("gone").unwrap(), None);
            let fresh = LayeredSrc::new(src.lowers.clone());
            assert_eq!(fresh.layer_of("gone").unwrap(), None);
        } else {
            eprintln!("whiteout part skipped: mknod not permitted");
        }
    }
}
