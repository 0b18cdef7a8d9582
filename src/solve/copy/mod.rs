//! The COPY/ADD engine: given a source tree (the build context with its `.dockerignore`, or
//! another stage's or image's rootfs), the source patterns and the destination, it writes
//! the files into a fresh, empty layer directory at their final paths in the image, exactly
//! as BuildKit's Dockerfile frontend and file backend (fsutil's copier) would lay them out.
//!
//! Rules (BuildKit's): a directory source copies its contents, not itself; wildcards follow
//! Go's `filepath.Match` and a wildcard matching nothing copies nothing; a missing plain
//! path is an error; sources never leave their root (`..` is cleaned away and symlinks are
//! resolved inside the root); the source path itself is followed, symlinks below it are
//! copied as symlinks; a file copied to `dest/` lands as `dest/name`, to `dest` as the file
//! `dest` unless `dest` is an existing directory; missing destination parents are created
//! 0755 (owned by the `--chown` user, else root); modes and times come from the source, the
//! owner is 0:0 from the build context, kept from stages and images, or `--chown`. ADD
//! extracts local tar archives (detected by content). Nothing is written outside the layer
//! directory.

pub mod chown;
pub mod dest;
pub mod digest;
pub mod error;

mod archive;
mod files;
mod layer;
mod layered;
mod plan;
mod source;
mod tree;

use std::path::Path;

pub use crate::remote::{FetchError, Fetched, Fetcher, NoFetcher, RemoteRequest};
pub use chown::{chown_needs_lookup, resolve_chown};
pub use dest::{DestFs, DestMeta, EmptyDest, EntryKind, RootfsDir};
pub use error::CopyError;

use crate::context::Matcher;
use crate::domain::Chmod;

/// One source of a COPY/ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopySource {
    /// A path or wildcard pattern in the source tree (or, for ADD, a URL).
    Path(String),
    /// A here-document (`COPY <<EOF /dst`): a file named `name` holding `content`.
    Heredoc {
        /// The file name (the heredoc's word, e.g. `EOF` or `script.sh`).
        name: String,
        /// The file content.
        content: String,
    },
}

/// Where sources are read from; decides ownership and the wording of errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// The main build context: owners become 0:0.
    Context,
    /// A named local context (`--build-context name=dir`): owners become 0:0.
    NamedContext(String),
    /// Another stage's rootfs (`COPY --from=stage`): owners are kept.
    Stage(String),
    /// An image's rootfs (`COPY --from=image`): owners are kept.
    Image(String),
}

/// The tree sources are read from.
#[derive(Debug, Clone)]
pub struct SourceRoot<'a> {
    /// Its root directory on the host.
    pub dir: &'a Path,
    /// `.dockerignore` rules: excluded paths do not exist for COPY.
    pub ignore: Option<&'a Matcher>,
    /// What it is.
    pub kind: SourceKind,
}

impl SourceRoot<'_> {
    fn label(&self) -> String {
        match &self.kind {
            SourceKind::Context => "the build context".to_string(),
            SourceKind::NamedContext(n) => format!("build context {n:?}"),
            SourceKind::Stage(s) => format!("stage {s:?}"),
            SourceKind::Image(i) => format!("image {i:?}"),
        }
    }

    fn preserves_owner(&self) -> bool {
        matches!(self.kind, SourceKind::Stage(_) | SourceKind::Image(_))
    }
}

/// Whether the engine sets file owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// `lchown` every written entry (needs root, or the build's user namespace).
    Apply,
    /// Leave owners as the calling process creates them (unprivileged tools and tests).
    Ignore,
}

/// A COPY or ADD step, fully expanded.
pub struct CopyRequest<'a> {
    /// The sources, in Dockerfile order.
    pub sources: Vec<CopySource>,
    /// The tree the path sources are read from.
    pub src_root: SourceRoot<'a>,
    /// When set, the path sources are read through these snapshot directories (top first,
    /// overlay form) rather than from `src_root.dir`: a stage's or image's layers, read in
    /// place and never changed (regular files whose metadata the copy keeps are linked).
    pub src_layers: Option<&'a [std::path::PathBuf]>,
    /// The destination as written (variables expanded): absolute, or relative to `workdir`.
    pub dest: String,
    /// The stage's working directory.
    pub workdir: String,
    /// `--chown`, resolved to ids (see [`resolve_chown`]).
    pub chown: Option<(u32, u32)>,
    /// `--chmod`, parsed when the plan was made.
    pub chmod: Option<Chmod>,
    /// `--parents`.
    pub parents: bool,
    /// `--exclude` patterns.
    pub excludes: Vec<String>,
    /// ADD (archives are extracted, URLs allowed) rather than COPY.
    pub is_add: bool,
    /// `ADD --unpack`: `None` extracts local archives only.
    pub unpack: Option<bool>,
    /// `ADD --checksum`.
    pub checksum: Option<String>,
    /// `ADD --keep-git-dir`.
    pub keep_git_dir: bool,
    /// `--link`: the caller passes an [`EmptyDest`] as `dest_fs`; the output is the same.
    pub link: bool,
    /// The destination image before the step.
    pub dest_fs: &'a dyn DestFs,
    /// Fetches URL and Git sources of ADD.
    pub fetcher: &'a dyn Fetcher,
    /// Whether owners are set.
    pub ownership: Ownership,
}

