//! Deciding what a prune removes, without touching the disk: an [`Inventory`] and the
//! options in, a [`Selection`] out.
//!
//! What a prune may choose to remove (its *candidates*) are the cache records, the kept
//! downloads of ADD's URLs, the kept repositories of ADD's Git sources and, with `--all`,
//! also the RUN cache mounts and the snapshots and flattened trees of named images (one
//! *pin* per chain id). `until` keeps candidates used more recently than that;
//! `keep_storage` removes the least recently used first and stops as soon as what stays
//! fits. Everything else follows from reachability:
//!
//! - blobs stay when a named image or a kept record needs them (a named image's blobs
//!   always stay);
//! - snapshots stay when a kept record or a named image (not unpinned) names their chain
//!   id, together with all their ancestors — a parent never goes while a child stays; a
//!   snapshot whose ancestry is broken (a parent is missing) is useless and goes;
//! - flattened trees stay when their chain id is one of those;
//! - a record whose layer blob is gone is useless and goes.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, SystemTime};

use super::gc::PruneOptions;
use super::inventory::Inventory;

/// Longest parent chain followed before assuming a cycle.
const MAX_CHAIN: usize = 4096;

/// What a prune removes, and what stays.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Selection {
    /// Indexes into [`Inventory::records`].
    pub records: Vec<usize>,
    /// Snapshot names, children before parents.
    pub snapshots: Vec<String>,
    /// Flattened trees.
    pub trees: Vec<String>,
    /// Blobs.
    pub blobs: Vec<String>,
    /// Cache mounts.
    pub mounts: Vec<String>,
    /// Kept downloads.
    pub downloads: Vec<String>,
    /// Kept Git repositories.
    pub git_repos: Vec<String>,
    /// Bytes of what stays (scratch of dead builds is removed anyway and not counted).
    pub kept_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Candidate {
    Record(usize),
    Mount(String),
    Download(String),
    GitRepo(String),
    Pin(String),
}

/// What stays when the candidates in `removed` go.
#[derive(Debug, Default)]
struct Kept<'a> {
    records: BTreeSet<usize>,
    snapshots: BTreeSet<&'a str>,
    trees: BTreeSet<&'a str>,
    blobs: BTreeSet<&'a str>,
    mounts: BTreeSet<&'a str>,
    downloads: BTreeSet<&'a str>,
    git_repos: BTreeSet<&'a str>,
}

/// Whether `name` is a snapshot whose every ancestor exists (memoised in `memo`).
fn valid<'a>(inv: &'a Inventory, name: &'a str, memo: &mut HashMap<&'a str, bool>) -> bool {
    let mut path: Vec<&'a str> = Vec::new();
    let mut cur = Some(name);
    let result = loop {
        let Some(n) = cur else { break true };
        if let Some(v) = memo.get(n) {
            break *v;
        }
        if path.len() > MAX_CHAIN || path.contains(&n) {
            break false;
        }
        match inv.snapshots.get_key_value(n) {
            None => break false,
            Some((key, s)) => {
                path.push(key.as_str());
                cur = s.parent.as_deref();
            }
        }
    };
    for n in path {
        memo.insert(n, result);
    }
    result
}

fn dangling(inv: &Inventory, i: usize) -> bool {
    inv.records
        .get(i)
        .and_then(|r| r.blob.as_ref())
        .is_some_and(|b| !inv.blobs.contains_key(b))
}

fn keep<'a>(inv: &'a Inventory, all: bool, removed: &HashSet<&Candidate>) -> Kept<'a> {
    let mut kept = Kept::default();
    let mut protected: BTreeSet<&'a str> = BTreeSet::new();
    for (i, r) in inv.records.iter().enumerate() {
        if removed.contains(&Candidate::Record(i)) || dangling(inv, i) {
            continue;
        }
        kept.records.insert(i);
        if let Some(b) = &r.blob {
            if let Some((key, _)) = inv.blobs.get_key_value(b) {
                kept.blobs.insert(key.as_str());
            }
        }
        if let Some(c) = &r.chain {
            protected.insert(c.as_str());
        }
    }
    for chain in &inv.image_chains {
        if !all || !removed.contains(&Candidate::Pin(chain.clone())) {
            protected.insert(chain.as_str());
        }
    }
    for b in &inv.image_blobs {
        if let Some((key, _)) = inv.blobs.get_key_value(b) {
            kept.blobs.insert(key.as_str());
        }
    }
    let mut memo = HashMap::new();
    for p in &protected {
        if !valid(inv, p, &mut memo) {
            continue;
        }
        let mut cur = Some(*p);
        while let Some(n) = cur {
            let Some((key, s)) = inv.snapshots.get_key_value(n) else {
                break;
            };
            if !kept.snapshots.insert(key.as_str()) {
                break;
            }
            cur = s.parent.as_deref();
        }
    }
    for key in inv.trees.keys() {
        if protected.contains(key.as_str()) || kept.snapshots.contains(key.as_str()) {
            kept.trees.insert(key.as_str());
        }
    }
    for key in inv.mounts.keys() {
        if !removed.contains(&Candidate::Mount(key.clone())) {
            kept.mounts.insert(key.as_str());
        }
    }
    for key in inv.downloads.keys() {
        if !removed.contains(&Candidate::Download(key.clone())) {
            kept.downloads.insert(key.as_str());
        }
    }
    for key in inv.git_repos.keys() {
        if !removed.contains(&Candidate::GitRepo(key.clone())) {
            kept.git_repos.insert(key.as_str());
        }
    }
    kept
}

