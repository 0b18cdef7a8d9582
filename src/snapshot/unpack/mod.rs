//! Layer tar -> directory, safely: [`unpack`] makes one overlay lower directory per layer
//! (whiteouts become overlay whiteouts), [`apply`] flattens layers into one plain tree
//! (whiteouts delete). Both share one entry loop and the same safety rules:
//!
//! - leading `/` is stripped and `.` dropped (contained); `..` anywhere is rejected;
//! - parents are walked component by component with `O_NOFOLLOW`: an entry whose parent is
//!   a symlink (or a file) is rejected, so nothing is ever written through a symlink,
//!   including one the same layer created a moment earlier or swapped for a directory;
//! - an existing path is removed (never followed) before it is replaced, except a
//!   directory merged with a directory;
//! - hard-link targets are resolved the same way and must already exist inside the root
//!   (for [`unpack`], inside the same layer: overlay cannot link across layers);
//! - whiteouts of `.`, `..` or an empty name are rejected;
//! - device nodes need the privilege to make them; without it (rootless, or in a user
//!   namespace) they are skipped, and one warning per layer says how many and names the
//!   first few (whiteouts, char 0/0, are allowed unprivileged since Linux 5.8);
//! - `trusted.overlay.*` and `user.overlay.*` xattrs in a layer are dropped with a warning;
//! - file content leaves a hole for every aligned 4 KiB block of zeros, so GNU sparse
//!   entries stay sparse ([`crate::store::sparse`]); PAX sparse entries (`GNU.sparse.*`),
//!   which the tar library reads as plain files, are rejected.
//!
//! Overlay form written by [`unpack`]: `.wh.NAME` -> char device 0/0 at `NAME`;
//! `DIR/.wh..wh..opq` -> xattr `user.overlay.opaque=y` on `DIR`. The snapshotter always
//! mounts overlay with `userxattr`, so the `user.` namespace is the one that counts.
//!
//! With [`UnpackOptions::diff_id`], the uncompressed stream is hashed as the tar reader
//! consumes it and checked once it has been read to its very end (see `verify.rs`); on a
//! mismatch the call fails and the caller discards the directory.

mod attrs;
mod nodes;
mod verify;
mod whiteout;

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use oci_spec::image::Digest;
use rustix::fs::FileType;

use super::entry::{self, components, join, Meta};
use super::error::{Result, SnapshotError};
use super::fsops::{self, Root, WalkError};
use crate::store::digest::HashingReader;

/// What to do with the owners recorded in a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Owners {
    /// Set them when permitted; without the privilege, keep ours and warn once.
    #[default]
    BestEffort,
    /// Set them; failing to is an error.
    Required,
    /// Leave every file owned by us.
    Ignore,
}

/// How to unpack.
#[derive(Debug, Clone, Default)]
pub struct UnpackOptions {
    /// Owner handling.
    pub owners: Owners,
    /// The layer's uncompressed digest as its image config gives it: the whole uncompressed
    /// stream (tar padding and trailing bytes included) must hash to it, else the unpack
    /// fails with [`SnapshotError::DiffIdMismatch`]. `None` checks nothing.
    pub diff_id: Option<Digest>,
}

/// What an unpack did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Entries written (files, directories, links, nodes).
    pub entries: u64,
    /// Bytes of regular-file content written.
    pub bytes: u64,
    /// Whiteouts applied.
    pub whiteouts: u64,
    /// Opaque markers applied.
    pub opaques: u64,
    /// Entries skipped (the root itself, unsupported or unpermitted nodes).
    pub skipped: u64,
    /// Device nodes not created for want of the privilege, in layer order.
    pub skipped_devices: Vec<String>,
    /// Things the user may want to know (skipped devices, dropped xattrs, owners kept).
    pub warnings: Vec<String>,
}

/// How many skipped device nodes the warning names.
const DEVICES_NAMED: usize = 3;

