//! The copy fallback's first half: flatten a snapshot chain (overlay-form directories, top
//! first) into one plain tree, applying whiteouts (char device 0/0 deletes) and opaque
//! directories (`*.overlay.opaque=y` hides everything below) as overlay would.
//!
//! Never follows a symlink in the destination: every component is checked with `lstat`,
//! and anything in the way of a directory is replaced. Owners, modes, times, xattrs (but
//! overlay's own), symlinks, hard links within a layer, fifos and (where allowed) device
//! nodes are kept. The second half, comparing the tree after the step with the chain, is
//! the differ's.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Timespec, Timestamps, CWD};

use super::error::{Result, SnapshotError};

/// Apply `lowers` (top first) bottom-up into `dest` (created if missing).
pub fn flatten(lowers: &[PathBuf], dest: &Path) -> Result<()> {
    fs::create_dir_all(dest).map_err(|e| err("create", dest, e))?;
    for layer in lowers.iter().rev() {
        let mut links = HashMap::new();
        apply_dir(layer, dest, &mut links)?;
        copy_attrs(
            &fs::symlink_metadata(layer).map_err(|e| err("stat", layer, e))?,
            layer,
            dest,
        )?;
    }
    Ok(())
}

fn err(action: &'static str, path: &Path, source: io::Error) -> SnapshotError {
    SnapshotError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Whether `meta` is an overlay whiteout (a character device 0/0): the path is deleted.
pub fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Whether the directory `path` is marked opaque (`user.overlay.opaque` or
/// `trusted.overlay.opaque` = `y`): it hides what lower layers hold below it.
pub fn is_opaque(path: &Path) -> bool {
    ["user.overlay.opaque", "trusted.overlay.opaque"]
        .iter()
        .any(|k| xattr::get(path, k).ok().flatten().as_deref() == Some(b"y"))
}

fn remove_all(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Apply the layer directory `src` onto the plain directory `dst`.
fn apply_dir(src: &Path, dst: &Path, links: &mut HashMap<(u64, u64), PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(src)
        .map_err(|e| err("read", src, e))?
        .collect::<io::Result<_>>()
        .map_err(|e| err("read", src, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let meta = fs::symlink_metadata(&from).map_err(|e| err("stat", &from, e))?;
        if is_whiteout(&meta) {
            remove_all(&to).map_err(|e| err("remove", &to, e))?;
            continue;
        }
        if meta.is_dir() {
            let keep = !is_opaque(&from)
                && fs::symlink_metadata(&to)
                    .map(|m| m.is_dir())
                    .unwrap_or(false);
            if !keep {
                remove_all(&to).map_err(|e| err("remove", &to, e))?;
                fs::create_dir(&to).map_err(|e| err("create directory", &to, e))?;
            }
            apply_dir(&from, &to, links)?;
            copy_attrs(&meta, &from, &to)?;
            continue;
        }
        remove_all(&to).map_err(|e| err("remove", &to, e))?;
        let key = (meta.dev(), meta.ino());
        if meta.nlink() > 1 {
            if let Some(first) = links.get(&key) {
                fs::hard_link(first, &to).map_err(|e| err("link", &to, e))?;
                continue;
            }
            links.insert(key, to.clone());
        }
        copy_node(&meta, &from, &to)?;
        copy_attrs(&meta, &from, &to)?;
    }
    Ok(())
}

fn copy_node(meta: &fs::Metadata, from: &Path, to: &Path) -> Result<()> {
    let ft = meta.file_type();
    if ft.is_file() {
        crate::store::sparse::copy_file(from, to).map_err(|e| err("copy", to, e))?;
    } else if ft.is_symlink() {
        let target = fs::read_link(from).map_err(|e| err("read link", from, e))?;
        std::os::unix::fs::symlink(target, to).map_err(|e| err("create symlink", to, e))?;
    } else if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
        let kind = rustix::fs::FileType::from_raw_mode(meta.mode());
        let mode = rustix::fs::Mode::from_raw_mode(meta.mode() & 0o7777);
        // Device nodes cannot be made in a user namespace: skip those, keep the rest.
        match rustix::fs::mknodat(CWD, to, kind, mode, meta.rdev()) {
            Ok(()) => {}
            Err(rustix::io::Errno::PERM) if !ft.is_fifo() => {}
            Err(e) => return Err(err("create node", to, e.into())),
        }
    }
    // Sockets are not file-system content.
    Ok(())
}

fn copy_attrs(meta: &fs::Metadata, from: &Path, to: &Path) -> Result<()> {
    if fs::symlink_metadata(to).is_err() {
        return Ok(());
    }
    // Ids outside the namespace's map cannot be set: keep the file, lose the owner.
    match std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid())) {
        Ok(()) => {}
        Err(e) if matches!(e.raw_os_error(), Some(nix::libc::EINVAL | nix::libc::EPERM)) => {}
        Err(e) => return Err(err("set owner", to, e)),
    }
    if !meta.file_type().is_symlink() {
        fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(|e| err("set mode", to, e))?;
    }
    if let Ok(names) = xattr::list(from) {
        for name in names {
            let raw = name.as_bytes();
            if raw.starts_with(b"user.overlay.") || raw.starts_with(b"trusted.overlay.") {
                continue;
            }
            if let Ok(Some(value)) = xattr::get(from, &name) {
                let _ = xattr::set(to, OsStr::new(&name), &value);
            }
        }
    }
    let t = |s: i64, ns: i64| Timespec {
        tv_sec: s,
        tv_nsec: ns as _,
    };
    let times = Timestamps {
        last_access: t(meta.atime(), meta.atime_nsec()),
        last_modification: t(meta.mtime(), meta.mtime_nsec()),
    };
    rustix::fs::utimensat(CWD, to, &times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| err("set times", to, e.into()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteouts_and_opaque_directories_apply() {
        let tmp = tempfile::tempdir().unwrap();
        let (low, up, out) = (
            tmp.path().join("low"),
            tmp.path().join("up"),
            tmp.path().join("out"),
        );
        fs::create_dir_all(low.join("d/sub")).unwrap();
        fs::write(low.join("d/sub/x"), b"x").unwrap();
        fs::write(low.join("gone"), b"g").unwrap();
        fs::write(low.join("kept"), b"k").unwrap();
        std::os::unix::fs::symlink("kept", low.join("link")).unwrap();
        fs::hard_link(low.join("kept"), low.join("hard")).unwrap();
        fs::create_dir_all(up.join("d")).unwrap();
        fs::write(up.join("d/new"), b"n").unwrap();
        fs::write(up.join("kept"), b"changed").unwrap();
        let opaque_ok = xattr::set(up.join("d"), "user.overlay.opaque", b"y").is_ok();
        let whiteout_ok = rustix::fs::mknodat(
            CWD,
            up.join("gone"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0),
            0,
        )
        .is_ok();

        flatten(&[up.clone(), low.clone()], &out).unwrap();
        assert_eq!(fs::read(out.join("kept")).unwrap(), b"changed");
        assert_eq!(fs::read(out.join("hard")).unwrap(), b"k");
        assert_eq!(fs::read_link(out.join("link")).unwrap(), Path::new("kept"));
        assert_eq!(fs::read(out.join("d/new")).unwrap(), b"n");
        if opaque_ok {
            assert!(!out.join("d/sub").exists());
            assert!(xattr::get(out.join("d"), "user.overlay.opaque")
                .unwrap()
                .is_none());
        }
        if whiteout_ok {
            assert!(!out.join("gone").exists());
        }
    }
}
