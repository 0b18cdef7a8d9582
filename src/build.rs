//! Build orchestration, and nothing else: [`build`] is a sequence of named phases — read
//! the inputs (context, Dockerfile, named contexts) -> resolve the bases (pull what the
//! store lacks) -> plan -> solve -> write the outputs (store names, exports, push,
//! `--iidfile`, `--metadata-file`, cache export), then the store cap. Each phase calls into
//! the modules that own the work; this file only threads the values through and turns
//! failures into user-facing errors (`Dockerfile:LINE`, the quoted instruction, the cause).
//! It reads no environment variable: what the environment decides comes in as
//! [`BuildPolicy`], read by `cli/`.
//!
//! - `request`: [`BuildRequest`], [`BuildPolicy`], [`BuildOutcome`].
//! - `cache`: the build cache a build opens (records, stat cache, explanations).
//! - `cache_registry`: `--cache-from` / `--cache-to` `type=registry` and `type=inline`.
//! - `frontend`: locating, reading and parsing the Dockerfile, `--build-arg` values.
//! - `diagnose`, `hint`: failures as the user reads them (the excerpt, the cause, a hint).
//! - `emulation`: before any step, a RUN for a platform the host cannot run (no emulator).
//! - `inputs`: the context (directory, stdin tar, tar file) and `--build-context` values.
//! - `outputs`: the `-o` values ([`Outputs`], parsed by `cli/`), the image in the store,
//!   `-t` names, `-o` outputs, `--iidfile`, `--metadata-file`.
//! - `registry`: pulling the bases, pushing the result.
//! - `multiplatform`: `--platform a,b`, solved per platform, one index over the images.

pub mod annotations;
mod cache;
mod cache_mounts;
mod cache_registry;
mod checks;
mod convert;
mod diagnose;
mod emulation;
mod frontend;
mod hint;
mod inputs;
mod multiplatform;
pub mod outputs;
mod registry;
mod remote;
mod request;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use diagnose::{parse_failure, plan_failure, step_failure};
pub use frontend::{diagnostic, parse, resolve_build_args, DockerfileSource};
pub use hint::hint;
pub use outputs::Outputs;
pub use request::{BuildOutcome, BuildPolicy, BuildRequest};

use crate::cache::exchange::CacheSpec;
use crate::cache::BuildCache;
use crate::context::Context;
use crate::dockerfile::ast::Span;
use crate::dockerfile::instructions::Dockerfile;
use crate::error::{Error, Result};
use crate::graph::{self, PlanOptions, Platform};
use crate::progress::{self, Reporter};
use crate::sandbox::{LinuxSandbox, Network};
use crate::snapshot::{DirSnapshotter, Owners};
use crate::solve::run::{RunSettings, SshAgents};
use crate::solve::{
    self, Inputs as SolveInputs, LayerPolicy, LayerTrees, NamedContext, SolveEnv, StageResult,
    StoreImages, Stores,
};
use crate::store::{DirStore, NameIndex};
use cache::{load_stat_cache, open_cache, save_cache};

/// Find out whether RUN steps can use overlay mounts while the first steps run, when the
/// plan has a RUN. The probe unmounts an overlay, and unmounting an overlay syncs the file
/// system below it: probed when the first RUN starts, right after a large COPY, that sync
/// wrote the COPY's files out first (0.2 s for 200 MB); probed at the start it has next to
/// nothing to write. The result is kept for the process ([`crate::snapshot::Backend::detect`]).
fn probe_overlay_early(
    plan: &graph::Plan,
    run: &RunSettings<'_>,
) -> Option<std::thread::JoinHandle<()>> {
    let has_run = plan.stages.iter().any(|s| {
        s.steps
            .iter()
            .any(|st| matches!(st.action, graph::Action::Run(_)))
    });
    if !has_run || run.backend.is_some() {
        return None;
    }
    let scratch = run.state_dir.join("run");
    std::thread::Builder::new()
        .name("overlay-probe".into())
        .spawn(move || {
            if std::fs::create_dir_all(&scratch).is_ok() {
                crate::snapshot::Backend::detect(&scratch);
            }
        })
        .ok()
}

