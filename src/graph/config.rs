//! The image config as the planner carries it from step to step ([`StageConfig`]): the
//! execution config of the image model ([`ExecConfig`], with BuildKit's rules on it: `ENV`
//! replaces a variable in place or appends it, `PATH` is filled in when the base has none)
//! plus the image's author (`MAINTAINER`), and reading a base image's config for it. A
//! `scratch` stage starts with `PATH` and `WorkingDir=/`.
//!
//! Field meanings follow the Docker image spec (`config` object); maps are `BTreeMap`s /
//! `BTreeSet`s so the order is deterministic (it is also the order Go writes JSON maps in).

use std::collections::BTreeSet;
use std::ops::{Deref, DerefMut};

use crate::domain::config::{ExecConfig, Healthcheck};

/// The runtime configuration of an image, as far as a Dockerfile can change it: the image
/// model's [`ExecConfig`] (its fields and rules are reached through `Deref`) and the author.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StageConfig {
    /// The image config's `config` object.
    pub exec: ExecConfig,
    /// `MAINTAINER` (the image's top-level `author` field).
    pub author: String,
}

impl Deref for StageConfig {
    type Target = ExecConfig;

    fn deref(&self) -> &ExecConfig {
        &self.exec
    }
}

impl DerefMut for StageConfig {
    fn deref_mut(&mut self) -> &mut ExecConfig {
        &mut self.exec
    }
}

impl StageConfig {
    /// The config BuildKit starts `FROM scratch` with: `PATH` and `WorkingDir=/`.
    pub fn scratch(os: &str) -> Self {
        StageConfig {
            exec: ExecConfig::scratch(os),
            author: String::new(),
        }
    }

    /// Read the config part of a Docker/OCI image config JSON document: either the whole
    /// image config (`{"os": ..., "config": {...}, "author": ...}`) or the `config` object
    /// alone. Unknown fields are ignored; durations are nanoseconds, as in the spec.
    pub fn from_json(text: &str) -> Result<StageConfig, String> {
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("invalid image config JSON: {e}"))?;
        let cfg = doc.get("config").unwrap_or(&doc);
        let string = |v: &serde_json::Value, k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let strings = |v: &serde_json::Value, k: &str| -> Vec<String> {
            v.get(k)
                .and_then(serde_json::Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let keys = |k: &str| -> BTreeSet<String> {
            cfg.get(k)
                .and_then(serde_json::Value::as_object)
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        let nanos = |v: &serde_json::Value, k: &str| {
            let n = v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
            i64::try_from(n).unwrap_or(i64::MAX)
        };
        let healthcheck = cfg
            .get("Healthcheck")
            .filter(|h| h.is_object())
            .map(|h| Healthcheck {
                test: strings(h, "Test"),
                interval: nanos(h, "Interval"),
                timeout: nanos(h, "Timeout"),
                start_period: nanos(h, "StartPeriod"),
                start_interval: nanos(h, "StartInterval"),
                retries: h
                    .get("Retries")
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or(0),
            });
        let labels = cfg
            .get("Labels")
            .and_then(serde_json::Value::as_object)
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(StageConfig {
            exec: ExecConfig {
                user: string(cfg, "User"),
                exposed_ports: keys("ExposedPorts"),
                env: strings(cfg, "Env"),
                entrypoint: strings(cfg, "Entrypoint"),
                cmd: strings(cfg, "Cmd"),
                volumes: keys("Volumes"),
                working_dir: string(cfg, "WorkingDir"),
                labels,
                stop_signal: string(cfg, "StopSignal"),
                args_escaped: cfg
                    .get("ArgsEscaped")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false),
                healthcheck,
                on_build: strings(cfg, "OnBuild"),
                shell: strings(cfg, "Shell"),
            },
            author: string(&doc, "author"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DEFAULT_PATH;

    #[test]
    fn env_set_replaces_in_place_or_appends() {
        let mut c = StageConfig::default();
        c.env_set("A", "1");
        c.env_set("B", "2");
        c.env_set("A", "3");
        assert_eq!(c.env, vec!["A=3", "B=2"]);
        assert_eq!(c.env_get("A"), Some("3"));
        assert_eq!(c.env_get("C"), None);
    }

    #[test]
    fn reads_docker_image_config_json() {
        let c = StageConfig::from_json(
            r#"{"os":"linux","author":"me","config":{"Env":["A=1"],"Cmd":["sh"],
            "WorkingDir":"/w","User":"u","ExposedPorts":{"80/tcp":{}},"Volumes":{"/v":{}},
            "Labels":{"k":"v"},"OnBuild":["RUN x"],"Healthcheck":{"Test":["NONE"],"Interval":5}}}"#,
        )
        .unwrap();
        assert_eq!(c.env, vec!["A=1"]);
        assert_eq!(c.cmd, vec!["sh"]);
        assert_eq!(c.working_dir, "/w");
        assert_eq!(c.user, "u");
        assert!(c.exposed_ports.contains("80/tcp") && c.volumes.contains("/v"));
        assert_eq!(c.labels.get("k").map(String::as_str), Some("v"));
        assert_eq!(c.on_build, vec!["RUN x"]);
        assert_eq!(c.healthcheck.as_ref().map(|h| h.interval), Some(5));
        assert_eq!(c.author, "me");
        let bare = StageConfig::from_json(r#"{"Env":["B=2"]}"#).unwrap();
        assert_eq!(bare.env, vec!["B=2"]);
        assert!(StageConfig::from_json("nope").is_err());
    }

    #[test]
    fn scratch_has_path_and_root_workdir() {
        let c = StageConfig::scratch("linux");
        assert_eq!(c.env, vec![format!("PATH={DEFAULT_PATH}")]);
        assert_eq!(c.working_dir, "/");
        assert!(StageConfig::scratch("windows").env.is_empty());
    }

    #[test]
    fn ensure_path_keeps_an_existing_path() {
        let mut c = StageConfig {
            exec: ExecConfig {
                env: vec!["PATH=/x".to_string()],
                ..ExecConfig::default()
            },
            ..StageConfig::default()
        };
        c.ensure_path("linux");
        assert_eq!(c.env, vec!["PATH=/x"]);
    }
}
