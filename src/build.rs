//! Build orchestration, and nothing else: context -> Dockerfile -> plan -> solve -> image ->
//! outputs. Each arrow is a call into the module that owns it; this file only threads the
//! values through and turns failures into user-facing errors (`Dockerfile:LINE`, the quoted
//! instruction, the cause).
//!
//! - `frontend`: locating, reading and parsing the Dockerfile, `--build-arg` values.
//! - `diagnose`, `hint`: failures as the user reads them (the excerpt, the cause, a hint).
//! - `inputs`: the context (directory, stdin tar, tar file) and `--build-context` values.
//! - `outputs`: the image in the store, `-t` names, `-o` outputs, `--iidfile`,
//!   `--metadata-file`.

mod diagnose;
mod frontend;
mod hint;
mod inputs;
mod outputs;
mod registry;

use std::collections::BTreeMap;
use std::path::PathBuf;

use oci_spec::image::Digest;

pub use diagnose::{parse_failure, plan_failure, step_failure};
pub use frontend::{diagnostic, parse, resolve_build_args, DockerfileSource};
pub use hint::hint;

use crate::cache::exchange::CacheSpec;
use crate::cache::stat::StatCache;
use crate::cache::{BuildCache, CacheStore, Explainer, NoCache};
use crate::error::{Error, Result};
use crate::graph::{self, PlanOptions, Platform};
use crate::progress::{self, Reporter};
use crate::sandbox::{LinuxSandbox, Network};
use crate::snapshot::{DirSnapshotter, Owners};
use crate::solve::copy::Ownership;
use crate::solve::run::{Entitlements, RunSettings, SecretSource};
use crate::solve::{self, Inputs, LayerPolicy, LayerTrees, SolveEnv, StoreImages, Stores};
use crate::store::DirStore;

/// Everything `builder build` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// The context: a directory, `-` (a tar on stdin) or a `.tar`/`.tar.gz` file.
    pub context: String,
    /// `-f`.
    pub file: Option<String>,
    /// `-t` names.
    pub tags: Vec<String>,
    /// `--target`.
    pub target: Option<String>,
    /// `--build-arg` values, resolved.
    pub build_args: BTreeMap<String, String>,
    /// `--build-context NAME=VALUE`.
    pub build_contexts: Vec<(String, String)>,
    /// `-o` specs.
    pub outputs: Vec<String>,
    /// `--push`.
    pub push: bool,
    /// `--pull`: ask the registry for every base image, even those in the store.
    pub pull: bool,
    /// `--platform` (one platform).
    pub platform: Option<String>,
    /// `--label K=V`.
    pub labels: Vec<(String, String)>,
    /// `--iidfile`.
    pub iidfile: Option<PathBuf>,
    /// `--metadata-file`.
    pub metadata_file: Option<PathBuf>,
    /// The store root.
    pub root: PathBuf,
    /// `SOURCE_DATE_EPOCH` (the build arg, else the environment).
    pub source_date_epoch: Option<i64>,
    /// `--network`: the default network of RUN steps.
    pub network: Network,
    /// What `--allow` granted.
    pub entitlements: Entitlements,
    /// `--secret` values, by id.
    pub secrets: BTreeMap<String, SecretSource>,
    /// `--no-cache`: run every step (records are still written).
    pub no_cache: bool,
    /// `--no-cache-filter`: run every step of these stages (names or indexes).
    pub no_cache_filter: Vec<String>,
    /// `--cache-from`: where to look for steps this store does not have.
    pub cache_from: Vec<CacheSpec>,
    /// `--cache-to`: where to write the steps this build made or reused.
    pub cache_to: Vec<CacheSpec>,
}

/// What a successful build made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOutcome {
    /// The image (manifest) digest.
    pub manifest: Digest,
    /// The config digest.
    pub config: Digest,
}

/// `BUILDER_SNAPSHOTTER=copy` makes RUN steps use the copy fallback even where overlay
/// works (for testing it); anything else, or nothing, lets the host decide.
fn forced_backend() -> Option<crate::snapshot::Backend> {
    match std::env::var("BUILDER_SNAPSHOTTER").as_deref() {
        Ok("copy") => Some(crate::snapshot::Backend::Copy),
        Ok("overlay") => Some(crate::snapshot::Backend::Overlay),
        _ => None,
    }
}

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

