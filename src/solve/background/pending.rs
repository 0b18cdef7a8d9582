//! The handle a [`Layer`](crate::solve::Layer) carries while its blob is written in the
//! background: one slot, filled exactly once (by the job, or by its cancellation, or — if
//! the job is dropped without either — with an error), that any number of holders wait on.

use std::sync::{Arc, Condvar, Mutex};

use oci_spec::image::Descriptor;

use super::error::LayerJobError;
use super::step::StepTag;

/// What a job ended with.
pub(crate) type Outcome = Result<Descriptor, LayerJobError>;

/// A layer blob still being written: cheap to clone, equal only to its own clones.
#[derive(Clone)]
pub struct PendingBlob {
    slot: Arc<Slot>,
}

struct Slot {
    id: u64,
    tag: StepTag,
    outcome: Mutex<Option<Outcome>>,
    ready: Condvar,
}

impl PendingBlob {
    /// A new, empty slot for job `id` of the step `tag`.
    pub(crate) fn new(id: u64, tag: StepTag) -> PendingBlob {
        PendingBlob {
            slot: Arc::new(Slot {
                id,
                tag,
                outcome: Mutex::new(None),
                ready: Condvar::new(),
            }),
        }
    }

    /// The job's number (submission order within a build).
    pub(crate) fn id(&self) -> u64 {
        self.slot.id
    }

    /// The step whose layer this is.
    pub(crate) fn tag(&self) -> &StepTag {
        &self.slot.tag
    }

    /// Wait until the blob is written; its descriptor, or why there is none.
    pub fn wait(&self) -> Result<Descriptor, LayerJobError> {
        let mut outcome = self.lock();
        loop {
            if let Some(o) = outcome.as_ref() {
                return o.clone();
            }
            outcome = self
                .slot
                .ready
                .wait(outcome)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The outcome when the job has ended, without waiting.
    pub fn outcome(&self) -> Option<Result<Descriptor, LayerJobError>> {
        self.lock().clone()
    }

    /// Record how the job ended (the first outcome stays) and wake every waiter.
    pub(crate) fn fill(&self, outcome: Outcome) {
        let mut slot = self.lock();
        if slot.is_none() {
            *slot = Some(outcome);
        }
        self.slot.ready.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Outcome>> {
        self.slot.outcome.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl PartialEq for PendingBlob {
    fn eq(&self, other: &PendingBlob) -> bool {
        Arc::ptr_eq(&self.slot, &other.slot)
    }
}

impl std::fmt::Debug for PendingBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingBlob")
            .field("id", &self.slot.id)
            .field("step", &self.slot.tag.name)
            .field("ended", &self.lock().is_some())
            .finish()
    }
}
