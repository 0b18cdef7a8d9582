//! The image config model: the document `application/vnd.oci.image.config.v1+json` (the
//! same as Docker's `application/vnd.docker.container.image.v1+json`) with Docker's extension
//! fields (`Healthcheck`, `OnBuild`, `Shell`, `ArgsEscaped`) that oci-spec's types lack, so
//! they survive in OCI images exactly as BuildKit keeps them, and BuildKit's history comment.
//! `image/` reads and writes it (`ImageConfig::from_json`, `to_json`) and puts it in the store.
//!
//! Output (with `image::json`'s writer) is byte-for-byte what BuildKit's exporter writes for
//! the same values: compact JSON,
//! top-level keys sorted (BuildKit re-marshals the config as a map), the inner `config` and
//! `history` entries in Go struct order, empty fields omitted as Go's `omitempty` does, maps
//! sorted. Reading accepts what Go would (missing or `null` collections), ignores unknown
//! fields (old Docker's `container_config` and friends), and so reads base images too.

use std::collections::{BTreeMap, BTreeSet};

use oci_spec::image::Digest;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::DEFAULT_PATH;

/// The comment BuildKit writes on every history entry it creates.
pub const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

/// A whole image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// CPU architecture (`amd64`, `arm64`).
    #[serde(default, deserialize_with = "null_default")]
    pub architecture: String,
    /// The image's author (`MAINTAINER`).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub author: String,
    /// How to run a container from the image.
    #[serde(default, deserialize_with = "null_default")]
    pub config: ExecConfig,
    /// When the image was created (RFC 3339, see `image::time`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// One entry per step, layer or not.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub history: Vec<History>,
    /// Operating system (`linux`).
    #[serde(default, deserialize_with = "null_default")]
    pub os: String,
    /// Required OS features (Windows).
    #[serde(
        rename = "os.features",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub os_features: Vec<String>,
    /// OS version (Windows).
    #[serde(
        rename = "os.version",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub os_version: String,
    /// The layers' uncompressed digests, bottom first.
    #[serde(default, deserialize_with = "null_default")]
    pub rootfs: RootFs,
    /// CPU variant (`v7` for arm).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub variant: String,
}

/// The execution defaults of the image (the `config` object), Docker's fields included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecConfig {
    /// `USER`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub user: String,
    /// `EXPOSE`: `80/tcp`, written as `{"80/tcp":{}}`.
    #[serde(
        default,
        with = "empty_object_set",
        skip_serializing_if = "BTreeSet::is_empty"
    )]
    pub exposed_ports: BTreeSet<String>,
    /// `ENV`: `KEY=value` in order.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<String>,
    /// `ENTRYPOINT`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub entrypoint: Vec<String>,
    /// `CMD`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cmd: Vec<String>,
    /// `VOLUME`, written as `{"/data":{}}`.
    #[serde(
        default,
        with = "empty_object_set",
        skip_serializing_if = "BTreeSet::is_empty"
    )]
    pub volumes: BTreeSet<String>,
    /// `WORKDIR`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub working_dir: String,
    /// `LABEL`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// `STOPSIGNAL`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub stop_signal: String,
    /// Whether `Cmd`/`Entrypoint` are already escaped (Windows shell form).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub args_escaped: bool,
    /// `HEALTHCHECK` (Docker extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// `ONBUILD` triggers (Docker extension).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub on_build: Vec<String>,
    /// `SHELL` (Docker extension).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub shell: Vec<String>,
}

/// `HEALTHCHECK`: Docker's `HealthcheckConfig`, durations in nanoseconds, zero = inherit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `[]` inherit, `["NONE"]` disable, `["CMD", args...]`, `["CMD-SHELL", command]`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub test: Vec<String>,
    /// Time between checks, ns.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero"
    )]
    pub interval: i64,
    /// Time before a check counts as hung, ns.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero"
    )]
    pub timeout: i64,
    /// Grace period before failures count, ns.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero"
    )]
    pub start_period: i64,
    /// Time between checks during the start period, ns.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero"
    )]
    pub start_interval: i64,
    /// Consecutive failures before unhealthy.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero"
    )]
    pub retries: i64,
}

/// The `rootfs` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    pub kind: String,
    /// Uncompressed layer digests, bottom first.
    #[serde(default, deserialize_with = "null_default")]
    pub diff_ids: Vec<Digest>,
}

impl Default for RootFs {
    fn default() -> Self {
        RootFs {
            kind: "layers".to_string(),
            diff_ids: Vec::new(),
        }
    }
}

/// One `history` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// When the step ran (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The step, BuildKit style (`COPY app /app # buildkit`).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub created_by: String,
    /// The author.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub author: String,
    /// A comment (`buildkit.dockerfile.v0`).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub comment: String,
    /// True for steps that changed only the config.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub empty_layer: bool,
}

impl ExecConfig {
    /// The execution config BuildKit starts `FROM scratch` with: `WorkingDir` `/` and the
    /// default `PATH` (not on Windows).
    pub fn scratch(os: &str) -> Self {
        let mut c = ExecConfig {
            working_dir: "/".to_string(),
            ..ExecConfig::default()
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

    /// Append BuildKit's default `PATH` when none is set (not on Windows): a stage's config,
    /// whatever its base had.
    pub fn ensure_path(&mut self, os: &str) {
        if os != "windows" && self.env_get("PATH").is_none() {
            self.env.push(format!("PATH={DEFAULT_PATH}"));
        }
    }
}

impl History {
    /// The entry of a Dockerfile step as BuildKit writes it: `created_by`, BuildKit's
    /// comment, and no time yet (the solver adds it when the step runs).
    pub fn new(created_by: impl Into<String>, empty_layer: bool) -> Self {
        History {
            created_by: created_by.into(),
            comment: HISTORY_COMMENT.to_string(),
            empty_layer,
            ..History::default()
        }
    }
}

impl ImageConfig {
    /// The config of an image built `FROM scratch`, as BuildKit starts it: the platform and
    /// [`ExecConfig::scratch`].
    pub fn scratch(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        ImageConfig {
            architecture: architecture.to_string(),
            os: os.to_string(),
            variant: variant.unwrap_or_default().to_string(),
            config: ExecConfig::scratch(os),
            ..ImageConfig::default()
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Read `null` as the default, as Go's decoder does for slices, maps and strings.
fn null_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A set written as a JSON object of empty objects (Go's `map[string]struct{}`).
mod empty_object_set {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Empty {}

    pub fn serialize<S: Serializer>(set: &BTreeSet<String>, s: S) -> Result<S::Ok, S::Error> {
        let map: BTreeMap<&String, Empty> = set.iter().map(|k| (k, Empty {})).collect();
        map.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<String>, D::Error> {
        let map = Option::<BTreeMap<String, serde::de::IgnoredAny>>::deserialize(d)?;
        Ok(map.unwrap_or_default().into_keys().collect())
    }
}
