//! Which step the current thread is running, for the layer it may make: the stage loop
//! enters a [`StepTag`] around each filesystem step, and the commit of the step's change set
//! reads it to decide between writing the blob inline and in the background, and to name
//! the step in the job's progress lines and errors.
//!
//! A thread-local rather than a parameter: the steps (COPY, RUN, WORKDIR) commit through
//! one function whatever the step kind, and a step always commits on the thread that runs
//! it (stages of one level run on threads of their own, each with its own tag).

use std::cell::RefCell;

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

thread_local! {
    static CURRENT: RefCell<Option<StepTag>> = const { RefCell::new(None) };
}

/// The step entered on this thread, until dropped (the one before it is restored).
#[derive(Debug)]
#[must_use = "the step is left when this is dropped"]
pub struct Entered {
    previous: Option<StepTag>,
}

/// Run the rest of this thread's work, until the result is dropped, as step `tag`.
pub fn enter(tag: StepTag) -> Entered {
    let previous = CURRENT.with(|c| c.replace(Some(tag)));
    Entered { previous }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The step this thread runs, if any.
pub fn current() -> Option<StepTag> {
    CURRENT.with(|c| c.borrow().clone())
}
