//! What solving a plan can fail with: a [`SolveError`] names the Dockerfile lines of the
//! step (or FROM) that failed, so the caller renders it like a parse error; the cause is a
//! [`StepError`], whose variants wrap the module errors of the pipeline below.

use crate::dockerfile::ast::Span;

/// A failed step (or stage base), at `span`.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct SolveError {
    /// The Dockerfile lines of the instruction that failed (the FROM line for a base).
    pub span: Span,
    /// What went wrong.
    #[source]
    pub error: StepError,
}

impl SolveError {
    /// The error and every cause below it, joined with `: `, as one line for the user.
    pub fn message(&self) -> String {
        crate::progress::chain(&self.error)
    }

    /// For a failed RUN, the last lines of its output as BuildKit shows them above the
    /// error (`------` / ` > [2/2] RUN make:` / the lines / `------`).
    pub fn log(&self) -> Option<String> {
        match &self.error {
            StepError::RunFailed { log, .. } => Some(log.render()),
            _ => None,
        }
    }
}

/// The end of a failed RUN's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLog {
    /// The step's progress name (`[2/2] RUN make`).
    pub name: String,
    /// The last lines, each with its time as reported (`0.132 text`).
    pub tail: Vec<String>,
}

impl RunLog {
    /// BuildKit's block: a rule, ` > NAME:`, the lines, a rule.
    pub fn render(&self) -> String {
        let mut out = format!("------\n > {}:\n", self.name);
        for line in &self.tail {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str("------\n");
        out
    }
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// `RUN --security=insecure` without `--allow security.insecure`.
    #[error("RUN --security=insecure is not allowed: grant it with --allow security.insecure (as real root)")]
    InsecureNotAllowed,
    /// `RUN --security=insecure` in a build that does not run as real root.
    #[error("RUN --security=insecure needs builder to run as real root: a rootless build has no capabilities of the host to grant")]
    InsecureRootless,
    /// The step is of a kind this build cannot run yet.
    #[error("{0} is not supported yet")]
    Unsupported(String),
    /// A base image is not in the local store (the build pulls missing bases before it
    /// solves, so this is one that was neither there nor pulled).
    #[error("image {0:?} not found in the local store; load it with builder load -i FILE, or use --build-context {1}=oci-layout://DIR")]
    ImageNotFound(String, String),
    /// A base image the store names cannot be read: its manifest or config is damaged.
    #[error("image {image:?} in the local store cannot be read")]
    BaseImage {
        /// The image as users write it (`busybox`).
        image: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A named context cannot be used the way the Dockerfile uses it.
    #[error("build context {name:?}: {reason}")]
    Context {
        /// The context name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// COPY or ADD failed.
    #[error("{instruction} failed")]
    Copy {
        /// `COPY` or `ADD`.
        instruction: &'static str,
        /// The cause.
        #[source]
        source: crate::solve::copy::CopyError,
    },
    /// WORKDIR's user cannot be resolved.
    #[error("WORKDIR failed")]
    Workdir(#[source] crate::solve::copy::CopyError),
    /// A RUN command exited non-zero or was killed by a signal.
    #[error("process {process:?} did not complete successfully: {status}")]
    RunFailed {
        /// The command line, its arguments joined with spaces.
        process: String,
        /// How it ended.
        status: crate::sandbox::ExitStatus,
        /// The end of its output.
        log: RunLog,
    },
    /// A RUN command could not be run as asked (not found, bad working directory, ...).
    #[error("process {process:?} did not complete successfully")]
    RunError {
        /// The command line, its arguments joined with spaces.
        process: String,
        /// Why.
        #[source]
        source: crate::sandbox::SandboxError,
    },
    /// RUN's user could not be resolved.
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    /// A `RUN --mount` could not be made.
    #[error("{0}")]
    Mount(String),
    /// Writing a layer failed.
    #[error("write layer")]
    Diff(#[from] crate::diff::DiffError),
    /// A layer blob written in the background was not (the variant names the step).
    #[error(transparent)]
    Layer(Box<crate::solve::background::LayerJobError>),
    /// A layer could not become a snapshot or part of a flattened tree.
    #[error(transparent)]
    ImageLayer(Box<ImageLayerError>),
    /// The snapshot store failed (unpacking a base layer, preparing or committing).
    #[error("snapshot")]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    /// The blob store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// An image could not be read or written.
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    /// A file-system operation failed.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Something the plan promised is missing (a bug, reported rather than panicking).
    #[error("internal error: {0}")]
    Internal(String),
}

/// A layer that could not become a snapshot or part of a flattened tree: its blob is not the
/// size its descriptor says, its content is not its diff_id, or it breaks the unpack rules.
/// Nothing is kept of it.
#[derive(Debug, thiserror::Error)]
#[error("unpack layer {index}/{count} ({digest}) of {image}")]
pub struct ImageLayerError {
    /// Its position in the image, counted from 1 (the bottom layer).
    pub index: usize,
    /// How many layers the image has.
    pub count: usize,
    /// The layer blob's digest.
    pub digest: oci_spec::image::Digest,
    /// The image, as messages name it (`image busybox (manifest sha256:…)`).
    pub image: String,
    /// What is wrong with it.
    #[source]
    pub source: LayerError,
}

/// What is wrong with a layer being unpacked (see [`ImageLayerError`]).
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The blob is not the size its manifest descriptor gives.
    #[error("the blob is {actual} bytes, but the manifest says {expected}")]
    Size {
        /// The size in the descriptor.
        expected: u64,
        /// The blob's size.
        actual: u64,
    },
    /// Unpacking failed, or the content is not the diff_id the config gives.
    #[error(transparent)]
    Unpack(#[from] crate::snapshot::SnapshotError),
}

impl StepError {
    /// The step error at `span`.
    pub fn at(self, span: Span) -> SolveError {
        SolveError { span, error: self }
    }

    /// An I/O error with what was being done and where.
    pub fn io(
        action: &'static str,
        path: impl Into<std::path::PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> StepError {
        let path = path.into();
        move |source| StepError::Io {
            action,
            path,
            source,
        }
    }
}

/// Result with [`StepError`].
pub type StepResult<T> = std::result::Result<T, StepError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_joins_causes_once() {
        let e = StepError::Copy {
            instruction: "COPY",
            source: crate::solve::copy::CopyError::UnknownUser { name: "bob".into() },
        }
        .at(Span::new(3, 3));
        assert_eq!(
            e.message(),
            "COPY failed: unable to find user bob: no matching entries in passwd file"
        );
        assert_eq!(e.span, Span::new(3, 3));
    }
}
