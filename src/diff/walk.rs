//! Walk a change set (an overlay upper directory or a fresh COPY output) in layer order and
//! turn every file into a layer entry: whiteouts from char devices 0/0, opaque markers from
//! `*.overlay.opaque=y`, hard links from repeated inodes, mount stubs left out.
//!
//! Order: depth-first, each directory's children sorted by their name *in the tar* (so
//! `.wh.NAME` sorts as itself); a parent always precedes its children. Cost is one
//! `readdir` per directory and one `lstat` + `llistxattr` per file of the change set.

use std::collections::HashMap;
use std::fs::{self, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::error::{DiffError, Result};
use super::header::{Kind, Xattrs};
use super::{xattrs, LayerOptions};

/// Prefix of a whiteout entry's base name.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Base name of the opaque-directory marker entry.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// One entry to write, in order.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Where the content lives on disk (regular files only are read).
    pub fs_path: PathBuf,
    /// Name in the tar: relative, directories end in `/`.
    pub name: Vec<u8>,
    /// Kind and kind-specific fields.
    pub kind: Kind,
    /// `0o7777` bits.
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Seconds, already clamped.
    pub mtime: i64,
    /// Kept xattrs, sorted.
    pub xattrs: Xattrs,
}

enum What {
    Node,
    Whiteout,
    Opaque,
}

struct Pending {
    fs_path: PathBuf,
    /// Tar name without trailing slash.
    name: Vec<u8>,
    /// The path as the image sees it (`/a/b`; for a whiteout, the deleted path).
    layer: PathBuf,
    meta: Metadata,
    what: What,
}

/// Walk `root` and call `emit` for every entry of the layer, in order.
pub(crate) fn walk(
    root: &Path,
    opts: &LayerOptions<'_>,
    mut emit: impl FnMut(Entry) -> Result<()>,
) -> Result<()> {
    let mut links: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    let mut stack = vec![list(root, b"", None)?.into_iter()];
    while let Some(top) = stack.last_mut() {
        let Some(p) = top.next() else {
            stack.pop();
            continue;
        };
        let mtime = clamp(p.meta.mtime(), opts.source_date_epoch);
        match p.what {
            What::Whiteout => {
                if opts.exists_below.is_some_and(|below| !below(&p.layer)) {
                    continue;
                }
                emit(marker_entry(p, 0o600, mtime))?;
            }
            What::Opaque => {
                let mode = p.meta.mode() & 0o777;
                emit(marker_entry(p, mode, mtime))?;
            }
            What::Node => {
                if let Some(children) = node(p, mtime, opts, &mut links, &mut emit)? {
                    stack.push(children.into_iter());
                }
            }
        }
    }
    Ok(())
}

/// The empty-file entry of a whiteout or opaque marker, with `mode`.
fn marker_entry(p: Pending, mode: u32, mtime: i64) -> Entry {
    Entry {
        fs_path: p.fs_path,
        name: p.name,
        kind: Kind::File { size: 0 },
        mode,
        uid: u64::from(p.meta.uid()),
        gid: u64::from(p.meta.gid()),
        mtime,
        xattrs: Vec::new(),
    }
}

