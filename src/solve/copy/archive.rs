//! ADD of a local tar archive (plain, gzip, bzip2 or xz, recognised by content): the
//! archive is extracted into the destination directory, as BuildKit's `applyRootArchive`
//! does. Entry names are cleaned and may not climb out (`../x` is an error; `/etc/x` means
//! `<dest>/etc/x`); symlinks met on the way are resolved inside the extraction directory
//! (absolute targets from its top, relative ones may not leave it); hard links must point
//! inside it too. Missing parents are created 0755 root:root; an entry replaces whatever is
//! at its path unless both are directories. Owners come from the entries (or `--chown`),
//! modes and times too; `--chmod` does not apply.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use tar::EntryType;

use super::dest::DestMeta;
use super::error::CopyError;
use super::layer::{split_parent, LayerWriter, Probe, Target};
use super::tree::Copier;
use crate::context::archive::{decompress, is_tar};
use crate::context::matcher::clean_path;

/// Whether the open file `file` (at host path `shown`) is a tar archive BuildKit would
/// extract; the file is read again from its start afterwards.
pub(crate) fn is_tar_file(mut file: &File, shown: &Path) -> Result<bool, CopyError> {
    let tar = is_tar(file);
    file.seek(SeekFrom::Start(0))
        .map_err(CopyError::io("read archive", shown))?;
    Ok(tar)
}

/// An entry name made relative and clean; `None` for the root itself.
fn clean_entry(name: &str) -> Result<Option<String>, ()> {
    let cleaned = clean_path(name.trim_start_matches('/'));
    if cleaned == "." || cleaned.is_empty() {
        return Ok(None);
    }
    if cleaned == ".." || cleaned.starts_with("../") {
        return Err(());
    }
    Ok(Some(cleaned))
}

/// Parses a PAX time value (`1700000000.123456789`).
fn pax_time(value: &str) -> Option<(i64, i64)> {
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let mut nsec: i64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    for _ in digits.len()..9 {
        nsec *= 10;
    }
    if secs < 0 && nsec > 0 {
        return Some((secs - 1, 1_000_000_000 - nsec));
    }
    Some((secs, nsec))
}

/// Access and modification times of an entry: atime is the later of the two; times
/// before the epoch become the epoch (BuildKit's `rootHeaderTimes`).
fn entry_times<R: Read>(entry: &mut tar::Entry<'_, R>) -> ((i64, i64), (i64, i64)) {
    let header = entry.header();
    let mut mtime = (header.mtime().map(|t| t as i64).unwrap_or(0), 0);
    let mut atime = header
        .as_gnu()
        .and_then(|g| g.atime().ok())
        .map(|t| (t as i64, 0));
    if let Ok(Some(exts)) = entry.pax_extensions() {
        for ext in exts.flatten() {
            let value = ext.value().ok().and_then(pax_time);
            match (ext.key().ok(), value) {
                (Some("mtime"), Some(t)) => mtime = t,
                (Some("atime"), Some(t)) => atime = Some(t),
                _ => {}
            }
        }
    }
    let bound = |t: (i64, i64)| if t.0 < 0 { (0, 0) } else { t };
    let mtime = bound(mtime);
    let atime = match atime.map(bound) {
        Some(a) if a > mtime => a,
        _ => mtime,
    };
    (atime, mtime)
}

