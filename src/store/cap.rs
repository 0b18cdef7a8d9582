//! The store cap: the most the store may take, enforced after every successful build by
//! pruning the least recently used cache records (and what only they needed).
//!
//! The cap is `BUILDER_MAX_CACHE=SIZE` (`10GB`, `500MiB`, bytes; read as
//! [`super::parse_size`] reads `--keep-storage`), else `max-cache = "SIZE"` in the config
//! file: `$BUILDER_CONFIG`, else `$XDG_CONFIG_HOME/builder/config.toml`, else
//! `~/.config/builder/config.toml`. `0` or nothing set means no cap; then the check costs
//! two environment lookups and one failed open, never a directory walk (the sweep of dead
//! builds' temp files that comes with it reads two directories).
//!
//! The same file's `keep-logs = N` (or `BUILDER_KEEP_LOGS=N`) is how many builds' logs
//! `builder logs` keeps ([`keep_logs`]).
//!
//! The size compared is the whole store's, what `builder du` shows as `Total`. A named
//! image's blobs and snapshots are never removed by the cap, so a cap smaller than the
//! named images leaves only them. The cap is enforced only when no other build runs (it
//! needs the exclusive `gc.lock` and does not wait for it).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::gc::{execute, lock_names, sweep_temp_files, GcError, PruneOptions};
use super::gc_plan as plan;
use super::guard::{self, BuildGuard};
use super::inventory;
use super::units::{human_size, parse_size};
use crate::progress::{self, Reporter};

/// The environment variable that sets the cap.
pub const MAX_CACHE_ENV: &str = "BUILDER_MAX_CACHE";

/// The config file, if any is named by the environment (`env` looks a variable up).
fn config_path(env: &dyn Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let var = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(file) = var("BUILDER_CONFIG") {
        return Some(file);
    }
    if let Some(dir) = var("XDG_CONFIG_HOME") {
        return Some(dir.join("builder/config.toml"));
    }
    var("HOME").map(|home| home.join(".config/builder/config.toml"))
}

/// The value of the top-level `key` in a TOML document: a basic or literal string, or a
/// bare integer. Keys inside `[tables]` are not top-level.
fn toml_value(text: &str, key: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            return None;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let k = k.trim();
        let k = k
            .strip_prefix('"')
            .and_then(|k| k.strip_suffix('"'))
            .unwrap_or(k);
        if k != key {
            continue;
        }
        let v = v.trim();
        for quote in ['"', '\''] {
            if let Some(rest) = v.strip_prefix(quote) {
                return rest.split_once(quote).map(|(inner, _)| inner.to_string());
            }
        }
        let bare = v.split('#').next().unwrap_or("").trim().replace('_', "");
        return Some(bare);
    }
    None
}

/// The cap in bytes (`None`: no cap), from the environment `env` and the config file;
/// an error message when one is set but unreadable.
pub fn max_cache_from(env: &dyn Fn(&str) -> Option<OsString>) -> Result<Option<u64>, String> {
    let nonzero = |n: u64| (n > 0).then_some(n);
    if let Some(value) = env(MAX_CACHE_ENV).filter(|v| !v.is_empty()) {
        let text = value.to_string_lossy();
        return parse_size(text.trim())
            .map(nonzero)
            .map_err(|e| format!("{MAX_CACHE_ENV}: {e}"));
    }
    match config_value(env, "max-cache")? {
        None => Ok(None),
        Some((v, path)) => parse_size(&v)
            .map(nonzero)
            .map_err(|e| format!("{}: max-cache: {e}", path.display())),
    }
}

