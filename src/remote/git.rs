//! Git sources of ADD: a ref resolved to its commit (the cache key), the repository kept
//! under the store and checked out through the `git` command.
//!
//! [`GitSources::key`] asks the remote what the ref names now (`git ls-remote`; nothing for
//! a full commit), so an unchanged ref is a cache hit without a clone. [`GitSources::fetch`]
//! makes the commit present in the bare repository kept per remote ([`checkout`]) and checks
//! it out into a directory of the build's own temporary directory, which is removed when the
//! [`GitSources`] (the build) ends. What a commit resolves to is remembered for the build,
//! so the key and the checkout of one source agree even if the remote moves in between.

mod checkout;
mod cli;
mod resolve;
mod submodule;
mod url;
mod watchdog;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use self::checkout::{failed, normalize_modes, scrub_url, set_mtimes, BareRepo};
use self::cli::GitCli;
use self::resolve::{checksum_matches, is_commit_sha, is_hex, Resolved};
use self::url::{redact, GitUrl};
use super::{FetchError, Fetched, RemoteRequest, RemoteSettings};

/// Why a Git source could not be resolved or checked out.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The source is not a Git URL BuildKit accepts.
    #[error("invalid Git URL {url}: {reason}")]
    BadUrl {
        /// The source (credentials redacted).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `--checksum` is not a commit hash.
    #[error("invalid checksum {checksum} for Git URL {url}, expected hex commit hash")]
    BadChecksum {
        /// The repository.
        url: String,
        /// The value given.
        checksum: String,
    },
    /// The resolved commit does not match `--checksum`.
    #[error("checksum mismatch for {url}: expected checksum to match {expected}, got {actual}")]
    ChecksumMismatch {
        /// The repository.
        url: String,
        /// The `--checksum` value.
        expected: String,
        /// The commit (and annotated tag) the ref resolves to.
        actual: String,
    },
    /// The remote has no such ref.
    #[error("repository {url} does not contain ref {reference}")]
    UnknownRef {
        /// The repository.
        url: String,
        /// The ref asked for.
        reference: String,
    },
    /// A `git` command failed (an unreachable host, a refused credential...).
    #[error("cannot {action} Git repository {url}: {stderr}")]
    Command {
        /// The repository.
        url: String,
        /// What was being done (`resolve`, `fetch`, `checkout`).
        action: &'static str,
        /// What git said.
        stderr: String,
    },
    /// A `git://` or ssh remote made a `git` command wait without progress for the
    /// timeout.
    #[error(
        "cannot {action} Git repository {url}: no progress for {}s (BUILDER_REGISTRY_TIMEOUT \
         sets the wait); gave up{}",
        waited.as_secs(),
        if stderr.is_empty() { String::new() } else { format!(": {stderr}") }
    )]
    Stalled {
        /// The repository.
        url: String,
        /// What was being done (`resolve`, `fetch`).
        action: &'static str,
        /// How long it waited.
        waited: std::time::Duration,
        /// What git had said by then.
        stderr: String,
    },
    /// An SSH remote without the agent of `--ssh default`: BuildKit fetches SSH remotes
    /// only with the client's forwarded agent, public or private.
    #[error(
        "cannot resolve Git repository {url}: no SSH key \"default\" forwarded from the \
         client: pass --ssh default[=SOCKET|KEY]"
    )]
    NoSshAgent {
        /// The repository.
        url: String,
    },
    /// `git` is not installed.
    #[error("cannot run git (Git sources of ADD need the git command): {source}")]
    Spawn {
        /// Why it could not start.
        #[source]
        source: std::io::Error,
    },
    /// The subdirectory is missing, not a directory, or reached through a symlink.
    #[error("invalid subdir {subdir} of {url}: {reason}")]
    Subdir {
        /// The repository.
        url: String,
        /// The subdirectory.
        subdir: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A local file operation failed.
    #[error("cannot {what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl GitError {
    fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> GitError {
        let path = path.to_path_buf();
        move |source| GitError::Io { what, path, source }
    }
}

/// The Git sources of a build.
#[derive(Debug)]
pub struct GitSources {
    settings: RemoteSettings,
    state: Mutex<State>,
}

/// What a build has resolved and checked out so far.
#[derive(Debug, Default)]
struct State {
    /// `remote#ref` -> what it resolved to in this build.
    resolved: HashMap<String, Resolved>,
    /// The build's checkouts, removed when it ends, and the lock that tells a later
    /// build this one is alive.
    tmp: Option<(tempfile::TempDir, std::fs::File)>,
    /// Checkouts made so far.
    made: u32,
}

