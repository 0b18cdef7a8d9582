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
    /// The command exists in the contract but is not built yet.
    #[error("not implemented yet: {0}")]
    NotImplemented(&'static str),
    /// The Dockerfile is wrong; the text already names the file and line and quotes it.
    #[error("{rendered}")]
    Dockerfile {
        /// The rendered diagnostic (`Dockerfile:3`, the quoted lines, the cause).
        rendered: String,
    },
    /// A build step failed; the text already names the file and line, quotes the
    /// instruction and gives the cause.
    #[error("{rendered}")]
    Build {
        /// The rendered diagnostic (`Dockerfile:3`, the quoted lines, the cause).
        rendered: String,
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
            | Error::Context(_)
            | Error::Step(_)
            | Error::Sandbox(_) => 1,
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
                rendered: String::new()
            }
            .exit_code(),
            2
        );
        assert_eq!(
            Error::Build {
                rendered: String::new()
            }
            .exit_code(),
            1
        );
    }
}
