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

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rustix::fs::{Mode, OFlags};

use super::dest::{host_path, is_absent};
use super::error::CopyError;
use super::layer::MAX_SYMLINKS;
use super::layered::LayeredSrc;
use crate::context::matcher::clean_path;
use crate::context::pattern::{glob_match, has_wildcards};
use crate::context::{MatchInfo, Matcher, Verdict};
use crate::rooted::{self, Meta};

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

/// Where the content of a regular source file is read from.
#[derive(Debug)]
pub(crate) enum FileSrc {
    /// A snapshot file, by host path (snapshots never change).
    Path(PathBuf),
    /// `name` in an open directory of the tree.
    At {
        /// The directory.
        dir: Arc<OwnedFd>,
        /// The file's name in it.
        name: OsString,
        /// Its host path, for messages.
        shown: PathBuf,
    },
}

impl FileSrc {
    /// Opens the file for reading, never following a symlink.
    pub(crate) fn open(&self) -> std::io::Result<File> {
        match self {
            FileSrc::Path(p) => {
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(nix::libc::O_NOFOLLOW)
                    .open(p)
            }
            FileSrc::At { dir, name, .. } => {
                let name = name.to_str().ok_or(std::io::ErrorKind::InvalidInput)?;
                let fd = rooted::open_beneath(dir.as_fd(), name, OFlags::RDONLY, Mode::empty())?;
                Ok(File::from(fd))
            }
        }
    }

    /// The host path, for messages.
    pub(crate) fn shown(&self) -> &Path {
        match self {
            FileSrc::Path(p) => p,
            FileSrc::At { shown, .. } => shown,
        }
    }
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

/// `rel` split into its parent (relative to the root) and its last component.
fn split_rel(rel: &str) -> (&str, &str) {
    rel.rsplit_once('/').unwrap_or(("", rel))
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

    /// The root directory's descriptor.
    fn root_fd(&self) -> Result<&Arc<OwnedFd>, CopyError> {
        if let Some(fd) = self.root_fd.get() {
            return Ok(fd);
        }
        let fd = rooted::open_root(&self.root).map_err(CopyError::io("read source", &self.root))?;
        Ok(self.root_fd.get_or_init(|| Arc::new(fd)))
    }

    /// Opens directory `rel` below the root (no symlink on the way).
    pub(crate) fn open_dir(&self, rel: &str) -> Result<Arc<OwnedFd>, CopyError> {
        if rel.is_empty() {
            return self.root_fd().cloned();
        }
        let mut last = self.last_dir.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((path, fd)) = last.as_ref() {
            if path == rel {
                return Ok(Arc::clone(fd));
            }
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY;
        let fd = rooted::open_beneath(self.root_fd()?.as_fd(), rel, flags, Mode::empty()).map_err(
            CopyError::io("read source directory", &host_path(&self.root, rel)),
        )?;
        let fd = Arc::new(fd);
        *last = Some((rel.to_string(), Arc::clone(&fd)));
        Ok(fd)
    }

    /// The parent directory of `rel` (not the root), opened, and `rel`'s name in it.
    fn parent_of<'r>(&self, rel: &'r str) -> Result<(Arc<OwnedFd>, &'r OsStr), CopyError> {
        let (parent, name) = split_rel(rel);
        Ok((self.open_dir(parent)?, OsStr::new(name)))
    }

    /// Where the content of the regular file `rel` is read from.
    pub(crate) fn file_source(&self, rel: &str) -> Result<FileSrc, CopyError> {
        if self.layers.is_some() {
            return self.host(rel).map(FileSrc::Path);
        }
        let (dir, name) = self.parent_of(rel)?;
        Ok(FileSrc::At {
            dir,
            name: name.to_os_string(),
            shown: host_path(&self.root, rel),
        })
    }

    /// Opens the regular file `rel` for reading: one `openat2` from the root, for callers
    /// that open files of many directories at once (the digest's readers).
    pub(crate) fn open_file(&self, rel: &str) -> Result<File, CopyError> {
        if self.layers.is_some() {
            let src = self.file_source(rel)?;
            return src
                .open()
                .map_err(CopyError::io("read source", src.shown()));
        }
        rooted::open_beneath(self.root_fd()?.as_fd(), rel, OFlags::RDONLY, Mode::empty())
            .map(File::from)
            .map_err(CopyError::io("read source", &host_path(&self.root, rel)))
    }

    /// The target of the symlink `rel`.
    pub(crate) fn read_link(&self, rel: &str) -> Result<PathBuf, CopyError> {
        if self.layers.is_some() {
            let host = self.host(rel)?;
            return std::fs::read_link(&host).map_err(CopyError::io("read symlink", &host));
        }
        let (dir, name) = self.parent_of(rel)?;
        rooted::read_link_at(dir.as_fd(), name)
            .map_err(CopyError::io("read symlink", &host_path(&self.root, rel)))
    }

    /// Runs `f` with a path naming entry `rel` that no rename can redirect (the snapshot
    /// path, or `/proc/self/fd/N/name` through its open parent), for calls that take only
    /// a path and do not follow a final symlink (`llistxattr`).
    pub(crate) fn with_entry_path<R>(
        &self,
        rel: &str,
        f: impl FnOnce(&Path) -> R,
    ) -> Result<R, CopyError> {
        if self.layers.is_some() {
            return Ok(f(&self.host(rel)?));
        }
        if rel.is_empty() {
            return Ok(f(&rooted::proc_path(self.root_fd()?.as_fd())));
        }
        let (dir, name) = self.parent_of(rel)?;
        Ok(f(&rooted::proc_path(dir.as_fd()).join(name)))
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

    /// The metadata of `rel`, `None` when it does not exist (in a snapshot chain: also
    /// when a whiteout hides it).
    pub(crate) fn lstat(&self, rel: &str) -> Result<Option<Meta>, CopyError> {
        let host = self.host(rel)?;
        if let Some(l) = &self.layers {
            let layer = l
                .layer_of(rel)
                .map_err(CopyError::io("read source", &host))?;
            if layer.is_none() {
                return Ok(None);
            }
            let meta =
                super::dest::lstat_opt(&host).map_err(CopyError::io("read source", &host))?;
            return Ok(meta.as_ref().map(Meta::from_metadata));
        }
        if rel.is_empty() {
            let st = rustix::fs::fstat(self.root_fd()?.as_fd())
                .map_err(|e| CopyError::io("read source", &host)(e.into()))?;
            return Ok(Some(Meta::from_stat(&st)));
        }
        let (dir, name) = match self.parent_of(rel) {
            Ok(found) => found,
            Err(CopyError::Io { source, .. }) if is_absent(&source) => return Ok(None),
            Err(e) => return Err(e),
        };
        match rooted::lstat_at(dir.as_fd(), name) {
            Ok(m) => Ok(Some(m)),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(CopyError::io("read source", &host)(e)),
        }
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
