//! The end of every filesystem step: its change set (the prepared snapshot's upper
//! directory) becomes a layer and the next snapshot of the stage's chain.
//!
//! Two ways, one result: inline, the layer writer streams the tar into the store (diff_id,
//! blob digest and blob in one pass) and the snapshot is committed after; in the
//! background ([`super::background`]), a first pass hashes the same tar for the diff_id, the
//! snapshot is committed under its chain id at once, and the blob is written from the
//! committed snapshot while the next steps run. A step is written in the background when
//! the stage loop said it may ([`super::background::StepTag::background`], in the step's
//! [`StepCx`]), a worker runs
//! and its tar is at least [`INLINE_BELOW`] bytes (a smaller one is written inline after
//! the first pass); a change set not committed as a snapshot (a `COPY --link` on an
//! unmaterialized parent) is always written inline, since the blob is then its only copy.
//! By default a step goes to the background only when enough work is known to follow it:
//! the stages using its stage, or a next step that took long enough when it last ran
//! ([`super::background::Writes`]).
//!
//! A step of a throwaway stage (one whose layers reach no output, see
//! [`super::throwaway`]) is always written inline and as plain tar: one pass, no
//! compression, the blob digest is the diff_id ([`StepCx::layer_settings`]).

use std::path::Path;
use std::time::Instant;

use oci_spec::image::Descriptor;

use super::background::{self, BlobJob};
use super::error::{StepError, StepResult};
use super::layer::{self, is_empty_dir, Layer, SharedExistsBelow};
use super::step_cx::StepCx;
use crate::image::ManifestFormat;
use crate::snapshot::{Active, Snapshotter};

/// Finish a step whose change set is in `active`: nothing changed -> no layer (the
/// snapshot is discarded); else the layer is written into the store and, when `active`
/// was prepared on the stage's whole chain `below` (`chained`), committed under its chain
/// id so later steps can stack on it.
pub fn commit_step(
    cx: &StepCx<'_, '_>,
    active: Active,
    below: &[Layer],
    chained: bool,
) -> StepResult<Option<Layer>> {
    let snaps = cx.stores.trees.snapshots;
    match is_empty_dir(&active.upper) {
        Ok(false) if chained => commit_changes(cx, active, below, None).map(Some),
        Ok(false) => {
            let made = write_inline(cx, &active.upper, None);
            snaps.abort(active)?;
            made.map(|l| Some(l.on(below)))
        }
        Ok(true) => {
            snaps.abort(active)?;
            Ok(None)
        }
        Err(e) => {
            snaps.abort(active)?;
            Err(e)
        }
    }
}

/// Make the change set in `active`, prepared on the stage's whole chain `below`, a layer
/// (`exists_below` drops whiteouts of paths absent below) and commit it as the next
/// snapshot; on failure `active` is discarded.
pub fn commit_changes(
    cx: &StepCx<'_, '_>,
    active: Active,
    below: &[Layer],
    exists_below: Option<SharedExistsBelow>,
) -> StepResult<Layer> {
    let snaps = cx.stores.trees.snapshots;
    let tag = &cx.tag;
    let background = tag.background
        && cx.jobs.accepting()
        && cx
            .jobs
            .writes()
            .wants_background(tag.after, |next| cx.cache?.explain.last_run(next));
    if !background {
        return match write_inline(cx, &active.upper, exists_below.as_deref()) {
            Ok(made) => commit_layer(snaps, active, below, made),
            Err(e) => {
                let _ = snaps.abort(active);
                Err(e)
            }
        };
    };
    let below_fn = exists_below.as_deref().map(|f| f as &dyn Fn(&Path) -> bool);
    let settings = cx.layer_settings();
    let measured = layer::measure(&active.upper, &settings, below_fn).and_then(|m| {
        if m.uncompressed_size < INLINE_BELOW {
            // Written in the time a job takes to start: now, so that its record is too.
            write_inline(cx, &active.upper, exists_below.as_deref()).map(Err)
        } else {
            Ok(Ok(m.diff_id))
        }
    });
    let diff_id = match measured {
        Ok(Ok(d)) => d,
        Ok(Err(made)) => return commit_layer(snaps, active, below, made),
        Err(e) => {
            let _ = snaps.abort(active);
            return Err(e);
        }
    };
    let media_type =
        ManifestFormat::Oci.layer_media_type(layer::layer_compression(settings.compression));
    let placeholder = Layer::new(Descriptor::new(media_type, 0, diff_id.clone()), diff_id);
    let mut made = commit_layer(snaps, active, below, placeholder)?;
    let snapshot = made
        .snapshot
        .clone()
        .ok_or_else(|| StepError::Internal("a committed layer has no snapshot".into()))?;
    let dir = snaps
        .view(&snapshot)?
        .into_iter()
        .next()
        .ok_or_else(|| StepError::Internal(format!("snapshot {snapshot} has no directory")))?;
    let job = BlobJob {
        tag: tag.clone(),
        dir,
        settings,
        exists_below,
        diff_id: made.diff_id.clone(),
    };
    made.pending = Some(cx.jobs.submit(cx.stores.store, cx.reporter, job));
    Ok(made)
}

/// Layers smaller than this (uncompressed) are written inline even when they could be
/// written in the background: a few milliseconds of work, and the step's cache record is
/// then written before the next step starts, as without background writing.
const INLINE_BELOW: u64 = 1 << 20;

/// Write the change set in `dir` now, saying so on the step's vertex.
fn write_inline(
    cx: &StepCx<'_, '_>,
    dir: &Path,
    exists_below: Option<&(dyn Fn(&Path) -> bool + Send + Sync)>,
) -> StepResult<Layer> {
    let started = Instant::now();
    let below = exists_below.map(|f| f as &dyn Fn(&Path) -> bool);
    let made = layer::write_changes(cx.stores.store, dir, &cx.layer_settings(), below)?;
    background::report_written(
        cx.reporter,
        cx.tag.vertex,
        &made.descriptor,
        started.elapsed(),
    );
    Ok(made)
}

/// Commit `active`, prepared on the stage's whole chain `below`, into `snapshots` as the
/// snapshot of `made` (named by its chain id), so later steps can stack on it.
pub fn commit_layer(
    snapshots: &dyn Snapshotter,
    active: Active,
    below: &[Layer],
    made: Layer,
) -> StepResult<Layer> {
    let mut made = made.on(below);
    let name = made.chain_id.to_string();
    made.snapshot = Some(snapshots.commit(active, &name)?);
    Ok(made)
}