/// The value of `key` in the config file, with the file's path (`None`: no file, or no
/// such key); an unreadable file is an error.
fn config_value(
    env: &dyn Fn(&str) -> Option<OsString>,
    key: &str,
) -> Result<Option<(String, PathBuf)>, String> {
    let Some(path) = config_path(env) else {
        return Ok(None);
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(toml_value(&text, key).map(|v| (v, path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("read {}: {e}", path.display())),
    }
}

/// How many builds' logs to keep: `BUILDER_KEEP_LOGS`, else the config file's
/// `keep-logs` (`None`: neither says; the caller's default).
pub fn keep_logs_from(env: &dyn Fn(&str) -> Option<OsString>) -> Result<Option<usize>, String> {
    let parse = |text: &str, what: &str| {
        text.trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| format!("{what}: expected a number of builds, 1 or more, got {text:?}"))
    };
    if let Some(value) = env(KEEP_LOGS_ENV).filter(|v| !v.is_empty()) {
        return parse(&value.to_string_lossy(), KEEP_LOGS_ENV);
    }
    match config_value(env, "keep-logs")? {
        None => Ok(None),
        Some((v, path)) => parse(&v, &format!("{}: keep-logs", path.display())),
    }
}

/// [`keep_logs_from`] this process's environment.
pub fn keep_logs() -> Result<Option<usize>, String> {
    keep_logs_from(&|k| std::env::var_os(k))
}

/// The environment variable that sets how many builds' logs are kept.
pub const KEEP_LOGS_ENV: &str = "BUILDER_KEEP_LOGS";

/// The cap of this process's environment (see the module docs).
pub fn max_cache() -> Result<Option<u64>, String> {
    max_cache_from(&|k| std::env::var_os(k))
}

/// After a successful build: release its `guard`, and if no other build runs, remove the
/// temp files killed builds left in the blob and chunk directories and, if a cap is set
/// (`cap`, as [`max_cache`] read it) and the store is over it, prune the least recently
/// used records until it fits. Failures are reported as warnings: the build itself
/// succeeded.
pub fn enforce_cap(
    root: &Path,
    guard: BuildGuard,
    cap: Result<Option<u64>, String>,
    reporter: &dyn Reporter,
) {
    drop(guard);
    let cap = match cap {
        Ok(cap) => cap,
        Err(msg) => {
            eprintln!("warning: no cache cap enforced: {msg}");
            None
        }
    };
    let Ok(Some(gc)) = guard::try_exclusive(root) else {
        return;
    };
    sweep_temp_files(root, &gc);
    let Some(cap) = cap else {
        return;
    };
    if let Err(e) = shrink(root, cap, reporter) {
        eprintln!("warning: cache cap: {}", progress::chain(&e));
    }
}

/// With the gc lock held: prune to `cap` if the store is over it and pruning frees
/// something, as a progress vertex.
fn shrink(root: &Path, cap: u64, reporter: &dyn Reporter) -> Result<(), GcError> {
    let _names = lock_names(root)?;
    let inv = inventory::scan(root)?;
    if inv.total() <= cap {
        return Ok(());
    }
    let opts = PruneOptions {
        all: false,
        keep_storage: Some(cap),
        until: None,
    };
    let sel = plan::select(&inv, &opts, SystemTime::now());
    let nothing = sel.records.is_empty()
        && sel.blobs.is_empty()
        && sel.snapshots.is_empty()
        && sel.trees.is_empty()
        && inv.leftovers.is_empty();
    if nothing {
        return Ok(());
    }
    let title = format!("pruning build cache to its cap of {}", human_size(cap));
    progress::vertex(reporter, &title, |id| {
        let report = execute(root, &inv, &sel);
        reporter.log(
            id,
            &format!(
                "removed {} cache records, {} blobs, {} snapshots: {} freed",
                report.records,
                report.blobs,
                report.snapshots,
                human_size(report.bytes)
            ),
        );
        for failure in &report.failures {
            reporter.log(id, &format!("warning: {failure}"));
        }
        Ok::<(), GcError>(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::root::tests::env;

    #[test]
    fn the_environment_wins_then_the_config_files() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("c.toml");
        std::fs::write(
            &file,
            "# cache\nmax-cache = \"2GB\" # two\n[other]\nx = 1\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let gib = 1u64 << 30;
        assert_eq!(
            max_cache_from(&env(&[(MAX_CACHE_ENV, "10GB"), ("BUILDER_CONFIG", f)])),
            Ok(Some(10 * gib))
        );
        assert_eq!(
            max_cache_from(&env(&[(MAX_CACHE_ENV, ""), ("BUILDER_CONFIG", f)])),
            Ok(Some(2 * gib))
        );
        assert_eq!(max_cache_from(&env(&[(MAX_CACHE_ENV, "0")])), Ok(None));
        let err = max_cache_from(&env(&[(MAX_CACHE_ENV, "lots")])).unwrap_err();
        assert!(err.starts_with("BUILDER_MAX_CACHE: invalid size"), "{err}");

        let xdg = t.path().join("xdg");
        std::fs::create_dir_all(xdg.join("builder")).unwrap();
        std::fs::write(xdg.join("builder/config.toml"), "max-cache = '500MiB'\n").unwrap();
        let x = xdg.to_str().unwrap();
        assert_eq!(
            max_cache_from(&env(&[("XDG_CONFIG_HOME", x), ("HOME", "/nonexistent")])),
            Ok(Some(500 << 20))
        );
        let home = t.path().join("home");
        std::fs::create_dir_all(home.join(".config/builder")).unwrap();
        std::fs::write(
            home.join(".config/builder/config.toml"),
            "max-cache = 1_000_000\n",
        )
        .unwrap();
        let h = home.to_str().unwrap();
        assert_eq!(max_cache_from(&env(&[("HOME", h)])), Ok(Some(1_000_000)));
        // No file, or no key: no cap.
        assert_eq!(max_cache_from(&env(&[("HOME", "/nonexistent")])), Ok(None));
        assert_eq!(max_cache_from(&env(&[])), Ok(None));
        std::fs::write(&file, "[cache]\nmax-cache = \"1GB\"\n").unwrap();
        assert_eq!(max_cache_from(&env(&[("BUILDER_CONFIG", f)])), Ok(None));
        std::fs::write(&file, "max-cache = \"big\"\n").unwrap();
        let err = max_cache_from(&env(&[("BUILDER_CONFIG", f)])).unwrap_err();
        assert!(err.contains("max-cache: invalid size"), "{err}");
    }

    #[test]
    fn the_number_of_kept_logs_comes_from_the_environment_then_the_config_file() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("c.toml");
        std::fs::write(&file, "keep-logs = 25\n").unwrap();
        let f = file.to_str().unwrap();
        let both = [(KEEP_LOGS_ENV, "3"), ("BUILDER_CONFIG", f)];
        assert_eq!(keep_logs_from(&env(&both)), Ok(Some(3)));
        assert_eq!(keep_logs_from(&env(&[("BUILDER_CONFIG", f)])), Ok(Some(25)));
        assert_eq!(keep_logs_from(&env(&[("HOME", "/nonexistent")])), Ok(None));
        let err = keep_logs_from(&env(&[(KEEP_LOGS_ENV, "0")])).unwrap_err();
        assert!(err.contains("1 or more"), "{err}");
        std::fs::write(&file, "keep-logs = \"many\"\n").unwrap();
        assert!(keep_logs_from(&env(&[("BUILDER_CONFIG", f)])).is_err());
    }

    #[test]
    fn toml_values_are_read_by_hand() {
        assert_eq!(
            toml_value("max-cache=\"1g\"", "max-cache"),
            Some("1g".into())
        );
        assert_eq!(
            toml_value("\"max-cache\" = \"1g\"", "max-cache"),
            Some("1g".into())
        );
        assert_eq!(toml_value("max-cachex = 1", "max-cache"), None);
        assert_eq!(
            toml_value("a = 1\nmax-cache = 42 # c", "max-cache"),
            Some("42".into())
        );
    }
}
