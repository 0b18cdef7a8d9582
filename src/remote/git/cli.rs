//! The `git` command as Git sources run it: a clean environment (no system or user
//! configuration, no prompts, no hooks), credentials passed through the environment only,
//! and BuildKit's SSH policy.
//!
//! What a hostile remote or repository could try, and what stops it:
//! - reading the user's configuration (credential helpers, `core.fsmonitor`, aliases):
//!   `GIT_CONFIG_NOSYSTEM`, `GIT_CONFIG_GLOBAL=/dev/null`, `HOME=/dev/null`;
//! - running hooks: `core.hooksPath=/dev/null` (and the repositories are ours, made by
//!   `git init`, never a cloned configuration);
//! - submodules pointing at host paths or helper transports: `protocol.file.allow=user`
//!   (BuildKit's setting) and `protocol.ext.allow=never`;
//! - prompting (for a password, a passphrase or a host key): `GIT_TERMINAL_PROMPT=0`, no
//!   askpass in the environment, `ssh -o BatchMode=yes`;
//! - reading a token: it is passed as `GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`, never on the
//!   command line (which other users can read) nor in any repository's configuration, and
//!   scrubbed from every message.
//!
//! And what a stalled remote could do, hold a build forever, is ended by the settings'
//! timeout: curl's low-speed limit for HTTP, and for `git://` and ssh a watchdog on the
//! command's progress ([`super::watchdog`], which says why).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine;

use super::url::GitUrl;
use super::watchdog::{self, Ended};
use crate::remote::RemoteSettings;

/// Proxy settings passed through to `git`, as BuildKit does.
const PROXY_VARS: [&str; 8] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
];

/// A `git` command that failed.
#[derive(Debug)]
pub enum RunError {
    /// `git` could not be started.
    Spawn(std::io::Error),
    /// `git` exited with an error; its (scrubbed) standard error.
    Failed(String),
    /// `git` made no progress for this long and was killed; its (scrubbed) standard error.
    Stalled(Duration, String),
}

/// Runs `git` for one remote.
#[derive(Clone)]
pub struct GitCli {
    /// `(name, value)` pairs of the environment, on top of an empty one.
    env: Vec<(String, String)>,
    /// Values that must never show in a message (the auth header).
    secrets: Vec<String>,
    /// How long a command that talks to the remote may make no progress, for remotes
    /// that nothing else bounds (`git://`, ssh).
    idle: Option<Duration>,
}

impl std::fmt::Debug for GitCli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitCli").finish_non_exhaustive()
    }
}

impl GitCli {
    /// The command for `url` with the credentials and SSH agent of `settings`.
    pub fn new(settings: &RemoteSettings, url: &GitUrl) -> GitCli {
        let header = auth_header(settings, url);
        let mut config = base_config(settings.timeout);
        if let Some(h) = &header {
            let key = format!("http.{}.extraheader", token_scope(&url.remote));
            config.push((key, format!("Authorization: {h}")));
        }
        let mut env = base_env(settings);
        env.push(("GIT_CONFIG_COUNT".into(), config.len().to_string()));
        for (i, (k, v)) in config.into_iter().enumerate() {
            env.push((format!("GIT_CONFIG_KEY_{i}"), k));
            env.push((format!("GIT_CONFIG_VALUE_{i}"), v));
        }
        let idle = matches!(url.scheme.as_str(), "git" | "ssh")
            .then(|| settings.timeout.max(Duration::from_secs(1)));
        GitCli {
            env,
            secrets: header.into_iter().collect(),
            idle,
        }
    }

    /// `git ARGS...` with `extra` environment, in `dir`; its standard output. A local
    /// command: it is waited for however long it takes.
    pub fn run(
        &self,
        dir: Option<&Path>,
        extra: &[(&str, &Path)],
        args: &[&str],
    ) -> Result<String, RunError> {
        self.exec(dir, extra, args, None)
    }

    /// `git ARGS...` that talks to the remote (`ls-remote`, `fetch`), given up when a
    /// `git://` or ssh remote makes it wait without progress for the settings' timeout.
    pub fn run_remote(&self, dir: Option<&Path>, args: &[&str]) -> Result<String, RunError> {
        self.exec(dir, &[], args, self.idle)
    }

