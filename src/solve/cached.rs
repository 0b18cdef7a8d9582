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

use oci_spec::image::Descriptor;

use super::error::StepResult;
use super::layer::Layer;
use super::SolveEnv;
use crate::cache::{KeyInputs, Record, RecordLayer, StepRef};
use crate::progress::{chain, VertexId};

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

/// One layer step, for the cache.
pub(crate) struct CacheStep<'s> {
    /// Where it is in the build.
    pub at: StepRef,
    /// The stage's name, for `--no-cache-filter`.
    pub stage_name: Option<&'s str>,
    /// Its inputs (`None`: never cached).
    pub inputs: Option<KeyInputs>,
    /// The progress vertex.
    pub vertex: VertexId,
    /// The vertex name, kept in the record.
    pub description: &'s str,
}

/// Run `step` through the cache on top of `below`; `execute` does the work on a miss.
pub(crate) fn run(
    env: &SolveEnv<'_>,
    step: CacheStep<'_>,
    below: &[Layer],
    execute: impl FnOnce() -> StepResult<Option<Layer>>,
) -> StepResult<Outcome> {
    // Work runs only on a miss, and a RUN may follow: have the sandbox make ready in the
    // background what commands need (the build's network).
    let execute = || {
        env.run.sandbox.prepare();
        execute()
    };
    let ran = |layer| Outcome {
        layer,
        created: env.created.clone(),
        hit: false,
    };
    let (Some(cache), Some(inputs)) = (env.cache, step.inputs) else {
        return Ok(ran(execute()?));
    };
    let key = inputs.key();
    let env_created = env.created.clone().unwrap_or_default();
    let description = step.description.to_string();
    let say = |what: &str, e: &dyn std::error::Error| {
        env.reporter
            .log(step.vertex, &format!("build cache: {what}: {}", chain(e)));
    };
    let lock = cache
        .records
        .lock(&key)
        .map_err(|e| say("cannot lock the step", &e))
        .ok();
    let skip = cache.no_cache.skips(step.at.stage, step.stage_name);
    let found = find(env, &key, below);
    if skip.is_none() {
        if let Some((layer, created)) = found {
            cache.use_key(&key);
            cache.explain.note(step.at, inputs);
            let created = if env.fixed_time {
                env.created.clone()
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
    let explained = cache.explain.miss(step.at, &inputs);
    let reason = match skip {
        Some(flag) if found.is_some() => Some(flag),
        _ => explained,
    };
    if let Some(reason) = reason {
        env.reporter.miss(step.vertex, &reason);
    }
    let started = std::time::Instant::now();
    let layer = execute()?;
    cache.explain.ran(step.at, started.elapsed());
    let made = layer
        .as_ref()
        .map(|l| (l.descriptor.clone(), l.diff_id.clone(), l.chain_id.clone()));
    let (reporter, vertex) = (env.reporter, step.vertex);
    let record = move |descriptor: Option<&Descriptor>| {
        let record = Record {
            key,
            layer: made.map(|(placeholder, diff_id, chain_id)| RecordLayer {
                descriptor: descriptor.cloned().unwrap_or(placeholder),
                diff_id,
                chain_id,
            }),
            created: env_created,
            description,
        };
        match cache.records.put(&record) {
            Ok(()) => cache.use_key(&record.key),
            Err(e) => reporter.log(
                vertex,
                &format!("build cache: cannot record the step: {}", chain(&e)),
            ),
        }
        drop(lock);
    };
    cache.explain.note(step.at, inputs);
    match layer.as_ref().and_then(|l| l.pending.as_ref()) {
        // Written in the background: recorded once the blob is in the store, the key
        // locked until then; a blob that was not written leaves no record.
        Some(pending) => env.jobs.after(
            pending,
            Box::new(move |written| {
                if let Ok(descriptor) = written {
                    record(Some(descriptor));
                }
            }),
        ),
        None => record(None),
    }
    Ok(ran(layer))
}

/// The usable record of `key`: its layer (the blob still in the store; the snapshot when
/// it is still there) and its time.
fn find(
    env: &SolveEnv<'_>,
    key: &oci_spec::image::Digest,
    below: &[Layer],
) -> Option<(Option<Layer>, String)> {
    let cache = env.cache?;
    let record = cache.records.get(key).or_else(|| {
        // Not in this store: a `--cache-from` directory may have it.
        cache
            .import
            .iter()
            .find(|dir| crate::cache::exchange::import(dir, key, env.store, &cache.records))
            .and_then(|_| cache.records.get(key))
    })?;
    let Some(made) = record.layer else {
        return Some((None, record.created));
    };
    if !env.store.has(made.descriptor.digest()).unwrap_or(false) {
        return None;
    }
    let mut layer = Layer::new(made.descriptor, made.diff_id).on(below);
    let name = layer.chain_id.to_string();
    layer.snapshot = env.rootfs.snapshots.get(&name).ok().flatten();
    Some((Some(layer), record.created))
}