fn kept_bytes(inv: &Inventory, kept: &Kept<'_>) -> u64 {
    let records: u64 = kept
        .records
        .iter()
        .filter_map(|i| inv.records.get(*i))
        .map(|r| r.bytes)
        .sum();
    let blobs: u64 = kept.blobs.iter().filter_map(|b| inv.blobs.get(*b)).sum();
    let snaps: u64 = kept
        .snapshots
        .iter()
        .filter_map(|s| inv.snapshots.get(*s))
        .map(|s| s.bytes)
        .sum();
    let trees: u64 = kept
        .trees
        .iter()
        .filter_map(|t| inv.trees.get(*t))
        .map(|t| t.bytes)
        .sum();
    let mounts: u64 = kept
        .mounts
        .iter()
        .filter_map(|m| inv.mounts.get(*m))
        .map(|m| m.bytes)
        .sum();
    let downloads: u64 = kept
        .downloads
        .iter()
        .filter_map(|d| inv.downloads.get(*d))
        .map(|d| d.bytes)
        .sum();
    let git_repos: u64 = kept
        .git_repos
        .iter()
        .filter_map(|g| inv.git_repos.get(*g))
        .map(|g| g.bytes)
        .sum();
    records + blobs + snaps + trees + mounts + downloads + git_repos + inv.other
}

/// The candidates of a prune with their last use, least recently used first.
fn candidates(inv: &Inventory, all: bool) -> Vec<(SystemTime, Candidate)> {
    let mut out: Vec<(SystemTime, Candidate)> = Vec::new();
    for (i, r) in inv.records.iter().enumerate() {
        if !dangling(inv, i) {
            out.push((r.last_used, Candidate::Record(i)));
        }
    }
    for (name, d) in &inv.downloads {
        out.push((d.mtime, Candidate::Download(name.clone())));
    }
    for (name, g) in &inv.git_repos {
        out.push((g.mtime, Candidate::GitRepo(name.clone())));
    }
    if all {
        for (name, m) in &inv.mounts {
            out.push((m.mtime, Candidate::Mount(name.clone())));
        }
        for chain in &inv.image_chains {
            let snap = inv.snapshots.get(chain).map(|s| s.mtime);
            let tree = inv.trees.get(chain).map(|t| t.mtime);
            if let Some(used) = snap.max(tree) {
                out.push((used, Candidate::Pin(chain.clone())));
            }
        }
    }
    out.sort();
    out
}

/// Number of ancestors of snapshot `name` that exist (for removing children first).
fn depth(inv: &Inventory, name: &str) -> usize {
    let mut n = 0;
    let mut cur = inv.snapshots.get(name).and_then(|s| s.parent.as_deref());
    while let Some(p) = cur {
        let Some(s) = inv.snapshots.get(p) else { break };
        n += 1;
        if n > MAX_CHAIN {
            break;
        }
        cur = s.parent.as_deref();
    }
    n
}

/// Decide what a prune with `opts` removes from `inv` at time `now`.
pub(crate) fn select(inv: &Inventory, opts: &PruneOptions, now: SystemTime) -> Selection {
    let mut cands = candidates(inv, opts.all);
    if let Some(until) = opts.until {
        cands.retain(|(used, _)| now.duration_since(*used).unwrap_or(Duration::ZERO) >= until);
    }
    let removed_by =
        |k: usize| -> HashSet<&Candidate> { cands.iter().take(k).map(|c| &c.1).collect() };
    let count = match opts.keep_storage {
        None => cands.len(),
        Some(limit) => {
            // What stays only shrinks as more candidates go: the smallest count that fits.
            let (mut lo, mut hi) = (0, cands.len());
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if kept_bytes(inv, &keep(inv, opts.all, &removed_by(mid))) <= limit {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            lo
        }
    };
    let removed = removed_by(count);
    let kept = keep(inv, opts.all, &removed);
    let mut snapshots: Vec<&String> = inv
        .snapshots
        .keys()
        .filter(|k| !kept.snapshots.contains(k.as_str()))
        .collect();
    snapshots.sort_by_cached_key(|k| (std::cmp::Reverse(depth(inv, k)), (*k).clone()));
    Selection {
        records: (0..inv.records.len())
            .filter(|i| !kept.records.contains(i))
            .collect(),
        snapshots: snapshots.into_iter().cloned().collect(),
        trees: inv
            .trees
            .keys()
            .filter(|k| !kept.trees.contains(k.as_str()))
            .cloned()
            .collect(),
        blobs: inv
            .blobs
            .keys()
            .filter(|k| !kept.blobs.contains(k.as_str()))
            .cloned()
            .collect(),
        mounts: inv
            .mounts
            .keys()
            .filter(|k| !kept.mounts.contains(k.as_str()))
            .cloned()
            .collect(),
        downloads: inv
            .downloads
            .keys()
            .filter(|k| !kept.downloads.contains(k.as_str()))
            .cloned()
            .collect(),
        git_repos: inv
            .git_repos
            .keys()
            .filter(|k| !kept.git_repos.contains(k.as_str()))
            .cloned()
            .collect(),
        kept_bytes: kept_bytes(inv, &kept),
    }
}

#[cfg(test)]
#[path = "gc_plan_tests.rs"]
mod tests;
