//! The tree walk of source digests, pruned exactly like the copy's (`tree`'s
//! `copy_children`): `.dockerignore` on the real path, `--parents` include patterns and
//! `--exclude` on the path below the copied source. Directories with several
//! subdirectories are walked in parallel; the result keeps the copy's order.
//!
//! Children are listed with one `getdents` and stat'ed relative to the open directory (the
//! copy's `lstat`), and regular files that a filter leaves out are marked as still present
//! in the stat cache.

use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;

use rayon::prelude::*;

use super::{Info, Pos, Selected, Walk};
use crate::context::{Inclusion, MatchInfo, Verdict};
use crate::solve::copy::dest::is_special;
use crate::solve::copy::error::CopyError;
use crate::solve::copy::source::ignore_check;

/// A child that passed the filters.
struct Kid {
    pos: Pos,
    meta: Metadata,
    /// Everything below it is selected (else `--parents` looks inside for matches).
    all: bool,
}

impl Walk<'_> {
    /// The walk position of a selected source at `rel` (copy's `start`).
    pub(super) fn start(&self, display: &str, rel: &str) -> Pos {
        Pos {
            display: display.to_string(),
            rel: rel.to_string(),
            sub: String::new(),
            ignore: self.tree.ignore_info(rel),
            exclude: MatchInfo::default(),
        }
    }

    /// The contents of directory `rel` (copy's `copy_contents`).
    pub(super) fn contents(&self, display: &str, rel: &str) -> Result<Vec<Selected>, CopyError> {
        let pos = self.start(display, rel);
        let mut out = Vec::new();
        self.children(&pos, self.includes.is_none(), &mut out)?;
        Ok(out)
    }

    /// The names and `lstat`s of directory `rel`'s children, sorted by name.
    fn list(&self, rel: &str) -> Result<Vec<(String, Metadata)>, CopyError> {
        let host = self.tree.host(rel);
        let mut entries = std::fs::read_dir(&host)
            .map_err(CopyError::io("read source directory", &host))?
            .map(|e| e.map(|e| (e.file_name(), e)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(CopyError::io("read source directory", &host))?;
        entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut out = Vec::with_capacity(entries.len());
        for (os_name, e) in entries {
            let path = host.join(&os_name);
            let Ok(name) = os_name.into_string() else {
                return Err(CopyError::UnsupportedFile {
                    path: path.display().to_string(),
                });
            };
            let meta = e.metadata().map_err(CopyError::io("read source", &path))?;
            out.push((name, meta));
        }
        Ok(out)
    }

    /// The children of a directory, pruned like the copy's `copy_children`.
    fn children(&self, dir: &Pos, all: bool, out: &mut Vec<Selected>) -> Result<(), CopyError> {
        let mut kids = Vec::new();
        for (name, meta) in self.list(&dir.rel)? {
            let rel = join(&dir.rel, &name);
            let is_dir = meta.is_dir();
            let (verdict, ignore) = ignore_check(self.tree.ignore, &rel, is_dir, &dir.ignore);
            if verdict == Verdict::Skip {
                self.mark_unread(&rel, &meta);
                continue;
            }
            // The path below the copied source matters only to `--exclude` and `--parents`.
            let sub = if self.excludes.is_some() || self.includes.is_some() {
                join(&dir.sub, &name)
            } else {
                String::new()
            };
            let mut child_all = all;
            if !all {
                match self.includes.as_ref().map(|m| m.include(&sub, is_dir)) {
                    Some(Inclusion::Full) | None => child_all = true,
                    Some(Inclusion::Partial) if is_dir => {}
                    Some(_) => {
                        self.mark_unread(&rel, &meta);
                        continue;
                    }
                }
            }
            let (verdict, exclude) = ignore_check(self.excludes, &sub, is_dir, &dir.exclude);
            if verdict == Verdict::Skip {
                self.mark_unread(&rel, &meta);
                continue;
            }
            let pos = Pos {
                display: join(&dir.display, &name),
                rel,
                sub,
                ignore,
                exclude,
            };
            kids.push(Kid {
                pos,
                meta,
                all: child_all,
            });
        }
        if let Some(stat) = self.stat {
            stat.mark_listed(&dir.rel);
        }
        if kids.iter().filter(|k| k.meta.is_dir()).count() < 2 {
            return kids.into_iter().try_for_each(|k| self.kid(k, out));
        }
        let parts = kids
            .into_par_iter()
            .map(|k| {
                let mut part = Vec::new();
                self.kid(k, &mut part).map(|()| part)
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.extend(parts.into_iter().flatten());
        Ok(())
    }

    fn kid(&self, k: Kid, out: &mut Vec<Selected>) -> Result<(), CopyError> {
        if k.all {
            return self.entry(k.pos, &k.meta, out);
        }
        // A directory `--parents` walks through: part of the copy only when something
        // below it is.
        let before = out.len();
        self.children(&k.pos, false, out)?;
        if out.len() > before {
            out.push(selected(k.pos, &k.meta, None));
        }
        Ok(())
    }

    /// A regular file left out of the selection still exists: keep its stat cache entry.
    fn mark_unread(&self, rel: &str, meta: &Metadata) {
        if let (Some(stat), true) = (self.stat, meta.is_file()) {
            stat.mark_seen(rel);
        }
    }

    /// One entry, with everything below it for a directory (copy's `copy_entry`).
    pub(super) fn entry(
        &self,
        pos: Pos,
        meta: &Metadata,
        out: &mut Vec<Selected>,
    ) -> Result<(), CopyError> {
        let ft = meta.file_type();
        let mut target = None;
        if ft.is_dir() {
            self.children(&pos, true, out)?;
        } else if ft.is_symlink() {
            let host = self.tree.host(&pos.rel);
            let link = std::fs::read_link(&host).map_err(CopyError::io("read symlink", &host))?;
            target = Some(link.as_os_str().as_bytes().to_vec());
        } else if !ft.is_file() && !is_special(&ft) {
            return Err(CopyError::UnsupportedFile {
                path: self.tree.host(&pos.rel).display().to_string(),
            });
        }
        out.push(selected(pos, meta, target));
        Ok(())
    }
}

fn selected(pos: Pos, meta: &Metadata, target: Option<Vec<u8>>) -> Selected {
    let path = if pos.display.is_empty() {
        ".".to_string()
    } else {
        pos.display
    };
    Selected {
        path,
        rel: pos.rel,
        info: Info::of(meta),
        target,
        link_of: None,
        content: None,
    }
}

/// `b` inside relative path `a` (`b` itself when `a` is the root, "").
fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        return b.to_string();
    }
    let mut s = String::with_capacity(a.len() + 1 + b.len());
    s.push_str(a);
    s.push('/');
    s.push_str(b);
    s
}