/// The one warning for the device nodes of a layer that were not created.
fn skipped_devices_warning(paths: &[String]) -> Option<String> {
    if paths.is_empty() {
        return None;
    }
    let (first, rest) = paths.split_at(paths.len().min(DEVICES_NAMED));
    let mut named = first
        .iter()
        .map(|p| format!("{p:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if !rest.is_empty() {
        named.push_str(&format!(" and {} more", rest.len()));
    }
    let noun = if paths.len() == 1 { "node" } else { "nodes" };
    Some(format!(
        "skipped {} device {noun} ({named}): no privilege to create device nodes here \
         (building rootless or in a user namespace)",
        paths.len()
    ))
}

/// Unpack one layer into `dest` (an existing, normally empty directory) as an overlay lower
/// directory: whiteouts become char devices 0/0, opaque markers `user.overlay.opaque=y`.
///
/// The layer may be plain, gzip or zstd (detected).
pub fn unpack(layer: impl Read, dest: &Path, opts: &UnpackOptions) -> Result<UnpackStats> {
    Unpacker::new(dest, Target::OverlayLower, opts)?.run(layer)
}

/// Apply one layer on top of the plain tree in `dest`: whiteouts delete, opaque markers
/// clear the directory of what earlier layers put there. Call once per layer, bottom up.
pub fn apply(layer: impl Read, dest: &Path, opts: &UnpackOptions) -> Result<UnpackStats> {
    Unpacker::new(dest, Target::Flatten, opts)?.run(layer)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    OverlayLower,
    Flatten,
}

/// A directory whose mode and time are set last (children first), so that a read-only
/// directory can still be filled and its mtime is not disturbed.
struct DeferredDir {
    path: Vec<Vec<u8>>,
    meta: Meta,
}

/// Where an entry goes: its parent directory (open) and its name there.
struct Place<'a> {
    parent: OwnedFd,
    name: &'a OsStr,
    /// The parent's path components, and the entry's own last one.
    parents: &'a [&'a [u8]],
    base: &'a [u8],
}

/// What was at an entry's place before it.
#[derive(Debug, Clone, Copy, Default)]
struct Existing {
    /// A directory the directory entry merges with (nothing was removed).
    merged: bool,
    /// An overlay whiteout (char device 0/0) that the entry replaced.
    replaced_whiteout: bool,
}

/// The error for an entry the rules reject.
fn rejected(shown: &str, problem: &str) -> SnapshotError {
    SnapshotError::Rejected {
        entry: shown.to_string(),
        problem: problem.to_string(),
    }
}

pub(crate) struct Unpacker<'o> {
    root: Root,
    target: Target,
    opts: &'o UnpackOptions,
    stats: UnpackStats,
    /// The last parent directory resolved, by components.
    cache: Option<(Vec<Vec<u8>>, OwnedFd)>,
    dirs: Vec<DeferredDir>,
    /// Flatten mode: paths this layer wrote (an opaque marker keeps them).
    created: HashSet<Vec<u8>>,
    owners_off: bool,
    euid: u32,
    egid: u32,
    buf: Vec<u8>,
}

impl<'o> Unpacker<'o> {
    fn new(dest: &Path, target: Target, opts: &'o UnpackOptions) -> Result<Self> {
        let root = Root::open(dest).map_err(|source| SnapshotError::Io {
            action: "open unpack destination",
            path: dest.to_path_buf(),
            source,
        })?;
        Ok(Unpacker {
            root,
            target,
            opts,
            stats: UnpackStats::default(),
            cache: None,
            dirs: Vec::new(),
            created: HashSet::new(),
            owners_off: opts.owners == Owners::Ignore,
            euid: rustix::process::geteuid().as_raw(),
            egid: rustix::process::getegid().as_raw(),
            buf: vec![0u8; 1 << 20],
        })
    }

    fn run(mut self, layer: impl Read) -> Result<UnpackStats> {
        let reader = super::decompress(layer).map_err(SnapshotError::Read)?;
        let mut archive = tar::Archive::new(HashingReader::new(reader));
        for entry in archive.entries().map_err(SnapshotError::Read)? {
            let mut entry = entry.map_err(SnapshotError::Read)?;
            self.entry(&mut entry)?;
        }
        if let Some(expected) = &self.opts.diff_id {
            verify::whole_stream(archive.into_inner(), expected)?;
        }
        self.finish_dirs()?;
        if let Some(w) = skipped_devices_warning(&self.stats.skipped_devices) {
            self.warn(w);
        }
        Ok(self.stats)
    }