/// In chroot isolation no overlay can be mounted (that needs the namespaces that could
/// not be made): RUN steps copy their root, with no probe and no second warning.
fn chroot_backend() -> Option<crate::snapshot::Backend> {
    (crate::sandbox::isolation::current() == crate::sandbox::Isolation::Chroot)
        .then_some(crate::snapshot::Backend::Copy)
}

/// Whether the plan has a RUN with the default network (then the sandbox makes the build's
/// private network in the background as soon as a step misses the cache).
fn uses_default_network(plan: &graph::Plan, network: Network) -> bool {
    use crate::dockerfile::instructions::NetworkMode;
    network == Network::Default
        && plan.stages.iter().any(|s| {
            s.steps.iter().any(|st| {
                matches!(&st.action, graph::Action::Run(run) if run.network == NetworkMode::Default)
            })
        })
}

/// Run the build `req`, reporting progress to `reporter`, phase by phase: read the inputs,
/// pull the base images the target needs, plan, solve, write the outputs. No destination
/// is written before the solve has succeeded; the store cap is enforced last.
pub fn build(req: &BuildRequest, reporter: &dyn Reporter) -> Result<BuildOutcome> {
    let gc = crate::store::build_guard(&req.root)?;
    // Checked before anything is pulled or built.
    registry::check_push_names(&req.outputs, &req.tags)?;
    outputs::check_epoch(&req.outputs, req.source_date_epoch)?;
    let (host, targets) = platforms(req)?;
    req.outputs
        .annotations
        .check(targets.len(), &req.outputs.specs)?;
    if targets.len() > 1 {
        let outcome = multiplatform::build_all(req, &host, &targets, reporter)?;
        crate::store::enforce_cap(&req.root, gc, req.policy.max_cache.clone(), reporter);
        return Ok(outcome);
    }
    let target_platform = targets.into_iter().next();
    let platform = target_platform.clone().unwrap_or_else(|| host.clone());
    let stat = load_stat_cache(req);
    let store = DirStore::new(&req.root)?;
    let names = store.images();
    let inputs = read_inputs(
        req,
        &store,
        &names,
        std::slice::from_ref(&platform),
        reporter,
    )?;
    let images = StoreImages {
        store: &store,
        names: &names,
        contexts: &inputs.contexts,
    };
    let mut opts = PlanOptions::new(host);
    opts.target = req.target.clone();
    opts.build_args = req.build_args.clone();
    opts.target_platform = target_platform;
    opts.named_contexts = inputs.contexts.keys().cloned().collect();
    let bases = resolve_bases(req, &inputs, &opts, &images, &store, &platform, reporter)?;
    let plan = make_plan(&inputs, &opts, &images, &bases)?;
    emulation::check(&plan, &req.policy.binfmt_misc, &inputs.label, &inputs.text)?;
    let snapshots =
        DirSnapshotter::new(&req.root.join("snapshotter")).map_err(solve::StepError::from)?;
    let work = Work {
        store: &store,
        names: &names,
        snapshots: &snapshots,
    };
    // A stat cache that could not be read is an empty one.
    let cache = open_cache(
        req,
        &platform.to_string(),
        stat.and_then(|h| h.join().ok()),
        reporter,
    )?;
    // Warnings of the solve (`InvalidBaseImagePlatform`) obey `check=skip=` too.
    let solve_reporter = checks::Skipping::new(reporter, &inputs.checks);
    let mut result = solve_plan(req, &plan, &inputs, &work, &cache, &solve_reporter)?;
    solve_reporter.failure()?;
    let target = plan.target().map(|s| s.index);
    // An explicit --platform is what the image says it is for, unless its base is of
    // another platform (warned about at its FROM): then it says what it really holds.
    if let Some(target) = &opts.target_platform {
        solve::stamp_target_platform(&mut result.config, target);
    }
    if req.cache_to.contains(&CacheSpec::Inline) {
        add_inline_cache(&cache, target, &mut result)?;
    }
    let written = write_outputs(req, &work, &result, (&cache, target), reporter)?;
    crate::store::enforce_cap(&req.root, gc, req.policy.max_cache.clone(), reporter);
    Ok(BuildOutcome {
        manifest: written.primary.digest().clone(),
        config: written.config.as_ref().map(|c| c.digest().clone()),
    })
}

