//! COPY and ADD steps: the source tree is chosen (the build context with its
//! `.dockerignore`, a named context, or another stage's or image's flattened rootfs), the
//! flags are resolved (`--chown` names against the destination image's /etc/passwd and
//! /etc/group, `--chmod`), and the [`copy`] engine writes the files into a
//! fresh snapshot directory on top of the stage, which becomes the layer.
//!
//! `--link` copies without looking at the destination (an empty view), so the layer does
//! not depend on the files below it; the parent is then not unpacked at all unless it is
//! already, or a `--chown` name needs its user database.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::copy::{
    self, CopyRequest, EmptyDest, Mode, Source as CopySource, SourceKind, SourceRoot,
};
use super::error::{StepError, StepResult};
use super::layer::Layer;
use super::lower::LayeredDest;
use super::stage::commit_step;
use super::workdir::user_ids;
use super::{images, NamedContext, SolveEnv, StageResult};
use crate::context::Matcher;
use crate::graph::{CopyAction, Platform, Source, StagePlan};
use crate::snapshot::Snapshotter;

/// Where a COPY (or a RUN bind mount) reads from.
pub(crate) struct Tree<'a> {
    /// The directory.
    pub dir: PathBuf,
    /// `.dockerignore` rules (the build context only).
    pub ignore: Option<&'a Matcher>,
    /// What it is, for messages.
    pub kind: SourceKind,
}

/// Run a COPY or ADD on top of `st`; `stages` are the stages solved so far (for
/// `--from=stage`), `plans` the stages of the plan (for their names), `platform` the
/// stage's (for `--from=image`).
pub fn run(
    env: &SolveEnv<'_>,
    st: &mut StageResult,
    c: &CopyAction,
    workdir: &str,
    done: &BTreeMap<usize, StageResult>,
    plans: &[StagePlan],
    platform: &Platform,
) -> StepResult<Option<Layer>> {
    let instruction = if c.add { "ADD" } else { "COPY" };
    let failed = |source| StepError::Copy {
        instruction,
        source,
    };
    let tree = source_tree(env, &c.from, done, plans, platform)?;
    let chmod = c
        .chmod
        .as_deref()
        .map(Mode::parse)
        .transpose()
        .map_err(failed)?;
    let needs_names = c.chown.as_deref().is_some_and(copy::chown_needs_lookup);
    let all_materialized = st.layers.iter().all(|l| l.snapshot.is_some());
    // The parent: materialized unless --link can do without it.
    let (parent, view) = if c.link && !needs_names && !all_materialized {
        (None, LayeredDest::new(Vec::new()))
    } else {
        env.rootfs.dest(&mut st.layers, env.reporter)?
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
    req.workdir = workdir.to_string();
    req.chown = chown;
    req.chmod = chmod;
    req.parents = c.parents;
    req.excludes = c.exclude.clone();
    req.is_add = c.add;
    req.unpack = c.unpack;
    req.checksum = c.checksum.clone();
    req.link = c.link;
    req.ownership = env.ownership;
    let active = env.rootfs.snapshots.prepare(parent.as_ref())?;
    if let Err(e) = copy::copy(&req, &active.upper) {
        let _ = env.rootfs.snapshots.abort(active);
        return Err(failed(e));
    }
    commit_step(env, active, &st.layers, chained)
}

/// The tree `from` names, as the COPY engine reads it.
pub(crate) fn source_tree<'a>(
    env: &SolveEnv<'a>,
    from: &Source,
    done: &BTreeMap<usize, StageResult>,
    plans: &[StagePlan],
    platform: &Platform,
) -> StepResult<Tree<'a>> {
    let flat = |layers: &[Layer]| env.rootfs.flatten(layers, env.reporter);
    Ok(match from {
        Source::BuildContext => Tree {
            dir: env.context.root.clone(),
            ignore: Some(&env.context.ignore),
            kind: SourceKind::Context,
        },
        Source::Stage(j) => {
            let result = done.get(j).ok_or_else(|| {
                StepError::Internal(format!("stage {j} was not built before it was copied from"))
            })?;
            let label = plans
                .iter()
                .find(|p| p.index == *j)
                .map_or_else(|| format!("stage-{j}"), |p| p.label());
            Tree {
                dir: flat(&result.layers)?,
                ignore: None,
                kind: SourceKind::Stage(label),
            }
        }
        Source::Image(reference) => {
            let image = images::find(env.store, env.names, reference, platform)?;
            Tree {
                dir: flat(&image.layers)?,
                ignore: None,
                kind: SourceKind::Image(reference.clone()),
            }
        }
        Source::Context(name) => match env.contexts.get(name) {
            Some(NamedContext::Dir(dir)) => Tree {
                dir: dir.clone(),
                ignore: None,
                kind: SourceKind::NamedContext(name.clone()),
            },
            Some(NamedContext::Image(digest)) => {
                let image = images::load(env.store, digest, platform)?;
                Tree {
                    dir: flat(&image.layers)?,
                    ignore: None,
                    kind: SourceKind::Image(name.clone()),
                }
            }
            None => {
                return Err(StepError::Context {
                    name: name.clone(),
                    reason: "not given with --build-context".into(),
                })
            }
        },
        Source::Scratch => Tree {
            dir: flat(&[])?,
            ignore: None,
            kind: SourceKind::Image("scratch".into()),
        },
    })
}
