//! Layer blobs written in the background, so that compressing a step's layer overlaps the
//! steps after it.
//!
//! A step's commit (see [`crate::solve::commit`]) first hashes the change set's tar once
//! without compressing it — the diff_id, which is all the chain id, the snapshot name and
//! the next step's cache key need — commits the snapshot, and hands the blob to
//! [`LayerJobs`]: the layer comes back at once, carrying a [`PendingBlob`] in place of its
//! descriptor. A worker thread writes the blob from the committed snapshot with the usual
//! writer (the store's temp file, fsync, rename; the chunk index), checks that its tar has
//! the same diff_id (a different one means the snapshot changed: an error), and fills the
//! handle. One job runs at a time ([`WORKERS`]): a job already compresses on every core, and
//! memory stays that of one layer write.
//!
//! Who waits: whatever reads the blob ([`crate::solve::Layer::blob`]: unpacking a layer,
//! flattening a stage for `COPY --from`), the cache record of the step (written by a
//! continuation once the blob is in the store, its key lock held until then, see
//! [`crate::solve::cached`]), and the end of the solve, which joins every job, fails the
//! build with the first failed one (Dockerfile order) and returns resolved layers only. A
//! failed solve cancels the jobs not started and stops the running one (its temp file is
//! removed) before returning.
//!
//! Progress: the step's `DONE` prints when its snapshot is committed; the job adds the
//! step's `layer sha256:… (N bytes) written in X ms` line when it ends, or a line saying why
//! it failed (the build's error then names the step and its Dockerfile lines).
//!
//! When: the extra pass only pays when the work after it takes longer than the pass, which a
//! cold build cannot know (on two cores a short RUN after a 200 MB COPY made the build
//! 1–2 s slower). So by default ([`Writes::Auto`]) a layer goes to the background when it
//! is the last of a stage other than the target (the stages using it follow, a `FROM` of
//! it at least; a throwaway stage's layers, plain tar, are always written inline, see
//! [`crate::solve::throwaway`]), or when the next step of its stage took at least [`OVERLAP_WORTH`] the last
//! time it ran (the build cache's explanations keep that time); otherwise it is written
//! inline.
//! `BUILDER_LAYER_WRITES=inline|background|auto` chooses for the whole build (for comparing
//! the ways: the images are the same).

mod error;
mod pending;
mod step;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use oci_spec::image::{Descriptor, Digest};

pub use error::LayerJobError;
pub use pending::PendingBlob;
pub use step::{After, StepTag};

use super::error::StepError;
use super::layer::{self, LayerSettings, SharedExistsBelow};
use crate::cache::StepRef;
use crate::progress::{Reporter, VertexId};
use crate::store::BlobStore;
use pending::Outcome;

/// Most blobs written at once.
pub const WORKERS: usize = 1;

/// The environment variable that chooses how blobs are written ([`Writes`]).
pub const WRITES_ENV: &str = "BUILDER_LAYER_WRITES";

/// A next step that took at least this long when it last ran is worth overlapping.
pub const OVERLAP_WORTH: Duration = Duration::from_secs(1);

/// How a build writes the blobs of layers that are not its last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// In the background when the next step is known to take long enough (the default).
    Auto,
    /// Always as the step commits.
    Inline,
    /// Always in the background (the build's last layer excepted).
    Background,
}

impl Writes {
    /// `auto`, `inline` or `background`.
    pub fn parse(value: &str) -> Result<Writes, String> {
        match value {
            "auto" | "" => Ok(Writes::Auto),
            "inline" => Ok(Writes::Inline),
            "background" => Ok(Writes::Background),
            other => Err(format!(
                "{WRITES_ENV}={other:?}: expected auto, inline or background"
            )),
        }
    }

    /// As [`WRITES_ENV`] says (unset: [`Writes::Auto`]); a value it cannot take is an
    /// error naming it.
    pub fn from_env() -> Result<Writes, String> {
        Writes::parse(&std::env::var(WRITES_ENV).unwrap_or_default())
    }

    /// Whether a layer followed by `after` goes to the background; `last_run` tells how
    /// long a step took when it last ran (`None`: unknown).
    pub fn wants_background(
        self,
        after: After,
        last_run: impl FnOnce(StepRef) -> Option<Duration>,
    ) -> bool {
        match (self, after) {
            (Writes::Inline, _) => false,
            (Writes::Background, _) | (Writes::Auto, After::Stages) => true,
            (Writes::Auto, After::Step(next)) => last_run(next).is_some_and(|d| d >= OVERLAP_WORTH),
        }
    }
}