/// One request, parsed and checked.
struct Source {
    url: GitUrl,
    checksum: Option<String>,
    keep_git_dir: bool,
    cli: GitCli,
}

impl GitSources {
    /// The Git side of a build's fetcher.
    pub fn new(settings: &RemoteSettings) -> GitSources {
        GitSources {
            settings: settings.clone(),
            state: Mutex::new(State::default()),
        }
    }

    /// See [`super::Fetcher::key`]: `<commit>[.git#<ref>][:<subdir>][(mtime=commit)]`, as
    /// BuildKit's Git cache key (the annotated tag rather than its commit with `.git`).
    pub fn key(&self, req: &RemoteRequest<'_>) -> Result<String, FetchError> {
        let src = self.source(req)?;
        let r = self.resolve(&src)?;
        let mut key = if src.keep_git_dir {
            let named = r.full_ref.as_deref().unwrap_or(&r.object);
            format!("{}.git#{named}", r.object)
        } else {
            r.commit.clone()
        };
        if !src.url.subdir.is_empty() {
            key.push(':');
            key.push_str(&src.url.subdir);
        }
        if src.url.mtime_commit {
            key.push_str("(mtime=commit)");
        }
        if src.url.submodules == Some(false) {
            key.push_str("(skip-submodules)");
        }
        Ok(format!("git:{key}"))
    }

    /// See [`super::Fetcher::fetch`].
    pub fn fetch(&self, req: &RemoteRequest<'_>) -> Result<Fetched, FetchError> {
        let src = self.source(req)?;
        let r = self.resolve(&src)?;
        let wt = self.new_checkout_dir()?;
        let repo = BareRepo::open(&src.cli, &self.settings.dir.join("git"), &src.url)?;
        repo.ensure(&src.cli, &src.url, &r)?;
        let keep = src.keep_git_dir && src.url.subdir.is_empty();
        if keep {
            repo.clone_into(&src.cli, &src.url, &r, &wt)?;
        } else {
            repo.checkout(&src.cli, &src.url, &r.commit, &wt)?;
        }
        let mtime = match src.url.mtime_commit {
            true => Some(repo.commit_time(&src.cli, &src.url, &r.commit)?),
            false => None,
        };
        let gitlinks = match src.url.submodules {
            Some(false) => Vec::new(),
            _ => repo.gitlinks(&src.cli, &src.url, &r.commit)?,
        };
        // Unlocked first: a submodule may name the same remote.
        drop(repo);
        let level = submodule::Level {
            url: &src.url,
            cli: &src.cli,
            gitlinks,
            wt: &wt,
        };
        submodule::update(&self.settings, &self.settings.dir.join("git"), level, 0)?;
        let git_dir = wt.join(".git");
        normalize_modes(&wt, keep.then_some(git_dir.as_path()))?;
        let path = select_subdir(&src.url, &wt)?;
        if let Some(secs) = mtime {
            set_mtimes(&path, secs)?;
        }
        Ok(Fetched::Dir { path })
    }

    /// Parses and checks `req`.
    fn source(&self, req: &RemoteRequest<'_>) -> Result<Source, GitError> {
        let bad = |reason: String| GitError::BadUrl {
            url: redact(req.url),
            reason,
        };
        let url = GitUrl::parse(req.url).map_err(bad)?;
        let checksum = match (req.checksum, &url.checksum) {
            (Some(a), Some(b)) if a != b => {
                return Err(bad(format!("checksum mismatch {a:?} != {b:?}")));
            }
            (Some(a), _) => Some(a.to_string()),
            (None, b) => b.clone(),
        };
        if let Some(c) = checksum.as_deref().filter(|c| !is_hex(c)) {
            return Err(GitError::BadChecksum {
                url: redact(&url.remote),
                checksum: c.to_string(),
            });
        }
        let keep_git_dir = match (req.keep_git_dir, url.keep_git_dir) {
            (true, Some(false)) => {
                return Err(bad("inconsistent keep-git-dir configuration".into()));
            }
            (flag, query) => flag || query == Some(true),
        };
        if url.scheme == "ssh" && self.settings.ssh_auth_sock.is_none() {
            return Err(GitError::NoSshAgent {
                url: redact(&url.remote),
            });
        }
        let cli = GitCli::new(&self.settings, &url);
        Ok(Source {
            url,
            checksum,
            keep_git_dir,
            cli,
        })
    }

