//! Submodules of a checkout, what BuildKit's `git submodule update --init --recursive
//! --depth=1` gives: each gitlink of the commit, fetched from the URL `.gitmodules` names
//! (relative URLs against the superproject's remote) into a bare repository kept for that
//! remote, and its commit's tree written in place, recursively.
//!
//! The repository's `.gitmodules` is hostile input: it is read as a plain file (no
//! includes), its URLs must be remotes of a Git source's protocols (never a local path or
//! `file://`), its paths must be gitlinks of the commit, and nesting is bounded.

use std::path::Path;

use super::checkout::{failed, BareRepo};
use super::cli::{arg, GitCli};
use super::resolve::{is_commit_sha, Resolved};
use super::url::{redact, submodule_url, GitUrl};
use super::GitError;
use crate::remote::RemoteSettings;

/// How deep submodules may nest.
const MAX_DEPTH: usize = 8;

/// One level of submodules: the superproject's remote, commit and checkout.
pub struct Level<'a> {
    /// The superproject.
    pub url: &'a GitUrl,
    /// Its command.
    pub cli: &'a GitCli,
    /// Its commit's gitlinks (`(path, commit)`), read from its bare repository.
    pub gitlinks: Vec<(String, String)>,
    /// Its checkout.
    pub wt: &'a Path,
}

/// Checks out the submodules of `level` (and theirs), keeping their repositories under
/// `root`.
pub fn update(
    settings: &RemoteSettings,
    root: &Path,
    level: Level<'_>,
    depth: usize,
) -> Result<(), GitError> {
    if level.gitlinks.is_empty() {
        return Ok(());
    }
    let bad = |reason: String| GitError::BadUrl {
        url: redact(&level.url.remote),
        reason,
    };
    if depth >= MAX_DEPTH {
        return Err(bad(format!("submodules nest deeper than {MAX_DEPTH}")));
    }
    let modules = modules(level.cli, level.url, level.wt)?;
    for (path, commit) in &level.gitlinks {
        let raw = modules
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, u)| u.as_str())
            .ok_or_else(|| {
                bad(format!(
                    "no url found for submodule path {path:?} in .gitmodules"
                ))
            })?;
        let sub =
            submodule_url(level.url, raw).map_err(|e| bad(format!("submodule {path:?}: {e}")))?;
        if !is_commit_sha(commit) {
            return Err(bad(format!(
                "submodule {path:?}: invalid commit {commit:?}"
            )));
        }
        let dir = checkout_dir(level.wt, path)
            .ok_or_else(|| bad(format!("invalid submodule path {path:?}")))?;
        let cli = GitCli::new(settings, &sub);
        let repo = BareRepo::open(&cli, root, &sub)?;
        let r = Resolved {
            commit: commit.clone(),
            object: commit.clone(),
            full_ref: None,
        };
        repo.ensure(&cli, &sub, &r)?;
        repo.checkout(&cli, &sub, commit, &dir)?;
        let gitlinks = repo.gitlinks(&cli, &sub, commit)?;
        drop(repo);
        let next = Level {
            url: &sub,
            cli: &cli,
            gitlinks,
            wt: &dir,
        };
        update(settings, root, next, depth + 1)?;
    }
    Ok(())
}

/// `(path, url)` of each submodule `wt/.gitmodules` names.
fn modules(cli: &GitCli, url: &GitUrl, wt: &Path) -> Result<Vec<(String, String)>, GitError> {
    let file = wt.join(".gitmodules");
    if !file.is_file() {
        return Ok(Vec::new());
    }
    let get = |suffix: &str| -> Result<Vec<(String, String)>, GitError> {
        let pattern = format!("^submodule\\..*\\.{suffix}$");
        let args = [
            "config",
            "--no-includes",
            "-z",
            "--file",
            &arg(&file),
            "--get-regexp",
            &pattern,
        ];
        let out = match cli.run(Some(wt), &[], &args) {
            Ok(out) => out,
            // No match at all is exit status 1 with nothing said.
            Err(super::cli::RunError::Failed(e)) if e.is_empty() => String::new(),
            Err(e) => return Err(failed(url, "read .gitmodules of", e)),
        };
        Ok(out
            .split('\0')
            .filter_map(|entry| {
                let (key, value) = entry.split_once('\n')?;
                let name = key
                    .strip_prefix("submodule.")?
                    .strip_suffix(&format!(".{suffix}"))?;
                Some((name.to_string(), value.to_string()))
            })
            .collect())
    };
    let urls = get("url")?;
    Ok(get("path")?
        .into_iter()
        .filter_map(|(name, path)| {
            let url = urls.iter().find(|(n, _)| *n == name)?.1.clone();
            Some((path, url))
        })
        .collect())
}

/// The directory of the gitlink `path` in `wt` (git leaves it empty, or missing), made when
/// missing; `None` for a path that leaves the checkout or goes through a symlink.
fn checkout_dir(wt: &Path, path: &str) -> Option<std::path::PathBuf> {
    let mut dir = wt.to_path_buf();
    for part in path.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return None;
        }
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return None,
            Err(_) => std::fs::create_dir(&dir).ok()?,
        }
    }
    let empty = std::fs::read_dir(&dir).ok()?.next().is_none();
    empty.then_some(dir)
}
