//! The build context: the tree COPY and ADD read from, as a directory, or a tar archive
//! (plain or gzip/bzip2/xz, from a file or stdin) unpacked safely into a private temporary
//! directory, plus its `.dockerignore` rules.
//!
//! Input: a context path or tar stream, and the Dockerfile's path. Output: [`Context`], whose
//! [`Context::is_excluded`] answers, with Docker's exact pattern semantics, whether a path
//! is left out. Excluded files are not part of the context at all: the COPY engine treats
//! them as missing. Like BuildKit, nothing is special about the Dockerfile or the ignore file:
//! they are in the context unless a pattern excludes them.
//!
//! The ignore file is `<Dockerfile-name>.dockerignore` beside the Dockerfile when it exists,
//! else `.dockerignore` at the context root.

pub mod archive;
pub mod ignorefile;
pub mod matcher;
pub mod pattern;

use std::io::Read;
use std::path::{Path, PathBuf};

pub use matcher::{Inclusion, MatchInfo, Matcher, Verdict};
pub use pattern::PatternError;

/// A failure to open the build context.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The context path does not exist or is not a directory.
    #[error("build context {} is not a directory", path.display())]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A `.dockerignore` line is not a valid pattern.
    #[error("{}: {source}", path.display())]
    Ignore {
        /// The ignore file.
        path: PathBuf,
        /// The bad pattern.
        #[source]
        source: PatternError,
    },
}

/// A private temporary directory, removed when dropped.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, ContextError> {
        let base = std::env::temp_dir();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for attempt in 0..100u32 {
            let path = base.join(format!(
                "builder-context-{}-{stamp}-{attempt}",
                std::process::id()
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    use std::os::unix::fs::PermissionsExt;
                    let perms = std::fs::Permissions::from_mode(0o700);
                    std::fs::set_permissions(&path, perms).map_err(|source| ContextError::Io {
                        action: "create temporary context directory",
                        path: path.clone(),
                        source,
                    })?;
                    return Ok(TempDir(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(source) => {
                    return Err(ContextError::Io {
                        action: "create temporary context directory",
                        path,
                        source,
                    })
                }
            }
        }
        Err(ContextError::Io {
            action: "create temporary context directory",
            path: base,
            source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The build context: a root directory and the ignore rules that apply to it.
#[derive(Debug)]
pub struct Context {
    /// The directory holding the context's files.
    pub root: PathBuf,
    /// The `.dockerignore` rules (empty when there is no ignore file).
    pub ignore: Matcher,
    /// The ignore file that was read, if any.
    pub ignore_file: Option<PathBuf>,
    /// Keeps an unpacked tar context alive.
    _temp: Option<TempDir>,
}

impl Context {
    /// Opens a directory context. `dockerfile` is the Dockerfile's path on disk, when there
    /// is one, for `<Dockerfile-name>.dockerignore`.
    pub fn from_dir(root: &Path, dockerfile: Option<&Path>) -> Result<Context, ContextError> {
        if !root.is_dir() {
            return Err(ContextError::NotADirectory {
                path: root.to_path_buf(),
            });
        }
        let (ignore, ignore_file) = load_ignore(root, dockerfile)?;
        Ok(Context {
            root: root.to_path_buf(),
            ignore,
            ignore_file,
            _temp: None,
        })
    }

    /// An empty context (a private temporary directory), for a build whose Dockerfile came
    /// on stdin in place of the context.
    pub fn empty() -> Result<Context, ContextError> {
        let temp = TempDir::new()?;
        Ok(Context {
            root: temp.0.clone(),
            ignore: Matcher::default(),
            ignore_file: None,
            _temp: Some(temp),
        })
    }

    /// Opens a tar context (plain, gzip, bzip2 or xz, detected from the bytes) read from
    /// `reader`, e.g. a file or stdin. It is unpacked into a private temporary directory
    /// that lives as long as the [`Context`]; entries that would land outside it are
    /// skipped. The Dockerfile and `.dockerignore` are looked for at the archive's root.
    pub fn from_tar<R: Read>(reader: R, dockerfile_name: &str) -> Result<Context, ContextError> {
        let temp = TempDir::new()?;
        let stream = archive::decompress(reader).map_err(|source| ContextError::Io {
            action: "read tar context",
            path: PathBuf::from("-"),
            source,
        })?;
        let mut tar = tar::Archive::new(stream);
        tar.set_preserve_permissions(true);
        tar.set_preserve_mtime(true);
        tar.set_overwrite(true);
        tar.set_unpack_xattrs(false);
        tar.unpack(&temp.0).map_err(|source| ContextError::Io {
            action: "unpack tar context into",
            path: temp.0.clone(),
            source,
        })?;
        let root = temp.0.clone();
        let dockerfile = root.join(dockerfile_name);
        let (ignore, ignore_file) = load_ignore(&root, Some(&dockerfile))?;
        Ok(Context {
            root,
            ignore,
            ignore_file,
            _temp: Some(temp),
        })
    }

    /// Opens a tar context from an archive file.
    pub fn from_tar_file(path: &Path, dockerfile_name: &str) -> Result<Context, ContextError> {
        let file = std::fs::File::open(path).map_err(|source| ContextError::Io {
            action: "open tar context",
            path: path.to_path_buf(),
            source,
        })?;
        Context::from_tar(file, dockerfile_name)
    }

    /// Whether `rel_path` (relative to the context root; a leading `/` or `./` is ignored)
    /// is excluded by `.dockerignore`, i.e. does not exist for COPY.
    pub fn is_excluded(&self, rel_path: &str) -> bool {
        if self.ignore.is_empty() {
            return false;
        }
        let rel = matcher::clean_path(rel_path.trim_start_matches('/'));
        let is_dir = std::fs::symlink_metadata(self.root.join(&rel))
            .map(|m| m.is_dir())
            .unwrap_or(false);
        self.ignore.excludes(&rel, is_dir)
    }
}

/// Finds and parses the ignore file: `<Dockerfile-name>.dockerignore` beside the
/// Dockerfile wins over `.dockerignore` at the context root.
fn load_ignore(
    root: &Path,
    dockerfile: Option<&Path>,
) -> Result<(Matcher, Option<PathBuf>), ContextError> {
    let mut candidates = Vec::new();
    if let Some(df) = dockerfile {
        if let Some(name) = df.file_name() {
            let mut ignore_name = name.to_os_string();
            ignore_name.push(".dockerignore");
            candidates.push(df.with_file_name(ignore_name));
        }
    }
    candidates.push(root.join(".dockerignore"));
    for path in candidates {
        match std::fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let matcher = ignorefile::parse(&text).map_err(|source| ContextError::Ignore {
                    path: path.clone(),
                    source,
                })?;
                return Ok((matcher, Some(path)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(ContextError::Io {
                    action: "read ignore file",
                    path,
                    source,
                })
            }
        }
    }
    Ok((Matcher::default(), None))
}

#[cfg(test)]
mod tests;
