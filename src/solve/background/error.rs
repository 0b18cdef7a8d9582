//! How a layer written in the background can fail. Every variant names the step, since the
//! failure is seen after the step itself was reported done; errors are shared by everyone
//! waiting for the blob, so causes are kept behind an `Arc`.

use std::sync::Arc;

use oci_spec::image::Digest;

use crate::solve::error::StepError;

/// A layer blob that was not written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LayerJobError {
    /// Writing the blob failed (the store keeps no part of it).
    #[error("write the layer of {step}")]
    Failed {
        /// The step's progress name (`[2/3] COPY . /src`).
        step: String,
        /// The cause, as a synchronous write would have reported it.
        #[source]
        source: Arc<StepError>,
    },
    /// The snapshot's files changed between the pass that named it and the one that wrote
    /// its blob.
    #[error("the files of {step} changed while its layer was written (diff_id {named} when committed, {written} when written)")]
    Changed {
        /// The step's progress name.
        step: String,
        /// The diff_id the snapshot was committed under.
        named: Digest,
        /// The diff_id of the tar the blob holds.
        written: Digest,
    },
    /// The build stopped (another step failed, or it was interrupted) before the blob was
    /// written.
    #[error("the layer of {step} was not written: the build stopped first")]
    Cancelled {
        /// The step's progress name.
        step: String,
    },
}

impl From<LayerJobError> for StepError {
    fn from(e: LayerJobError) -> StepError {
        StepError::Layer(Box::new(e))
    }
}