    /// What `src`'s ref names, once per build, `--checksum` verified.
    fn resolve(&self, src: &Source) -> Result<Resolved, GitError> {
        let memo = format!("{}#{}", src.url.remote, src.url.reference);
        let known = self.lock().resolved.get(&memo).cloned();
        let r = match known {
            Some(r) => r,
            None => {
                let r = ls_remote(src)?;
                self.lock().resolved.insert(memo, r.clone());
                r
            }
        };
        if let Some(c) = &src.checksum {
            if !checksum_matches(&r, c) {
                let mut actual = r.commit.clone();
                if r.object != r.commit {
                    actual = format!("{actual} or {}", r.object);
                }
                return Err(GitError::ChecksumMismatch {
                    url: redact(&src.url.remote),
                    expected: c.clone(),
                    actual,
                });
            }
        }
        Ok(r)
    }

    /// A new empty directory in the build's temporary directory.
    fn new_checkout_dir(&self) -> Result<PathBuf, GitError> {
        let root = self.settings.dir.join("git").join("tmp");
        let mut state = self.lock();
        if state.tmp.is_none() {
            state.tmp = Some(build_tmp(&root)?);
        }
        state.made += 1;
        let base = state.tmp.as_ref().map(|(t, _)| t.path().to_path_buf());
        let dir = base
            .unwrap_or(root)
            .join(format!("checkout-{}", state.made));
        std::fs::create_dir(&dir).map_err(GitError::io("create", &dir))?;
        Ok(dir)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A build's temporary directory under `root`, locked while the build lives; first the
/// directories of builds that were killed (unlocked, and not just made) are removed.
fn build_tmp(root: &Path) -> Result<(tempfile::TempDir, std::fs::File), GitError> {
    std::fs::create_dir_all(root).map_err(GitError::io("create", root))?;
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let path = entry.path();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() > 60));
        let Ok(dir) = std::fs::File::open(&path) else {
            continue;
        };
        if old && fs4::FileExt::try_lock(&dir).is_ok() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix("build-")
        .tempdir_in(root)
        .map_err(GitError::io("create", root))?;
    let lock = std::fs::File::open(tmp.path()).map_err(GitError::io("open", tmp.path()))?;
    fs4::FileExt::lock(&lock).map_err(GitError::io("lock", tmp.path()))?;
    Ok((tmp, lock))
}

/// Resolves `src`'s ref against the remote (a full commit is taken as it is).
fn ls_remote(src: &Source) -> Result<Resolved, GitError> {
    let url = &src.url;
    if is_commit_sha(&url.reference) {
        return Ok(Resolved {
            commit: url.reference.clone(),
            object: url.reference.clone(),
            full_ref: None,
        });
    }
    let run = |args: &[&str]| {
        src.cli
            .run_remote(None, args)
            .map_err(|e| failed(url, "resolve", e))
    };
    let unknown = |reference: &str| GitError::UnknownRef {
        url: redact(&url.remote),
        reference: scrub_url(url, reference),
    };
    let mut reference = url.reference.clone();
    if reference.is_empty() {
        let out = run(&["ls-remote", "--symref", "--", &url.remote, "HEAD"])?;
        match resolve::default_branch(&out) {
            Some(branch) => reference = branch,
            None => {
                let commit = resolve::head_commit(&out).ok_or_else(|| unknown("HEAD"))?;
                return Ok(Resolved {
                    object: commit.clone(),
                    commit,
                    full_ref: None,
                });
            }
        }
    }
    let peeled = format!("{reference}^{{}}");
    let out = run(&["ls-remote", "--", &url.remote, &reference, &peeled])?;
    resolve::from_ls_remote(&out, &reference).ok_or_else(|| unknown(&reference))
}

/// The directory of `url.subdir` in the checkout `wt`: every step a real directory, never
/// a symlink (which could lead out of the checkout).
fn select_subdir(url: &GitUrl, wt: &Path) -> Result<PathBuf, GitError> {
    let mut path = wt.to_path_buf();
    for part in url.subdir.split('/').filter(|p| !p.is_empty()) {
        path.push(part);
        let bad = |reason: &str| GitError::Subdir {
            url: redact(&url.remote),
            subdir: url.subdir.clone(),
            reason: reason.to_string(),
        };
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => return Err(bad("it is a symlink")),
            Ok(m) if !m.is_dir() => return Err(bad("not a directory")),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(bad("no such directory in the repository"))
            }
            Err(e) => return Err(GitError::io("stat", &path)(e)),
        }
    }
    Ok(path)
}