/// Run once a job has ended: with the blob's descriptor, or why there is none.
pub(crate) type Then<'a> = Box<dyn FnOnce(Result<&Descriptor, &LayerJobError>) + Send + 'a>;

/// The background layer writer of one solve (see the module docs).
pub struct LayerJobs<'a> {
    writes: Writes,
    state: Mutex<State<'a>>,
    wake: Condvar,
    stop: AtomicBool,
}

#[derive(Default)]
struct State<'a> {
    /// Whether workers take jobs (only inside [`LayerJobs::scope`]).
    accepting: bool,
    queue: VecDeque<Job>,
    then: HashMap<u64, Vec<Then<'a>>>,
    /// Every job of the solve, for the final check.
    all: Vec<PendingBlob>,
    next: u64,
}

/// A blob to write, as a commit hands it over.
pub(crate) struct BlobJob {
    /// The step it belongs to.
    pub tag: StepTag,
    /// The change set: the committed snapshot's directory.
    pub dir: PathBuf,
    /// How to write it.
    pub settings: LayerSettings,
    /// Whiteouts for paths absent below are dropped (RUN).
    pub exists_below: Option<SharedExistsBelow>,
    /// The diff_id the snapshot was committed under.
    pub diff_id: Digest,
}

/// A blob to write, queued.
struct Job {
    blob: PendingBlob,
    dir: PathBuf,
    settings: LayerSettings,
    exists_below: Option<SharedExistsBelow>,
    diff_id: Digest,
}

impl Drop for Job {
    fn drop(&mut self) {
        // A job dropped without an outcome (a worker that stopped) never leaves a waiter
        // hanging; a filled slot keeps its outcome.
        self.blob.fill(Err(cancelled(self.blob.tag())));
    }
}

fn cancelled(tag: &StepTag) -> LayerJobError {
    LayerJobError::Cancelled {
        step: tag.name.clone(),
    }
}

impl std::fmt::Debug for LayerJobs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("LayerJobs")
            .field("writes", &self.writes)
            .field("accepting", &st.accepting)
            .field("queued", &st.queue.len())
            .field("jobs", &st.all.len())
            .finish()
    }
}

