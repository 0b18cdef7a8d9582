//! The build cache a build opens: the store's records with the `--no-cache` policy, the
//! stat cache of a directory context (loaded in the background while the build reads its
//! Dockerfile), the explanations of this context, Dockerfile, target and platform, the
//! `--cache-from` sources, and saving what the build learned for the next one.

use crate::cache::exchange::CacheSpec;
use crate::cache::stat::StatCache;
use crate::cache::{BuildCache, CacheStore, Explainer, NoCache};
use crate::error::Result;
use crate::progress::Reporter;

use super::BuildRequest;

/// The build cache of `req`: the store's records, the `--no-cache` flags, the stat cache
/// of a directory context (`stat`), the explanations of this context, Dockerfile,
/// target and platform(s) (`platform`: `linux/amd64`, or a comma-separated list), and the `--cache-from` sources (registry ones fetched now).
pub(super) fn open_cache(
    req: &BuildRequest,
    platform: &str,
    stat: Option<StatCache>,
    reporter: &dyn Reporter,
) -> Result<BuildCache> {
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
        platform,
    ];
    let explain = Explainer::new(Explainer::path_for(records.dir(), &identity));
    let store = crate::store::DirStore::new(&req.root)?;
    let (import, mount_import) =
        super::cache_registry::sources(&req.cache_from, &store, &req.policy.registry, reporter)?;
    Ok(BuildCache {
        records,
        no_cache: NoCache {
            all: req.no_cache,
            stages: req.no_cache_filter.clone(),
        },
        explain,
        stat,
        import,
        used: Default::default(),
        mount_import,
        mounts: Default::default(),
        export_mounts: export_mounts(&req.cache_to),
    })
}

/// Whether a `--cache-to` of `specs` exports cache mounts.
fn export_mounts(specs: &[CacheSpec]) -> bool {
    specs.iter().any(|s| match s {
        CacheSpec::Local(l) => l.mounts.is_some(),
        CacheSpec::Registry(r) => r.mounts.is_some(),
        CacheSpec::Inline => false,
    })
}

/// Start reading the stat cache of a directory context (20,000 files make a few MB) while
/// the build reads its Dockerfile, plans and imports base images.
pub(super) fn load_stat_cache(req: &BuildRequest) -> Option<std::thread::JoinHandle<StatCache>> {
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
pub(super) fn save_cache(cache: &BuildCache) {
    if let Some(stat) = &cache.stat {
        let _ = stat.save();
    }
    let _ = cache.explain.save();
}
