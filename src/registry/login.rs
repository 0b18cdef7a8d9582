//! `builder login` and `builder logout` behind the CLI: check a user name and password
//! against the registry (`GET /v2/`, through the token service when it has one), then keep
//! them in `config.json` (or the configured credential helper); forget them again.

use std::path::Path;

use reqwest::header::ACCEPT;

use super::challenge::Scopes;
use super::credentials::{Credential, DockerConfig};
use super::error::{RegistryError, Result};
use super::fetch::status_error;
use super::session::{CredentialSource, Session};
use super::Auth;

/// Check `username`/`password` against `registry`, then store them in the config file at
/// `config` (through its credential helper if one is configured). Nothing is stored when the
/// registry refuses them.
pub fn login(
    registry: &str,
    username: &str,
    password: &str,
    config: &Path,
    auth: &Auth,
) -> Result<()> {
    let registry = normalize_registry(registry)?;
    let credential = Credential::Basic {
        username: username.to_string(),
        password: password.to_string(),
    };
    let session = Session::with_source(&registry, auth, CredentialSource::Given(credential))?;
    let url = session.endpoint().url("");
    let resp = session.send(&Scopes::none(), &|c| {
        c.get(&url).header(ACCEPT, "application/json")
    })?;
    if !resp.status().is_success() {
        return Err(status_error("GET", &url, resp));
    }
    let mut file = DockerConfig::load(config)?;
    file.set_login(&registry, username, password)?;
    file.save()
}

/// Forget `registry`'s credentials in the config file at `config`; `false` if it had none.
pub fn logout(registry: &str, config: &Path) -> Result<bool> {
    let registry = normalize_registry(registry)?;
    let mut file = DockerConfig::load(config)?;
    let removed = file.remove_login(&registry)?;
    if removed {
        file.save()?;
    }
    Ok(removed)
}

/// A registry as given on a command line (`127.0.0.1:5000`, `https://quay.io/`, `docker.io`,
/// `index.docker.io`) -> the host as references name it.
pub fn normalize_registry(given: &str) -> Result<String> {
    let trimmed = given.trim();
    let host = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .unwrap_or(trimmed);
    let host = host.split('/').next().unwrap_or(host);
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(RegistryError::InvalidReference {
            reference: given.to_string(),
            reason: "expected a registry host such as 127.0.0.1:5000 or docker.io".into(),
        });
    }
    Ok(match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        h => h.to_lowercase(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_given_on_the_command_line() {
        assert_eq!(
            normalize_registry("127.0.0.1:5000").unwrap(),
            "127.0.0.1:5000"
        );
        assert_eq!(
            normalize_registry("https://index.docker.io/v1/").unwrap(),
            "docker.io"
        );
        assert_eq!(normalize_registry("Quay.IO").unwrap(), "quay.io");
        assert!(normalize_registry("").is_err());
        assert!(normalize_registry("a b").is_err());
    }
}