    /// `git ARGS...`, watched for `idle` when given. A fetch that fails because the server
    /// cannot serve a shallow history (the dumb HTTP protocol) is retried without
    /// `--depth`, as BuildKit does.
    fn exec(
        &self,
        dir: Option<&Path>,
        extra: &[(&str, &Path)],
        args: &[&str],
        idle: Option<Duration>,
    ) -> Result<String, RunError> {
        let mut args: Vec<&str> = args.to_vec();
        loop {
            let mut cmd = Command::new("git");
            cmd.env_clear()
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .envs(extra.iter().copied())
                .args(&args);
            if let Some(d) = dir {
                cmd.current_dir(d);
            }
            let out = match watchdog::run(&mut cmd, idle).map_err(RunError::Spawn)? {
                Ended::Exited(out) => out,
                Ended::Stalled(stderr) => {
                    let stderr = String::from_utf8_lossy(&stderr);
                    let waited = idle.unwrap_or_default();
                    return Err(RunError::Stalled(waited, self.scrub(stderr.trim())));
                }
            };
            if out.status.success() {
                return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
            }
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            let shallow = stderr.contains("shallow") || stderr.contains("--depth");
            if shallow && args.contains(&"--depth=1") {
                args.retain(|a| *a != "--depth=1");
                continue;
            }
            return Err(RunError::Failed(self.scrub(stderr.trim())));
        }
    }

    /// `text` with every secret masked.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.secrets.iter().filter(|s| !s.is_empty()) {
            out = out.replace(s.as_str(), "xxxxx");
        }
        out
    }
}

/// The environment every `git` runs with (see the module docs).
fn base_env(settings: &RemoteSettings) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("LC_ALL".into(), "C".into()),
        ("GIT_TERMINAL_PROMPT".into(), "0".into()),
        ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
        ("GIT_CONFIG_GLOBAL".into(), "/dev/null".into()),
        ("HOME".into(), "/dev/null".into()),
        ("GIT_SSH_COMMAND".into(), ssh_command(settings.timeout)),
        ("SSH_ASKPASS_REQUIRE".into(), "never".into()),
    ];
    for v in PROXY_VARS {
        if let Ok(value) = std::env::var(v) {
            env.push((v.into(), value));
        }
    }
    if let Some(sock) = &settings.ssh_auth_sock {
        env.push(("SSH_AUTH_SOCK".into(), sock.to_string_lossy().into_owned()));
    }
    env
}

/// The configuration every `git` runs with, passed as `GIT_CONFIG_*`.
fn base_config(timeout: Duration) -> Vec<(String, String)> {
    let mut c: Vec<(String, String)> = [
        ("protocol.file.allow", "user"),
        ("protocol.ext.allow", "never"),
        ("core.hooksPath", "/dev/null"),
        ("core.fsmonitor", "false"),
        ("credential.helper", ""),
        ("safe.directory", "*"),
        ("gc.auto", "0"),
        ("maintenance.auto", "false"),
        ("fetch.recurseSubmodules", "false"),
        ("advice.detachedHead", "false"),
        ("init.defaultBranch", "master"),
        ("http.lowSpeedLimit", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let secs = timeout.as_secs().max(1);
    c.push(("http.lowSpeedTime".into(), secs.to_string()));
    c
}

/// BuildKit's `GIT_SSH_COMMAND`: no configuration file and no host key checking (BuildKit
/// checks host keys only against known hosts a build names, which this builder does not
/// take), plus what keeps ssh from prompting or writing the user's `known_hosts`, and from
/// using the user's key files: the only keys are those of the agent the build was given
/// (`SSH_AUTH_SOCK` from the settings, never from the environment).
pub fn ssh_command(timeout: Duration) -> String {
    format!(
        "ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
         -o BatchMode=yes -o IdentityFile=none -o LogLevel=ERROR -o ConnectTimeout={}",
        timeout.as_secs().max(1)
    )
}

/// The `Authorization` value for `url`, BuildKit's order: `GIT_AUTH_HEADER.<host>`,
/// `GIT_AUTH_TOKEN.<host>`, `GIT_AUTH_HEADER`, `GIT_AUTH_TOKEN`. A token becomes
/// `basic base64(x-access-token:TOKEN)`; a header is used verbatim. HTTP(S) remotes only.
pub fn auth_header(settings: &RemoteSettings, url: &GitUrl) -> Option<String> {
    if !matches!(url.scheme.as_str(), "http" | "https") {
        return None;
    }
    let find = |list: &[(String, String)], host: &str| {
        list.iter().find(|(h, _)| h == host).map(|(_, v)| v.clone())
    };
    let token = |t: String| {
        let raw = format!("x-access-token:{t}");
        format!(
            "basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    };
    let host = url.host.as_str();
    find(&settings.git_auth_headers, host)
        .or_else(|| find(&settings.git_auth_tokens, host).map(token))
        .or_else(|| find(&settings.git_auth_headers, ""))
        .or_else(|| find(&settings.git_auth_tokens, "").map(token))
}

/// The URL prefix a credential is sent to: the remote itself, or all of GitHub for a
/// GitHub remote (as BuildKit and actions/checkout do).
fn token_scope(remote: &str) -> &str {
    for pfx in ["https://github.com/", "https://www.github.com/"] {
        if remote.starts_with(pfx) {
            return pfx;
        }
    }
    remote
}

/// A path as an argument.
pub fn arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `file://` URL of a local repository.
pub fn file_url(p: &Path) -> String {
    format!("file://{}", PathBuf::from(p).display())
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
