//! A resolved commit on local disk: the bare repository kept per remote under
//! `<remote dir>/git/<sha256 of the URL>` (fetched shallow, only the commit needed, under a
//! file lock `<sha256 of the URL>.lock` whose mtime dates the last use, for `builder
//! prune`), and a fresh checkout of it in a build's temporary directory.
//!
//! What the checkout holds is what BuildKit's Git source gives: files 0644, or 0755 when
//! executable in the repository, directories 0755, symlinks as symlinks. Without
//! `--keep-git-dir` there is no `.git`; with it (and no subdirectory) `.git` is a shallow
//! repository with the commit checked out on a detached `HEAD`, the ref (`refs/heads/<b>`,
//! `refs/tags/<t>`) pointing where it pointed, and `origin` set to the URL with its
//! credentials redacted.
//!
//! Mtimes are BuildKit's default (`mtime=checkout`): what `git` gives the files when it
//! writes them, the time of the checkout; `?mtime=commit` sets every entry to the commit's
//! committer time instead, as BuildKit does.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::cli::{arg, file_url, GitCli, RunError};
use super::resolve::Resolved;
use super::url::{redact, GitUrl};
use super::GitError;

/// The ref a fetch writes.
const FETCHED: &str = "refs/builder/fetch";

/// Where the ref `object` is kept alive in a bare repository.
fn keep_ref(object: &str) -> String {
    format!("refs/builder/keep/{object}")
}

/// The bare repository of one remote, locked (a file lock beside it) while this value
/// lives, so that builds running at once take turns.
pub struct BareRepo {
    /// The repository (`--git-dir`).
    pub dir: PathBuf,
    _lock: fs::File,
}

