//! Whiteouts and opaque markers: overlay form for a lower directory (char device 0/0,
//! `user.overlay.opaque=y`), or deletions when flattening.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::FileType;

use super::{Target, Unpacker};
use crate::snapshot::entry::{join, Meta};
use crate::snapshot::error::Result;
use crate::snapshot::fsops;

impl Unpacker<'_> {
    pub(super) fn whiteout(
        &mut self,
        parents: &[&[u8]],
        gone: &[u8],
        meta: &Meta,
        shown: &str,
    ) -> Result<()> {
        let name = OsStr::from_bytes(gone);
        self.stats.whiteouts += 1;
        match self.target {
            Target::OverlayLower => {
                let dir = self.parent(parents, shown)?;
                fsops::remove_all(dir.as_fd(), name)
                    .map_err(|source| self.io(shown, "replace existing path", source))?;
                fsops::mknod(dir.as_fd(), name, FileType::CharacterDevice, 0, 0, 0).map_err(|source| {
                    self.io(shown, "create overlay whiteout (char device 0/0; needs Linux 5.8 or privilege)", source)
                })?;
                self.times(dir.as_fd(), name, meta, shown)
            }
            Target::Flatten => {
                // Nothing to delete when the parent is missing or not a real directory.
                let Ok(dir) = self.root.dir(parents, false) else {
                    return Ok(());
                };
                self.cache = None;
                fsops::remove_all(dir.as_fd(), name)
                    .map_err(|source| self.io(shown, "delete whited-out path", source))
            }
        }
    }

    pub(super) fn opaque(&mut self, dir_parts: &[&[u8]], shown: &str) -> Result<()> {
        self.stats.opaques += 1;
        match self.target {
            Target::OverlayLower => {
                let dir = self.parent(dir_parts, shown)?;
                self.mark_opaque(dir.as_fd(), OsStr::new(""), shown)
            }
            Target::Flatten => {
                let Ok(dir) = self.root.dir(dir_parts, false) else {
                    return Ok(());
                };
                self.cache = None;
                let prefix = join(dir_parts);
                let created = &self.created;
                let keep = |child: &[u8]| {
                    let mut p = prefix.clone();
                    if !p.is_empty() {
                        p.push(b'/');
                    }
                    p.extend_from_slice(child);
                    created.contains(&p)
                };
                fsops::clear_dir(dir.as_fd(), OsStr::new("."), &keep)
                    .map_err(|source| self.io(shown, "clear opaque directory", source))
            }
        }
    }

    pub(super) fn mark_opaque(&self, dir: BorrowedFd<'_>, name: &OsStr, shown: &str) -> Result<()> {
        fsops::set_xattr(dir, name, b"user.overlay.opaque", b"y").map_err(|source| {
            self.io(
                shown,
                "mark directory opaque (xattr user.overlay.opaque)",
                source,
            )
        })
    }
}