/// `--cache-to type=inline`: the records of the image's own steps, in a label of its
/// config (`target`: the target stage's Dockerfile index).
fn add_inline_cache(
    cache: &BuildCache,
    target: Option<usize>,
    result: &mut StageResult,
) -> Result<()> {
    let layers: Vec<_> = (result.layers.iter())
        .map(|l| l.descriptor.digest().clone())
        .collect();
    let (key, value) =
        cache_registry::inline_label(cache, target, &layers).map_err(|source| Error::Encode {
            what: "inline cache",
            source,
        })?;
    result.config.config.labels.insert(key, value);
    Ok(())
}

/// What the build read before planning.
struct Inputs {
    /// The fetcher of a remote context, which removes a Git checkout when dropped.
    _remote_context: Option<crate::remote::Remote>,
    /// The build context.
    context: Context,
    /// The Dockerfile's name in diagnostics.
    label: String,
    /// The Dockerfile's text.
    text: String,
    /// The Dockerfile came on stdin as the context: the context is empty.
    empty_context: bool,
    /// The Dockerfile, parsed once.
    dockerfile: Dockerfile,
    /// `--build-context` values, resolved.
    contexts: BTreeMap<String, NamedContext>,
    /// The build checks in force.
    checks: crate::dockerfile::checks::CheckConfig,
}

/// The store a build solves in and writes to.
struct Work<'a> {
    store: &'a DirStore,
    names: &'a NameIndex,
    snapshots: &'a DirSnapshotter,
}

impl Work<'_> {
    /// The build's view of root filesystems: layers as snapshots, flattened trees.
    fn trees(&self, root: &std::path::Path) -> LayerTrees<'_> {
        LayerTrees {
            store: self.store,
            snapshots: self.snapshots,
            flat_dir: root.join("rootfs"),
            owners: Owners::BestEffort,
        }
    }
}

/// The host platform and the `--platform` values asked for (none, one, or several
/// comma-separated, each once).
fn platforms(req: &BuildRequest) -> Result<(Platform, Vec<Platform>)> {
    let host = Platform::linux_from_rust_arch(std::env::consts::ARCH);
    let given = req.platform.as_deref().map(str::trim).unwrap_or_default();
    if given.is_empty() {
        return Ok((host, Vec::new()));
    }
    let mut targets: Vec<Platform> = Vec::new();
    for p in given.split(',').map(str::trim) {
        let parsed = Platform::parse(p, &host)
            .map_err(|e| Error::Usage(format!("invalid --platform: {e}")))?;
        if targets.contains(&parsed) {
            return Err(Error::Usage(format!(
                "invalid --platform: {parsed} is given twice"
            )));
        }
        targets.push(parsed);
    }
    Ok((host, targets))
}

/// Phase 1, read the inputs: the context and the Dockerfile (one progress vertex), the
/// Dockerfile parsed into typed stages, and the `--build-context` values (an image one that
/// is not in the store is pulled for the first of `platforms`).
fn read_inputs(
    req: &BuildRequest,
    store: &DirStore,
    names: &NameIndex,
    platforms: &[Platform],
    reporter: &dyn Reporter,
) -> Result<Inputs> {
    // A remote context (a Git repository, an HTTP(S) tarball or Dockerfile) is fetched by a
    // fetcher of its own, which keeps what it fetched for the whole build.
    let remote_context = match crate::remote::is_remote_source(&req.context) {
        true => {
            let agents = SshAgents::start(&req.ssh).map_err(Error::Usage)?;
            Some(remote::fetcher(req, &agents).map_err(Error::Usage)?)
        }
        false => None,
    };
    let vertex = std::cell::Cell::new(None);
    let input = progress::vertex(reporter, "[internal] load build definition", |id| {
        vertex.set(Some(id));
        match &remote_context {
            Some(fetcher) => inputs::open_remote(&req.context, req.file.as_deref(), fetcher),
            None => inputs::open(&req.context, req.file.as_deref()),
        }
    })?;
    let dockerfile = parse(&input.label, &input.text)?;
    let checks = checks::run(&input.text, &dockerfile, &req.build_args, |short| {
        if let Some(id) = vertex.get() {
            reporter.warn(id, short);
        }
    })?;
    frontend::check_no_cache_filter(&req.no_cache_filter, &dockerfile)?;
    let contexts = inputs::named_contexts(
        &req.build_contexts,
        store,
        names,
        platforms,
        &req.policy.registry,
    )?;
    Ok(Inputs {
        _remote_context: remote_context,
        context: input.context,
        label: input.label,
        text: input.text,
        empty_context: input.empty_context,
        dockerfile,
        contexts,
        checks,
    })
}