impl BareRepo {
    /// Opens (creating it if needed) and locks the repository of `url` under `root`.
    pub fn open(cli: &GitCli, root: &Path, url: &GitUrl) -> Result<BareRepo, GitError> {
        fs::create_dir_all(root).map_err(GitError::io("create", root))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, redact(&url.remote).as_bytes());
        let dir = root.join(hex::encode(digest.as_ref()));
        let lock = lock_repo(&dir.with_extension("lock"))?;
        if !dir.join("HEAD").exists() {
            let tmp = tempfile::Builder::new()
                .prefix(".init-")
                .tempdir_in(root)
                .map_err(GitError::io("create", root))?;
            run(
                cli,
                url,
                "init",
                None,
                &["init", "-q", "--bare", &arg(tmp.path())],
            )?;
            let made = tmp.keep();
            fs::rename(&made, &dir).map_err(GitError::io("rename", &dir))?;
        }
        // Whoever held the lock before may have been killed in the middle of a git command.
        clear_stale_locks(&dir);
        Ok(BareRepo { dir, _lock: lock })
    }

    /// `git --git-dir=REPO ARGS...`.
    fn git(
        &self,
        cli: &GitCli,
        url: &GitUrl,
        action: &'static str,
        args: &[&str],
    ) -> Result<String, GitError> {
        let all = self.with_git_dir(args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        run(cli, url, action, None, &all)
    }

    /// `--git-dir=REPO ARGS...`.
    fn with_git_dir(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["--git-dir".to_string(), arg(&self.dir)];
        all.extend(args.iter().map(|a| a.to_string()));
        all
    }

    fn has(&self, cli: &GitCli, url: &GitUrl, object: &str) -> bool {
        self.git(
            cli,
            url,
            "inspect",
            &["cat-file", "-e", &format!("{object}^{{object}}")],
        )
        .is_ok()
    }

    /// Makes `r.object` (and the commit it names) present, fetching only it when missing.
    pub fn ensure(&self, cli: &GitCli, url: &GitUrl, r: &Resolved) -> Result<(), GitError> {
        if !self.has(cli, url, &r.object) {
            let want = r.full_ref.as_deref().unwrap_or(&r.object);
            let fetched = self.fetch(cli, url, want);
            let got = fetched.and_then(|()| self.git(cli, url, "fetch", &["rev-parse", FETCHED]));
            // The ref may have moved since it was resolved: fetch the object itself.
            if got.as_ref().ok().map(|s| s.trim()) != Some(r.object.as_str()) {
                self.fetch(cli, url, &r.object)
                    .map_err(|e| match (e, &r.full_ref) {
                        (GitError::Command { .. }, None) => GitError::UnknownRef {
                            url: redact(&url.remote),
                            reference: r.object.clone(),
                        },
                        (e, _) => e,
                    })?;
            }
        }
        self.git(
            cli,
            url,
            "fetch",
            &["update-ref", &keep_ref(&r.object), &r.object],
        )?;
        Ok(())
    }

    /// Fetches `what` (a ref or an object name) into `refs/builder/fetch`, shallow. Nothing
    /// names the remote in the repository afterwards (no `FETCH_HEAD`, no remote config).
    fn fetch(&self, cli: &GitCli, url: &GitUrl, what: &str) -> Result<(), GitError> {
        let spec = format!("+{what}:{FETCHED}");
        let args = [
            "fetch",
            "-q",
            "--depth=1",
            "--no-tags",
            "--no-write-fetch-head",
            "--",
            &url.remote,
            &spec,
        ];
        let all = self.with_git_dir(&args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        // It talks to the remote: a stalled one is given up (see `cli`).
        cli.run_remote(None, &all)
            .map(|_| ())
            .map_err(|e| failed(url, "fetch", e))
    }

    /// The submodules of `commit`: `(path, commit)` of each gitlink in its tree.
    pub fn gitlinks(
        &self,
        cli: &GitCli,
        url: &GitUrl,
        commit: &str,
    ) -> Result<Vec<(String, String)>, GitError> {
        let out = self.git(cli, url, "inspect", &["ls-tree", "-r", "-z", commit])?;
        Ok(out
            .split('\0')
            .filter_map(|entry| {
                let (meta, path) = entry.split_once('\t')?;
                let mut f = meta.split(' ');
                let (mode, kind, sha) = (f.next()?, f.next()?, f.next()?);
                (mode == "160000" && kind == "commit").then(|| (path.to_string(), sha.to_string()))
            })
            .collect())
    }

    /// The committer time of `commit`, in seconds since the epoch.
    pub fn commit_time(&self, cli: &GitCli, url: &GitUrl, commit: &str) -> Result<i64, GitError> {
        let out = self.git(cli, url, "inspect", &["log", "-1", "--format=%ct", commit])?;
        out.trim().parse().map_err(|_| GitError::Command {
            url: redact(&url.remote),
            action: "inspect",
            stderr: format!("unexpected commit time {:?}", out.trim()),
        })
    }

    /// The tree of `commit` written into the empty directory `wt` (no `.git`), through an
    /// index of its own in the repository (which the lock keeps to this checkout).
    pub fn checkout(
        &self,
        cli: &GitCli,
        url: &GitUrl,
        commit: &str,
        wt: &Path,
    ) -> Result<(), GitError> {
        let index = self.dir.join("builder-index");
        let env = [("GIT_INDEX_FILE", index.as_path())];
        let base = [
            "--git-dir".to_string(),
            arg(&self.dir),
            "--work-tree".into(),
            arg(wt),
        ];
        let with = |rest: &[&str]| -> Vec<String> {
            base.iter()
                .cloned()
                .chain(rest.iter().map(|s| s.to_string()))
                .collect()
        };
        for args in [
            with(&["read-tree", commit]),
            with(&["checkout-index", "-a", "-f"]),
        ] {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cli.run(Some(wt), &env, &args)
                .map_err(|e| failed(url, "checkout", e))?;
        }
        let _ = fs::remove_file(&index);
        Ok(())
    }

    /// A repository in `wt` holding `r` the way BuildKit's `--keep-git-dir` leaves it.
    pub fn clone_into(
        &self,
        cli: &GitCli,
        url: &GitUrl,
        r: &Resolved,
        wt: &Path,
    ) -> Result<(), GitError> {
        let git = |action, args: &[&str]| run(cli, url, action, Some(wt), args).map(|_| ());
        git("checkout", &["init", "-q"])?;
        git(
            "checkout",
            &["remote", "add", "origin", &file_url(&self.dir)],
        )?;
        let pull = match &r.full_ref {
            Some(full) => format!("+{}:{full}", keep_ref(&r.object)),
            None => keep_ref(&r.object),
        };
        git(
            "checkout",
            &[
                "fetch",
                "-q",
                "-u",
                "--depth=1",
                "--no-tags",
                "--",
                "origin",
                &pull,
            ],
        )?;
        git("checkout", &["checkout", "-q", "--detach", &r.commit])?;
        git(
            "checkout",
            &["remote", "set-url", "origin", &redact(&url.remote)],
        )?;
        git("checkout", &["reflog", "expire", "--all", "--expire=now"])?;
        let fetch_head = wt.join(".git/FETCH_HEAD");
        match fs::remove_file(&fetch_head) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(GitError::io("remove", &fetch_head)(e))
            }
            _ => Ok(()),
        }
    }
}

/// Waits for and holds the lock file `path` of a repository, and dates the repository's
/// last use by it (`builder prune` removes the least recently used first). A prune removes
/// a repository with its lock held and then unlinks the lock file: a lock taken on a file
/// that is no longer at `path` is taken again on the new one.
fn lock_repo(path: &Path) -> Result<fs::File, GitError> {
    use std::os::unix::fs::MetadataExt;
    loop {
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(GitError::io("open", path))?;
        fs4::FileExt::lock(&lock).map_err(GitError::io("lock", path))?;
        let held = lock.metadata().map_err(GitError::io("stat", path))?;
        let current = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(GitError::io("stat", path)(e)),
        };
        if (held.dev(), held.ino()) == (current.dev(), current.ino()) {
            // Best effort: a repository that cannot be dated is only pruned earlier.
            let _ = lock.set_modified(std::time::SystemTime::now());
            return Ok(lock);
        }
    }
}

/// Removes git's `*.lock` files in the repository `dir` (its objects aside): with our own
/// lock held, any of them is left over from a git that was killed.
fn clear_stale_locks(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() && entry.file_name() != "objects" {
            clear_stale_locks(&path);
        } else if meta.is_file() && entry.file_name().to_string_lossy().ends_with(".lock") {
            let _ = fs::remove_file(&path);
        }
    }
}

