//! A layer step through the build cache: its key is looked up under the key's lock; a
//! record whose blob is still in the store is a hit (the layer comes back without running
//! anything, its snapshot reused when it is still there); otherwise the miss is explained
//! (the first input that differs from the previous build, or the `--no-cache` flag that
//! skipped a usable record), the step runs, and its record is written — after the blob and
//! the snapshot were committed, before the lock is released, so a concurrent build of the
//! same step waits and then hits. A layer whose blob is written in the background
//! ([`super::background`]) is recorded when the blob is in the store (the lock travels
//! with the job); one whose blob was never written is never recorded.
//!
//! A record written by a throwaway stage holds the plain tar in place of the compressed
//! blob ([`RecordLayer::uncompressed_stand_in`]): a throwaway stage reuses it as it is; any
//! other stage compresses the layer from its snapshot (the same pass an eager build makes,
//! so the same blob; its diff_id checked against the record's) and records that, or — the
//! snapshot gone, or its tar another one — misses, saying why, and runs the step. Either
//! way an image never gets such a layer.
//!
//! Cache trouble (a lock or a record that cannot be written) never fails a build: it is
//! said in the step's output and the step runs uncached.

use oci_spec::image::{Descriptor, Digest};

use super::background;
use super::error::StepResult;
use super::layer::Layer;
use super::step_cx::StepCx;
use super::Stores;
use crate::cache::{BuildCache, KeyInputs, Record, RecordLayer, StepLock};
use crate::progress::chain;

/// What a layer step gave.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Its layer (`None`: it changed nothing).
    pub layer: Option<Layer>,
    /// Its history time: the record's on a hit (unless `SOURCE_DATE_EPOCH` fixes it),
    /// the build's when it ran.
    pub created: Option<String>,
    /// Whether it came from the cache.
    pub hit: bool,
}

/// Run the step `cx` through the cache on top of `below`, keyed by `inputs` (`None`:
/// never cached); `execute` does the work on a miss.
pub(crate) fn run(
    cx: &StepCx<'_, '_>,
    inputs: Option<KeyInputs>,
    below: &[Layer],
    execute: impl FnOnce() -> StepResult<Option<Layer>>,
) -> StepResult<Outcome> {
    let (at, vertex) = (cx.tag.at, cx.tag.vertex);
    let policy = cx.policy;
    // Work runs only on a miss, and a RUN may follow: have the sandbox make ready in the
    // background what commands need (the build's network).
    let execute = || {
        cx.run.sandbox.prepare();
        execute()
    };
    let ran = |layer| Outcome {
        layer,
        created: policy.created.clone(),
        hit: false,
    };
    let (Some(cache), Some(inputs)) = (cx.cache, inputs) else {
        return Ok(ran(execute()?));
    };
    let key = inputs.key();
    let say = |what: &str, e: &dyn std::error::Error| {
        cx.reporter
            .log(vertex, &format!("build cache: {what}: {}", chain(e)));
    };
    let lock = cache
        .records
        .lock(&key)
        .map_err(|e| say("cannot lock the step", &e))
        .ok();
    let skip = cache.no_cache.skips(at.stage, cx.scope.sp.name.as_deref());
    let mut found = find(cx.stores, cache, &key, below);
    let mut stand_in = false;
    if !cx.tag.throwaway && found.as_ref().is_some_and(|f| f.stand_in) {
        found = match skip {
            None => found.and_then(|f| compress_stand_in(cx, cache, &key, f)),
            Some(_) => None,
        };
        stand_in = found.is_none();
    }
    if skip.is_none() {
        if let Some(Found { layer, created, .. }) = found {
            cache.use_key(&key, at.stage);
            cache.explain.note(at, inputs);
            let created = if policy.fixed_time {
                policy.created.clone()
            } else {
                Some(created).filter(|c| !c.is_empty())
            };
            return Ok(Outcome {
                layer,
                created,
                hit: true,
            });
        }
    }
    let explained = cache.explain.miss(at, &inputs);
    let reason = match skip {
        Some(flag) if found.is_some() => Some(flag),
        _ if stand_in => Some(STAND_IN_MISS.to_string()),
        _ => explained,
    };
    if let Some(reason) = reason {
        cx.reporter.miss(vertex, &reason);
    }
    let started = std::time::Instant::now();
    let layer = execute()?;
    cache.explain.ran(at, started.elapsed());
    cache.explain.note(at, inputs);
    record(cx, cache, key, lock, layer.as_ref());
    Ok(ran(layer))
}

