//! COPY and ADD steps: the source tree is chosen (the build context with its
//! `.dockerignore`, a named context, or another stage's or image's snapshot chain), the
//! flags are resolved (`--chown` names against the destination image's /etc/passwd and
//! /etc/group, `--chmod`), and the [`copy`] engine writes the files into a
//! fresh snapshot directory on top of the stage, which becomes the layer.
//!
//! `--link` copies without looking at the destination (an empty view), so the layer does
//! not depend on the files below it; the parent is then not unpacked at all unless it is
//! already, or a `--chown` name needs its user database.

use std::path::PathBuf;

use super::commit::commit_step;
use super::copy::{self, CopyRequest, CopySource, EmptyDest, SourceKind, SourceRoot};
use super::error::{StepError, StepResult};
use super::layer::Layer;
use super::lower::LayeredDest;
use super::step_cx::StepCx;
use super::workdir::user_ids;
use super::{images, NamedContext, StageResult};
use crate::context::Matcher;
use crate::graph::{CopyAction, Source};

/// Where a COPY (or a RUN bind mount) reads from.
pub(crate) struct Tree<'a> {
    /// The directory.
    pub dir: PathBuf,
    /// `.dockerignore` rules (the build context only).
    pub ignore: Option<&'a Matcher>,
    /// What it is, for messages.
    pub kind: SourceKind,
    /// A stage's or image's snapshot directories (top first) to read instead of a
    /// flattened `dir` (COPY only; `dir` is then the top one, for messages).
    pub lowers: Option<Vec<PathBuf>>,
}

/// How a stage or image source is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    /// One plain directory (a RUN bind mount needs one).
    Flat,
    /// Its snapshot chain, read in place (COPY).
    Layers,
}

/// Run the COPY or ADD `c` of step `cx` on top of `st` (the stage's scope gives the
/// stages solved so far for `--from=stage`, and its platform for `--from=image`).
pub fn run(cx: &StepCx<'_, '_>, st: &mut StageResult, c: &CopyAction) -> StepResult<Option<Layer>> {
    let instruction = if c.add { "ADD" } else { "COPY" };
    let failed = |source| StepError::Copy {
        instruction,
        source,
    };
    let tree = source_tree(cx, &c.from, View::Layers)?;
    let needs_names = c.chown.as_deref().is_some_and(copy::chown_needs_lookup);
    let trees = &cx.stores.trees;
    let all_materialized = st.layers.iter().all(|l| l.snapshot.is_some());
    // The parent: materialized unless --link can do without it.
    let (parent, view) = if c.link && !needs_names && !all_materialized {
        (None, LayeredDest::new(Vec::new()))
    } else {
        trees.dest(&mut st.layers, cx.reporter)?
    };
    let chained = parent.is_some() || st.layers.is_empty();
    let chown = match c.chown.as_deref() {
        Some(spec) => Some(user_ids(&view, spec).map_err(failed)?),
        None => None,
    };
    let mut sources: Vec<CopySource> = c.sources.iter().cloned().map(CopySource::Path).collect();
    sources.extend(c.inline.iter().map(|f| CopySource::Heredoc {
        name: f.name.clone(),
        content: f.content.clone(),
    }));
    let root = SourceRoot {
        dir: &tree.dir,
        ignore: tree.ignore,
        kind: tree.kind,
    };
    let dest_fs: &dyn copy::DestFs = if c.link { &EmptyDest } else { &view };
    let mut req = CopyRequest::new(sources, root, c.dest.clone(), dest_fs);
    req.src_layers = tree.lowers.as_deref();
    req.workdir = cx.workdir.to_string();
    req.chown = chown;
    req.chmod = c.chmod.clone();
    req.parents = c.parents;
    req.excludes = c.exclude.clone();
    req.is_add = c.add;
    req.unpack = c.unpack;
    req.checksum = c.checksum.clone();
    req.keep_git_dir = c.keep_git_dir.unwrap_or(false);
    req.fetcher = cx.inputs.remote;
    req.link = c.link;
    req.ownership = cx.policy.ownership;
    let active = trees.snapshots.prepare(parent.as_ref())?;
    if let Err(e) = copy::copy(&req, &active.upper) {
        let _ = trees.snapshots.abort(active);
        return Err(failed(e));
    }
    commit_step(cx, active, &st.layers, chained)
}

/// The tree `from` names, as the COPY engine reads it, for step `cx`.
pub(crate) fn source_tree<'a>(
    cx: &StepCx<'_, 'a>,
    from: &Source,
    view: View,
) -> StepResult<Tree<'a>> {
    let (stores, inputs, reporter) = (cx.stores, cx.inputs, cx.reporter);
    let (done, plans, platform) = (cx.scope.done, cx.scope.plans, cx.platform());
    let layered = |layers: &[Layer], kind: SourceKind| -> StepResult<Tree<'a>> {
        if view == View::Layers && !layers.is_empty() {
            let mut layers = layers.to_vec();
            if let Some(top) = stores.trees.materialize(&mut layers, reporter)? {
                let lowers = stores.trees.snapshots.view(&top)?;
                if let Some(dir) = lowers.first().cloned() {
                    return Ok(Tree {
                        dir,
                        ignore: None,
                        kind,
                        lowers: Some(lowers),
                    });
                }
            }
        }
        Ok(Tree {
            dir: stores.trees.flatten(layers, reporter)?,
            ignore: None,
            kind,
            lowers: None,
        })
    };
    Ok(match from {
        Source::BuildContext => Tree {
            dir: inputs.context.root.clone(),
            ignore: Some(&inputs.context.ignore),
            kind: SourceKind::Context,
            lowers: None,
        },
        Source::Stage(j) => {
            let result = done.get(j).ok_or_else(|| {
                StepError::Internal(format!("stage {j} was not built before it was copied from"))
            })?;
            let label = plans
                .iter()
                .find(|p| p.index == *j)
                .map_or_else(|| format!("stage-{j}"), |p| p.label());
            layered(&result.layers, SourceKind::Stage(label))?
        }
        Source::Image(reference) => {
            let image = images::find(stores.store, stores.names, reference, platform)?;
            layered(&image.layers, SourceKind::Image(reference.clone()))?
        }
        Source::Context(name) => match inputs.contexts.get(name) {
            Some(NamedContext::Dir(dir)) => Tree {
                dir: dir.clone(),
                ignore: None,
                kind: SourceKind::NamedContext(name.clone()),
                lowers: None,
            },
            Some(NamedContext::Image(digest)) => {
                let image = images::load(stores.store, digest, platform)?;
                layered(&image.layers, SourceKind::Image(name.clone()))?
            }
            None => {
                return Err(StepError::Context {
                    name: name.clone(),
                    reason: "not given with --build-context".into(),
                })
            }
        },
        Source::Scratch => layered(&[], SourceKind::Image("scratch".into()))?,
    })
}
