//! The top-level error: what every command can fail with, the exit code it maps to (0 ok,
//! 1 build failed, 2 usage or parse error; 141 when standard output is closed early), and
//! [`chain`], the one-line form of an error and its causes that users read.

use std::path::PathBuf;

/// Any failure of a `builder` command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line is wrong.
    #[error("{0}")]
    Usage(String),
    /// The contract names the request but this builder does not do it (several platforms at
    /// once).
    #[error("not implemented yet: {0}")]
    NotImplemented(&'static str),
    /// The Dockerfile is wrong; the text already names the file and line and quotes it.
    #[error("{rendered}")]
    Dockerfile {
        /// The rendered diagnostic (`Dockerfile:3`, the quoted lines, the cause).
        rendered: String,
        /// The typed cause, for callers that look below the text (its message is already
        /// in `rendered`).
        #[source]
        cause: Option<Cause>,
    },
    /// A build step failed; the text already names the file and line, quotes the
    /// instruction and gives the cause.
    #[error("{rendered}")]
    Build {
        /// The rendered diagnostic (`Dockerfile:3`, the quoted lines, the cause).
        rendered: String,
        /// The typed cause (the failed step's error, the failed pull), already in
        /// `rendered`.
        #[source]
        cause: Option<Cause>,
    },
    /// `--cache-to` could not be written.
    #[error(transparent)]
    CacheExport(#[from] crate::cache::exchange::CacheExportError),
    /// A `--cache-from` is not a usable builder cache.
    #[error(transparent)]
    CacheImport(#[from] crate::cache::exchange::CacheImportError),
    /// A snapshot could not be made (`debug run`'s overlay mount).
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    /// A document the build writes could not be encoded.
    #[error("encode {what}")]
    Encode {
        /// What was being encoded (`metadata`).
        what: &'static str,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The build context could not be opened.
    #[error(transparent)]
    Context(#[from] crate::context::ContextError),
    /// A build failed outside any one step (flattening the result for an output, ...).
    #[error(transparent)]
    Step(#[from] crate::solve::StepError),
    /// The local store failed (a missing image, a bad name, a corrupt index, IO).
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// An image in the local store could not be read or written.
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    /// An output could not be written or an archive could not be imported.
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    /// A registry could not be reached, refused access, or sent something wrong.
    #[error(transparent)]
    Registry(Box<crate::registry::RegistryError>),
    /// A command could not be run in a sandbox, or the build namespace not entered.
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    /// A file could not be read or written.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done (`read Dockerfile`).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::NotImplemented(_) | Error::Dockerfile { .. } => 2,
            Error::Export(e) if e.is_usage() => 2,
            Error::Registry(e) if e.is_usage() => 2,
            Error::Io { .. }
            | Error::Store(_)
            | Error::Image(_)
            | Error::Export(_)
            | Error::Registry(_)
            | Error::Build { .. }
            | Error::CacheExport(_)
            | Error::CacheImport(_)
            | Error::Snapshot(_)
            | Error::Encode { .. }
            | Error::Context(_)
            | Error::Step(_)
            | Error::Sandbox(_) => 1,
        }
    }
}

/// The typed cause an [`Error::Dockerfile`] or [`Error::Build`] keeps.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

impl Error {
    /// A Dockerfile error: the rendered diagnostic, and the cause it renders.
    pub fn dockerfile(rendered: String, cause: impl Into<Cause>) -> Self {
        Error::Dockerfile {
            rendered,
            cause: Some(cause.into()),
        }
    }

    /// A build error: the rendered diagnostic, and the cause it renders.
    pub fn build(rendered: String, cause: impl Into<Cause>) -> Self {
        Error::Build {
            rendered,
            cause: Some(cause.into()),
        }
    }

    /// The one-line (or, for a Dockerfile or build error, rendered) text users read for
    /// this error where a display shows it: the rendered diagnostic as it is, anything
    /// else with its causes ([`crate::progress::chain`]).
    pub fn summary(&self) -> String {
        match self {
            Error::Dockerfile { rendered, .. } | Error::Build { rendered, .. } => rendered.clone(),
            other => crate::progress::chain(other),
        }
    }
}

impl From<crate::registry::RegistryError> for Error {
    fn from(e: crate::registry::RegistryError) -> Self {
        Error::Registry(Box::new(e))
    }
}

/// `err` and its causes joined with `: `, each said once (the one rule, kept in
/// [`crate::domain`]).
pub use crate::domain::error_chain as chain;

/// Result with the top-level [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_split_usage_from_failure() {
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(Error::NotImplemented("x").exit_code(), 2);
        assert_eq!(
            Error::Dockerfile {
                rendered: String::new(),
                cause: None
            }
            .exit_code(),
            2
        );
        assert_eq!(
            Error::Build {
                rendered: String::new(),
                cause: None
            }
            .exit_code(),
            1
        );
    }
}