/// Write the record of `key` for the step `cx` that made `layer` (`None`: nothing), then
/// release the key's `lock`. A layer whose blob is written in the background is recorded
/// once the blob is in the store, the key locked until then; a blob that was not written
/// leaves no record.
fn record<'a>(
    cx: &StepCx<'_, 'a>,
    cache: &'a BuildCache,
    key: Digest,
    lock: Option<StepLock>,
    layer: Option<&Layer>,
) {
    let made = layer.map(|l| (l.descriptor.clone(), l.diff_id.clone(), l.chain_id.clone()));
    let stand_in = cx.layer_uncompressed_stand_in();
    let (reporter, vertex) = (cx.reporter, cx.tag.vertex);
    let created = cx.policy.created.clone().unwrap_or_default();
    let description = cx.tag.name.clone();
    let stage = cx.tag.at.stage;
    let record = move |descriptor: Option<&Descriptor>| {
        let record = Record {
            key,
            layer: made.map(|(placeholder, diff_id, chain_id)| RecordLayer {
                descriptor: descriptor.cloned().unwrap_or(placeholder),
                diff_id,
                chain_id,
                uncompressed_stand_in: stand_in,
            }),
            created,
            description,
        };
        match cache.records.put(&record) {
            Ok(()) => cache.use_key(&record.key, stage),
            Err(e) => reporter.log(
                vertex,
                &format!("build cache: cannot record the step: {}", chain(&e)),
            ),
        }
        drop(lock);
    };
    match layer.and_then(|l| l.pending.as_ref()) {
        Some(pending) => cx.jobs.after(
            pending,
            Box::new(move |written| {
                if let Ok(descriptor) = written {
                    record(Some(descriptor));
                }
            }),
        ),
        None => record(None),
    }
}

/// The layer of the stand-in record `found` written as the policy says, from its snapshot,
/// and recorded under `key` in place of the stand-in; `None` (the step runs) when the
/// snapshot is gone or its tar is not the recorded one (whiteouts an eager write drops).
fn compress_stand_in(
    cx: &StepCx<'_, '_>,
    cache: &BuildCache,
    key: &Digest,
    found: Found,
) -> Option<Found> {
    let mut layer = found.layer?;
    let started = std::time::Instant::now();
    let descriptor = super::stand_in::compressed(
        cx.stores.store,
        cx.stores.trees.snapshots,
        &cx.policy.settings,
        (&layer.chain_id, &layer.diff_id),
    )?;
    let took = started.elapsed();
    background::report_written(cx.reporter, cx.tag.vertex, &descriptor, took);
    layer.descriptor = descriptor;
    let record = Record {
        key: key.clone(),
        layer: Some(RecordLayer {
            descriptor: layer.descriptor.clone(),
            diff_id: layer.diff_id.clone(),
            chain_id: layer.chain_id.clone(),
            uncompressed_stand_in: false,
        }),
        created: found.created.clone(),
        description: cx.tag.name.clone(),
    };
    if let Err(e) = cache.records.put(&record) {
        let text = format!("build cache: cannot record the step: {}", chain(&e));
        cx.reporter.log(cx.tag.vertex, &text);
    }
    Some(Found {
        layer: Some(layer),
        created: found.created,
        stand_in: false,
    })
}

/// Why a stage whose layers reach an output runs a step a throwaway stage recorded.
const STAND_IN_MISS: &str =
    "the recorded layer is plain tar, written for a stage no output used, and its snapshot \
     cannot make the compressed one";

/// A usable record.
struct Found {
    /// Its layer (`None`: the step changed nothing).
    layer: Option<Layer>,
    /// Its time.
    created: String,
    /// Whether the layer's blob is the plain tar a throwaway stage wrote.
    stand_in: bool,
}

/// The usable record of `key`: its layer (the blob still in the store; the snapshot when
/// it is still there) and its time.
fn find(
    stores: &Stores<'_>,
    cache: &BuildCache,
    key: &oci_spec::image::Digest,
    below: &[Layer],
) -> Option<Found> {
    let record = cache.records.get(key).or_else(|| {
        // Not in this store: a `--cache-from` source may have it.
        cache
            .import
            .iter()
            .find(|source| source.import(key, stores.store, &cache.records))
            .and_then(|_| cache.records.get(key))
    })?;
    let Some(made) = record.layer else {
        return Some(Found {
            layer: None,
            created: record.created,
            stand_in: false,
        });
    };
    if !stores.store.has(made.descriptor.digest()).unwrap_or(false) {
        return None;
    }
    let mut layer = Layer::new(made.descriptor, made.diff_id).on(below);
    let name = layer.chain_id.to_string();
    layer.snapshot = stores.trees.snapshots.get(&name).ok().flatten();
    Some(Found {
        layer: Some(layer),
        created: record.created,
        stand_in: made.uncompressed_stand_in,
    })
}