impl<'a> CopyRequest<'a> {
    /// A request with no flags: workdir `/`, no chown/chmod/excludes, COPY semantics,
    /// owners applied, no network.
    pub fn new(
        sources: Vec<CopySource>,
        src_root: SourceRoot<'a>,
        dest: impl Into<String>,
        dest_fs: &'a dyn DestFs,
    ) -> CopyRequest<'a> {
        CopyRequest {
            sources,
            src_root,
            src_layers: None,
            dest: dest.into(),
            workdir: "/".to_string(),
            chown: None,
            chmod: None,
            parents: false,
            excludes: Vec::new(),
            is_add: false,
            unpack: None,
            checksum: None,
            keep_git_dir: false,
            link: false,
            dest_fs,
            fetcher: &NoFetcher,
            ownership: Ownership::Apply,
        }
    }

    fn instruction(&self) -> &'static str {
        if self.is_add {
            "ADD"
        } else {
            "COPY"
        }
    }
}

/// What a copy wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Regular files written.
    pub files: u64,
    /// Directories copied from sources.
    pub dirs: u64,
    /// Symlinks written.
    pub symlinks: u64,
    /// Hard links made.
    pub hardlinks: u64,
    /// Regular files (counted in `files`) made as links to an unchanged snapshot file
    /// rather than copied (stage and image sources).
    pub linked: u64,
    /// Devices, fifos and sockets made.
    pub specials: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Archives extracted (ADD).
    pub archives: u64,
}

/// Runs a COPY/ADD: writes everything it adds into `out_dir` (the new layer's empty upper
/// directory) at its final path in the image. Sources are all resolved before anything is
/// written, so a missing source leaves `out_dir` untouched; a later failure may leave it
/// partly written, and the caller discards it.
///
/// ```
/// use builder::solve::copy::{copy, CopyRequest, EmptyDest, Ownership, CopySource, SourceKind, SourceRoot};
/// let ctx = tempfile::tempdir().unwrap();
/// std::fs::write(ctx.path().join("app.sh"), "echo hi\n").unwrap();
/// let layer = tempfile::tempdir().unwrap();
/// let root = SourceRoot { dir: ctx.path(), ignore: None, kind: SourceKind::Context };
/// let mut req = CopyRequest::new(vec![CopySource::Path("app.sh".into())], root, "bin/", &EmptyDest);
/// req.workdir = "/usr/local".into();
/// req.ownership = Ownership::Ignore;
/// copy(&req, layer.path()).unwrap();
/// assert!(layer.path().join("usr/local/bin/app.sh").is_file());
/// ```
pub fn copy(req: &CopyRequest<'_>, out_dir: &Path) -> Result<CopyStats, CopyError> {
    plan::run(req, out_dir)
}

/// Makes `path` (absolute, in the image) a directory, as WORKDIR does (BuildKit's `Mkdir`
/// with parents): nothing is written when it already resolves (symlinks followed inside
/// the image) to a directory; otherwise the missing directories are created in `out_dir`
/// with mode 0755 and `owner`, and existing parents are recreated with their image
/// metadata. Returns whether anything was written.
pub fn mkdir_all(
    path: &str,
    owner: (u32, u32),
    dest_fs: &dyn DestFs,
    ownership: Ownership,
    out_dir: &Path,
) -> Result<bool, CopyError> {
    let mut layer = layer::LayerWriter::new(out_dir, dest_fs, ownership)?;
    let (_, probe) = layer.resolve(path, true)?;
    if probe.is_dir() {
        return Ok(false);
    }
    layer.mkdir_all(path, 0o755, owner)?;
    layer.finish()?;
    Ok(true)
}

/// The destination as an absolute clean path, and whether it names a directory (a
/// trailing `/`, `.`, or the root).
pub fn dest_path(dest: &str, workdir: &str) -> (String, bool) {
    use crate::context::matcher::clean_path;
    let dir_like = dest.is_empty() || dest == "." || dest.ends_with('/') || dest.ends_with("/.");
    let joined = if dest.starts_with('/') {
        dest.to_string()
    } else {
        format!("/{workdir}/{dest}")
    };
    let abs = clean_path(&format!("/{joined}"));
    let is_root = abs == "/";
    (abs, dir_like || is_root)
}

#[cfg(test)]
mod tests;
