//! Content digests of COPY/ADD sources, for the build cache: the entries a COPY would
//! read, selected by the engine's own rules, each reduced to what reaches the layer
//! (kind, permission bits, symlink target, content sha256, hard links within the copy,
//! owners when they are kept), and one digest over all of them and the source patterns.
//!
//! Pipeline stage: `solve`, before a COPY/ADD step runs; the cache key of the step takes
//! [`SourcesDigest::digest`], and a miss is explained by comparing
//! [`SourcesDigest::files`] with the previous build's.
//!
//! Selection mirrors `plan` and `tree` exactly: wildcards expand as Go's `filepath.Match`
//! (a wildcard matching nothing selects nothing), a directory source selects its contents
//! (not its own metadata), a source that is a symlink is followed and symlinks below it are
//! entries of their own, `.dockerignore` (with `!` exceptions) and `--exclude` prune the
//! walk, `--parents` include patterns select inside each root, and a missing plain path is
//! the same error the copy gives. The one superset: directories that `--parents` walks
//! through are counted whenever something below them is selected, even when the directory
//! already exists in the image (the copy then keeps the image's metadata).
//!
//! Not in the digest, as in BuildKit's content hash: times, inode numbers, and owners of
//! build-context files (the copy makes them 0:0). Extended attributes are not covered.
//! Regular files are read only when the [`StatCache`] has no valid entry for them; those
//! are hashed in parallel and entered into the cache.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use oci_spec::image::Digest;

use super::dest::is_special;
use super::error::CopyError;
use super::fetch::{is_git_source, is_http_source};
use super::source::{ignore_check, join, Expansion, Lookup, SrcTree};
use super::SourceRoot;
use crate::cache::stat::StatCache;
use crate::context::matcher::clean_path;
use crate::context::pattern::has_wildcards;
use crate::context::{Inclusion, MatchInfo, Matcher, Verdict};
use crate::store::digest::Sha256;

#[path = "digest_hash.rs"]
mod hash;

/// Version tag of the entry and total encodings; bump it when either changes.
const VERSION: &[u8] = b"builder.sources.v1\n";

/// The digest of what a COPY/ADD reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcesDigest {
    /// sha256 over the source patterns, the flags that change selection, and every entry.
    pub digest: Digest,
    /// Every selected entry (directories and symlinks included) by its path as the user
    /// knows it (`src/main.rs`: below the source as written, matched names unfollowed),
    /// sorted by path, with its entry digest.
    pub files: Vec<(String, Digest)>,
    /// What the digest took.
    pub stats: DigestStats,
}

/// Counters of one digest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DigestStats {
    /// Entries selected.
    pub entries: u64,
    /// Regular files whose content was read (not found in the stat cache).
    pub hashed_files: u64,
    /// Bytes of content read.
    pub hashed_bytes: u64,
}

/// Digests the sources of a COPY/ADD as the engine would select them from `root`:
/// `sources` are the path sources as written (URL and Git sources of ADD are skipped: they
/// are not local), `excludes` the `--exclude` patterns, `parents` the `--parents` flag.
/// A source path that does not exist fails as the copy fails.
///
/// ```
/// use builder::solve::copy::{digest::digest_sources, SourceKind, SourceRoot};
/// let ctx = tempfile::tempdir().unwrap();
/// std::fs::create_dir(ctx.path().join("src")).unwrap();
/// std::fs::write(ctx.path().join("src/main.rs"), "fn main() {}\n").unwrap();
/// let root = SourceRoot { dir: ctx.path(), ignore: None, kind: SourceKind::Context };
/// let d = digest_sources(&root, &["src/".to_string()], &[], false, None).unwrap();
/// assert_eq!(d.files.len(), 1);
/// assert_eq!(d.files[0].0, "src/main.rs");
/// ```
pub fn digest_sources(
    root: &SourceRoot<'_>,
    sources: &[String],
    excludes: &[String],
    parents: bool,
    stat: Option<&StatCache>,
) -> Result<SourcesDigest, CopyError> {
    let excludes_m = if excludes.is_empty() {
        None
    } else {
        Some(Matcher::new(excludes).map_err(CopyError::Exclude)?)
    };
    let mut walk = Walk::new(root, stat);
    walk.excludes = excludes_m.as_ref();
    for src in sources {
        if is_http_source(src) || is_git_source(src) {
            continue;
        }
        if parents {
            walk.parents_source(src)?;
        } else {
            walk.source(src)?;
        }
    }
    let mut header = Sha256::new();
    header.update(VERSION);
    header.update(&[u8::from(parents)]);
    put_list(&mut header, sources);
    put_list(&mut header, excludes);
    hash::finish(walk, header)
}

