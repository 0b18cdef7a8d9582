//! Which step a layer job belongs to ([`StepTag`]): the stage loop makes one per
//! filesystem step and hands it down in the step's context ([`crate::solve::StepCx`]); the
//! commit of the step's change set reads it to decide between writing the blob inline and
//! in the background, and a job keeps it to name the step in its progress lines and errors.

use crate::cache::StepRef;
use crate::dockerfile::ast::Span;
use crate::progress::VertexId;

/// A filesystem step as its layer job knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepTag {
    /// Where it is in the build (failures are reported in this order).
    pub at: StepRef,
    /// Its progress vertex (the job's lines go there).
    pub vertex: VertexId,
    /// Its progress name (`[2/3] COPY . /src`), in messages.
    pub name: String,
    /// Its Dockerfile lines, for the error of a failed job.
    pub span: Span,
    /// Whether its blob may be written in the background (`false`: nothing runs after it
    /// that could overlap, so the extra pass would only cost time).
    pub background: bool,
    /// What a background write would overlap.
    pub after: After,
    /// Whether its stage is throwaway ([`crate::solve::throwaway`]): its layer is written
    /// as plain tar, inline, and recorded as such.
    pub throwaway: bool,
}

/// What runs after a step whose layer is not the build's last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// The next filesystem step of its stage.
    Step(StepRef),
    /// Nothing more in its stage: the stages that use it (a `COPY --from` of its files, at
    /// least, which is work of the layer's own size).
    Stages,
}
