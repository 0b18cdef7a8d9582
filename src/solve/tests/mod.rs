//! `solve::solve` on fakes: blobs in a [`MemStore`], snapshots in a [`MemSnapshotter`]
//! (plain directories, no mount), RUN played by a [`RecordingSandbox`] through the copy
//! backend. Plans come from Dockerfile text through the real parser and planner. Nothing
//! here needs user namespaces, mounts or root, and each test runs in milliseconds.
//!
//! Covered: the build cache ([`cache`]), history times ([`history`]), which steps make
//! layers ([`layers`]), and stages run by level, in parallel, with failures reported in
//! Dockerfile order ([`stages`]).

mod cache;
mod history;
mod layers;
mod mem_snapshots;
mod stages;
mod throwaway;

use std::collections::BTreeMap;
use std::path::Path;

use super::background::Writes;
use super::copy::Ownership;
use super::run::RunSettings;
use super::{
    solve, Inputs, LayerJobs, LayerPolicy, LayerSettings, LayerTrees, SolveEnv, SolveError,
    StageResult, Stores,
};
use crate::cache::{BuildCache, CacheStore, Explainer, NoCache};
use crate::context::Context;
use crate::graph::{self, Plan, PlanOptions, Platform, UnknownImages};
use crate::progress::{Event, Recorder};
use crate::sandbox::{Network, RecordingSandbox};
use crate::snapshot::{Backend, Owners};
use crate::store::{MemStore, NameIndex};
use mem_snapshots::MemSnapshotter;

/// The time of a first build.
const T1: &str = "2020-01-01T00:00:00Z";
/// The time of a later build.
const T2: &str = "2021-06-01T00:00:00Z";

/// One store, snapshotter, cache and context, for one or more solves.
struct Fixture {
    dir: tempfile::TempDir,
    store: MemStore,
    snaps: MemSnapshotter,
    sandbox: RecordingSandbox,
    cache: BuildCache,
}

/// What one solve gave.
struct Solved {
    result: Result<StageResult, SolveError>,
    events: Vec<Event>,
}

impl Solved {
    fn ok(&self) -> &StageResult {
        match &self.result {
            Ok(r) => r,
            Err(e) => panic!("the solve failed at {:?}: {}", e.span, e.message()),
        }
    }

    fn err(&self) -> &SolveError {
        match &self.result {
            Ok(_) => panic!("the solve succeeded"),
            Err(e) => e,
        }
    }

    /// The names of the vertices that were `CACHED`, in order.
    fn cached(&self) -> Vec<String> {
        self.names(|e| matches!(e, Event::Cached(_)))
    }

    /// The names of the vertices that ran (finished without the cache), in order.
    fn ran(&self) -> Vec<String> {
        self.names(|e| matches!(e, Event::Done(_)))
    }

