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

use oci_spec::image::Digest;

use super::error::CopyError;
use super::source::{join, Expansion, Lookup, SrcTree};
use super::SourceRoot;
use crate::cache::stat::{StatCache, StatKey};
use crate::context::matcher::clean_path;
use crate::context::pattern::has_wildcards;
use crate::context::{MatchInfo, Matcher};
use crate::domain::remote_source::is_remote_source;
use crate::rooted::Meta;
use crate::store::digest::Sha256;

#[path = "digest_hash.rs"]
mod hash;
#[path = "digest_walk.rs"]
mod walk;

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
        if is_remote_source(src) {
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
    walk.link_hard_links();
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
            let mut out = Vec::new();
            walk.entry(pos, Info::of(&meta), &mut out)?;
            walk.selected = out;
        }
        Lookup::Missing => return Err(walk.not_found(path, false)),
        Lookup::Excluded => return Err(walk.not_found(path, true)),
    }
    let mut header = Sha256::new();
    header.update(VERSION);
    header.update(b"tree\n");
    put_list(&mut header, &[display]);
    walk.link_hard_links();
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
    info: Info,
    /// A symlink's target.
    target: Option<Vec<u8>>,
    /// For a regular file: the earlier selected path it is a hard link of.
    link_of: Option<String>,
    /// For a regular file: its content sha256, once known.
    content: Option<[u8; 32]>,
}

/// What the digest needs of an entry's `lstat`.
#[derive(Debug, Clone, Copy)]
struct Info {
    /// The stat cache key (also the file type, in `key.mode`).
    key: StatKey,
    uid: u32,
    gid: u32,
    nlink: u64,
    rdev: u64,
}

impl Info {
    fn of(meta: &Meta) -> Info {
        let ns = |(s, n): (i64, i64)| s.saturating_mul(1_000_000_000).saturating_add(n);
        Info {
            key: StatKey {
                dev: meta.dev,
                ino: meta.ino,
                size: meta.size,
                mtime: ns(meta.mtime),
                ctime: ns(meta.ctime),
                mode: meta.mode,
            },
            uid: meta.uid,
            gid: meta.gid,
            nlink: meta.nlink,
            rdev: meta.rdev,
        }
    }

    fn file_type(&self) -> u32 {
        self.key.mode & nix::libc::S_IFMT
    }

    fn is_file(&self) -> bool {
        self.file_type() == nix::libc::S_IFREG
    }

    fn is_dir(&self) -> bool {
        self.file_type() == nix::libc::S_IFDIR
    }
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
}

impl<'r> Walk<'r> {
    fn new(root: &'r SourceRoot<'r>, stat: Option<&'r StatCache>) -> Walk<'r> {
        Walk {
            root,
            tree: SrcTree::dir(root.dir.to_path_buf(), root.ignore, root.preserves_owner()),
            stat,
            excludes: None,
            includes: None,
            owners: root.preserves_owner(),
            selected: Vec::new(),
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
            self.selected.extend(result?);
        }
        Ok(())
    }

    /// One selected source entry: a directory's contents, or the entry itself.
    fn item(&mut self, display: &str, rel: &str, meta: &Meta) -> Result<(), CopyError> {
        let found = if meta.is_dir() {
            self.contents(display, rel)?
        } else {
            let pos = self.start(display, rel);
            let mut out = Vec::new();
            self.entry(pos, Info::of(meta), &mut out)?;
            out
        };
        if self.selected.is_empty() {
            self.selected = found;
        } else {
            self.selected.extend(found);
        }
        Ok(())
    }

    /// Notes hard links in copy order: a file met again is linked to its first path.
    fn link_hard_links(&mut self) {
        let mut first: HashMap<(u64, u64), &str> = HashMap::new();
        let mut links = Vec::new();
        for (i, s) in self.selected.iter().enumerate() {
            if s.info.is_file() && s.info.nlink > 1 {
                let id = (s.info.key.dev, s.info.key.ino);
                match first.get(&id) {
                    Some(p) => links.push((i, p.to_string())),
                    None => {
                        first.insert(id, &s.path);
                    }
                }
            }
        }
        for (i, p) in links {
            if let Some(s) = self.selected.get_mut(i) {
                s.link_of = Some(p);
            }
        }
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