/// Phase 2, resolve the bases: every image the target reads from ([`graph::base_images`],
/// with the same ARG expansion and target pruning as the plan) is pulled when the store
/// does not have it, or always with `--pull`, so that the plan sees every base's config.
/// Before anything is pulled, the Dockerfile is planned with the configs at hand, so that
/// a Dockerfile error is reported as one without contacting a registry (when nothing is
/// pulled, the plan of phase 3 is the only one).
fn resolve_bases(
    req: &BuildRequest,
    inputs: &Inputs,
    opts: &PlanOptions,
    images: &StoreImages<'_>,
    store: &DirStore,
    platform: &Platform,
    reporter: &dyn Reporter,
) -> Result<Vec<(String, Span)>> {
    let (label, text) = (inputs.label.as_str(), inputs.text.as_str());
    let bases = graph::base_images(&inputs.dockerfile, opts, images)
        .map_err(|e| plan_failure(label, text, &e))?;
    if registry::any_to_pull(&bases, store, req.pull) {
        graph::plan(&inputs.dockerfile, opts, images).map_err(|e| plan_failure(label, text, &e))?;
    }
    registry::ensure_images(
        bases.clone(),
        store,
        platform,
        (req.pull, &req.policy.registry),
        reporter,
        (label, text),
    )?;
    Ok(bases)
}

/// Phase 3, plan: the stages the target needs and their expanded steps, once, with the
/// configs of the bases now in the store. A base the store names but cannot read fails
/// the build, naming the image, the cause and the Dockerfile line that reads it (one of
/// `bases`); the planner alone would take it for an unknown image.
fn make_plan(
    inputs: &Inputs,
    opts: &PlanOptions,
    images: &StoreImages<'_>,
    bases: &[(String, Span)],
) -> Result<graph::Plan> {
    let checked = CheckedImages {
        images,
        damaged: std::cell::RefCell::new(None),
    };
    let plan = graph::plan(&inputs.dockerfile, opts, &checked)
        .map_err(|e| plan_failure(&inputs.label, &inputs.text, &e))?;
    let Some((reference, e)) = checked.damaged.into_inner() else {
        return Ok(plan);
    };
    match bases.iter().find(|(r, _)| *r == reference) {
        Some((_, span)) => Err(step_failure(&inputs.label, &inputs.text, e.at(*span))),
        None => Err(e.into()),
    }
}

/// The store's base images as the planner reads them, keeping the first one that could
/// not be read.
struct CheckedImages<'a> {
    images: &'a StoreImages<'a>,
    damaged: std::cell::RefCell<Option<(String, solve::StepError)>>,
}

impl graph::BaseImages for CheckedImages<'_> {
    fn config(&self, reference: &str, platform: &Platform) -> Option<graph::StageConfig> {
        self.images
            .base_config(reference, platform)
            .unwrap_or_else(|e| {
                self.damaged
                    .borrow_mut()
                    .get_or_insert_with(|| (reference.to_string(), e));
                None
            })
    }

    fn context_config(&self, name: &str, platform: &Platform) -> Option<graph::StageConfig> {
        self.images.context_config(name, platform)
    }
}