    fn names(&self, pick: impl Fn(&Event) -> bool) -> Vec<String> {
        let names: BTreeMap<_, _> = self
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Start(id, name) => Some((*id, name.clone())),
                _ => None,
            })
            .collect();
        self.events
            .iter()
            .filter(|e| pick(e))
            .filter_map(|e| match e {
                Event::Cached(id) | Event::Done(id) => names.get(id).cloned(),
                _ => None,
            })
            .filter(|n| n.starts_with('['))
            .collect()
    }
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_sandbox(RecordingSandbox::new())
    }

    /// A fixture whose RUN commands are played by `sandbox`.
    fn with_sandbox(sandbox: RecordingSandbox) -> Fixture {
        let dir = tempfile::tempdir().expect("create the fixture directory");
        std::fs::create_dir_all(dir.path().join("context")).expect("create the context");
        let records = CacheStore::new(&dir.path().join("state"));
        let explain = Explainer::new(Explainer::path_for(records.dir(), &["test"]));
        let cache = BuildCache {
            records,
            no_cache: NoCache::default(),
            explain,
            stat: None,
            import: Vec::new(),
            used: Default::default(),
            mount_import: Vec::new(),
            mounts: Default::default(),
            export_mounts: false,
        };
        Fixture {
            dir,
            store: MemStore::new(),
            snaps: MemSnapshotter::new(),
            sandbox,
            cache,
        }
    }

    /// Write `content` to `rel` in the build context.
    fn file(&self, rel: &str, content: &str) {
        let path = self.dir.path().join("context").join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create a context directory");
        }
        std::fs::write(path, content).expect("write a context file");
    }

    /// Solve `dockerfile` at time `created`.
    fn solve(&self, dockerfile: &str, created: &str) -> Solved {
        self.solve_with(dockerfile, Some(created.to_string()), false)
    }

    /// Solve `dockerfile` with `SOURCE_DATE_EPOCH` = `epoch`.
    fn solve_at_epoch(&self, dockerfile: &str, epoch: i64) -> Solved {
        let fixed = crate::image::time::format_unix(epoch, 0);
        self.solve_with(dockerfile, Some(fixed), true)
    }

    fn solve_with(&self, dockerfile: &str, created: Option<String>, fixed_time: bool) -> Solved {
        let plan = plan(dockerfile);
        let root = self.dir.path();
        let context =
            Context::from_dir(&root.join("context"), None).expect("open the build context");
        let contexts = BTreeMap::new();
        let names = NameIndex::new(&root.join("state"));
        let reporter = Recorder::default();
        let env = SolveEnv {
            stores: Stores {
                store: &self.store,
                names: &names,
                trees: LayerTrees {
                    store: &self.store,
                    snapshots: &self.snaps,
                    flat_dir: root.join("flat"),
                    owners: Owners::Ignore,
                },
            },
            inputs: Inputs {
                remote: &crate::remote::NoFetcher,
                context: &context,
                contexts: &contexts,
            },
            policy: LayerPolicy {
                settings: LayerSettings::default(),
                ownership: Ownership::Ignore,
                created,
                fixed_time,
            },
            cache: Some(&self.cache),
            run: RunSettings {
                sandbox: &self.sandbox,
                network: Network::None,
                secrets: BTreeMap::new(),
                ssh: BTreeMap::new(),
                state_dir: root.join("state"),
                backend: Some(Backend::Copy),
                entitlements: Default::default(),
                real_root: false,
                options: Default::default(),
            },
            reporter: &reporter,
            jobs: LayerJobs::new(Writes::Inline),
        };
        let result = solve(&plan, &env);
        assert_eq!(
            self.snaps.active(),
            0,
            "a prepared snapshot was left behind"
        );
        Solved {
            result,
            events: reporter.events(),
        }
    }
}

/// The plan of `dockerfile` for linux/amd64, with no base image known.
fn plan(dockerfile: &str) -> Plan {
    let ast = crate::dockerfile::parse(dockerfile).expect("parse the Dockerfile");
    let df = crate::dockerfile::instructions::parse_dockerfile(&ast).expect("typed instructions");
    let opts = PlanOptions::new(Platform::linux_amd64());
    graph::plan(&df, &opts, &UnknownImages).expect("plan the Dockerfile")
}

/// The files of `layer`'s blob in `store` (paths as in the tar).
fn layer_files(store: &MemStore, layer: &super::Layer) -> Vec<String> {
    use crate::store::BlobStore;
    let blob = store
        .open(layer.descriptor.digest())
        .expect("open a layer blob");
    let tar = flate2::read::GzDecoder::new(blob);
    let mut archive = tar::Archive::new(tar);
    let mut names: Vec<String> = archive
        .entries()
        .expect("read the layer")
        .map(|e| {
            let e = e.expect("a tar entry");
            e.path().expect("a path").to_string_lossy().into_owned()
        })
        .collect();
    names.sort();
    names
}

/// The `created` times of `result`'s history, in order.
fn times(result: &StageResult) -> Vec<Option<String>> {
    result
        .config
        .history
        .iter()
        .map(|h| h.created.clone())
        .collect()
}

/// Whether a history entry made no layer, in order.
fn empty_layers(result: &StageResult) -> Vec<bool> {
    result
        .config
        .history
        .iter()
        .map(|h| h.empty_layer)
        .collect()
}

/// A sandbox that plays `RUN write NAME TEXT` (writes /NAME), `RUN exit N` (exits N),
/// `RUN slow-exit N` (the same, 50 ms later), `RUN check NAME` (fails without /NAME) and anything else as success without effect.
fn scripted_sandbox() -> RecordingSandbox {
    RecordingSandbox::with_effect(|root: &Path, args: &[String]| {
        let words: Vec<&str> = args
            .last()
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default();
        match words.as_slice() {
            ["write", name, text] => {
                std::fs::write(root.join(name), text)?;
                Ok(0)
            }
            ["exit", code] => Ok(code.parse().unwrap_or(1)),
            ["check", name] => Ok(if root.join(name).exists() { 0 } else { 1 }),
            ["slow-exit", code] => {
                std::thread::sleep(std::time::Duration::from_millis(50));
                Ok(code.parse().unwrap_or(1))
            }
            _ => Ok(0),
        }
    })
}
