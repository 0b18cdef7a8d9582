//! The job queue on its own: blobs written as inline writing writes them, waited for from
//! other threads, continuations run exactly once, failures named by step and reported in
//! Dockerfile order, cancellation when the work fails, no temp blob left behind.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::cache::StepRef;
use crate::dockerfile::ast::Span;
use crate::progress::{Event, Recorder};
use crate::solve::layer::{self, Layer};
use crate::store::DirStore;

fn tag(stage: usize, step: usize, name: &str) -> StepTag {
    StepTag {
        throwaway: false,
        at: StepRef { stage, step },
        vertex: 7,
        name: name.to_string(),
        span: Span::new(step + 2, step + 2),
        background: true,
        after: After::Stages,
    }
}

/// A change set of `files` files of `size` bytes that compress poorly.
fn tree(dir: &Path, files: usize, size: usize) {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for i in 0..files {
        let data: Vec<u8> = (0..size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(dir.join(format!("f{i:04}")), data).unwrap();
    }
}

fn job(tag: StepTag, dir: &Path, diff_id: Digest) -> BlobJob {
    BlobJob {
        tag,
        dir: dir.to_path_buf(),
        settings: LayerSettings::default(),
        exists_below: None,
        diff_id,
    }
}

/// Temp files the store left in its blob directory.
fn temp_blobs(root: &Path) -> Vec<String> {
    std::fs::read_dir(root.join("blobs/sha256"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_background_blob_is_the_blob_inline_writing_makes() {
    let ctx = tempfile::tempdir().unwrap();
    tree(ctx.path(), 40, 40_000);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (inline_store, store) = (
        DirStore::new(a.path()).unwrap(),
        DirStore::new(b.path()).unwrap(),
    );
    let settings = LayerSettings::default();
    let inline = layer::write_changes(&inline_store, ctx.path(), &settings, None).unwrap();
    let named = layer::measure(ctx.path(), &settings, None).unwrap().diff_id;
    assert_eq!(named, inline.diff_id);

    let r = Recorder::default();
    let recorded = Mutex::new(None);
    let jobs = LayerJobs::new(Writes::Background);
    let waited = jobs
        .scope(&store, &r, || -> Result<_, ()> {
            assert!(jobs.accepting());
            let blob = jobs.submit(
                &store,
                &r,
                job(tag(0, 1, "[2/2] COPY . /"), ctx.path(), named),
            );
            jobs.after(
                &blob,
                Box::new(|d| {
                    *recorded.lock().unwrap() = Some(d.cloned().map_err(|e| e.to_string()))
                }),
            );
            // Another thread waits for it too.
            let other = std::thread::scope(|s| s.spawn(|| blob.wait()).join().unwrap());
            Ok((blob.wait(), other))
        })
        .unwrap();
    assert_eq!(waited.0.as_ref().unwrap(), &inline.descriptor);
    assert_eq!(waited.1.unwrap(), inline.descriptor);
    assert_eq!(
        recorded.lock().unwrap().clone(),
        Some(Ok(inline.descriptor.clone()))
    );
    assert!(store.has(inline.descriptor.digest()).unwrap());
    assert!(jobs.first_failure().is_none());
    assert!(!jobs.accepting());
    let said = format!(
        "layer {} ({} bytes) written in ",
        inline.descriptor.digest(),
        inline.descriptor.size()
    );
    assert!(
        r.events()
            .iter()
            .any(|e| matches!(e, Event::Log(7, l) if l.starts_with(&said))),
        "{:?}",
        r.events()
    );
}

#[test]
fn a_layer_resolves_to_its_written_blob() {
    let ctx = tempfile::tempdir().unwrap();
    tree(ctx.path(), 3, 1000);
    let root = tempfile::tempdir().unwrap();
    let store = DirStore::new(root.path()).unwrap();
    let settings = LayerSettings::default();
    let diff_id = layer::measure(ctx.path(), &settings, None).unwrap().diff_id;
    let jobs = LayerJobs::new(Writes::Background);
    let r = Recorder::default();
    let resolved = jobs
        .scope(&store, &r, || -> Result<_, ()> {
            let placeholder = Descriptor::new(
                oci_spec::image::MediaType::ImageLayerGzip,
                0,
                diff_id.clone(),
            );
            let mut l = Layer::new(placeholder, diff_id.clone());
            l.pending = Some(jobs.submit(
                &store,
                &r,
                job(tag(0, 1, "[2/2] RUN x"), ctx.path(), diff_id.clone()),
            ));
            let blob = l.blob().unwrap();
            l.resolve().unwrap();
            Ok((l, blob))
        })
        .unwrap();
    let (l, blob) = resolved;
    assert!(l.pending.is_none());
    assert_eq!(l.descriptor, blob);
    assert!(l.descriptor.size() > 0);
    assert!(store.has(l.descriptor.digest()).unwrap());
}

#[test]
fn failures_name_the_step_and_the_first_in_dockerfile_order_is_reported() {
    let root = tempfile::tempdir().unwrap();
    let store = DirStore::new(root.path()).unwrap();
    let ctx = tempfile::tempdir().unwrap();
    tree(ctx.path(), 2, 100);
    let good = layer::measure(ctx.path(), &LayerSettings::default(), None)
        .unwrap()
        .diff_id;
    let missing = root.path().join("no-such-snapshot");
    let r = Recorder::default();
    let ran = AtomicUsize::new(0);
    let jobs = LayerJobs::new(Writes::Background);
    let outcomes = jobs
        .scope(&store, &r, || -> Result<_, ()> {
            // Submitted in another order than the Dockerfile's (parallel stages do that).
            let late = jobs.submit(
                &store,
                &r,
                job(tag(1, 3, "[b 4/4] COPY x /x"), &missing, good.clone()),
            );
            let changed = jobs.submit(
                &store,
                &r,
                job(
                    tag(0, 2, "[a 3/3] RUN y"),
                    ctx.path(),
                    crate::store::digest::sha256(b"other"),
                ),
            );
            for b in [&late, &changed] {
                jobs.after(
                    b,
                    Box::new(|d| {
                        assert!(d.is_err());
                        ran.fetch_add(1, Ordering::SeqCst);
                    }),
                );
            }
            Ok((late.wait(), changed.wait()))
        })
        .unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 2);
    match outcomes.0.unwrap_err() {
        LayerJobError::Failed { step, source } => {
            assert_eq!(step, "[b 4/4] COPY x /x");
            let text = crate::progress::chain(&*source);
            assert!(text.contains("no-such-snapshot"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        outcomes.1.unwrap_err(),
        LayerJobError::Changed { step, .. } if step == "[a 3/3] RUN y"
    ));
    let (first, e) = jobs.first_failure().unwrap();
    assert_eq!(first.at, StepRef { stage: 0, step: 2 });
    assert_eq!(first.span, Span::new(4, 4));
    let message = crate::progress::chain(&StepError::from(e));
    assert!(
        message.starts_with("the files of [a 3/3] RUN y changed while its layer was written"),
        "{message}"
    );
    // Each failure was said on its step's vertex, after the step itself ended.
    let errors: Vec<String> = r
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Log(7, l) if l.starts_with("ERROR: ") => Some(l),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors
        .iter()
        .any(|l| l.starts_with("ERROR: write the layer of [b 4/4] COPY x /x: ")));
    assert!(temp_blobs(root.path()).is_empty());
}

#[test]
fn a_failed_solve_cancels_its_jobs_and_leaves_no_temp_blob() {
    let root = tempfile::tempdir().unwrap();
    let store = DirStore::new(root.path()).unwrap();
    let ctxs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    for c in &ctxs {
        tree(c.path(), 8, 1 << 20);
    }
    let r = Recorder::default();
    let thens = AtomicUsize::new(0);
    let jobs = LayerJobs::new(Writes::Background);
    let mut blobs = Vec::new();
    let failed: Result<(), &str> = jobs.scope(&store, &r, || {
        for (i, c) in ctxs.iter().enumerate() {
            let d = layer::measure(c.path(), &LayerSettings::default(), None)
                .unwrap()
                .diff_id;
            let b = jobs.submit(
                &store,
                &r,
                job(tag(0, i + 1, &format!("[{i}] COPY")), c.path(), d),
            );
            jobs.after(
                &b,
                Box::new(|_| {
                    thens.fetch_add(1, Ordering::SeqCst);
                }),
            );
            blobs.push(b);
        }
        Err("a step failed")
    });
    assert_eq!(failed, Err("a step failed"));
    // Every job ended, every continuation ran once, the queued ones were cancelled.
    assert_eq!(thens.load(Ordering::SeqCst), 3);
    let cancelled = blobs
        .iter()
        .filter(|b| matches!(b.outcome(), Some(Err(LayerJobError::Cancelled { .. }))))
        .count();
    assert!(blobs.iter().all(|b| b.outcome().is_some()));
    assert!(cancelled >= 2, "{blobs:?}");
    assert!(
        temp_blobs(root.path()).is_empty(),
        "{:?}",
        temp_blobs(root.path())
    );
    // A cancellation is not a failure of its own: the step's error is the one reported.
    assert!(!r
        .events()
        .iter()
        .any(|e| matches!(e, Event::Log(_, l) if l.starts_with("ERROR"))));
}

#[test]
fn without_workers_blobs_are_written_at_once() {
    let ctx = tempfile::tempdir().unwrap();
    tree(ctx.path(), 2, 100);
    let root = tempfile::tempdir().unwrap();
    let store = DirStore::new(root.path()).unwrap();
    let r = Recorder::default();
    let diff_id = layer::measure(ctx.path(), &LayerSettings::default(), None)
        .unwrap()
        .diff_id;
    // Inline mode: no worker, even inside a scope.
    let inline = LayerJobs::new(Writes::Inline);
    let blob = inline
        .scope(&store, &r, || -> Result<_, ()> {
            assert!(!inline.accepting());
            Ok(inline.submit(
                &store,
                &r,
                job(tag(0, 1, "[2/2] COPY"), ctx.path(), diff_id.clone()),
            ))
        })
        .unwrap();
    let first = blob
        .outcome()
        .expect("written before submit returned")
        .unwrap();
    // Outside a scope: the same.
    let ran = AtomicUsize::new(0);
    let outside = LayerJobs::new(Writes::Background);
    assert!(!outside.accepting());
    let again = outside.submit(
        &store,
        &r,
        job(tag(0, 1, "[2/2] COPY"), ctx.path(), diff_id),
    );
    assert_eq!(again.outcome().unwrap().unwrap(), first);
    outside.after(
        &again,
        Box::new(|d| {
            assert!(d.is_ok());
            ran.fetch_add(1, Ordering::SeqCst);
        }),
    );
    assert_eq!(
        ran.load(Ordering::SeqCst),
        1,
        "a finished job's continuation runs at once"
    );
}

#[test]
fn writes_are_chosen_by_name_and_auto_needs_a_long_enough_next_step() {
    assert_eq!(Writes::parse("").unwrap(), Writes::Auto);
    assert_eq!(Writes::parse("auto").unwrap(), Writes::Auto);
    assert_eq!(Writes::parse("inline").unwrap(), Writes::Inline);
    assert_eq!(Writes::parse("background").unwrap(), Writes::Background);
    let err = Writes::parse("later").unwrap_err();
    assert!(
        err.contains("BUILDER_LAYER_WRITES") && err.contains("later"),
        "{err}"
    );

    let next = After::Step(StepRef { stage: 0, step: 2 });
    let took = |ms| move |s: StepRef| (s.step == 2).then(|| Duration::from_millis(ms));
    assert!(
        !Writes::Auto.wants_background(next, |_| None),
        "unknown: inline"
    );
    assert!(!Writes::Auto.wants_background(next, took(300)));
    assert!(Writes::Auto.wants_background(next, took(1000)));
    assert!(Writes::Auto.wants_background(After::Stages, |_| None));
    assert!(Writes::Background.wants_background(next, |_| None));
    assert!(!Writes::Inline.wants_background(next, took(60_000)));
    assert!(!Writes::Inline.wants_background(After::Stages, |_| None));
}