/// The build cache of `req`: the store's records, the `--no-cache` flags, the stat cache
/// of a directory context (`stat`), and the explanations of this context, Dockerfile,
/// target and platform.
fn open_cache(req: &BuildRequest, platform: &Platform, stat: Option<StatCache>) -> BuildCache {
    let records = CacheStore::new(&req.root);
    let context = absolute_context(req);
    let dockerfile = match req.file.as_deref() {
        Some("-") => "-".to_string(),
        Some(f) => absolute(f),
        None => "Dockerfile".to_string(),
    };
    let identity = [
        context.as_str(),
        dockerfile.as_str(),
        req.target.as_deref().unwrap_or_default(),
        &platform.to_string(),
    ];
    let explain = Explainer::new(Explainer::path_for(records.dir(), &identity));
    BuildCache {
        records,
        no_cache: NoCache {
            all: req.no_cache,
            stages: req.no_cache_filter.clone(),
        },
        explain,
        stat,
        import: req
            .cache_from
            .iter()
            .map(|CacheSpec::Local(dir)| dir.clone())
            .collect(),
        used: Default::default(),
    }
}

/// Start reading the stat cache of a directory context (20,000 files make a few MB) while
/// the build reads its Dockerfile, plans and imports base images.
fn load_stat_cache(req: &BuildRequest) -> Option<std::thread::JoinHandle<StatCache>> {
    let is_dir = req.context != "-" && std::path::Path::new(&req.context).is_dir();
    if !is_dir {
        return None;
    }
    let file = StatCache::path_for(
        CacheStore::new(&req.root).dir(),
        std::path::Path::new(&absolute_context(req)),
    );
    Some(std::thread::spawn(move || StatCache::load(&file)))
}

/// The context as one identity: its canonical path, or `-` for stdin.
fn absolute_context(req: &BuildRequest) -> String {
    if req.context == "-" {
        "-".to_string()
    } else {
        absolute(&req.context)
    }
}

fn absolute(path: &str) -> String {
    std::fs::canonicalize(path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.to_string())
}

/// Keep what this build learned for the next one: file digests by stat data and miss
/// explanations. Best effort: a store that cannot take them costs the next build time or
/// an explanation, never this build its result.
fn save_cache(cache: &BuildCache) {
    if let Some(stat) = &cache.stat {
        let _ = stat.save();
    }
    let _ = cache.explain.save();
}