/// Digests the tree at `path` in `root` (the path followed if it is a symlink), for a
/// `RUN --mount=type=bind` source: everything below it after `.dockerignore`, and the
/// directory itself (its mode is visible in the mount), which is listed as `.`.
pub fn digest_tree(
    root: &SourceRoot<'_>,
    path: &str,
    stat: Option<&StatCache>,
) -> Result<SourcesDigest, CopyError> {
    let mut walk = Walk::new(root, stat);
    let display = clean_path(&format!("/{path}"));
    match walk.tree.lookup(&display, true)? {
        Lookup::Found { rel, meta } => {
            let pos = walk.start("", &rel);
            walk.entry(pos, &meta)?;
        }
        Lookup::Missing => return Err(walk.not_found(path, false)),
        Lookup::Excluded => return Err(walk.not_found(path, true)),
    }
    let mut header = Sha256::new();
    header.update(VERSION);
    header.update(b"tree\n");
    put_list(&mut header, &[display]);
    hash::finish(walk, header)
}

/// A length-prefixed list of strings.
fn put_list(h: &mut Sha256, items: &[String]) {
    h.update(&(items.len() as u64).to_le_bytes());
    for s in items {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
}

/// One selected entry.
#[derive(Debug)]
struct Selected {
    /// The path as the user knows it.
    path: String,
    /// Its real path relative to the root (the stat cache key).
    rel: String,
    meta: Metadata,
    /// A symlink's target.
    target: Option<Vec<u8>>,
    /// For a regular file: the earlier selected path it is a hard link of.
    link_of: Option<String>,
    /// For a regular file: its content sha256, once known.
    content: Option<[u8; 32]>,
}

/// Where the walk is (copy's `Pos`, plus the path shown to the user).
#[derive(Debug)]
struct Pos {
    /// The path as the user knows it.
    display: String,
    /// Real path relative to the root (for `.dockerignore` and the stat cache).
    rel: String,
    /// Path relative to the copied source (for `--exclude` and `--parents`).
    sub: String,
    ignore: MatchInfo,
    exclude: MatchInfo,
}

/// The selection walk over one source root.
struct Walk<'r> {
    root: &'r SourceRoot<'r>,
    tree: SrcTree<'r>,
    stat: Option<&'r StatCache>,
    excludes: Option<&'r Matcher>,
    /// `--parents` include patterns of the current source.
    includes: Option<Matcher>,
    /// Owners reach the layer (stages and images).
    owners: bool,
    selected: Vec<Selected>,
    /// First path of each multiply-linked file, as the copy keeps hard links.
    links: HashMap<(u64, u64), String>,
}

