//! The root-filesystem outputs: `type=local` (the files, copied into a directory) and
//! `type=tar` (the same as one deterministic tar). The caller flattens the image's layers into
//! a directory first (the snapshot code does that, whiteouts applied); this module only reads
//! that directory and never follows a symlink in it.
//!
//! The tar lists entries sorted by name (parents first), with mode, owner and mtime from the
//! files (mtimes clamped to `SOURCE_DATE_EPOCH` with `rewrite-timestamp=true`), hard links
//! kept, devices and fifos as such; GNU headers carry long names and big ids. The copy keeps
//! content, modes, mtimes, symlinks and hard links, and owners where the process may set them;
//! devices, fifos and sockets are skipped (a rootless process cannot make devices).

use std::collections::HashMap;
use std::fs::{self, File, Metadata};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use super::dest::{write_file, StagedDir};
use super::error::{ExportError, Result};
use super::local_copy::copy_tree;
use super::spec::Destination;

/// Options of the root-filesystem outputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RootfsOptions {
    /// Clamp every mtime to this many seconds since the epoch (`rewrite-timestamp=true` with
    /// `SOURCE_DATE_EPOCH`).
    pub clamp_mtime: Option<i64>,
}

impl RootfsOptions {
    /// The mtime (seconds) an entry gets in the output.
    pub(super) fn mtime(&self, meta: &Metadata) -> i64 {
        let t = meta.mtime();
        match self.clamp_mtime {
            Some(epoch) if t > epoch => epoch,
            _ => t,
        }
    }
}

/// Entries of `dir`, sorted by name bytes.
fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let rd = fs::read_dir(dir).map_err(|e| ExportError::io("read directory", dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| ExportError::io("read directory", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(ExportError::invalid(
                entry.path(),
                "file name is not valid UTF-8",
            ));
        };
        out.push((name.to_string(), entry.path()));
    }
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(out)
}

/// Linux's `major(dev)` and `minor(dev)`.
fn major_minor(rdev: u64) -> (u32, u32) {
    let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
    let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
    (major as u32, minor as u32)
}

/// Write the tree under `rootfs` as a tar to `out`.
pub fn write_rootfs_tar_to(rootfs: &Path, opts: &RootfsOptions, out: &mut dyn Write) -> Result<()> {
    let mut builder = tar::Builder::new(out);
    let mut links: HashMap<(u64, u64), String> = HashMap::new();
    tar_dir(&mut builder, "", rootfs, opts, &mut links)?;
    builder
        .into_inner()
        .map_err(|e| ExportError::io("write tar", rootfs, e))?;
    Ok(())
}

/// Append the entries of `dir` (named `prefix` + name), each directory followed by its
/// contents.
fn tar_dir(
    builder: &mut tar::Builder<&mut dyn Write>,
    prefix: &str,
    dir: &Path,
    opts: &RootfsOptions,
    links: &mut HashMap<(u64, u64), String>,
) -> Result<()> {
    for (name, path) in sorted_entries(dir)? {
        let rel = format!("{prefix}{name}");
        let meta = fs::symlink_metadata(&path).map_err(|e| ExportError::io("stat", &path, e))?;
        append_entry(builder, &rel, &path, &meta, opts, links)?;
        if meta.is_dir() {
            tar_dir(builder, &format!("{rel}/"), &path, opts, links)?;
        }
    }
    Ok(())
}

fn append_entry(
    builder: &mut tar::Builder<&mut dyn Write>,
    rel: &str,
    path: &Path,
    meta: &Metadata,
    opts: &RootfsOptions,
    links: &mut HashMap<(u64, u64), String>,
) -> Result<()> {
    let io = |e| ExportError::io("write tar entry for", path, e);
    let mut h = Header::new_gnu();
    h.set_mode(meta.mode() & 0o7777);
    h.set_uid(u64::from(meta.uid()));
    h.set_gid(u64::from(meta.gid()));
    h.set_mtime(u64::try_from(opts.mtime(meta)).unwrap_or(0));
    h.set_size(0);
    let ft = meta.file_type();
    if ft.is_dir() {
        h.set_entry_type(EntryType::Directory);
        return builder
            .append_data(&mut h, format!("{rel}/"), std::io::empty())
            .map_err(io);
    }
    if ft.is_symlink() {
        let target = fs::read_link(path).map_err(|e| ExportError::io("read link", path, e))?;
        h.set_entry_type(EntryType::Symlink);
        return builder.append_link(&mut h, rel, &target).map_err(io);
    }
    if meta.nlink() > 1 {
        let key = (meta.dev(), meta.ino());
        if let Some(first) = links.get(&key) {
            h.set_entry_type(EntryType::Link);
            return builder.append_link(&mut h, rel, first).map_err(io);
        }
        links.insert(key, rel.to_string());
    }
    use std::os::unix::fs::FileTypeExt;
    if ft.is_file() {
        let file = File::open(path).map_err(|e| ExportError::io("open", path, e))?;
        h.set_entry_type(EntryType::Regular);
        h.set_size(meta.len());
        return builder
            .append_data(&mut h, rel, file.take_exact(meta.len()))
            .map_err(io);
    }
    let kind = if ft.is_char_device() {
        EntryType::Char
    } else if ft.is_block_device() {
        EntryType::Block
    } else if ft.is_fifo() {
        EntryType::Fifo
    } else {
        // A socket: tar has no way to carry it, and it means nothing once copied.
        return Ok(());
    };
    h.set_entry_type(kind);
    if kind != EntryType::Fifo {
        let (major, minor) = major_minor(meta.rdev());
        h.set_device_major(major).map_err(io)?;
        h.set_device_minor(minor).map_err(io)?;
    }
    builder
        .append_data(&mut h, rel, std::io::empty())
        .map_err(io)
}

