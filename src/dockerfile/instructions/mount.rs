//! `RUN --mount=...` specs: CSV `key=value` fields parsed into a typed [`Mount`], with
//! BuildKit's keys, defaults and validation (`commands_runmount.go`).
//!
//! Parsing happens in two passes, as in BuildKit. At parse time ([`MountSpec::first_pass`])
//! only the CSV syntax is checked and `from=` is read, because `from` may not contain
//! variables (the stage graph must be known before any expansion). Everything else waits
//! until dispatch, when the values are expanded and the spec is parsed for real
//! ([`MountSpec::resolve`]). So `type=$T` is valid at parse time.

use super::common::{base_name, clean_path};
use super::expand::Expander;
use super::mount_parse::parse_mount;

/// Kind of a RUN mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountType {
    /// Bind a directory of the context, a stage or an image (read-only by default).
    Bind,
    /// A persistent cache directory, kept between builds and never in the image.
    Cache,
    /// A fresh tmpfs.
    Tmpfs,
    /// A build secret, as a file or an environment variable.
    Secret,
    /// A forwarded SSH agent socket.
    Ssh,
}

impl MountType {
    /// The lower-case name used in Dockerfiles.
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Cache => "cache",
            MountType::Tmpfs => "tmpfs",
            MountType::Secret => "secret",
            MountType::Ssh => "ssh",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "bind" => MountType::Bind,
            "cache" => MountType::Cache,
            "tmpfs" => MountType::Tmpfs,
            "secret" => MountType::Secret,
            "ssh" => MountType::Ssh,
            _ => return None,
        })
    }

    /// Whether `mode`, `uid` and `gid` are allowed.
    pub(crate) fn takes_file_info(self) -> bool {
        matches!(self, MountType::Secret | MountType::Ssh | MountType::Cache)
    }
}

/// How concurrent builds share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareMode {
    /// Concurrent writers use the same directory (the default).
    Shared,
    /// A busy cache makes a new directory.
    Private,
    /// A second writer waits for the first.
    Locked,
}

impl ShareMode {
    /// The lower-case name used in Dockerfiles.
    pub fn as_str(self) -> &'static str {
        match self {
            ShareMode::Shared => "shared",
            ShareMode::Private => "private",
            ShareMode::Locked => "locked",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "shared" => ShareMode::Shared,
            "private" => ShareMode::Private,
            "locked" => ShareMode::Locked,
            _ => return None,
        })
    }
}

/// One `--mount` flag as written, with what parse time may know of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// The flag value as written (`type=cache,target=/root/.cache`), not expanded.
    pub raw: String,
    /// `from=` as written (no variables allowed), for the stage graph. The mount type is not
    /// known before expansion, so this is set for any type.
    pub from: Option<String>,
    /// The typed mount, filled by [`super::RunCommand::expand`] (or [`MountSpec::resolve`]).
    pub resolved: Option<Mount>,
}

/// A RUN mount, fully parsed and validated. Empty values are `None` (BuildKit treats an empty
/// value as unset everywhere, except `env`, where an empty name means "use the default").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `type=` (default bind).
    pub kind: MountType,
    /// `from=`: a stage, context or image to mount from.
    pub from: Option<String>,
    /// `source=` / `src=`: a path in `from`, or a secret's id.
    pub source: Option<String>,
    /// `target=` / `dst=` / `destination=`: where it is mounted (relative to WORKDIR).
    pub target: Option<String>,
    /// Read-only. Defaults to false for cache and tmpfs, true otherwise.
    pub read_only: bool,
    /// `size=` of a tmpfs, in bytes (`None`: unlimited).
    pub size_limit: Option<u64>,
    /// `id=`: cache id, secret id or ssh id.
    pub id: Option<String>,
    /// `sharing=` of a cache mount (`None`: shared).
    pub sharing: Option<ShareMode>,
    /// `required`: fail when the secret or ssh key is missing.
    pub required: bool,
    /// `env=`: expose a secret as this environment variable (`Some("")`: named after the id).
    pub env: Option<String>,
    /// `mode=` in octal, for cache, secret and ssh mounts.
    pub mode: Option<u32>,
    /// `uid=`, for cache, secret and ssh mounts.
    pub uid: Option<u32>,
    /// `gid=`, for cache, secret and ssh mounts.
    pub gid: Option<u32>,
}

impl Default for Mount {
    fn default() -> Self {
        Mount {
            kind: MountType::Bind,
            from: None,
            source: None,
            target: None,
            read_only: false,
            size_limit: None,
            id: None,
            sharing: None,
            required: false,
            env: None,
            mode: None,
            uid: None,
            gid: None,
        }
    }
}

impl Mount {
    /// Sharing mode of a cache mount, `shared` when not given.
    pub fn sharing_or_default(&self) -> ShareMode {
        self.sharing.unwrap_or(ShareMode::Shared)
    }

    /// Cache id: `id=`, else the target cleaned (`path.Clean`), as BuildKit keys caches.
    pub fn cache_id(&self) -> String {
        match &self.id {
            Some(id) => id.clone(),
            None => clean_path(self.target.as_deref().unwrap_or("")),
        }
    }

    /// Secret id: `source=`, else `id=`, else the target's base name (`None` if none of them).
    pub fn secret_id(&self) -> Option<String> {
        self.source
            .clone()
            .or_else(|| self.id.clone())
            .or_else(|| self.target.as_deref().map(base_name))
    }

    /// Secret file path: the target, else `/run/secrets/<id>` unless the secret only goes to
    /// an environment variable.
    pub fn secret_target(&self) -> Option<String> {
        if let Some(t) = &self.target {
            return Some(t.clone());
        }
        if self.env.is_some() {
            return None;
        }
        self.secret_id()
            .map(|id| format!("/run/secrets/{}", base_name(&id)))
    }

    /// Secret or socket file mode: `mode=`, else 0400 for secrets, 0600 for ssh, 0755 for caches.
    pub fn mode_or_default(&self) -> u32 {
        self.mode.unwrap_or(match self.kind {
            MountType::Secret => 0o400,
            MountType::Ssh => 0o600,
            _ => 0o755,
        })
    }

    /// SSH agent id: `id=`, else `default`.
    pub fn ssh_id(&self) -> String {
        self.id.clone().unwrap_or_else(|| "default".to_string())
    }
}

impl MountSpec {
    /// Parse-time check of one `--mount` value: CSV syntax, and `from=` without variables.
    pub fn first_pass(raw: &str) -> Result<MountSpec, String> {
        let fields =
            super::csv::csv_fields(raw).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
        let mut from = None;
        for field in &fields {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            if key.to_lowercase() != "from" {
                continue;
            }
            if let Some(idx) = value.find('$') {
                if idx != value.len() - 1 {
                    return Err(
                        "'from' doesn't support variable expansion, define alias stage instead"
                            .to_string(),
                    );
                }
            }
            from = (!value.is_empty()).then(|| value.to_string());
        }
        Ok(MountSpec {
            raw: raw.to_string(),
            from,
            resolved: None,
        })
    }

    /// Expand every value with `ex`, then parse and validate the mount.
    pub fn resolve(&self, ex: &mut dyn Expander) -> Result<Mount, String> {
        parse_mount(&self.raw, ex)
    }

    /// Parse the mount with its values as written (no expansion).
    pub fn resolve_literal(&self) -> Result<Mount, String> {
        self.resolve(&mut super::expand::LiteralExpander)
    }
}

#[cfg(test)]
#[path = "mount_tests.rs"]
mod tests;
