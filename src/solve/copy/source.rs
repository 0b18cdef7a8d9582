//! The source side of COPY: a tree (the build context, or another stage's or image's
//! rootfs) in which source paths are resolved like inside a chroot, wildcards expanded with
//! Go's `filepath.Match` rules, and `.dockerignore`d paths treated as absent.
//!
//! A directory tree (not a snapshot chain) may be changed by someone else while it is read
//! (a build context is a user's directory): every entry is looked at and opened through a
//! descriptor of its parent directory, and directories are opened below the root's
//! descriptor with [`crate::rooted::open_beneath`] (no symlink, no `..`). Symlinks that
//! are data are resolved by [`SrcTree::lookup`] one component at a time inside the root;
//! the resolved path holds no symlink, so a swap after the lookup makes the open fail
//! rather than leave the root.

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use super::dest::host_path;
use super::error::CopyError;
use super::layer::MAX_SYMLINKS;
use super::layered::LayeredSrc;
use crate::context::matcher::clean_path;
use crate::context::pattern::{glob_match, has_wildcards};
use crate::context::{MatchInfo, Matcher, Verdict};
use crate::rooted::{self, Meta};

#[path = "source_at.rs"]
mod at;
pub(crate) use at::FileSrc;

/// A source tree.
pub(crate) struct SrcTree<'a> {
    pub root: PathBuf,
    pub ignore: Option<&'a Matcher>,
    /// Copied entries keep their uid/gid (stages and images); else they become 0:0.
    pub preserve_owner: bool,
    /// Read through these snapshot directories instead of `root` (stages and images).
    pub layers: Option<LayeredSrc>,
    /// The root directory, opened on first use (trees read through `layers` never do).
    root_fd: OnceLock<Arc<OwnedFd>>,
    /// The directory opened last, by its path below the root: a walk looks at the
    /// children of one directory in a row.
    last_dir: Mutex<Option<(String, Arc<OwnedFd>)>>,
}

/// One source entry selected by a pattern, after following symlinks.
#[derive(Debug)]
pub(crate) struct SrcItem {
    /// The name it gets inside a destination directory (the matched name, unfollowed).
    pub name: String,
    /// For a wildcard match: its path below the wildcard's base directory.
    pub wild_rel: Option<String>,
    /// Its real path, relative to the tree root ("" for the root).
    pub rel: String,
    /// Its metadata (never a symlink).
    pub meta: Meta,
}

/// The result of looking a path up.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// Found at `rel` (relative to the root) with `meta`.
    Found { rel: String, meta: Meta },
    /// Nothing there.
    Missing,
    /// There, but `.dockerignore` excludes it.
    Excluded,
}

/// What a source pattern selects.
pub(crate) enum Expansion {
    /// Zero or more entries (zero only for wildcards).
    Items(Vec<SrcItem>),
    /// A plain path that does not exist.
    Missing,
    /// A plain path excluded by `.dockerignore`.
    Excluded,
}

/// `b` inside relative path `a` (`b` itself when `a` is the root, "").
pub(crate) fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

fn base_name(path: &str) -> String {
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(b) if !b.is_empty() => b.to_string(),
        _ => "/".to_string(),
    }
}

impl<'a> SrcTree<'a> {
    /// A tree rooted at the directory `root`.
    pub(crate) fn dir(root: PathBuf, ignore: Option<&'a Matcher>, preserve_owner: bool) -> Self {
        SrcTree {
            root,
            ignore,
            preserve_owner,
            layers: None,
            root_fd: OnceLock::new(),
            last_dir: Mutex::new(None),
        }
    }

    /// The host path of `rel` (relative to the root): for messages, and for snapshot
    /// chains, which nobody changes.
    pub(crate) fn host(&self, rel: &str) -> Result<PathBuf, CopyError> {
        match &self.layers {
            Some(l) => l
                .host(rel)
                .map_err(CopyError::io("read source", &host_path(&self.root, rel))),
            None => Ok(host_path(&self.root, rel)),
        }
    }

    /// Which snapshot layer `rel` comes from (0 for a plain directory): files of different
    /// layers are different files even when they share an inode.
    pub(crate) fn layer_of(&self, rel: &str) -> usize {
        self.layers
            .as_ref()
            .and_then(|l| l.layer_of(rel).ok().flatten())
            .unwrap_or(0)
    }

    /// Whether the files are immutable snapshot files a copy may link to.
    pub(crate) fn linkable(&self) -> bool {
        self.layers.is_some()
    }

    /// The names in source directory `rel`, sorted (walks are deterministic).
    pub(crate) fn sorted_names(&self, rel: &str) -> Result<Vec<OsString>, CopyError> {
        if let Some(l) = &self.layers {
            return l.sorted_names(rel).map_err(CopyError::io(
                "read source directory",
                &host_path(&self.root, rel),
            ));
        }
        let dir = self.open_dir(rel)?;
        rooted::read_names(dir.as_fd()).map_err(CopyError::io(
            "read source directory",
            &host_path(&self.root, rel),
        ))
    }

    fn excluded(&self, rel: &str, is_dir: bool) -> bool {
        self.ignore.is_some_and(|m| m.excludes(rel, is_dir))
    }