    /// Unpacks one entry: checks its path, applies a whiteout or opaque marker, else
    /// removes what the entry replaces and creates it under its parent.
    fn entry(&mut self, e: &mut tar::Entry<'_, impl Read>) -> Result<()> {
        let raw = e.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let kind = e.header().entry_type();
        if matches!(kind, tar::EntryType::XGlobalHeader) {
            return Ok(());
        }
        let parts = components(&raw).map_err(|p| rejected(&shown, p))?;
        let Some((&base, parents)) = parts.split_last() else {
            self.stats.skipped += 1; // the root itself
            return Ok(());
        };
        let meta = entry::meta(e)
            .map_err(|source| self.io(&shown, "read header", source))?
            .map_err(|p| rejected(&shown, p))?;
        if let Some(rest) = base.strip_prefix(b".wh.") {
            return self.whiteout_entry(parents, rest, &meta, &shown);
        }
        let place = Place {
            parent: self.parent(parents, &shown)?,
            name: OsStr::from_bytes(base),
            parents,
            base,
        };
        let existing = self.clear_existing(&place, kind == tar::EntryType::Directory, &shown)?;
        if !self.create(e, &place, meta, existing, &shown)? {
            return Ok(());
        }
        self.stats.entries += 1;
        if self.target == Target::Flatten {
            self.created.insert(join(&parts));
        }
        Ok(())
    }

    /// An entry named `.wh.REST`: an opaque marker, aufs metadata (skipped with a
    /// warning) or the whiteout of `REST`.
    fn whiteout_entry(
        &mut self,
        parents: &[&[u8]],
        rest: &[u8],
        meta: &Meta,
        shown: &str,
    ) -> Result<()> {
        if rest == b".wh..opq" {
            return self.opaque(parents, shown);
        }
        if rest.starts_with(b".wh.") {
            self.warn(format!("skipped aufs metadata entry {shown:?}"));
            self.stats.skipped += 1;
            return Ok(());
        }
        if rest.is_empty() || rest == b"." || rest == b".." {
            return Err(rejected(
                shown,
                "whiteout of \".\", \"..\" or the root is not allowed",
            ));
        }
        self.whiteout(parents, rest, meta, shown)
    }

    /// Removes (never follows) what is at the entry's place, unless a directory entry
    /// meets a directory, which it merges with.
    fn clear_existing(&mut self, place: &Place<'_>, is_dir: bool, shown: &str) -> Result<Existing> {
        let mut existing = Existing::default();
        let found = fsops::lstat(place.parent.as_fd(), place.name)
            .map_err(|source| self.io(shown, "inspect existing path", source))?;
        if let Some(st) = found {
            let ft = fsops::file_type(&st);
            if is_dir && ft == FileType::Directory {
                existing.merged = true;
            } else {
                existing.replaced_whiteout = ft == FileType::CharacterDevice && st.st_rdev == 0;
                fsops::remove_all(place.parent.as_fd(), place.name)
                    .map_err(|source| self.io(shown, "replace existing path", source))?;
            }
        }
        Ok(existing)
    }

