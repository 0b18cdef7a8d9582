//! Multi-platform builds (`--platform linux/amd64,linux/arm64`): the Dockerfile is planned
//! and solved once per platform, each with its own `TARGETPLATFORM` family and its bases
//! resolved for it first (`bases`: an index in the store is picked from per platform, a
//! base from a registry is pulled per platform and named as an index), and every output
//! carries one image index over the platforms' manifests: the store names, OCI layouts and
//! pushes the index; `type=local`/`type=tar` hold one directory per platform
//! (`linux_amd64`); `type=docker` is refused, as BuildKit's docker exporter refuses
//! manifest lists.
//!
//! The platforms are solved one after the other: they share the store, the snapshotter,
//! the cache records and one sandbox network, and each solve already spreads its layer
//! compression over every core; a step that does not depend on the target platform (a
//! `FROM --platform=$BUILDPLATFORM` stage without target arguments) is solved once and is
//! a cache hit for the next platform.

use std::path::PathBuf;

use super::cache::{load_stat_cache, open_cache};
use super::outputs::{self, Outputs, Written};
use super::request::{BuildOutcome, BuildRequest};
use super::{checks, make_plan, read_inputs, solve_plan, Work};
use crate::cache::exchange::CacheSpec;
use crate::cache::BuildCache;
use crate::error::{Error, Result};
use crate::export::{self, Destination, OutputType, RootfsOptions};
use crate::graph::{self, PlanOptions, Platform};
use crate::image::multi::platform_dir_name;
use crate::progress::{self, Reporter};
use crate::snapshot::DirSnapshotter;
use crate::solve::{self, StageResult, StoreImages};
use crate::store::DirStore;

mod bases;
mod prefixed;

use prefixed::Prefixed;

/// One platform's solved target stage.
struct Built {
    platform: Platform,
    result: StageResult,
    /// The target stage's Dockerfile index.
    target: Option<usize>,
}

/// Refuse, before any work, the outputs a multi-platform build cannot write.
pub(super) fn check_outputs(outputs: &Outputs) -> Result<()> {
    if outputs.specs.iter().any(|s| s.kind == OutputType::Docker) {
        return Err(Error::Usage(
            "type=docker cannot hold several platforms: the docker exporter does not support \
             exporting manifest lists (docker load takes one image per name); use type=oci, \
             type=image or --push for a multi-platform image, or build one --platform for \
             type=docker"
                .into(),
        ));
    }
    Ok(())
}

/// Build `req` for each of `targets` (two or more) on `host`, and write one index over them
/// to every output.
pub(super) fn build_all(
    req: &BuildRequest,
    host: &Platform,
    targets: &[Platform],
    reporter: &dyn Reporter,
) -> Result<BuildOutcome> {
    check_outputs(&req.outputs)?;
    let stat = load_stat_cache(req);
    let store = DirStore::new(&req.root)?;
    let names = store.images();
    // Named contexts are read once: an OCI layout holding every platform of an index is
    // kept whole and picked from per platform, another image is the first platform's.
    let inputs = read_inputs(req, &store, &names, targets, reporter)?;
    let images = StoreImages {
        store: &store,
        names: &names,
        contexts: &inputs.contexts,
    };
    let snapshots =
        DirSnapshotter::new(&req.root.join("snapshotter")).map_err(solve::StepError::from)?;
    let work = Work {
        store: &store,
        names: &names,
        snapshots: &snapshots,
    };
    let identity = targets
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let cache = open_cache(req, &identity, stat.and_then(|h| h.join().ok()), reporter)?;
    // Every platform's bases first: the store then names an index over the platforms of
    // each base pulled for several, and each plan picks its platform from it.
    let mut planned = Vec::with_capacity(targets.len());
    for target in targets {
        let opts = plan_options(req, host, target, &inputs);
        let shown = Prefixed::new(reporter, target);
        let (bases, held) = bases::resolve(req, &inputs, &opts, (&images, &store), target, &shown)?;
        planned.push((target, opts, bases, held));
    }
    let held: Vec<_> = planned.iter().map(|(_, _, _, held)| held.clone()).collect();
    bases::name_indexes(&store, &names, &held)?;
    // Every plan, and whether the host runs each one's RUN steps, before any step runs.
    let mut plans = Vec::with_capacity(targets.len());
    for (target, opts, bases, _) in &planned {
        let plan = make_plan(&inputs, opts, &images, bases)?;
        super::emulation::check(&plan, &req.policy.binfmt_misc, &inputs.label, &inputs.text)?;
        plans.push((*target, plan));
    }
    let mut built = Vec::with_capacity(targets.len());
    for (target, plan) in &plans {
        let shown = Prefixed::new(reporter, target);
        built.push(solve_one(
            req,
            (target, plan),
            (&inputs, &work),
            &cache,
            &shown,
        )?);
    }
    let written = write_outputs(req, &work, &built, &cache, reporter)?;
    Ok(BuildOutcome {
        manifest: written.primary.digest().clone(),
        config: written.config.as_ref().map(|c| c.digest().clone()),
    })
}

