//! The cache as one build uses it: the records of the store, which stages may reuse them
//! (`--no-cache`, `--no-cache-filter`), the stat cache of the main context, and the
//! build's miss explanations.

use std::path::Path;

use oci_spec::image::Digest;

use super::exchange::CacheSource;
use super::explain::Explainer;
use super::mount_cache::{MountSource, UsedMount};
use super::record::CacheStore;
use super::stat::StatCache;

/// Which stages skip cache lookups (their steps run and write fresh records).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoCache {
    /// `--no-cache`: every stage.
    pub all: bool,
    /// `--no-cache-filter`: stages by name (any case) or Dockerfile index.
    pub stages: Vec<String>,
}

impl NoCache {
    /// Why the stage `index` (named `name`) may not reuse results, if it may not: the
    /// flag that says so, as the user wrote it.
    pub fn skips(&self, index: usize, name: Option<&str>) -> Option<String> {
        if self.all {
            return Some("--no-cache".into());
        }
        self.stages
            .iter()
            .find(|f| {
                let f = f.trim();
                name.is_some_and(|n| n.eq_ignore_ascii_case(f))
                    || f.parse::<usize>().ok() == Some(index)
            })
            .map(|f| format!("--no-cache-filter {f}"))
    }
}

/// Everything the solver needs of the cache for one build.
#[derive(Debug)]
pub struct BuildCache {
    /// The records of the store.
    pub records: CacheStore,
    /// Stages that skip lookups.
    pub no_cache: NoCache,
    /// Why steps missed, compared with the previous build of the same Dockerfile.
    pub explain: Explainer,
    /// File digests of the main build context by stat data (a directory context only).
    pub stat: Option<StatCache>,
    /// `--cache-from` sources, tried in order on a miss.
    pub import: Vec<Box<dyn CacheSource>>,
    /// The keys of the steps this build made or reused, with the Dockerfile index of
    /// their stage, for `--cache-to`.
    pub used: std::sync::Mutex<Vec<(Digest, usize)>>,
    /// `--cache-from` sources of cache-mount contents, tried in order for a cache mount
    /// the store does not have.
    pub mount_import: Vec<Box<dyn MountSource>>,
    /// The cache mounts this build used, for `--cache-to ...,cache-mounts=`.
    pub mounts: std::sync::Mutex<Vec<UsedMount>>,
    /// Whether a `--cache-to` exports cache mounts (so those of cached steps are noted).
    pub export_mounts: bool,
}

impl BuildCache {
    /// Note that this build made or reused the step `key` of the stage `stage`
    /// (Dockerfile index).
    pub fn use_key(&self, key: &Digest, stage: usize) {
        let mut used = crate::domain::lock(&self.used);
        if !used.iter().any(|(k, s)| k == key && *s == stage) {
            used.push((key.clone(), stage));
        }
    }

    /// The keys noted by [`BuildCache::use_key`], in the order first used.
    pub fn used_keys(&self) -> Vec<Digest> {
        let mut keys: Vec<Digest> = Vec::new();
        for (key, _) in crate::domain::lock(&self.used).iter() {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
        keys
    }

    /// Note that this build used the cache mount `mount`.
    pub fn use_mount(&self, mount: UsedMount) {
        let mut used = crate::domain::lock(&self.mounts);
        if !used.contains(&mount) {
            used.push(mount);
        }
    }

    /// The cache mounts noted by [`BuildCache::use_mount`], in the order first used.
    pub fn used_mounts(&self) -> Vec<UsedMount> {
        crate::domain::lock(&self.mounts).clone()
    }

    /// Fill the empty directory `dest` with the cache mount `name` from the first
    /// `--cache-from` that has it; whether one did.
    pub fn restore_mount(&self, name: &str, dest: &Path) -> bool {
        self.mount_import.iter().any(|s| s.restore(name, dest))
    }

    /// The keys of the stage `stage` noted by [`BuildCache::use_key`].
    pub fn stage_keys(&self, stage: usize) -> Vec<Digest> {
        crate::domain::lock(&self.used)
            .iter()
            .filter(|(_, s)| *s == stage)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_cache_filters_match_names_and_indexes() {
        let none = NoCache::default();
        assert_eq!(none.skips(0, Some("build")), None);
        let all = NoCache {
            all: true,
            stages: Vec::new(),
        };
        assert_eq!(all.skips(3, None).as_deref(), Some("--no-cache"));
        let some = NoCache {
            all: false,
            stages: vec!["Build".into(), "2".into()],
        };
        assert_eq!(
            some.skips(0, Some("build")).as_deref(),
            Some("--no-cache-filter Build")
        );
        assert_eq!(some.skips(2, None).as_deref(), Some("--no-cache-filter 2"));
        assert_eq!(some.skips(1, Some("final")), None);
    }
}