impl<'r> Walk<'r> {
    fn new(root: &'r SourceRoot<'r>, stat: Option<&'r StatCache>) -> Walk<'r> {
        Walk {
            root,
            tree: SrcTree {
                root: root.dir.to_path_buf(),
                ignore: root.ignore,
                preserve_owner: root.preserves_owner(),
            },
            stat,
            excludes: None,
            includes: None,
            owners: root.preserves_owner(),
            selected: Vec::new(),
            links: HashMap::new(),
        }
    }

    fn not_found(&self, pattern: &str, excluded: bool) -> CopyError {
        CopyError::SourceNotFound {
            pattern: pattern.to_string(),
            root: self.root.label(),
            excluded,
        }
    }

    /// A source without `--parents` (plan's `plan_units`).
    fn source(&mut self, src: &str) -> Result<(), CopyError> {
        let pattern = clean_path(&format!("/{src}"));
        let items = match self.tree.expand(&pattern)? {
            Expansion::Items(items) => items,
            Expansion::Missing => return Err(self.not_found(src, false)),
            Expansion::Excluded => return Err(self.not_found(src, true)),
        };
        let base = wildcard_base(&pattern);
        for item in items {
            let display = match &item.wild_rel {
                Some(w) => {
                    if let Some(ex) = self.excludes {
                        if ex.excludes(w, item.meta.is_dir()) {
                            continue;
                        }
                    }
                    join(&base, w)
                }
                None => pattern.trim_start_matches('/').to_string(),
            };
            self.item(&display, &item.rel, &item.meta)?;
        }
        Ok(())
    }

    /// A `--parents` source (plan's `plan_parents` and its unit).
    fn parents_source(&mut self, src: &str) -> Result<(), CopyError> {
        let (root, pattern) = src.split_once("/./").unwrap_or(("/", src));
        let root = clean_path(&format!("/{root}"));
        let pattern = clean_path(&format!("/{pattern}"))
            .trim_start_matches('/')
            .to_string();
        if !has_wildcards(&root) && !has_wildcards(&pattern) {
            match self.tree.lookup(&format!("{root}/{pattern}"), true)? {
                Lookup::Found { .. } => {}
                Lookup::Missing => return Err(self.not_found(src, false)),
                Lookup::Excluded => return Err(self.not_found(src, true)),
            }
        }
        let roots = match self.tree.expand(&root)? {
            Expansion::Items(items) => items,
            Expansion::Missing | Expansion::Excluded => Vec::new(),
        };
        let base = wildcard_base(&root);
        for item in roots {
            let display = match &item.wild_rel {
                Some(w) => join(&base, w),
                None => root.trim_start_matches('/').to_string(),
            };
            if !item.meta.is_dir() {
                self.item(&display, &item.rel, &item.meta)?;
                continue;
            }
            self.includes = if pattern.is_empty() {
                None
            } else {
                Some(Matcher::new(&[pattern.as_str()]).map_err(CopyError::SourcePattern)?)
            };
            let result = self.contents(&display, &item.rel);
            self.includes = None;
            result?;
        }
        Ok(())
    }

    /// One selected source entry: a directory's contents, or the entry itself.
    fn item(&mut self, display: &str, rel: &str, meta: &Metadata) -> Result<(), CopyError> {
        if meta.is_dir() {
            self.contents(display, rel)
        } else {
            let pos = self.start(display, rel);
            self.entry(pos, meta)
        }
    }

    /// The walk position of a selected source at `rel` (copy's `start`).
    fn start(&self, display: &str, rel: &str) -> Pos {
        Pos {
            display: display.to_string(),
            rel: rel.to_string(),
            sub: String::new(),
            ignore: self.tree.ignore_info(rel),
            exclude: MatchInfo::default(),
        }
    }

    /// The contents of directory `rel` (copy's `copy_contents`).
    fn contents(&mut self, display: &str, rel: &str) -> Result<(), CopyError> {
        let pos = self.start(display, rel);
        let all = self.includes.is_none();
        self.children(&pos, all)
    }

    /// The children of a directory, pruned like the copy's `copy_children`.
    fn children(&mut self, dir: &Pos, all: bool) -> Result<(), CopyError> {
        for os_name in self.tree.sorted_names(&dir.rel)? {
            let Some(name) = os_name.to_str() else {
                let host = self.tree.host(&dir.rel).join(&os_name);
                return Err(CopyError::UnsupportedFile {
                    path: host.display().to_string(),
                });
            };
            let rel = join(&dir.rel, name);
            let host = self.tree.host(&rel);
            let meta =
                std::fs::symlink_metadata(&host).map_err(CopyError::io("read source", &host))?;
            let is_dir = meta.is_dir();
            let (verdict, ignore) = ignore_check(self.tree.ignore, &rel, is_dir, &dir.ignore);
            if verdict == Verdict::Skip {
                self.mark_unread(&rel, &meta);
                continue;
            }
            let sub = join(&dir.sub, name);
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
                display: join(&dir.display, name),
                rel,
                sub,
                ignore,
                exclude,
            };
            if child_all {
                self.entry(pos, &meta)?;
                continue;
            }
            // A directory `--parents` walks through: part of the copy only when something
            // below it is.
            let before = self.selected.len();
            self.children(&pos, false)?;
            if self.selected.len() > before {
                self.push(pos.display, pos.rel, meta, None);
            }
        }
        if let Some(stat) = self.stat {
            stat.mark_listed(&dir.rel);
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
    fn entry(&mut self, pos: Pos, meta: &Metadata) -> Result<(), CopyError> {
        let ft = meta.file_type();
        let mut target = None;
        if ft.is_dir() {
            self.children(&pos, true)?;
        } else if ft.is_symlink() {
            let host = self.tree.host(&pos.rel);
            let link = std::fs::read_link(&host).map_err(CopyError::io("read symlink", &host))?;
            target = Some(link.as_os_str().as_bytes().to_vec());
        } else if !ft.is_file() && !is_special(&ft) {
            return Err(CopyError::UnsupportedFile {
                path: self.tree.host(&pos.rel).display().to_string(),
            });
        }
        self.push(pos.display, pos.rel, meta.clone(), target);
        Ok(())
    }

    fn push(&mut self, mut path: String, rel: String, meta: Metadata, target: Option<Vec<u8>>) {
        let mut link_of = None;
        let mut content = None;
        if meta.is_file() {
            if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                match self.links.get(&key) {
                    Some(first) => link_of = Some(first.clone()),
                    None => {
                        self.links.insert(key, path.clone());
                    }
                }
            }
            content = self.stat.and_then(|s| s.lookup_raw(&rel, &meta));
        }
        if path.is_empty() {
            path.push('.');
        }
        self.selected.push(Selected {
            path,
            rel,
            meta,
            target,
            link_of,
            content,
        });
    }
}

/// The part of a clean absolute pattern before its first wildcard component, relative.
fn wildcard_base(pattern: &str) -> String {
    pattern
        .split('/')
        .filter(|c| !c.is_empty())
        .take_while(|c| !has_wildcards(c))
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
#[path = "digest_tests.rs"]
mod tests;