/// Solve `target`'s `plan`: its target stage, stamped with the platform (and the inline
/// cache when `--cache-to type=inline` asks for it).
fn solve_one(
    req: &BuildRequest,
    (target, plan): (&Platform, &graph::Plan),
    (inputs, work): (&super::Inputs, &Work<'_>),
    cache: &BuildCache,
    reporter: &dyn Reporter,
) -> Result<Built> {
    let solve_reporter = checks::Skipping::new(reporter, &inputs.checks);
    let mut result = solve_plan(req, plan, inputs, work, cache, &solve_reporter)?;
    solve_reporter.failure()?;
    solve::stamp_target_platform(&mut result.config, target);
    let stage = plan.target().map(|s| s.index);
    if req.cache_to.contains(&CacheSpec::Inline) {
        super::add_inline_cache(cache, stage, &mut result)?;
    }
    Ok(Built {
        platform: target.clone(),
        result,
        target: stage,
    })
}

/// The plan options of `target`'s build on `host`.
fn plan_options(
    req: &BuildRequest,
    host: &Platform,
    target: &Platform,
    inputs: &super::Inputs,
) -> PlanOptions {
    let mut opts = PlanOptions::new(host.clone());
    opts.target = req.target.clone();
    opts.build_args = req.build_args.clone();
    opts.target_platform = Some(target.clone());
    opts.named_contexts = inputs.contexts.keys().cloned().collect();
    opts
}

/// Write the outputs of a multi-platform build, in the order of a single-platform one:
/// each platform's image and the index in the store (named by `-t` and `name=`), each `-o`
/// output, the pushes, `--iidfile`, `--metadata-file`, `--cache-to`.
fn write_outputs(
    req: &BuildRequest,
    work: &Work<'_>,
    built: &[Built],
    cache: &BuildCache,
    reporter: &dyn Reporter,
) -> Result<Written> {
    let (store, outputs) = (work.store, &req.outputs);
    let written = progress::vertex(reporter, "exporting to image", |id| -> Result<Written> {
        let mut each = Vec::with_capacity(built.len());
        for b in built {
            let w = outputs::write_variants(store, &b.result, outputs, (reporter, id))?;
            each.push((b.platform.clone(), w));
        }
        let written = Written::index(store, &each, outputs.annotations.for_index())?;
        reporter.log(
            id,
            &format!("exporting manifest list {}", written.primary.digest()),
        );
        outputs::name_images(work.names, outputs, &written, &req.tags, (reporter, id))?;
        Ok(written)
    })?;
    export_rootfs(req, work, built, reporter)?;
    let others = Outputs {
        specs: (outputs.specs.iter())
            .filter(|s| !matches!(s.kind, OutputType::Local | OutputType::Tar))
            .cloned()
            .collect(),
        ..outputs.clone()
    };
    let no_rootfs = || -> Result<PathBuf> { Err(Error::NotImplemented("a root filesystem")) };
    let epoch = req.source_date_epoch;
    outputs::export_all(
        store, &others, &written, &req.tags, epoch, &no_rootfs, reporter,
    )?;
    super::push_and_report(req, store, &written, reporter)?;
    // The cache of every platform's steps (`mode=min`: those of every platform's image); an
    // inline one is in each image already.
    if let Some(first) = built.first() {
        let mut all = first.result.clone();
        all.layers = built.iter().flat_map(|b| b.result.layers.clone()).collect();
        for spec in &req.cache_to {
            super::export_cache(req, work, &all, spec, (cache, first.target), reporter)?;
        }
    }
    Ok(written)
}

/// `type=local` and `type=tar`: each platform's root filesystem in a directory of its own,
/// named after the platform (`linux_amd64`), as BuildKit writes them.
fn export_rootfs(
    req: &BuildRequest,
    work: &Work<'_>,
    built: &[Built],
    reporter: &dyn Reporter,
) -> Result<()> {
    let specs: Vec<_> = (req.outputs.specs.iter())
        .filter(|s| matches!(s.kind, OutputType::Local | OutputType::Tar))
        .collect();
    if specs.is_empty() {
        return Ok(());
    }
    let trees = work.trees(&req.root);
    let mut flat = Vec::with_capacity(built.len());
    for b in built {
        let dir = trees.flatten(&b.result.layers, reporter)?;
        flat.push((platform_dir_name(&b.platform), dir));
    }
    for spec in specs {
        let opts = RootfsOptions {
            clamp_mtime: req.source_date_epoch.filter(|_| spec.rewrite_timestamp),
        };
        match (spec.kind, &spec.dest) {
            (OutputType::Local, Destination::Path(dir)) => {
                progress::vertex(reporter, "copying files", |_| {
                    export::write_local_platforms(&flat, dir, &opts)
                })?
            }
            (OutputType::Tar, dest) => progress::vertex(reporter, "sending tarball", |_| {
                export::write_platforms_tar(&flat, dest, &opts)
            })?,
            (kind, _) => {
                return Err(Error::Usage(format!(
                    "type={kind} with this destination is not supported"
                )))
            }
        }
    }
    Ok(())
}