    /// Resolves `path` (relative to the root; `/` and `..` cannot leave it) following
    /// symlinks inside the tree, the last one too when `follow_last`.
    pub(crate) fn lookup(&self, path: &str, follow_last: bool) -> Result<Lookup, CopyError> {
        let mut current = clean_path(&format!("/{path}"));
        let mut hops = 0;
        'restart: loop {
            let comps: Vec<String> = current
                .split('/')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            let mut walked = String::new();
            for (i, comp) in comps.iter().enumerate() {
                let cand = join(&walked, comp);
                let Some(meta) = self.lstat(&cand)? else {
                    return Ok(Lookup::Missing);
                };
                if self.excluded(&cand, meta.is_dir()) {
                    return Ok(Lookup::Excluded);
                }
                let last = i + 1 == comps.len();
                if meta.is_symlink() && (!last || follow_last) {
                    hops += 1;
                    if hops > MAX_SYMLINKS {
                        return Err(CopyError::TooManySymlinks {
                            path: path.to_string(),
                        });
                    }
                    let link = self.read_link(&cand)?;
                    let link = link.to_string_lossy();
                    let rest = comps.get(i + 1..).unwrap_or(&[]).join("/");
                    current = if link.starts_with('/') {
                        clean_path(&format!("{link}/{rest}"))
                    } else {
                        clean_path(&format!("/{walked}/{link}/{rest}"))
                    };
                    continue 'restart;
                }
                if last {
                    return Ok(Lookup::Found { rel: cand, meta });
                }
                if !meta.is_dir() {
                    return Ok(Lookup::Missing);
                }
                walked = cand;
            }
            let meta = match &self.layers {
                Some(l) => l
                    .root_meta()
                    .map(|m| Meta::from_metadata(&m))
                    .map_err(CopyError::io("read source", &self.root))?,
                None => self.lstat("")?.ok_or_else(|| {
                    CopyError::io("read source", &self.root)(std::io::ErrorKind::NotFound.into())
                })?,
            };
            return Ok(Lookup::Found {
                rel: String::new(),
                meta,
            });
        }
    }

    /// The `.dockerignore` match state of directory `rel`, for walking below it.
    pub(crate) fn ignore_info(&self, rel: &str) -> MatchInfo {
        let Some(m) = self.ignore else {
            return MatchInfo::default();
        };
        let mut info = MatchInfo::default();
        let mut prefix = String::new();
        for comp in rel.split('/').filter(|c| !c.is_empty()) {
            prefix = join(&prefix, comp);
            info = m.check(&prefix, true, &info).1;
        }
        info
    }

    /// Selects the entries a source pattern names. `pattern` is already normalised
    /// (absolute, clean).
    pub(crate) fn expand(&self, pattern: &str) -> Result<Expansion, CopyError> {
        if !has_wildcards(pattern) {
            return Ok(match self.lookup(pattern, true)? {
                Lookup::Found { rel, meta } => Expansion::Items(vec![SrcItem {
                    name: base_name(pattern),
                    wild_rel: None,
                    rel,
                    meta,
                }]),
                Lookup::Missing => Expansion::Missing,
                Lookup::Excluded => Expansion::Excluded,
            });
        }
        let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
        let split = comps
            .iter()
            .position(|c| has_wildcards(c))
            .unwrap_or(comps.len());
        let base = comps.get(..split).unwrap_or(&[]).join("/");
        let glob = comps.get(split..).unwrap_or(&[]).join("/");
        glob_match(&glob, "").map_err(CopyError::SourcePattern)?;
        let depth = comps.len() - split;
        let mut items = Vec::new();
        if let Lookup::Found { rel, meta } = self.lookup(&base, true)? {
            if meta.is_dir() {
                self.walk_matches(&rel, "", &glob, depth, &mut items)?;
            }
        }
        Ok(Expansion::Items(items))
    }

    /// filepath.Walk below `dir` (real path `rel`), collecting entries whose path below the
    /// wildcard base (`sub`) matches `glob`; a matching directory is not entered.
    fn walk_matches(
        &self,
        rel: &str,
        sub: &str,
        glob: &str,
        depth: usize,
        items: &mut Vec<SrcItem>,
    ) -> Result<(), CopyError> {
        for name in self.sorted_names(rel)? {
            let name = name.to_string_lossy().into_owned();
            let child_rel = join(rel, &name);
            let child_sub = join(sub, &name);
            let Some(meta) = self.lstat(&child_rel)? else {
                continue;
            };
            if self.excluded(&child_rel, meta.is_dir()) {
                continue;
            }
            if glob_match(glob, &child_sub).map_err(CopyError::SourcePattern)? {
                match self.lookup(&child_rel, true)? {
                    Lookup::Found { rel, meta } => items.push(SrcItem {
                        name,
                        wild_rel: Some(child_sub),
                        rel,
                        meta,
                    }),
                    Lookup::Missing | Lookup::Excluded => {
                        return Err(CopyError::Io {
                            action: "follow symlink",
                            path: PathBuf::from(child_sub),
                            source: std::io::Error::from(std::io::ErrorKind::NotFound),
                        })
                    }
                }
            } else if meta.is_dir() && child_sub.matches('/').count() + 1 < depth {
                self.walk_matches(&child_rel, &child_sub, glob, depth, items)?;
            }
        }
        Ok(())
    }
}

/// The walk verdict for `rel` under `.dockerignore`, with the info for its children.
pub(crate) fn ignore_check(
    m: Option<&Matcher>,
    rel: &str,
    is_dir: bool,
    parent: &MatchInfo,
) -> (Verdict, MatchInfo) {
    match m {
        Some(m) => m.check(rel, is_dir, parent),
        None => (Verdict::Keep, MatchInfo::default()),
    }
}