/// A file read as exactly its stat size (a file growing meanwhile is cut, one shrinking fails).
trait TakeExact {
    fn take_exact(self, n: u64) -> ExactReader;
}

impl TakeExact for File {
    fn take_exact(self, n: u64) -> ExactReader {
        ExactReader {
            inner: std::io::Read::take(self, n),
            left: n,
        }
    }
}

struct ExactReader {
    inner: std::io::Take<File>,
    left: u64,
}

impl std::io::Read for ExactReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "file shrank while being archived",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Write the tree under `rootfs` as one tar to `dest` (`type=tar`).
pub fn write_rootfs_tar(rootfs: &Path, dest: &Destination, opts: &RootfsOptions) -> Result<()> {
    write_file(dest, |out| write_rootfs_tar_to(rootfs, opts, out))
}

/// Copy the tree under `rootfs` into the directory `dest` (`type=local`): built beside it and
/// renamed into place, or merged into an existing directory.
pub fn write_local(rootfs: &Path, dest: &Path, opts: &RootfsOptions) -> Result<()> {
    let staged = StagedDir::new(dest)?;
    copy_tree(rootfs, staged.path(), opts)?;
    let root = fs::metadata(rootfs).map_err(|e| ExportError::io("stat", rootfs, e))?;
    fs::set_permissions(
        staged.path(),
        fs::Permissions::from_mode(root.mode() & 0o7777),
    )
    .map_err(|e| ExportError::io("set mode of", staged.path(), e))?;
    staged.commit()
}

/// `type=tar` of a multi-platform build: one tar holding each platform's tree under its own
/// directory (`linux_amd64/...`), as BuildKit writes it; `trees` are (directory, rootfs).
pub fn write_platforms_tar(
    trees: &[(String, PathBuf)],
    dest: &Destination,
    opts: &RootfsOptions,
) -> Result<()> {
    write_file(dest, |out| {
        let mut builder = tar::Builder::new(out);
        for (name, rootfs) in trees {
            // Hard links stay within one platform's tree.
            let mut links: HashMap<(u64, u64), String> = HashMap::new();
            let meta =
                fs::symlink_metadata(rootfs).map_err(|e| ExportError::io("stat", rootfs, e))?;
            append_entry(&mut builder, name, rootfs, &meta, opts, &mut links)?;
            tar_dir(&mut builder, &format!("{name}/"), rootfs, opts, &mut links)?;
        }
        builder
            .into_inner()
            .map_err(|e| ExportError::io("write tar", "<archive>", e))?;
        Ok(())
    })
}

/// `type=local` of a multi-platform build: each platform's tree in its own subdirectory of
/// `dest` (`linux_amd64`, ...), as BuildKit writes them; built beside `dest` and renamed into
/// place, or merged into an existing directory.
pub fn write_local_platforms(
    trees: &[(String, PathBuf)],
    dest: &Path,
    opts: &RootfsOptions,
) -> Result<()> {
    let staged = StagedDir::new(dest)?;
    for (name, rootfs) in trees {
        let sub = staged.path().join(name);
        fs::create_dir_all(&sub).map_err(|e| ExportError::io("create directory", &sub, e))?;
        copy_tree(rootfs, &sub, opts)?;
        let root = fs::metadata(rootfs).map_err(|e| ExportError::io("stat", rootfs, e))?;
        fs::set_permissions(&sub, fs::Permissions::from_mode(root.mode() & 0o7777))
            .map_err(|e| ExportError::io("set mode of", &sub, e))?;
    }
    staged.commit()
}

#[cfg(test)]
#[path = "rootfs_tests.rs"]
mod tests;
