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
//! Cache trouble (a lock or a record that cannot be written) never fails a build: it is
//! said in the step's output and the step runs uncached.

use oci_spec::image::{Descriptor, Digest};

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
    let found = find(cx.stores, cache, &key, below);
    if skip.is_none() {
        if let Some((layer, created)) = found {
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

/// The usable record of `key`: its layer (the blob still in the store; the snapshot when
/// it is still there) and its time.
fn find(
    stores: &Stores<'_>,
    cache: &BuildCache,
    key: &oci_spec::image::Digest,
    below: &[Layer],
) -> Option<(Option<Layer>, String)> {
    let record = cache.records.get(key).or_else(|| {
        // Not in this store: a `--cache-from` source may have it.
        cache
            .import
            .iter()
            .find(|source| source.import(key, stores.store, &cache.records))
            .and_then(|_| cache.records.get(key))
    })?;
    let Some(made) = record.layer else {
        return Some((None, record.created));
    };
    if !stores.store.has(made.descriptor.digest()).unwrap_or(false) {
        return None;
    }
    let mut layer = Layer::new(made.descriptor, made.diff_id).on(below);
    let name = layer.chain_id.to_string();
    layer.snapshot = stores.trees.snapshots.get(&name).ok().flatten();
    Some((Some(layer), record.created))
}