/// The target of a symlink or hard link entry, as written in the archive.
fn link_target<R: Read>(entry: &tar::Entry<'_, R>) -> String {
    entry
        .link_name_bytes()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Extracts the archive open as `file` (at host path `archive`; `label` names it in
/// errors) into the image directory `dest`, creating it (0755, `--chown` user or root) if
/// needed.
pub(crate) fn extract(
    copier: &mut Copier<'_, '_>,
    file: File,
    archive: &Path,
    label: &str,
    dest: &str,
) -> Result<(), CopyError> {
    let (root, _) = copier
        .layer
        .mkdir_all(dest, 0o755, copier.new_dir_owner())?;
    let stream = decompress(file).map_err(CopyError::io("read archive", archive))?;
    let mut tar = tar::Archive::new(stream);
    let entries = tar
        .entries()
        .map_err(CopyError::io("read archive", archive))?;
    let mut x = Extraction {
        copier,
        root,
        label,
    };
    for entry in entries {
        let entry = entry.map_err(CopyError::io("read archive", archive))?;
        x.entry(entry)?;
    }
    x.copier.stats.archives += 1;
    Ok(())
}

/// Owner, mode and times an archive entry gives the file it creates.
struct EntryMeta {
    owner: (u32, u32),
    mode: u32,
    atime: (i64, i64),
    mtime: (i64, i64),
}

/// The owner (the entry's own unless `--chown` is given), mode and times of an entry.
fn entry_meta<R: Read>(entry: &mut tar::Entry<'_, R>, chown: Option<(u32, u32)>) -> EntryMeta {
    let owner = match chown {
        Some(o) => o,
        None => (
            entry.header().uid().map(|u| u as u32).unwrap_or(0),
            entry.header().gid().map(|g| g as u32).unwrap_or(0),
        ),
    };
    let (atime, mtime) = entry_times(entry);
    let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
    EntryMeta {
        owner,
        mode,
        atime,
        mtime,
    }
}

/// One archive being extracted into the directory `root` of the layer.
struct Extraction<'x, 'r, 'a> {
    copier: &'x mut Copier<'r, 'a>,
    root: Target,
    /// Names the archive in errors.
    label: &'x str,
}

impl Extraction<'_, '_, '_> {
    /// Extracts one entry: skips PAX headers and the root itself, places the entry (after
    /// removing what it replaces) and creates it according to its type.
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), CopyError> {
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader | EntryType::XHeader) {
            return Ok(());
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let escape = || CopyError::ArchiveEscape {
            archive: self.label.to_string(),
            entry: raw.clone(),
        };
        let Some(name) = clean_entry(&raw).map_err(|()| escape())? else {
            return Ok(());
        };
        let meta = entry_meta(&mut entry, self.copier.chown);
        let t = place(
            &mut self.copier.layer,
            &self.root,
            &name,
            kind.is_dir(),
            self.label,
        )?;
        let Some((t, probe)) = t else {
            return Ok(());
        };
        let layer = &mut self.copier.layer;
        if probe.exists() && !(probe.is_dir() && kind.is_dir()) {
            layer.remove_upper(&t, &probe)?;
        }
        let probe = layer.probe(&t)?;
        let host = layer.host(&t.path);
        match kind {
            EntryType::Directory => self.dir(&t, &probe, &host, &meta),
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.file(&t, &host, &mut entry, &meta)
            }
            EntryType::Symlink => self.symlink(&t, &host, &link_target(&entry), &meta),
            EntryType::Link => self.hard_link(&t, &host, &raw, &link_target(&entry), &meta),
            EntryType::Fifo => self.fifo(&t, &host, &meta),
            other => Err(CopyError::ArchiveEntry {
                archive: self.label.to_string(),
                entry: raw.clone(),
                kind: other.as_byte() as char,
            }),
        }
    }

    /// A directory entry: keeps or copies up an existing directory, else creates one; its
    /// times are set once extraction is done.
    fn dir(
        &mut self,
        t: &Target,
        probe: &Probe,
        host: &Path,
        meta: &EntryMeta,
    ) -> Result<(), CopyError> {
        let layer = &mut self.copier.layer;
        match (&probe.upper, &probe.lower) {
            (Some(_), _) => {}
            (None, Some(l)) if l.is_dir() => layer.materialize(t, &l.clone())?,
            _ => layer.create_dir(t, 0o700, meta.owner)?,
        }
        layer.set_owner(host, &t.path, meta.owner)?;
        layer.set_mode(host, &t.path, meta.mode)?;
        layer.defer_times(&t.path, meta.atime, meta.mtime);
        self.copier.stats.dirs += 1;
        Ok(())
    }

    /// A regular (or sparse) file entry, written from the archive stream.
    fn file(
        &mut self,
        t: &Target,
        host: &Path,
        entry: &mut dyn Read,
        meta: &EntryMeta,
    ) -> Result<(), CopyError> {
        let layer = &mut self.copier.layer;
        let out = layer.create_file(t)?;
        // Blocks of zeros (a sparse entry's holes among them) stay holes.
        let n = crate::store::sparse::write_stream(entry, &out)
            .map_err(CopyError::io("extract", &t.path))?;
        drop(out);
        layer.set_owner(host, &t.path, meta.owner)?;
        layer.set_mode(host, &t.path, meta.mode)?;
        layer.set_times(host, &t.path, meta.atime, meta.mtime)?;
        self.copier.stats.files += 1;
        self.copier.stats.bytes += n;
        Ok(())
    }

    /// A symlink entry pointing at `link` (written as is).
    fn symlink(
        &mut self,
        t: &Target,
        host: &Path,
        link: &str,
        meta: &EntryMeta,
    ) -> Result<(), CopyError> {
        let layer = &mut self.copier.layer;
        std::os::unix::fs::symlink(link, host).map_err(CopyError::io("create symlink", &t.path))?;
        layer.set_owner(host, &t.path, meta.owner)?;
        layer.set_times(host, &t.path, meta.atime, meta.mtime)?;
        self.copier.stats.symlinks += 1;
        Ok(())
    }

    /// A hard link entry (`raw`, linking to `raw_link`): the target must resolve inside
    /// the extraction root and be a non-directory of the layer or the image below (copied
    /// up first).
    fn hard_link(
        &mut self,
        t: &Target,
        host: &Path,
        raw: &str,
        raw_link: &str,
        meta: &EntryMeta,
    ) -> Result<(), CopyError> {
        let label = self.label;
        let link_escape = || CopyError::ArchiveEscape {
            archive: label.to_string(),
            entry: format!("{raw} -> {raw_link}"),
        };
        let link_name = clean_entry(raw_link)
            .map_err(|()| link_escape())?
            .ok_or_else(link_escape)?;
        let sym_escape = |p: &str| CopyError::ArchiveSymlinkEscape {
            archive: label.to_string(),
            entry: p.to_string(),
        };
        let layer = &mut self.copier.layer;
        let (lt, lprobe) = layer.resolve_in(&self.root, &link_name, false, Some(&sym_escape))?;
        if lprobe.upper.is_none() {
            match &lprobe.lower {
                Some(lmeta) if !lmeta.is_dir() => copy_up(layer, &lt, lmeta)?,
                _ => {
                    return Err(CopyError::Io {
                        action: "hard link to",
                        path: lt.path.clone().into(),
                        source: std::io::Error::from(std::io::ErrorKind::NotFound),
                    })
                }
            }
        }
        std::fs::hard_link(layer.host(&lt.path), host)
            .map_err(CopyError::io("create hard link", &t.path))?;
        layer.set_owner(host, &t.path, meta.owner)?;
        let is_link = std::fs::symlink_metadata(host)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        if !is_link {
            layer.set_mode(host, &t.path, meta.mode)?;
            layer.set_times(host, &t.path, meta.atime, meta.mtime)?;
        }
        self.copier.stats.hardlinks += 1;
        Ok(())
    }

    /// A fifo entry.
    fn fifo(&mut self, t: &Target, host: &Path, meta: &EntryMeta) -> Result<(), CopyError> {
        let layer = &mut self.copier.layer;
        nix::unistd::mkfifo(host, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .map_err(|e| CopyError::io("create fifo", &t.path)(e.into()))?;
        layer.set_owner(host, &t.path, meta.owner)?;
        layer.set_mode(host, &t.path, meta.mode)?;
        layer.set_times(host, &t.path, meta.atime, meta.mtime)?;
        self.copier.stats.specials += 1;
        Ok(())
    }
}

