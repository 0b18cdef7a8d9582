//! Extended attributes of a change-set file: the ones a layer keeps, and the overlayfs
//! markers (opaque, redirect, metacopy) that the differ interprets instead of storing.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::header::Xattrs;

/// What the overlay markers of one file say.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OverlayFlags {
    /// `*.overlay.opaque` is `y`: the directory hides everything below it.
    pub opaque: bool,
    /// `*.overlay.redirect` is set: a renamed directory (redirect_dir), not expressible.
    pub redirect: bool,
    /// `*.overlay.metacopy` is set: the data lives below (metacopy), not expressible.
    pub metacopy: bool,
}

/// The xattrs a layer stores for `path` (sorted by name) and the overlay markers found.
///
/// Dropped: `trusted.overlay.*` and `user.overlay.*` (overlay bookkeeping) and
/// `security.selinux` (a host label, not image content).
pub(crate) fn read(path: &Path) -> io::Result<(Xattrs, OverlayFlags)> {
    let mut flags = OverlayFlags::default();
    let names = list(path)?;
    let mut kept = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let overlay = name
            .strip_prefix(b"trusted.overlay.")
            .or_else(|| name.strip_prefix(b"user.overlay."));
        match overlay {
            Some(b"opaque") => flags.opaque |= get(path, name)?.as_deref() == Some(b"y"),
            Some(b"redirect") => flags.redirect = true,
            Some(b"metacopy") => flags.metacopy = true,
            Some(_) => {}
            None if name == b"security.selinux" => {}
            None => {
                if let Some(value) = get(path, name)? {
                    kept.push((name.to_vec(), value));
                }
            }
        }
    }
    kept.sort();
    Ok((kept, flags))
}

fn list(path: &Path) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    loop {
        match rustix::fs::llistxattr(path, &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(rustix::io::Errno::RANGE) => {
                let need = rustix::fs::llistxattr_query(path)?;
                buf.resize(need.max(buf.len() * 2), 0);
            }
            Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    }
}

fn get(path: &Path, name: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let name = std::ffi::OsStr::from_bytes(name);
    let mut buf = vec![0u8; 256];
    loop {
        match rustix::fs::lgetxattr(path, name, &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(rustix::io::Errno::RANGE) => {
                let need = rustix::fs::lgetxattr_query(path, name)?;
                buf.resize(need.max(buf.len() * 2), 0);
            }
            // Removed between list and get.
            Err(rustix::io::Errno::NODATA) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}