/// Run the build `req`, reporting progress to `reporter`.
pub fn build(req: &BuildRequest, reporter: &dyn Reporter) -> Result<BuildOutcome> {
    let gc = crate::cache::build_guard(&req.root)?;
    // Checked before anything is pulled or built.
    let writes = solve::background::Writes::from_env().map_err(Error::Usage)?;
    crate::registry::transport::io_timeout().map_err(|e| Error::Usage(e.to_string()))?;
    let outputs = outputs::parse(&req.outputs, req.push)?;
    registry::check_push_names(&outputs, &req.tags)?;
    let host = Platform::linux_from_rust_arch(std::env::consts::ARCH);
    let target_platform = match req.platform.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) if p.contains(',') => {
            return Err(Error::NotImplemented(
                "building for several platforms at once",
            ))
        }
        Some(p) => Some(
            Platform::parse(p, &host)
                .map_err(|e| Error::Usage(format!("invalid --platform: {e}")))?,
        ),
    };
    let stat = load_stat_cache(req);
    let store = DirStore::new(&req.root)?;
    let names = store.images();
    let input = progress::vertex(reporter, "[internal] load build definition", |_| {
        inputs::open(&req.context, req.file.as_deref())
    })?;
    let (label, text) = (&input.label, &input.text);
    let dockerfile = parse(label, text)?;
    let escape = crate::dockerfile::parse(text)
        .map(|ast| ast.escape)
        .unwrap_or('\\');
    let platform = target_platform.clone().unwrap_or_else(|| host.clone());
    let contexts = inputs::named_contexts(&req.build_contexts, &store, &names, &platform)?;
    let mut opts = PlanOptions::new(host);
    opts.target = req.target.clone();
    opts.build_args = req.build_args.clone();
    opts.target_platform = target_platform;
    opts.named_contexts = contexts.keys().cloned().collect();
    let images = StoreImages {
        store: &store,
        names: &names,
        contexts: &contexts,
    };
    let mut plan = graph::plan(&dockerfile, escape, &opts, &images)
        .map_err(|e| plan_failure(label, text, &e))?;
    // Base images not in the store are pulled; the plan is made again with their configs.
    if registry::ensure_images(&plan, &store, &platform, req.pull, reporter, (label, text))? {
        plan = graph::plan(&dockerfile, escape, &opts, &images)
            .map_err(|e| plan_failure(label, text, &e))?;
    }

    let snapshots =
        DirSnapshotter::new(&req.root.join("snapshotter")).map_err(solve::StepError::from)?;
    let trees = LayerTrees {
        store: &store,
        snapshots: &snapshots,
        flat_dir: req.root.join("rootfs"),
        owners: Owners::BestEffort,
    };
    // A stat cache that could not be read is an empty one.
    let stat = stat.and_then(|h| h.join().ok());
    let cache = open_cache(req, &platform, stat);
    let sandbox = LinuxSandbox::new();
    if uses_default_network(&plan, req.network) {
        sandbox.expect_network();
    }
    let created = Some(match req.source_date_epoch {
        Some(epoch) => crate::image::time::format_unix(epoch, 0),
        None => crate::image::time::now(),
    });
    let env = SolveEnv {
        stores: Stores {
            store: &store,
            names: &names,
            trees,
        },
        inputs: Inputs {
            context: &input.context,
            contexts: &contexts,
        },
        policy: LayerPolicy {
            settings: outputs.layer_settings(req.source_date_epoch),
            ownership: if rustix::process::geteuid().is_root() {
                Ownership::Apply
            } else {
                Ownership::Ignore
            },
            created,
            fixed_time: req.source_date_epoch.is_some(),
        },
        reporter,
        cache: Some(&cache),
        jobs: solve::LayerJobs::new(writes),
        run: RunSettings {
            sandbox: &sandbox,
            network: req.network,
            secrets: req.secrets.clone(),
            state_dir: req.root.clone(),
            backend: forced_backend(),
            entitlements: req.entitlements,
            real_root: crate::sandbox::userns::real_root(),
        },
    };
    let probe = probe_overlay_early(&plan, &env.run);
    let solved = solve::solve(&plan, &env);
    if let Some(p) = probe {
        // Nothing may be left mounted when the build returns.
        let _ = p.join();
    }
    // No step runs after this: the stack goes while the outputs are written.
    sandbox.stop_network();
    save_cache(&cache);
    let mut result = solved.map_err(|e| step_failure(label, text, &e))?;
    result
        .config
        .config
        .labels
        .extend(req.labels.iter().cloned());

    let written = outputs::write_images(&store, &names, &result, &outputs, &req.tags, reporter)?;
    let flatten = || -> Result<PathBuf> { Ok(env.stores.trees.flatten(&result.layers, reporter)?) };
    outputs::export_all(
        &store,
        &outputs,
        &written,
        &req.tags,
        req.source_date_epoch,
        &flatten,
        reporter,
    )?;
    if registry::pushes(&outputs) {
        registry::push_all(&store, &outputs, &written, &req.tags, reporter)?;
    }
    if let Some(path) = &req.iidfile {
        outputs::write_iidfile(path, &written)?;
    }
    if let Some(path) = &req.metadata_file {
        outputs::write_metadata(path, &written, &req.tags)?;
    }
    for CacheSpec::Local(dir) in &req.cache_to {
        let title = format!("exporting cache to {}", dir.display());
        progress::vertex(reporter, &title, |_| {
            crate::cache::exchange::export(dir, &cache.used_keys(), &store, &cache.records)
        })
        .map_err(|e| Error::Usage(crate::error::chain(&e)))?;
    }
    crate::cache::enforce_cap(&req.root, gc, reporter);
    Ok(BuildOutcome {
        manifest: written.primary.digest().clone(),
        config: written.primary.config.digest().clone(),
    })
}
