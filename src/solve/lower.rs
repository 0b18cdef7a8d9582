//! The parent rootfs of a step seen through its snapshot chain: [`LayeredDest`] answers the
//! COPY engine's questions ([`DestFs`]) by looking through the committed lower directories
//! top-down with overlay's rules, so no step ever needs a flattened copy of its parent.
//!
//! Rules (overlayfs, the form `snapshot::unpack` writes): the topmost layer holding a path
//! wins; a character device 0/0 is a whiteout that hides the path below; a directory marked
//! opaque (`user.overlay.opaque` or `trusted.overlay.opaque` = `y`) hides everything below
//! it in lower layers; a non-directory in an upper layer hides whole subtrees below.

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use crate::snapshot::{is_opaque, is_whiteout};
use crate::solve::copy::dest::is_absent;
use crate::solve::copy::{DestFs, DestMeta};

/// Most symlinks followed by [`read_file`].
const MAX_HOPS: usize = 40;

/// A read-only merged view of lower directories (top first).
#[derive(Debug, Clone)]
pub struct LayeredDest {
    lowers: Vec<PathBuf>,
}

impl LayeredDest {
    /// The view of `lowers`, top first (what `Snapshotter::view` returns).
    pub fn new(lowers: Vec<PathBuf>) -> LayeredDest {
        LayeredDest { lowers }
    }

    /// Where `path` lives: the host path in the topmost layer that has it, and its metadata.
    fn find(&self, path: &str) -> io::Result<Option<(PathBuf, Metadata)>> {
        let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        for dir in &self.lowers {
            let mut host = dir.clone();
            let mut hidden_below = false;
            let mut found = None;
            for (i, comp) in comps.iter().enumerate() {
                host.push(comp);
                let meta = match std::fs::symlink_metadata(&host) {
                    Ok(m) => m,
                    Err(e) if is_absent(&e) => break,
                    Err(e) => return Err(e),
                };
                if is_whiteout(&meta) {
                    return Ok(None);
                }
                if i + 1 == comps.len() {
                    found = Some(meta);
                    break;
                }
                if !meta.is_dir() {
                    // A file or link in an upper layer hides the directory below.
                    return Ok(None);
                }
                if is_opaque(&host) {
                    hidden_below = true;
                }
            }
            if comps.is_empty() {
                found = Some(std::fs::symlink_metadata(dir)?);
            }
            if let Some(meta) = found {
                return Ok(Some((host, meta)));
            }
            if hidden_below {
                return Ok(None);
            }
        }
        Ok(None)
    }
}

impl DestFs for LayeredDest {
    fn lstat(&self, path: &str) -> io::Result<Option<DestMeta>> {
        Ok(self.find(path)?.map(|(_, m)| DestMeta::from_metadata(&m)))
    }

    fn read_link(&self, path: &str) -> io::Result<PathBuf> {
        match self.find(path)? {
            Some((host, _)) => std::fs::read_link(host),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }

    fn open(&self, path: &str) -> io::Result<File> {
        match self.find(path)? {
            Some((host, _)) => std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(host),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }
}

/// Read the regular file at `path` in `fs`, following symlinks inside the image (absolute
/// links from its root); `None` when it does not exist.
pub fn read_file(fs: &dyn DestFs, path: &str) -> io::Result<Option<Vec<u8>>> {
    let mut pending: Vec<String> = split(path);
    pending.reverse();
    let mut walked: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(comp) = pending.pop() {
        if comp == ".." {
            walked.pop();
            continue;
        }
        walked.push(comp);
        let here = format!("/{}", walked.join("/"));
        let Some(meta) = fs.lstat(&here)? else {
            return Ok(None);
        };
        match meta.kind {
            crate::solve::copy::EntryKind::Symlink => {
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(io::Error::from_raw_os_error(nix::libc::ELOOP));
                }
                let target = fs.read_link(&here)?;
                let target = target.to_string_lossy();
                walked.pop();
                if target.starts_with('/') {
                    walked.clear();
                }
                for c in split(&target).into_iter().rev() {
                    pending.push(c);
                }
            }
            crate::solve::copy::EntryKind::Dir if !pending.is_empty() => {}
            crate::solve::copy::EntryKind::File if pending.is_empty() => {
                let mut f = fs.open(&here)?;
                let mut out = Vec::new();
                io::Read::read_to_end(&mut f, &mut out)?;
                return Ok(Some(out));
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

fn split(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn whiteout(path: &std::path::Path) {
        nix::sys::stat::mknod(
            path,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
    }

    #[test]
    fn upper_layers_win_and_whiteouts_hide() {
        let t = tempfile::tempdir().unwrap();
        let (low, up) = (t.path().join("low"), t.path().join("up"));
        fs::create_dir_all(low.join("etc/sub")).unwrap();
        fs::write(low.join("etc/passwd"), "low").unwrap();
        fs::write(low.join("etc/gone"), "x").unwrap();
        fs::write(low.join("etc/sub/f"), "x").unwrap();
        fs::create_dir_all(low.join("dir")).unwrap();
        fs::write(low.join("dir/inner"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", low.join("link")).unwrap();
        fs::create_dir_all(up.join("etc")).unwrap();
        fs::write(up.join("etc/passwd"), "up").unwrap();
        fs::write(up.join("dir"), "now a file").unwrap();
        let privileged = rustix::process::geteuid().is_root();
        if privileged {
            whiteout(&up.join("etc/gone"));
        }
        let fs_ = LayeredDest::new(vec![up.clone(), low.clone()]);
        assert!(fs_.lstat("/").unwrap().unwrap().is_dir());
        assert_eq!(
            read_file(&fs_, "/etc/passwd").unwrap().as_deref(),
            Some(&b"up"[..])
        );
        assert_eq!(
            read_file(&fs_, "/link").unwrap().as_deref(),
            Some(&b"up"[..])
        );
        assert!(fs_.lstat("/etc/sub/f").unwrap().is_some());
        assert!(fs_.lstat("/dir/inner").unwrap().is_none());
        assert!(!fs_.lstat("/dir").unwrap().unwrap().is_dir());
        assert!(fs_.lstat("/nope/x").unwrap().is_none());
        if privileged {
            assert!(fs_.lstat("/etc/gone").unwrap().is_none());
        }
        assert_eq!(read_file(&fs_, "/missing").unwrap(), None);
    }

    #[test]
    fn opaque_directories_hide_lower_contents() {
        let t = tempfile::tempdir().unwrap();
        let (low, up) = (t.path().join("low"), t.path().join("up"));
        fs::create_dir_all(low.join("cache")).unwrap();
        fs::write(low.join("cache/old"), "x").unwrap();
        fs::create_dir_all(up.join("cache")).unwrap();
        fs::write(up.join("cache/new"), "x").unwrap();
        if xattr::set(up.join("cache"), "user.overlay.opaque", b"y").is_err() {
            eprintln!("skipped: no user xattrs on this file system");
            return;
        }
        let fs_ = LayeredDest::new(vec![up, low]);
        assert!(fs_.lstat("/cache/new").unwrap().is_some());
        assert!(fs_.lstat("/cache/old").unwrap().is_none());
        assert!(fs_.lstat("/cache").unwrap().unwrap().is_dir());
    }
}