/// Phase 4, solve: run every step of `plan` (or find it in `cache`), then keep what the
/// build learned for the next one. Returns the target stage with the `--label` values in
/// its config.
fn solve_plan(
    req: &BuildRequest,
    plan: &graph::Plan,
    inputs: &Inputs,
    work: &Work<'_>,
    cache: &BuildCache,
    reporter: &dyn Reporter,
) -> Result<StageResult> {
    let sandbox = LinuxSandbox::new();
    if uses_default_network(plan, req.network) {
        sandbox.expect_network();
    }
    let created = Some(match req.source_date_epoch {
        Some(epoch) => crate::image::time::format_unix(epoch, 0),
        None => crate::image::time::now(),
    });
    // Private agents run until the solve is over, whatever its outcome.
    let agents = SshAgents::start(&req.ssh).map_err(solve::StepError::Mount)?;
    let fetcher = remote::fetcher(req, &agents).map_err(Error::Usage)?;
    let env = SolveEnv {
        stores: Stores {
            store: work.store,
            names: work.names,
            trees: work.trees(&req.root),
        },
        inputs: SolveInputs {
            context: &inputs.context,
            contexts: &inputs.contexts,
            remote: &fetcher,
        },
        policy: LayerPolicy {
            settings: req.outputs.layer_settings(req.source_date_epoch),
            ownership: req.policy.ownership,
            created,
            fixed_time: req.source_date_epoch.is_some(),
        },
        reporter,
        cache: Some(cache),
        jobs: solve::LayerJobs::new(req.policy.writes),
        run: RunSettings {
            sandbox: &sandbox,
            network: req.network,
            secrets: req.secrets.clone(),
            ssh: agents.sockets().clone(),
            state_dir: req.root.clone(),
            backend: req.policy.backend.or_else(chroot_backend),
            entitlements: req.entitlements,
            real_root: crate::sandbox::userns::real_root(),
            options: req.run_options.clone(),
        },
    };
    let probe = probe_overlay_early(plan, &env.run);
    let solved = solve::solve(plan, &env);
    if let Some(p) = probe {
        // Nothing may be left mounted when the build returns.
        let _ = p.join();
    }
    // No step runs after this: the stack goes while the outputs are written.
    sandbox.stop_network();
    save_cache(cache);
    let mut result = solved.map_err(|e| {
        diagnose::step_failure_in(&inputs.label, &inputs.text, e, inputs.empty_context)
    })?;
    result
        .config
        .config
        .labels
        .extend(req.labels.iter().cloned());
    Ok(result)
}

/// The end of phase 5, after the `-o` outputs: the pushes, then `--iidfile` and
/// `--metadata-file` (one image or a multi-platform index alike).
fn push_and_report(
    req: &BuildRequest,
    store: &DirStore,
    written: &outputs::Written,
    reporter: &dyn Reporter,
) -> Result<()> {
    if registry::pushes(&req.outputs) {
        let to = (&req.tags[..], &req.policy.registry);
        registry::push_all(store, &req.outputs, written, to, reporter)?;
    }
    if let Some(path) = &req.iidfile {
        outputs::write_iidfile(path, written)?;
    }
    if let Some(path) = &req.metadata_file {
        outputs::write_metadata(path, written, &req.tags)?;
    }
    Ok(())
}

/// Phase 5, write the outputs, in this order: the image in the store under every `-t`
/// name, each `-o` output, the pushes, `--iidfile`, `--metadata-file`, then `--cache-to`
/// (`cache`, with the target stage's Dockerfile index).
fn write_outputs(
    req: &BuildRequest,
    work: &Work<'_>,
    result: &StageResult,
    cache: (&BuildCache, Option<usize>),
    reporter: &dyn Reporter,
) -> Result<outputs::Written> {
    let (store, outputs) = (work.store, &req.outputs);
    let written = outputs::write_images(store, work.names, result, outputs, &req.tags, reporter)?;
    let trees = work.trees(&req.root);
    let flatten = || -> Result<PathBuf> { Ok(trees.flatten(&result.layers, reporter)?) };
    outputs::export_all(
        store,
        outputs,
        &written,
        &req.tags,
        req.source_date_epoch,
        &flatten,
        reporter,
    )?;
    push_and_report(req, store, &written, reporter)?;
    for spec in &req.cache_to {
        export_cache(req, work, result, spec, cache, reporter)?;
    }
    Ok(written)
}

/// The cache mounts `opts` chooses of those the build used, as layers in the store, for a
/// registry cache; one that is too big is a warning.
fn registry_cache_mounts(
    req: &BuildRequest,
    store: &DirStore,
    (cache, dest): (&BuildCache, &str),
    opts: &crate::cache::mount_cache::MountExport,
    reporter: &dyn Reporter,
) -> Result<Vec<crate::cache::mount_cache::MountRecord>> {
    let caches = req.root.join("cache-mounts");
    let used = cache.used_mounts();
    let (records, done) = progress::vertex(reporter, "exporting cache mounts", |_| {
        cache_mounts::into_store(store, &caches, &used, opts)
            .map_err(|e| crate::cache::exchange::CacheExportError::new(dest.to_string(), e))
    })?;
    warn_skipped(done, reporter);
    Ok(records)
}