impl<'a> LayerJobs<'a> {
    /// Jobs written as `writes` says.
    pub fn new(writes: Writes) -> LayerJobs<'a> {
        LayerJobs {
            writes,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        }
    }

    /// How this build writes its blobs.
    pub fn writes(&self) -> Writes {
        self.writes
    }

    /// Whether a commit may hand its blob over now (inside [`LayerJobs::scope`], with a
    /// worker running).
    pub fn accepting(&self) -> bool {
        self.lock().accepting
    }

    /// Run `work` with the workers running; then, before returning, end every job: on
    /// success each one is written, on failure the queued ones are cancelled and the
    /// running one stopped.
    pub fn scope<T, E>(
        &self,
        store: &dyn BlobStore,
        reporter: &dyn Reporter,
        work: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        self.stop.store(false, Ordering::SeqCst);
        std::thread::scope(|s| {
            let mut workers = Vec::new();
            if self.writes != Writes::Inline {
                self.lock().accepting = true;
                for n in 0..WORKERS {
                    let spawned = std::thread::Builder::new()
                        .name(format!("layer-writer-{n}"))
                        .spawn_scoped(s, || self.work(store, reporter));
                    if let Ok(handle) = spawned {
                        workers.push(handle);
                    }
                }
                // Not even one thread: every blob is written inline.
                self.lock().accepting = !workers.is_empty();
            }
            let out = work();
            self.close(out.is_err());
            for w in workers {
                let _ = w.join();
            }
            self.settle();
            out
        })
    }

    /// Write `job`'s blob, in the background when a worker runs, else now.
    pub(crate) fn submit(
        &self,
        store: &dyn BlobStore,
        reporter: &dyn Reporter,
        job: BlobJob,
    ) -> PendingBlob {
        let mut st = self.lock();
        let blob = PendingBlob::new(st.next, job.tag);
        st.next += 1;
        st.all.push(blob.clone());
        let job = Job {
            blob: blob.clone(),
            dir: job.dir,
            settings: job.settings,
            exists_below: job.exists_below,
            diff_id: job.diff_id,
        };
        if st.accepting {
            st.queue.push_back(job);
            self.wake.notify_one();
        } else {
            drop(st);
            let outcome = self.write(&job, store, reporter);
            self.finish(job, outcome);
        }
        blob
    }

    /// Run `then` once `blob`'s job has ended (now, if it has).
    pub(crate) fn after(&self, blob: &PendingBlob, then: Then<'a>) {
        let mut st = self.lock();
        match blob.outcome() {
            Some(outcome) => {
                drop(st);
                then(outcome.as_ref());
            }
            None => st.then.entry(blob.id()).or_default().push(then),
        }
    }

    /// The first failed job of the solve in Dockerfile order, with its step.
    pub fn first_failure(&self) -> Option<(StepTag, LayerJobError)> {
        let st = self.lock();
        st.all
            .iter()
            .filter_map(|b| match b.outcome() {
                Some(Err(e)) => Some((b.tag().clone(), e)),
                _ => None,
            })
            .min_by_key(|(tag, _)| tag.at)
    }

    /// A worker: jobs in order until the queue is closed and empty.
    fn work(&self, store: &dyn BlobStore, reporter: &dyn Reporter) {
        while let Some(job) = self.next_job() {
            let outcome = self.write(&job, store, reporter);
            self.finish(job, outcome);
        }
    }

    fn next_job(&self) -> Option<Job> {
        let mut st = self.lock();
        loop {
            if let Some(job) = st.queue.pop_front() {
                return Some(job);
            }
            if !st.accepting {
                return None;
            }
            st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Write `job`'s blob and check its diff_id; report the end on the step's vertex.
    fn write(&self, job: &Job, store: &dyn BlobStore, reporter: &dyn Reporter) -> Outcome {
        let tag = job.blob.tag();
        let started = Instant::now();
        let below = job
            .exists_below
            .as_deref()
            .map(|f| f as &(dyn Fn(&Path) -> bool + '_));
        let written = std::panic::catch_unwind(AssertUnwindSafe(|| {
            layer::write_changes_until(store, &job.dir, &job.settings, below, &self.stop)
        }));
        let step = tag.name.clone();
        let outcome = match written {
            Ok(Ok(made)) if made.diff_id == job.diff_id => {
                report_written(reporter, tag.vertex, &made.descriptor, started.elapsed());
                return Ok(made.descriptor);
            }
            Ok(Ok(made)) => LayerJobError::Changed {
                step,
                named: job.diff_id.clone(),
                written: made.diff_id,
            },
            Ok(Err(_)) if self.stop.load(Ordering::SeqCst) => return Err(cancelled(tag)),
            Ok(Err(e)) => LayerJobError::Failed {
                step,
                source: Arc::new(e),
            },
            Err(_) => LayerJobError::Failed {
                step,
                source: Arc::new(StepError::Internal("the layer writer stopped".into())),
            },
        };
        let text = crate::progress::chain(&outcome);
        reporter.log(tag.vertex, &format!("ERROR: {text}"));
        Err(outcome)
    }

    /// Record `job`'s outcome and run what waited for it.
    fn finish(&self, job: Job, outcome: Outcome) {
        let thens = {
            let mut st = self.lock();
            job.blob.fill(outcome.clone());
            st.then.remove(&job.blob.id()).unwrap_or_default()
        };
        drop(job);
        for then in thens {
            then(outcome.as_ref());
        }
    }

    /// Take no more jobs; with `cancel`, drop the queued ones and stop the running one.
    fn close(&self, cancel: bool) {
        let dropped = {
            let mut st = self.lock();
            st.accepting = false;
            if cancel {
                self.stop.store(true, Ordering::SeqCst);
            }
            self.wake.notify_all();
            if cancel {
                std::mem::take(&mut st.queue)
            } else {
                VecDeque::new()
            }
        };
        for job in dropped {
            let tag = job.blob.tag().clone();
            self.finish(job, Err(cancelled(&tag)));
        }
    }

    /// After the workers ended: every continuation still waiting runs (with its job's
    /// outcome, a cancellation if it had none).
    fn settle(&self) {
        let (blobs, mut then) = {
            let mut st = self.lock();
            (st.all.clone(), std::mem::take(&mut st.then))
        };
        for blob in blobs {
            if let Some(thens) = then.remove(&blob.id()) {
                blob.fill(Err(cancelled(blob.tag())));
                let outcome = blob.wait();
                for t in thens {
                    t(outcome.as_ref());
                }
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<'a>> {
        crate::domain::lock(&self.state)
    }
}

/// `layer sha256:… (N bytes) written in X ms` on the step's vertex.
pub(crate) fn report_written(
    reporter: &dyn Reporter,
    vertex: VertexId,
    blob: &Descriptor,
    took: Duration,
) {
    reporter.log(
        vertex,
        &format!(
            "layer {} ({} bytes) written in {:.1} ms",
            blob.digest(),
            blob.size(),
            took.as_secs_f64() * 1e3
        ),
    );
}