/// `git ARGS...` for `url`, its failure named by `action`.
fn run(
    cli: &GitCli,
    url: &GitUrl,
    action: &'static str,
    dir: Option<&Path>,
    args: &[&str],
) -> Result<String, GitError> {
    cli.run(dir, &[], args).map_err(|e| failed(url, action, e))
}

/// The error of a failed `git`.
pub fn failed(url: &GitUrl, action: &'static str, e: RunError) -> GitError {
    match e {
        RunError::Spawn(source) => GitError::Spawn { source },
        RunError::Failed(stderr) => GitError::Command {
            url: redact(&url.remote),
            action,
            stderr: scrub_url(url, &stderr),
        },
        RunError::Stalled(waited, stderr) => GitError::Stalled {
            url: redact(&url.remote),
            action,
            waited,
            stderr: scrub_url(url, &stderr),
        },
    }
}

/// `text` with the URL's credentials redacted.
pub fn scrub_url(url: &GitUrl, text: &str) -> String {
    text.replace(&url.remote, &redact(&url.remote))
}

/// Sets BuildKit's modes under `dir` (not following symlinks): 0755 for directories and
/// executable files, 0644 for other files. `skip` (the kept `.git`) is left as git made it.
pub fn normalize_modes(dir: &Path, skip: Option<&Path>) -> Result<(), GitError> {
    for entry in fs::read_dir(dir).map_err(GitError::io("read", dir))? {
        let entry = entry.map_err(GitError::io("read", dir))?;
        let path = entry.path();
        if Some(path.as_path()) == skip {
            continue;
        }
        let meta = fs::symlink_metadata(&path).map_err(GitError::io("stat", &path))?;
        let mode = if meta.is_dir() {
            normalize_modes(&path, skip)?;
            0o755
        } else if meta.is_file() {
            if meta.permissions().mode() & 0o111 != 0 {
                0o755
            } else {
                0o644
            }
        } else {
            continue;
        };
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
            .map_err(GitError::io("chmod", &path))?;
    }
    Ok(())
}

/// Sets the mtime of every entry under `dir` (and `dir`), symlinks themselves included.
pub fn set_mtimes(dir: &Path, secs: i64) -> Result<(), GitError> {
    use nix::sys::stat::{utimensat, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    let t = TimeSpec::new(secs, 0);
    for entry in fs::read_dir(dir).map_err(GitError::io("read", dir))? {
        let path = entry.map_err(GitError::io("read", dir))?.path();
        let meta = fs::symlink_metadata(&path).map_err(GitError::io("stat", &path))?;
        if meta.is_dir() {
            set_mtimes(&path, secs)?;
        }
        utimensat(
            nix::fcntl::AT_FDCWD,
            &path,
            &t,
            &t,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| GitError::io("set mtime of", &path)(e.into()))?;
    }
    utimensat(
        nix::fcntl::AT_FDCWD,
        dir,
        &t,
        &t,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| GitError::io("set mtime of", dir)(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_git_locks_are_cleared_but_objects_kept() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in [
            "shallow.lock",
            "refs/builder/fetch.lock",
            "objects/pack/x.lock",
            "HEAD",
        ] {
            let p = d.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, "").unwrap();
        }
        clear_stale_locks(d);
        assert!(!d.join("shallow.lock").exists());
        assert!(!d.join("refs/builder/fetch.lock").exists());
        assert!(d.join("objects/pack/x.lock").exists());
        assert!(d.join("HEAD").exists());
    }

    #[test]
    fn a_lock_file_a_prune_unlinked_meanwhile_is_taken_anew() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo.lock");
        // What a prune does: hold the lock, remove the repository and the lock file.
        let prune = lock_repo(&path).unwrap();
        let waiter = std::thread::spawn({
            let path = path.clone();
            move || lock_repo(&path).unwrap()
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        fs::remove_file(&path).unwrap();
        drop(prune);
        let held = waiter.join().unwrap();
        let (a, b) = (held.metadata().unwrap(), fs::metadata(&path).unwrap());
        assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()));
        // And a build that holds it keeps others out.
        let other = fs::File::open(&path).unwrap();
        assert!(fs4::FileExt::try_lock(&other).is_err());
    }

    #[test]
    fn modes_are_buildkit_s() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("sub")).unwrap();
        fs::set_permissions(d.join("sub"), fs::Permissions::from_mode(0o700)).unwrap();
        for (f, mode) in [("sub/x", 0o700), ("y", 0o600), ("z", 0o664)] {
            fs::write(d.join(f), "").unwrap();
            fs::set_permissions(d.join(f), fs::Permissions::from_mode(mode)).unwrap();
        }
        std::os::unix::fs::symlink("y", d.join("l")).unwrap();
        normalize_modes(d, None).unwrap();
        let mode = |f: &str| {
            fs::symlink_metadata(d.join(f))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(
            [mode("sub"), mode("sub/x"), mode("y"), mode("z")],
            [0o755, 0o755, 0o644, 0o644]
        );
    }
}