/// Resolves an entry's path inside the extraction root and creates its missing parents
/// (0755, root). `None` when the entry resolves to the root itself.
fn place(
    layer: &mut LayerWriter<'_>,
    root: &Target,
    name: &str,
    is_dir: bool,
    label: &str,
) -> Result<Option<(Target, Probe)>, CopyError> {
    let escape = |p: &str| CopyError::ArchiveSymlinkEscape {
        archive: label.to_string(),
        entry: p
            .strip_prefix(root.path.as_str())
            .unwrap_or(p)
            .trim_start_matches('/')
            .to_string(),
    };
    let (t, _) = layer.resolve_in(root, name, is_dir, Some(&escape))?;
    if t.path == root.path {
        return Ok(None);
    }
    let (parent, base) = split_parent(&t.path);
    let (parent_t, parent_probe) = layer.mkdir_resolved(root, parent, 0o755, (0, 0))?;
    let t = layer.child(&parent_t, &parent_probe, base);
    let probe = layer.probe(&t)?;
    Ok(Some((t, probe)))
}

/// Copies a file of the image below into the layer (so a hard link can point at it).
fn copy_up(layer: &mut LayerWriter<'_>, t: &Target, meta: &DestMeta) -> Result<(), CopyError> {
    let (parent, _) = split_parent(&t.path);
    layer.mkdir_resolved(&Target::root(), parent, 0o755, (0, 0))?;
    let host = layer.host(&t.path);
    let mut src = layer.open_lower(&t.path)?;
    let mut out = layer.create_file(t)?;
    std::io::copy(&mut src, &mut out).map_err(CopyError::io("copy up", &t.path))?;
    drop(out);
    layer.set_owner(&host, &t.path, (meta.uid, meta.gid))?;
    layer.set_mode(&host, &t.path, meta.mode)?;
    layer.set_times(&host, &t.path, meta.atime, meta.mtime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names() {
        assert_eq!(clean_entry("./a/b/"), Ok(Some("a/b".to_string())));
        assert_eq!(
            clean_entry("/etc/passwd"),
            Ok(Some("etc/passwd".to_string()))
        );
        assert_eq!(clean_entry("./"), Ok(None));
        assert_eq!(clean_entry("a/../../x"), Err(()));
        assert_eq!(clean_entry("../x"), Err(()));
        assert_eq!(clean_entry("..foo"), Ok(Some("..foo".to_string())));
    }

    #[test]
    fn pax_times() {
        assert_eq!(pax_time("1700000000.5"), Some((1_700_000_000, 500_000_000)));
        assert_eq!(pax_time("12"), Some((12, 0)));
        assert_eq!(pax_time("-1.5"), Some((-2, 500_000_000)));
        assert_eq!(pax_time("x"), None);
    }
}