/// Emits the entry of a file, directory, link or node (unless excluded or a socket); a
/// second path to an inode becomes a hard link to the first (`links`). Overlay
/// `redirect_dir` and `metacopy` files are an error. For a directory, returns its
/// children, with an opaque marker when it is opaque over something below.
fn node(
    p: Pending,
    mtime: i64,
    opts: &LayerOptions<'_>,
    links: &mut HashMap<(u64, u64), Vec<u8>>,
    emit: &mut impl FnMut(Entry) -> Result<()>,
) -> Result<Option<Vec<Pending>>> {
    if opts.exclude.is_some_and(|skip| skip(&p.layer, &p.meta)) {
        return Ok(None);
    }
    let Some(mut kind) = kind_of(&p.fs_path, &p.meta)? else {
        return Ok(None); // sockets cannot be stored in a tar
    };
    let (xattrs, flags) = xattrs::read(&p.fs_path).map_err(|source| DiffError::Read {
        path: p.fs_path.clone(),
        source,
    })?;
    if flags.redirect {
        return Err(overlay("redirect_dir", &p.fs_path));
    }
    if flags.metacopy {
        return Err(overlay("metacopy", &p.fs_path));
    }
    let is_dir = kind == Kind::Dir;
    if !is_dir && p.meta.nlink() > 1 {
        let key = (p.meta.dev(), p.meta.ino());
        match links.get(&key) {
            Some(first) => kind = Kind::Link(first.clone()),
            None => {
                links.insert(key, p.name.clone());
            }
        }
    }
    // A hard link shares the first path's inode: its xattrs are already there.
    let xattrs = if matches!(kind, Kind::Link(_)) {
        Vec::new()
    } else {
        xattrs
    };
    let mut name = p.name.clone();
    if is_dir {
        name.push(b'/');
    }
    emit(Entry {
        fs_path: p.fs_path.clone(),
        name,
        kind,
        mode: p.meta.mode() & 0o7777,
        uid: u64::from(p.meta.uid()),
        gid: u64::from(p.meta.gid()),
        mtime,
        xattrs,
    })?;
    if !is_dir {
        return Ok(None);
    }
    let opaque = flags.opaque && opts.exists_below.map_or(true, |below| below(&p.layer));
    let marker = opaque.then_some(&p.meta);
    Ok(Some(list(&p.fs_path, &p.name, marker)?))
}

/// The children of `dir`, sorted by tar name; `opaque` adds the opaque marker.
fn list(dir: &Path, name: &[u8], opaque: Option<&Metadata>) -> Result<Vec<Pending>> {
    let read_err = |source| DiffError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let child = |base: &[u8]| {
        let mut n = name.to_vec();
        if !n.is_empty() {
            n.push(b'/');
        }
        n.extend_from_slice(base);
        n
    };
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let fs_path = entry.path();
        let meta = entry.metadata().map_err(|source| DiffError::Read {
            path: fs_path.clone(),
            source,
        })?;
        let base = entry.file_name();
        let whiteout = meta.file_type().is_char_device() && meta.rdev() == 0;
        let (tar_base, what) = if whiteout {
            let mut b = WHITEOUT_PREFIX.as_bytes().to_vec();
            b.extend_from_slice(base.as_bytes());
            (b, What::Whiteout)
        } else {
            (base.as_bytes().to_vec(), What::Node)
        };
        out.push(Pending {
            fs_path,
            name: child(&tar_base),
            layer: layer_path(&child(base.as_bytes())),
            meta,
            what,
        });
    }
    if let Some(meta) = opaque {
        out.push(Pending {
            fs_path: dir.join(OPAQUE_MARKER),
            name: child(OPAQUE_MARKER.as_bytes()),
            layer: layer_path(name),
            meta: meta.clone(),
            what: What::Opaque,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn kind_of(path: &Path, meta: &Metadata) -> Result<Option<Kind>> {
    let ft = meta.file_type();
    let dev = || {
        let rdev = meta.rdev();
        (rustix::fs::major(rdev), rustix::fs::minor(rdev))
    };
    Ok(Some(if ft.is_file() {
        Kind::File { size: meta.len() }
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_symlink() {
        let target = fs::read_link(path).map_err(|source| DiffError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Kind::Symlink(target.as_os_str().as_bytes().to_vec())
    } else if ft.is_char_device() {
        let (major, minor) = dev();
        Kind::Char(major, minor)
    } else if ft.is_block_device() {
        let (major, minor) = dev();
        Kind::Block(major, minor)
    } else if ft.is_fifo() {
        Kind::Fifo
    } else {
        return Ok(None);
    }))
}

/// `/` + the tar name: the path as the image sees it, for the callbacks.
fn layer_path(name: &[u8]) -> PathBuf {
    let mut p = b"/".to_vec();
    p.extend_from_slice(name);
    PathBuf::from(std::ffi::OsStr::from_bytes(&p))
}

fn clamp(mtime: i64, epoch: Option<i64>) -> i64 {
    match epoch {
        Some(e) if mtime > e => e,
        _ => mtime,
    }
}

fn overlay(feature: &'static str, path: &Path) -> DiffError {
    DiffError::Overlay {
        feature,
        path: path.to_path_buf(),
    }
}
