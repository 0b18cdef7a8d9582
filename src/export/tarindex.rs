//! Random access to the members of a tar file on disk, for `builder load`: one pass reads the
//! headers (skipping the data), then a member is read by seeking to its data. Names are
//! normalised (`./a//b` is `a/b`); symbolic and hard links between members are followed inside
//! the archive (as `docker save` links duplicate layers), never outside it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use tar::EntryType;

use super::error::{ExportError, Result};

/// Links followed before giving up (a loop).
const MAX_HOPS: usize = 40;

#[derive(Debug, Clone)]
enum Kind {
    File { offset: u64, size: u64 },
    Symlink(String),
    HardLink(String),
    Other,
}

/// The members of a tar file.
#[derive(Debug)]
pub(crate) struct TarIndex {
    path: PathBuf,
    members: HashMap<String, Kind>,
}

/// `name` with `.` and empty components removed and `..` applied; `None` if it climbs out.
pub(crate) fn clean(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

impl TarIndex {
    /// Read the headers of the tar file at `path`.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let bad = |e: std::io::Error| ExportError::invalid(path, format!("not a tar archive: {e}"));
        let file = File::open(path).map_err(|e| ExportError::io("open", path, e))?;
        let mut archive = tar::Archive::new(file);
        let mut members = HashMap::new();
        for entry in archive.entries_with_seek().map_err(bad)? {
            let entry = entry.map_err(bad)?;
            let name = entry.path().map_err(bad)?.to_string_lossy().into_owned();
            let Some(name) = clean(&name) else { continue };
            let link = || -> Result<String> {
                Ok(entry
                    .link_name()
                    .map_err(bad)?
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default())
            };
            let kind = match entry.header().entry_type() {
                EntryType::Regular | EntryType::Continuous => Kind::File {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                },
                EntryType::Symlink => Kind::Symlink(link()?),
                EntryType::Link => Kind::HardLink(link()?),
                _ => Kind::Other,
            };
            members.insert(name, kind);
        }
        Ok(TarIndex {
            path: path.to_path_buf(),
            members,
        })
    }

    /// The archive's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a member of this name exists (of any kind).
    pub(crate) fn contains(&self, name: &str) -> bool {
        clean(name).is_some_and(|n| self.members.contains_key(&n))
    }

    /// The offset and size of the regular file `name` names, following links; `None` if there
    /// is no such member.
    fn resolve(&self, name: &str) -> Result<Option<(u64, u64)>> {
        let invalid = |reason: String| ExportError::invalid(&self.path, reason);
        let mut current =
            clean(name).ok_or_else(|| invalid(format!("{name:?} leaves the archive")))?;
        for _ in 0..MAX_HOPS {
            match self.members.get(&current) {
                None => return Ok(None),
                Some(Kind::File { offset, size }) => return Ok(Some((*offset, *size))),
                Some(Kind::Other) => {
                    return Err(invalid(format!("{current} is not a regular file")))
                }
                Some(Kind::HardLink(target)) => {
                    current = clean(target)
                        .ok_or_else(|| invalid(format!("link {current} leaves the archive")))?;
                }
                Some(Kind::Symlink(target)) => {
                    let joined = if target.starts_with('/') {
                        target.clone()
                    } else {
                        let dir = current.rsplit_once('/').map_or("", |(d, _)| d);
                        format!("{dir}/{target}")
                    };
                    current = clean(&joined)
                        .ok_or_else(|| invalid(format!("link {current} leaves the archive")))?;
                }
            }
        }
        Err(invalid(format!("too many links resolving {name}")))
    }

    /// Open the member `name` (following links): a reader of exactly its bytes, and its size.
    pub(crate) fn open_member(&self, name: &str) -> Result<Option<(Box<dyn Read + Send>, u64)>> {
        let Some((offset, size)) = self.resolve(name)? else {
            return Ok(None);
        };
        let mut file =
            File::open(&self.path).map_err(|e| ExportError::io("open", &self.path, e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| ExportError::io("read", &self.path, e))?;
        Ok(Some((Box::new(file.take(size)), size)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(dir: &Path) -> PathBuf {
        let path = dir.join("a.tar");
        let mut b = tar::Builder::new(File::create(&path).unwrap());
        let mut add = |name: &str, kind: EntryType, data: &[u8], link: Option<&str>| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            match link {
                Some(l) => b.append_link(&mut h, name, l).unwrap(),
                None => b.append_data(&mut h, name, data).unwrap(),
            }
        };
        add("./x/layer.tar", EntryType::Regular, b"layer bytes", None);
        add(
            "y/layer.tar",
            EntryType::Symlink,
            b"",
            Some("../x/layer.tar"),
        );
        add("z.tar", EntryType::Link, b"", Some("x/layer.tar"));
        add("abs", EntryType::Symlink, b"", Some("/x/layer.tar"));
        add("out", EntryType::Symlink, b"", Some("../../etc/passwd"));
        add("loop", EntryType::Symlink, b"", Some("loop"));
        add("d", EntryType::Directory, b"", None);
        b.finish().unwrap();
        path
    }

    fn read(idx: &TarIndex, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(idx.open_member(name)?.map(|(mut r, size)| {
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap();
            assert_eq!(v.len() as u64, size);
            v
        }))
    }

    #[test]
    fn members_and_links_resolve_inside_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let idx = TarIndex::open(&archive(dir.path())).unwrap();
        for name in [
            "x/layer.tar",
            "./x/layer.tar",
            "y/layer.tar",
            "z.tar",
            "abs",
        ] {
            assert_eq!(read(&idx, name).unwrap().unwrap(), b"layer bytes", "{name}");
        }
        assert!(idx.contains("d"));
        assert!(read(&idx, "missing").unwrap().is_none());
        assert!(read(&idx, "out")
            .unwrap_err()
            .to_string()
            .contains("leaves the archive"));
        assert!(read(&idx, "../x")
            .unwrap_err()
            .to_string()
            .contains("leaves the archive"));
        assert!(read(&idx, "loop")
            .unwrap_err()
            .to_string()
            .contains("too many links"));
        assert!(read(&idx, "d")
            .unwrap_err()
            .to_string()
            .contains("not a regular file"));
    }

    #[test]
    fn non_tar_input_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, vec![b'x'; 1024]).unwrap();
        let err = TarIndex::open(&p).unwrap_err().to_string();
        assert!(err.contains("not a tar archive"), "{err}");
    }

    #[test]
    fn clean_names() {
        assert_eq!(clean("./a//b/").as_deref(), Some("a/b"));
        assert_eq!(clean("a/../b").as_deref(), Some("b"));
        assert_eq!(clean("/a").as_deref(), Some("a"));
        assert_eq!(clean("a/../.."), None);
    }
}
