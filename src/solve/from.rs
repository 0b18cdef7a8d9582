//! FROM: the image a stage starts from — nothing (`scratch`), an image in the local store,
//! a named context imported from an OCI layout, or an earlier stage's result. Nothing is
//! unpacked here; layers are materialized when a later step needs the files.
//!
//! An image whose config names another OS or architecture than the stage's platform (a
//! single-platform image pulled for another one) is used as it is, with BuildKit's
//! `InvalidBaseImagePlatform` warning on the FROM's progress (`#N WARN: ...`); a named
//! context is not checked, as BuildKit does not check one.

use std::collections::BTreeMap;

use super::config::base_platform_warning;
use super::error::{SolveError, StepError};
use super::{images, NamedContext, SolveEnv, StageResult};
use crate::graph::{Source, StagePlan};
use crate::image;

/// The starting image of `sp`; `title` names its progress vertex (`[1/3] FROM ...`).
pub fn base(
    sp: &StagePlan,
    env: &SolveEnv<'_>,
    done: &BTreeMap<usize, StageResult>,
    title: &str,
) -> Result<StageResult, SolveError> {
    let platform = &sp.platform;
    let at = |e: StepError| e.at(sp.span);
    let result = match &sp.base {
        Source::Scratch => StageResult {
            config: image::ImageConfig::scratch(
                &platform.os,
                &platform.architecture,
                Some(&platform.variant),
            ),
            layers: Vec::new(),
        },
        Source::Stage(j) => done.get(j).cloned().ok_or_else(|| {
            at(StepError::Internal(format!(
                "stage {j} was not built before stage {}",
                sp.index
            )))
        })?,
        Source::Image(reference) => {
            crate::progress::vertex(env.reporter, &format!("{title} FROM {reference}"), |id| {
                let found = images::find(env.stores.store, env.stores.names, reference, platform)?;
                let line = sp.span.start;
                if let Some(w) = base_platform_warning(&sp.base_name, &found.config, platform, line)
                {
                    env.reporter.warn(id, &w);
                }
                Ok::<_, StepError>(found)
            })
            .map_err(at)?
        }
        Source::Context(name) => {
            let named = env.inputs.contexts.get(name).ok_or_else(|| {
                at(StepError::Context {
                    name: name.clone(),
                    reason: "not given with --build-context".into(),
                })
            })?;
            match named {
                NamedContext::Image(digest) => {
                    crate::progress::vertex(env.reporter, &format!("{title} FROM {name}"), |_| {
                        let image = format!("build context {name}");
                        images::load_as(env.stores.store, digest, platform, Some(&image))
                    })
                    .map_err(at)?
                }
                NamedContext::Dir(dir) => {
                    return Err(at(StepError::Context {
                        name: name.clone(),
                        reason: format!(
                            "FROM a local directory ({}) is not supported yet; use oci-layout://",
                            dir.display()
                        ),
                    }))
                }
            }
        }
        Source::BuildContext => {
            return Err(at(StepError::Internal(
                "a stage cannot start from the build context".into(),
            )))
        }
    };
    Ok(result)
}
