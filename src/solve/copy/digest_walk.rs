//! The tree walk of source digests, pruned exactly like the copy's (`tree`'s
//! `copy_children`): `.dockerignore` on the real path, `--parents` include patterns and
//! `--exclude` on the path below the copied source. Directories with several
//! subdirectories are walked in parallel; the result keeps the copy's order.
//!
//! Children are listed with one `getdents` and stat'ed relative to the open directory (the
//! copy's `lstat`), and regular files that a filter leaves out are marked as still present
//! in the stat cache.

use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

use rayon::prelude::*;
use rustix::fs::{statat, AtFlags};

use super::{Info, Pos, Selected, Walk};
use crate::context::{Inclusion, MatchInfo, Verdict};
use crate::rooted::Meta;
use crate::solve::copy::error::CopyError;
use crate::solve::copy::source::ignore_check;

/// A child that passed the filters.
struct Kid {
    pos: Pos,
    info: Info,
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

    /// The names and `lstat`s of directory `rel`'s children, sorted by name (the copy
    /// reads them the same way: through the directory opened below the root, and
    /// relative to it).
    fn list(&self, rel: &str) -> Result<Vec<(String, Info)>, CopyError> {
        let host = self.tree.host(rel)?;
        let fd = self.tree.open_dir(rel)?;
        let names = crate::rooted::read_names(fd.as_fd()).map_err(|source| CopyError::Io {
            action: "read source directory",
            path: host.clone(),
            source,
        })?;
        let mut out = Vec::with_capacity(names.len());
        for os_name in names {
            let child = || host.join(&os_name);
            let Some(name) = os_name.to_str() else {
                return Err(CopyError::UnsupportedFile {
                    path: child().display().to_string(),
                });
            };
            let st = statat(&*fd, name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| CopyError::Io {
                action: "read source",
                path: child(),
                source: e.into(),
            })?;
            out.push((name.to_string(), Info::of(&Meta::from_stat(&st))));
        }
        Ok(out)
    }

    /// The children of a directory, pruned like the copy's `copy_children`.
    fn children(&self, dir: &Pos, all: bool, out: &mut Vec<Selected>) -> Result<(), CopyError> {
        let mut kids = Vec::new();
        for (name, info) in self.list(&dir.rel)? {
            let rel = join(&dir.rel, &name);
            let is_dir = info.is_dir();
            let (verdict, ignore) = ignore_check(self.tree.ignore, &rel, is_dir, &dir.ignore);
            if verdict == Verdict::Skip {
                self.mark_unread(&rel, &info);
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
                        self.mark_unread(&rel, &info);
                        continue;
                    }
                }
            }
            let (verdict, exclude) = ignore_check(self.excludes, &sub, is_dir, &dir.exclude);
            if verdict == Verdict::Skip {
                self.mark_unread(&rel, &info);
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
                info,
                all: child_all,
            });
        }
        if let Some(stat) = self.stat {
            stat.mark_listed(&dir.rel);
        }
        if kids.iter().filter(|k| k.info.is_dir()).count() < 2 {
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
            return self.entry(k.pos, k.info, out);
        }
        // A directory `--parents` walks through: part of the copy only when something
        // below it is.
        let before = out.len();
        self.children(&k.pos, false, out)?;
        if out.len() > before {
            out.insert(before, selected(k.pos, k.info, None));
        }
        Ok(())
    }

    /// A regular file left out of the selection still exists: keep its stat cache entry.
    fn mark_unread(&self, rel: &str, info: &Info) {
        if let (Some(stat), true) = (self.stat, info.is_file()) {
            stat.mark_seen(rel);
        }
    }

    /// One entry, with everything below it for a directory (copy's `copy_entry`).
    /// Directories come before their contents.
    pub(super) fn entry(
        &self,
        pos: Pos,
        info: Info,
        out: &mut Vec<Selected>,
    ) -> Result<(), CopyError> {
        if info.is_dir() {
            let at = out.len();
            self.children(&pos, true, out)?;
            out.insert(at, selected(pos, info, None));
            return Ok(());
        }
        let mut target = None;
        match info.file_type() {
            nix::libc::S_IFLNK => {
                let link = self.tree.read_link(&pos.rel)?;
                target = Some(link.as_os_str().as_bytes().to_vec());
            }
            nix::libc::S_IFREG
            | nix::libc::S_IFCHR
            | nix::libc::S_IFBLK
            | nix::libc::S_IFIFO
            | nix::libc::S_IFSOCK => {}
            _ => {
                return Err(CopyError::UnsupportedFile {
                    path: self.tree.host(&pos.rel)?.display().to_string(),
                })
            }
        }
        out.push(selected(pos, info, target));
        Ok(())
    }
}

fn selected(pos: Pos, info: Info, target: Option<Vec<u8>>) -> Selected {
    let path = if pos.display.is_empty() {
        ".".to_string()
    } else {
        pos.display
    };
    Selected {
        path,
        rel: pos.rel,
        info,
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