fn warn_skipped(done: Vec<cache_mounts::Exported>, reporter: &dyn Reporter) {
    for d in done {
        if let cache_mounts::Exported::Skipped(why) = d {
            let id = reporter.start(&format!("WARNING: {why}"));
            reporter.done(id, std::time::Duration::ZERO);
        }
    }
}

/// Write the cache mounts `opts` chooses of those the build used into the cache
/// directory `dir`; one that is too big is a warning.
fn export_cache_mounts(
    req: &BuildRequest,
    dir: &std::path::Path,
    cache: &BuildCache,
    opts: &crate::cache::mount_cache::MountExport,
    reporter: &dyn Reporter,
) -> Result<()> {
    let caches = req.root.join("cache-mounts");
    let used = cache.used_mounts();
    let done = progress::vertex(reporter, "exporting cache mounts", |id| {
        let done = cache_mounts::export(dir, &caches, &used, opts)?;
        for d in &done {
            if let cache_mounts::Exported::Written(m) = d {
                reporter.log(id, &format!("cache mount {m}"));
            }
        }
        Ok::<_, crate::cache::exchange::CacheExportError>(done)
    })?;
    warn_skipped(done, reporter);
    Ok(())
}

/// Write the `--cache-to` `spec`: every step the build used to a directory; the steps its
/// `mode=` names to a registry (a failure only a warning with `ignore-error=true`).
fn export_cache(
    req: &BuildRequest,
    work: &Work<'_>,
    result: &StageResult,
    spec: &CacheSpec,
    (cache, target): (&BuildCache, Option<usize>),
    reporter: &dyn Reporter,
) -> Result<()> {
    let store = work.store;
    // A throwaway stage's plain-tar layers are compressed now that they leave the store.
    let compress = |keys: &[oci_spec::image::Digest]| {
        let settings = req.outputs.layer_settings(req.source_date_epoch);
        solve::compress_for_export(store, work.snapshots, &settings, &cache.records, keys)
    };
    let cache_reg = match spec {
        // In the image config already.
        CacheSpec::Inline => return Ok(()),
        CacheSpec::Local(local) => {
            let dir = &local.dir;
            let title = format!("exporting cache to {}", dir.display());
            let keys = cache.used_keys();
            progress::vertex(reporter, &title, |_| {
                compress(&keys);
                crate::cache::exchange::export(dir, &keys, store, &cache.records)
            })?;
            if let Some(opts) = &local.mounts {
                export_cache_mounts(req, dir, cache, opts, reporter)?;
            }
            return Ok(());
        }
        CacheSpec::Registry(r) => r,
    };
    let image_layers: Vec<_> = result
        .layers
        .iter()
        .map(|l| l.descriptor.digest().clone())
        .collect();
    let keys = cache_registry::keys_for(cache_reg.mode, cache, target, &image_layers);
    let mounts = match &cache_reg.mounts {
        Some(opts) => {
            let dest = cache_reg.reference.to_string();
            registry_cache_mounts(req, store, (cache, &dest), opts, reporter)?
        }
        None => Vec::new(),
    };
    let dest = cache_reg.reference.to_string();
    let title = format!("exporting cache to registry {dest}");
    let pushed = progress::vertex(reporter, &title, |id| {
        compress(&keys);
        let n = cache_registry::export(
            cache_reg,
            (&keys, &mounts),
            store,
            &cache.records,
            &req.policy.registry,
        )
        .map_err(|e| crate::cache::exchange::CacheExportError::new(dest.clone(), e))?;
        reporter.log(id, &format!("{n} steps"));
        Ok::<_, crate::cache::exchange::CacheExportError>(())
    });
    match pushed {
        Err(e) if cache_reg.ignore_error => {
            let id = reporter.start(&format!("WARNING: {}", progress::chain(&e)));
            reporter.done(id, std::time::Duration::ZERO);
            Ok(())
        }
        other => Ok(other?),
    }
}
