//! The build's fetcher of remote ADD sources: where downloads are kept, how long a wait
//! may last, the Git credentials BuildKit takes from secrets (`GIT_AUTH_TOKEN`,
//! `GIT_AUTH_HEADER`, each optionally `.<host>`) and URL sources (`HTTP_AUTH_HEADER_<host>`,
//! `HTTP_AUTH_TOKEN_<host>`), and the agent of `--ssh default` for Git over SSH.

use std::path::Path;

use crate::registry::transport::io_timeout;
use crate::remote::{Remote, RemoteSettings};
use crate::solve::run::ssh::DEFAULT_ID;
use crate::solve::run::SshAgents;

use super::request::BuildRequest;

/// The secret id of a Git token for every host; `GIT_AUTH_TOKEN.<host>` is one host's.
const GIT_AUTH_TOKEN: &str = "GIT_AUTH_TOKEN";
/// The secret id of a whole `Authorization` header value; `GIT_AUTH_HEADER.<host>` too.
const GIT_AUTH_HEADER: &str = "GIT_AUTH_HEADER";
/// The prefix of the secret id of a URL source's `Authorization` value for one host.
const HTTP_AUTH_HEADER: &str = "HTTP_AUTH_HEADER_";
/// The prefix of the secret id of a URL source's bearer token for one host.
const HTTP_AUTH_TOKEN: &str = "HTTP_AUTH_TOKEN_";

/// The fetcher `req` builds with; `agents` are the build's `--ssh` agents.
pub(crate) fn fetcher(req: &BuildRequest, agents: &SshAgents) -> Result<Remote, String> {
    let timeout = match req.policy.registry.timeout {
        Some(t) => t,
        None => io_timeout().map_err(|e| e.to_string())?,
    };
    let mut settings = RemoteSettings {
        dir: req.root.join("remote"),
        timeout,
        ssh_auth_sock: agents.socket(DEFAULT_ID).map(Path::to_path_buf),
        ..RemoteSettings::default()
    };
    for (id, source) in &req.secrets {
        let host = |prefix: &str| -> Option<String> {
            let rest = id.strip_prefix(prefix)?;
            if rest.is_empty() {
                Some(String::new())
            } else {
                rest.strip_prefix('.').map(str::to_string)
            }
        };
        if let Some(h) = host(GIT_AUTH_TOKEN) {
            let value = source.read(id)?;
            let token = String::from_utf8_lossy(&value).trim().to_string();
            settings.git_auth_tokens.push((h, token));
        } else if let Some(h) = host(GIT_AUTH_HEADER) {
            let value = source.read(id)?;
            let header = String::from_utf8_lossy(&value).trim().to_string();
            settings.git_auth_headers.push((h, header));
        } else if let Some(h) = id.strip_prefix(HTTP_AUTH_HEADER).filter(|h| !h.is_empty()) {
            let value = source.read(id)?;
            let header = String::from_utf8_lossy(&value).trim().to_string();
            settings.http_auth_headers.push((h.to_string(), header));
        } else if let Some(h) = id.strip_prefix(HTTP_AUTH_TOKEN).filter(|h| !h.is_empty()) {
            let value = source.read(id)?;
            let token = String::from_utf8_lossy(&value).trim().to_string();
            settings.http_auth_tokens.push((h.to_string(), token));
        }
    }
    Ok(Remote::new(settings))
}
