//! Creating the non-directory entries: regular files, hard links, device nodes and fifos.

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::FileType;
use rustix::io::Errno;

use super::{Target, Unpacker};
use crate::snapshot::entry::{components, Meta};
use crate::snapshot::error::{Result, SnapshotError};
use crate::snapshot::fsops;
use crate::store::sparse::HoleWriter;

impl Unpacker<'_> {
    pub(super) fn file(
        &mut self,
        e: &mut tar::Entry<'_, impl Read>,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        meta: &Meta,
        shown: &str,
    ) -> Result<()> {
        if is_pax_sparse(e) {
            return Err(SnapshotError::Rejected {
                entry: shown.to_string(),
                problem: "PAX sparse entries (GNU.sparse.* records) are not supported; \
                          make the layer with GNU tar's --format=gnu, or without --sparse"
                    .to_string(),
            });
        }
        let file = fsops::create_file(dir, name)
            .map_err(|source| self.io(shown, "create file", source))?;
        // Blocks of zeros (a sparse entry's holes among them) stay holes.
        let mut out = HoleWriter::new(&file);
        loop {
            let n = match e.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(SnapshotError::Read(source)),
            };
            let chunk = self.buf.get(..n).unwrap_or(&[]);
            out.write(chunk)
                .map_err(|source| self.io(shown, "write file", source))?;
            self.stats.bytes += n as u64;
        }
        out.finish()
            .map_err(|source| self.io(shown, "write file", source))?;
        self.owner(dir, name, meta, true, shown)?;
        self.set_xattrs(e, dir, name, shown)?;
        fsops::chmod(dir, name, meta.mode).map_err(|source| self.io(shown, "set mode", source))?;
        self.times(dir, name, meta, shown)
    }

    pub(super) fn hard_link(
        &mut self,
        target: &[u8],
        dir: BorrowedFd<'_>,
        name: &OsStr,
        shown: &str,
    ) -> Result<()> {
        let reject = |problem: &str| SnapshotError::Rejected {
            entry: shown.to_string(),
            problem: problem.to_string(),
        };
        let parts = components(target).map_err(|p| reject(&format!("hard link target: {p}")))?;
        let Some((&base, parents)) = parts.split_last() else {
            return Err(reject("hard link to the root is not allowed"));
        };
        let from = self
            .root
            .dir(parents, false)
            .map_err(|e| self.walk_error(e, parents, shown, "hard link target directory"))?;
        let from_name = OsStr::from_bytes(base);
        let st = fsops::lstat(from.as_fd(), from_name)
            .map_err(|source| self.io(shown, "inspect hard link target", source))?;
        let shown_target = String::from_utf8_lossy(target);
        match st.as_ref().map(fsops::file_type) {
            None => Err(reject(&format!(
                "hard link target {shown_target:?} does not exist in this layer or below it"
            ))),
            Some(FileType::Directory) => Err(reject("hard link to a directory is not allowed")),
            Some(FileType::CharacterDevice) if st.is_some_and(|s| s.st_rdev == 0) => {
                Err(reject("hard link to a whiteout is not allowed"))
            }
            Some(_) => fsops::link(from.as_fd(), from_name, dir, name)
                .map_err(|source| self.io(shown, "create hard link", source)),
        }
    }

    /// A device or fifo; `false` when skipped.
    pub(super) fn node(
        &mut self,
        e: &mut tar::Entry<'_, impl Read>,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        meta: &Meta,
        shown: &str,
    ) -> Result<bool> {
        let h = e.header();
        let (major, minor) = (
            h.device_major().ok().flatten().unwrap_or(0),
            h.device_minor().ok().flatten().unwrap_or(0),
        );
        let kind = match h.entry_type() {
            tar::EntryType::Char => FileType::CharacterDevice,
            tar::EntryType::Block => FileType::BlockDevice,
            _ => FileType::Fifo,
        };
        if kind == FileType::CharacterDevice
            && (major, minor) == (0, 0)
            && self.target == Target::OverlayLower
        {
            self.warn(format!(
                "skipped {shown:?}: a char device 0/0 would read as an overlay whiteout"
            ));
            self.stats.skipped += 1;
            return Ok(false);
        }
        match fsops::mknod(dir, name, kind, meta.mode, major, minor) {
            Ok(()) => {}
            Err(err) if err.raw_os_error() == Some(Errno::PERM.raw_os_error()) => {
                // Told once per layer, at its end (see `Unpacker::run`).
                self.stats.skipped_devices.push(shown.to_string());
                self.stats.skipped += 1;
                return Ok(false);
            }
            Err(source) => return Err(self.io(shown, "create device node", source)),
        }
        self.owner(dir, name, meta, true, shown)?;
        self.set_xattrs(e, dir, name, shown)?;
        fsops::chmod(dir, name, meta.mode).map_err(|source| self.io(shown, "set mode", source))?;
        self.times(dir, name, meta, shown)?;
        Ok(true)
    }
}

/// Whether `e` is a file in one of GNU tar's PAX sparse formats (0.0, 0.1, 1.0): its data
/// is not the file's content, so unpacking it as it is would write a wrong file.
fn is_pax_sparse(e: &mut tar::Entry<'_, impl Read>) -> bool {
    let Ok(Some(records)) = e.pax_extensions() else {
        return false;
    };
    records
        .flatten()
        .any(|r| r.key_bytes().starts_with(b"GNU.sparse."))
}
