//! The image config a build step leaves behind ([`ImageConfig`]), the history entry it
//! writes ([`HistoryEntry`]), and the small rules BuildKit applies to them: `ENV` replaces a
//! variable in place or appends it, `PATH` is filled in when the base has none, and `scratch`
//! starts with `PATH` and `WorkingDir=/`.
//!
//! Field meanings follow the Docker image spec (`config` object); maps are `BTreeMap`s /
//! `BTreeSet`s so the order is deterministic (it is also the order Go writes JSON maps in).

use std::collections::{BTreeMap, BTreeSet};

/// `PATH` BuildKit sets when the base image has none (Linux; `system.DefaultPathEnv`).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The comment BuildKit writes on every history entry it creates.
pub const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

/// `HEALTHCHECK` settings, durations in nanoseconds (0 = inherit the runtime's default).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Healthcheck {
    /// `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", command]`.
    pub test: Vec<String>,
    /// `--interval`.
    pub interval: u64,
    /// `--timeout`.
    pub timeout: u64,
    /// `--start-period`.
    pub start_period: u64,
    /// `--start-interval`.
    pub start_interval: u64,
    /// `--retries` (0 = default).
    pub retries: i64,
}

/// The runtime configuration of an image, as far as a Dockerfile can change it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageConfig {
    /// `USER` (empty = the runtime default, root).
    pub user: String,
    /// `EXPOSE`d ports as `port/proto`.
    pub exposed_ports: BTreeSet<String>,
    /// Environment, `KEY=VALUE`, in definition order.
    pub env: Vec<String>,
    /// `ENTRYPOINT` (empty = none).
    pub entrypoint: Vec<String>,
    /// `CMD` (empty = none).
    pub cmd: Vec<String>,
    /// `VOLUME` paths.
    pub volumes: BTreeSet<String>,
    /// `WORKDIR` (empty = not set).
    pub working_dir: String,
    /// `LABEL`s.
    pub labels: BTreeMap<String, String>,
    /// `STOPSIGNAL`.
    pub stop_signal: String,
    /// Set by `CMD` (BuildKit keeps Docker's Windows-era flag).
    pub args_escaped: bool,
    /// `HEALTHCHECK`.
    pub healthcheck: Option<Healthcheck>,
    /// `ONBUILD` triggers, as written after the keyword.
    pub on_build: Vec<String>,
    /// `SHELL` (empty = the platform default).
    pub shell: Vec<String>,
    /// `MAINTAINER` (the image's top-level `author` field, kept here for convenience).
    pub author: String,
}

impl ImageConfig {
    /// The config BuildKit starts `FROM scratch` with: `PATH` and `WorkingDir=/`.
    pub fn scratch(os: &str) -> Self {
        let mut c = ImageConfig {
            working_dir: "/".to_string(),
            ..ImageConfig::default()
        };
        c.ensure_path(os);
        c
    }

    /// The value of `key` in [`env`](Self::env), if set.
    pub fn env_get(&self, key: &str) -> Option<&str> {
        self.env.iter().rev().find_map(|e| match e.split_once('=') {
            Some((k, v)) if k == key => Some(v),
            None if e == key => Some(""),
            _ => None,
        })
    }

    /// Set `key=value`: replace the first entry with that key in place, or append.
    pub fn env_set(&mut self, key: &str, value: &str) {
        let entry = format!("{key}={value}");
        let existing = self
            .env
            .iter_mut()
            .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key);
        match existing {
            Some(e) => *e = entry,
            None => self.env.push(entry),
        }
    }

    /// Append BuildKit's default `PATH` when none is set (not on Windows).
    pub fn ensure_path(&mut self, os: &str) {
        if os != "windows" && self.env_get("PATH").is_none() {
            self.env.push(format!("PATH={DEFAULT_PATH}"));
        }
    }
}

/// One entry of the image history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// What made it, exactly as BuildKit writes it (`RUN /bin/sh -c make # buildkit`).
    pub created_by: String,
    /// True when the step added no layer.
    pub empty_layer: bool,
    /// Always [`HISTORY_COMMENT`].
    pub comment: String,
}

impl HistoryEntry {
    /// A history entry with BuildKit's comment.
    pub fn new(created_by: impl Into<String>, empty_layer: bool) -> Self {
        HistoryEntry {
            created_by: created_by.into(),
            empty_layer,
            comment: HISTORY_COMMENT.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_set_replaces_in_place_or_appends() {
        let mut c = ImageConfig::default();
        c.env_set("A", "1");
        c.env_set("B", "2");
        c.env_set("A", "3");
        assert_eq!(c.env, vec!["A=3", "B=2"]);
        assert_eq!(c.env_get("A"), Some("3"));
        assert_eq!(c.env_get("C"), None);
    }

    #[test]
    fn scratch_has_path_and_root_workdir() {
        let c = ImageConfig::scratch("linux");
        assert_eq!(c.env, vec![format!("PATH={DEFAULT_PATH}")]);
        assert_eq!(c.working_dir, "/");
        assert!(ImageConfig::scratch("windows").env.is_empty());
    }

    #[test]
    fn ensure_path_keeps_an_existing_path() {
        let mut c = ImageConfig {
            env: vec!["PATH=/x".to_string()],
            ..ImageConfig::default()
        };
        c.ensure_path("linux");
        assert_eq!(c.env, vec!["PATH=/x"]);
    }
}