    /// Creates the entry at its (cleared) place according to its type; false when it was
    /// skipped (a device node without the privilege).
    fn create(
        &mut self,
        e: &mut tar::Entry<'_, impl Read>,
        place: &Place<'_>,
        meta: Meta,
        existing: Existing,
        shown: &str,
    ) -> Result<bool> {
        let (parent, name) = (place.parent.as_fd(), place.name);
        match e.header().entry_type() {
            tar::EntryType::Directory => self.dir(e, place, meta, existing, shown)?,
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                self.file(e, parent, name, &meta, shown)?;
            }
            tar::EntryType::Symlink => {
                let target = e.link_name_bytes().unwrap_or_default().into_owned();
                if target.is_empty() {
                    return Err(rejected(shown, "symlink has an empty target"));
                }
                fsops::symlink(&target, parent, name)
                    .map_err(|source| self.io(shown, "create symlink", source))?;
                self.owner(parent, name, &meta, !existing.merged, shown)?;
                self.set_xattrs(e, parent, name, shown)?;
                self.times(parent, name, &meta, shown)?;
            }
            tar::EntryType::Link => {
                let target = e.link_name_bytes().unwrap_or_default().into_owned();
                self.hard_link(&target, parent, name, shown)?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                return self.node(e, parent, name, &meta, shown);
            }
            other => {
                return Err(rejected(
                    shown,
                    &format!("unsupported entry type {:?}", char::from(other.as_byte())),
                ))
            }
        }
        Ok(true)
    }

    /// A directory entry: created unless merged, owner and xattrs set now, mode and times
    /// deferred. One that replaces a whiteout in an overlay lower is made opaque.
    fn dir(
        &mut self,
        e: &mut tar::Entry<'_, impl Read>,
        place: &Place<'_>,
        meta: Meta,
        existing: Existing,
        shown: &str,
    ) -> Result<()> {
        let (parent, name) = (place.parent.as_fd(), place.name);
        if !existing.merged {
            fsops::mkdir(parent, name, 0o700)
                .map_err(|source| self.io(shown, "create directory", source))?;
        }
        self.owner(parent, name, &meta, !existing.merged, shown)?;
        self.set_xattrs(e, parent, name, shown)?;
        if existing.replaced_whiteout && self.target == Target::OverlayLower {
            // Deleted then re-created in one layer: hide what lies below.
            self.mark_opaque(parent, name, shown)?;
        }
        let mut path: Vec<Vec<u8>> = place.parents.iter().map(|p| p.to_vec()).collect();
        path.push(place.base.to_vec());
        self.dirs.push(DeferredDir { path, meta });
        Ok(())
    }

    /// The directory `parents` (created as needed), never through a symlink.
    fn parent(&mut self, parents: &[&[u8]], shown: &str) -> Result<OwnedFd> {
        if let Some((path, fd)) = &self.cache {
            if path.iter().map(Vec::as_slice).eq(parents.iter().copied()) {
                return rustix::io::dup(fd).map_err(|e| self.io(shown, "open parent", e.into()));
            }
        }
        let fd = self
            .root
            .dir(parents, true)
            .map_err(|e| self.walk_error(e, parents, shown, "parent"))?;
        let dup = rustix::io::dup(&fd).map_err(|e| self.io(shown, "open parent", e.into()))?;
        self.cache = Some((parents.iter().map(|p| p.to_vec()).collect(), dup));
        Ok(fd)
    }

    fn walk_error(&self, e: WalkError, parts: &[&[u8]], shown: &str, role: &str) -> SnapshotError {
        let upto = |i: usize| {
            String::from_utf8_lossy(&join(parts.get(..=i).unwrap_or(parts))).into_owned()
        };
        let problem = match e {
            WalkError::NotDir(i, true) => format!(
                "{role} {:?} is a symlink; writing through symlinks is not allowed",
                upto(i)
            ),
            WalkError::NotDir(i, false) => format!("{role} {:?} is not a directory", upto(i)),
            WalkError::Missing(i) => format!("{role} {:?} does not exist", upto(i)),
            WalkError::Io(source) => return self.io(shown, "open parent directory", source),
        };
        SnapshotError::Rejected {
            entry: shown.to_string(),
            problem,
        }
    }

    pub(super) fn io(
        &self,
        shown: &str,
        action: &'static str,
        source: std::io::Error,
    ) -> SnapshotError {
        SnapshotError::Entry {
            entry: shown.to_string(),
            action,
            source,
        }
    }

    pub(super) fn warn(&mut self, message: String) {
        self.stats.warnings.push(message);
    }
}

#[cfg(test)]
mod tests {
    use super::skipped_devices_warning;

    #[test]
    fn skipped_devices_are_told_once_with_a_count_and_the_first_paths() {
        assert_eq!(skipped_devices_warning(&[]), None);
        let one = skipped_devices_warning(&["dev/null".into()]).unwrap();
        assert!(
            one.starts_with("skipped 1 device node (\"dev/null\"): "),
            "{one}"
        );
        let paths: Vec<String> = ["null", "zero", "random", "tty", "full"]
            .iter()
            .map(|n| format!("dev/{n}"))
            .collect();
        let five = skipped_devices_warning(&paths).unwrap();
        assert!(
            five.starts_with(
                "skipped 5 device nodes (\"dev/null\", \"dev/zero\", \"dev/random\" and 2 more): \
                 no privilege"
            ),
            "{five}"
        );
    }
}
