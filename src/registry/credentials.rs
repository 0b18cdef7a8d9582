//! Credentials in Docker's `config.json` (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`): `auths` entries (base64 `auth`, or `username`/`password`, or an
//! `identitytoken`), `credHelpers` per registry and a default `credsStore`, looked up in that
//! order as the Docker CLI does. `builder login`/`logout` change the same file, keeping every
//! key they do not own, and replace it atomically with mode 0600.
//!
//! Not the `docker_credential` crate: it reads only the base64 `auth` field (no
//! `username`/`password`, no `identitytoken`), reduces helper failures to unit variants, and
//! cannot write; login and logout need the file model anyway, so reading and writing share
//! this one.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde_json::{Map, Value};

use super::error::{RegistryError, Result};
use super::helper;
use crate::domain::reference::DEFAULT_DOMAIN;
use crate::store::atomic::AtomicFile;

/// The key Docker Hub's credentials are stored under.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A credential for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user name and password (or personal access token), sent as Basic auth or to the
    /// token service.
    Basic {
        /// The user.
        username: String,
        /// The password.
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken`), exchanged at the token service.
    IdentityToken(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        match self {
            Credential::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credential::IdentityToken(_) => f.write_str("IdentityToken(***)"),
        }
    }
}

/// Where `config.json` is: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
/// `env` looks up an environment variable; empty values count as unset.
pub fn config_path<F>(env: F) -> Option<PathBuf>
where
    F: Fn(&str) -> Option<std::ffi::OsString>,
{
    let var = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("DOCKER_CONFIG")
        .or_else(|| var("HOME").map(|h| h.join(".docker")))
        .map(|d| d.join("config.json"))
}

/// The `config.json` key for a registry host: Docker Hub's historical URL for `docker.io`,
/// the host itself otherwise.
pub fn server_key(registry: &str) -> String {
    if normalize(registry) == DEFAULT_DOMAIN {
        DOCKER_HUB_KEY.to_string()
    } else {
        registry.to_string()
    }
}

/// A registry host or config key reduced to the host: scheme and path dropped, Docker Hub's
/// names all `docker.io`.
fn normalize(key: &str) -> &str {
    let host = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .map(|rest| rest.split('/').next().unwrap_or(rest))
        .unwrap_or(key);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => DEFAULT_DOMAIN,
        other => other,
    }
}

/// A `config.json`, as read (every key kept, in order).
#[derive(Debug, Clone)]
pub struct DockerConfig {
    path: PathBuf,
    doc: Map<String, Value>,
}

impl DockerConfig {
    /// Read the file at `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<Self> {
        let doc = match std::fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| RegistryError::Config {
                action: "parse",
                path: path.to_path_buf(),
                source: std::io::Error::other(e),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => {
                return Err(RegistryError::Config {
                    action: "read",
                    path: path.to_path_buf(),
                    source: e,
                })
            }
        };
        Ok(DockerConfig {
            path: path.to_path_buf(),
            doc,
        })
    }

    /// The file this config is read from and saved to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn str_field(&self, key: &str) -> Option<&str> {
        self.doc
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The helper that keeps `registry`'s credentials: its `credHelpers` entry, else the
    /// `credsStore`.
    fn helper_for(&self, registry: &str) -> Option<(String, bool)> {
        let wanted = normalize(registry);
        let specific = self
            .doc
            .get("credHelpers")
            .and_then(Value::as_object)
            .and_then(|m| m.iter().find(|(k, _)| normalize(k) == wanted))
            .and_then(|(_, v)| v.as_str())
            .filter(|s| !s.is_empty());
        match specific {
            Some(h) => Some((h.to_string(), true)),
            None => self.str_field("credsStore").map(|h| (h.to_string(), false)),
        }
    }

    /// The `auths` entry for `registry` (by exact key first, then by host).
    fn auth_entry(&self, registry: &str) -> Option<&Map<String, Value>> {
        let auths = self.doc.get("auths")?.as_object()?;
        let key = server_key(registry);
        if let Some(e) = auths.get(&key).and_then(Value::as_object) {
            return Some(e);
        }
        let wanted = normalize(registry);
        auths
            .iter()
            .find(|(k, _)| normalize(k) == wanted)
            .and_then(|(_, v)| v.as_object())
    }

    /// The credential for `registry` (a host such as `127.0.0.1:5000` or `docker.io`), asking
    /// a credential helper if one is configured; `None` if there is none.
    pub fn credential(&self, registry: &str) -> Result<Option<Credential>> {
        let helper = self.helper_for(registry);
        if let Some((name, true)) = &helper {
            return helper::get(name, &server_key(registry));
        }
        if let Some(cred) = self.auth_entry(registry).and_then(|e| self.decode_entry(e)) {
            return cred.map(Some);
        }
        match &helper {
            Some((name, _)) => helper::get(name, &server_key(registry)),
            None => Ok(None),
        }
    }

    /// The credential in one `auths` entry, if it holds one.
    fn decode_entry(&self, entry: &Map<String, Value>) -> Option<Result<Credential>> {
        let field = |k: &str| {
            entry
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        if let Some(token) = field("identitytoken") {
            return Some(Ok(Credential::IdentityToken(token.to_string())));
        }
        if let Some(auth) = field("auth") {
            return Some(decode_auth(auth).ok_or_else(|| RegistryError::Config {
                action: "decode the base64 `auth` of a registry in",
                path: self.path.clone(),
                source: std::io::Error::other("expected base64 of USER:PASSWORD"),
            }));
        }
        match (field("username"), field("password")) {
            (Some(u), Some(p)) => Some(Ok(Credential::Basic {
                username: u.to_string(),
                password: p.to_string(),
            })),
            _ => None,
        }
    }

    /// Remember `username`/`password` for `registry`: through its credential helper if one is
    /// configured (the `auths` entry is then left empty, as Docker does), else as base64 in
    /// `auths`. Call [`save`](Self::save) afterwards.
    pub fn set_login(&mut self, registry: &str, username: &str, password: &str) -> Result<()> {
        let key = server_key(registry);
        let mut entry = Map::new();
        match self.helper_for(registry) {
            Some((name, _)) => helper::store(&name, &key, username, password)?,
            None => {
                let auth = STANDARD.encode(format!("{username}:{password}"));
                entry.insert("auth".into(), Value::String(auth));
            }
        }
        let auths = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        if let Some(auths) = auths.as_object_mut() {
            let wanted = normalize(registry);
            auths.retain(|k, _| normalize(k) != wanted);
            auths.insert(key, Value::Object(entry));
        }
        Ok(())
    }

    /// Forget `registry`'s credentials (in `auths` and in its helper); `false` if there were
    /// none in the file. Call [`save`](Self::save) afterwards.
    pub fn remove_login(&mut self, registry: &str) -> Result<bool> {
        if let Some((name, _)) = self.helper_for(registry) {
            helper::erase(&name, &server_key(registry))?;
        }
        let wanted = normalize(registry);
        let Some(auths) = self.doc.get_mut("auths").and_then(Value::as_object_mut) else {
            return Ok(false);
        };
        let before = auths.len();
        auths.retain(|k, _| normalize(k) != wanted);
        Ok(auths.len() != before)
    }

    /// Write the file atomically (mode 0600; the directory is created 0700 if missing).
    pub fn save(&self) -> Result<()> {
        let cfg_err = |action: &'static str, source: std::io::Error| RegistryError::Config {
            action,
            path: self.path.clone(),
            source,
        };
        let store_err = |e: crate::store::StoreError| cfg_err("write", std::io::Error::other(e));
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                let mut b = std::fs::DirBuilder::new();
                b.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
                b.create(dir)
                    .map_err(|e| cfg_err("create the directory of", e))?;
            }
        }
        let mut bytes = serde_json::to_vec_pretty(&self.doc)
            .map_err(|e| cfg_err("encode", std::io::Error::other(e)))?;
        bytes.push(b'\n');
        let mut file = AtomicFile::create(&self.path).map_err(store_err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(file.temp_path(), std::fs::Permissions::from_mode(0o600))
                .map_err(|e| cfg_err("set the mode of", e))?;
        }
        file.write_all(&bytes).map_err(|e| cfg_err("write", e))?;
        file.commit().map_err(store_err)
    }
}

/// `base64(user:password)` -> the credential (padding optional, as Docker accepts).
fn decode_auth(auth: &str) -> Option<Credential> {
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(auth.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (username, password) = text.split_once(':')?;
    Some(Credential::Basic {
        username: username.to_string(),
        password: password.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, json: &str) -> DockerConfig {
        let p = dir.join("config.json");
        std::fs::write(&p, json).unwrap();
        DockerConfig::load(&p).unwrap()
    }

    fn basic(u: &str, p: &str) -> Option<Credential> {
        Some(Credential::Basic {
            username: u.into(),
            password: p.into(),
        })
    }

    #[test]
    fn config_path_precedence() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.into())
            }
        };
        assert_eq!(
            config_path(env(&[("DOCKER_CONFIG", "/d"), ("HOME", "/h")])),
            Some("/d/config.json".into())
        );
        assert_eq!(
            config_path(env(&[("DOCKER_CONFIG", ""), ("HOME", "/h")])),
            Some("/h/.docker/config.json".into())
        );
        assert_eq!(config_path(env(&[])), None);
    }

    #[test]
    fn auths_in_every_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let auth = STANDARD.encode("u:p:with:colons");
        let unpadded = STANDARD
            .encode("hub:secret")
            .trim_end_matches('=')
            .to_string();
        let c = config(
            dir.path(),
            &format!(
                r#"{{"auths": {{
                    "127.0.0.1:5000": {{"auth": "{auth}"}},
                    "https://index.docker.io/v1/": {{"auth": "{unpadded}"}},
                    "http://quay.io/v2/": {{"username": "q", "password": "w"}},
                    "tok.example": {{"identitytoken": "refresh"}},
                    "empty.example": {{}}
                }}, "other": [1, 2]}}"#
            ),
        );
        assert_eq!(
            c.credential("127.0.0.1:5000").unwrap(),
            basic("u", "p:with:colons")
        );
        assert_eq!(c.credential("docker.io").unwrap(), basic("hub", "secret"));
        assert_eq!(c.credential("quay.io").unwrap(), basic("q", "w"));
        assert_eq!(
            c.credential("tok.example").unwrap(),
            Some(Credential::IdentityToken("refresh".into()))
        );
        assert_eq!(c.credential("empty.example").unwrap(), None);
        assert_eq!(c.credential("127.0.0.1:5001").unwrap(), None);
    }

    #[test]
    fn login_and_logout_keep_other_keys_and_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(
            dir.path(),
            r#"{"psFormat": "x", "auths": {"http://127.0.0.1:5000/v1/": {"auth": "b2xkOm9sZA=="}}}"#,
        );
        c.set_login("127.0.0.1:5000", "me", "pw").unwrap();
        c.set_login("docker.io", "hub", "h").unwrap();
        c.save().unwrap();
        let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
        assert!(text.contains("psFormat"), "{text}");
        assert!(!text.contains("http://127.0.0.1:5000/v1/"), "{text}");
        assert!(text.contains(DOCKER_HUB_KEY), "{text}");
        let back = DockerConfig::load(&dir.path().join("config.json")).unwrap();
        assert_eq!(
            back.credential("127.0.0.1:5000").unwrap(),
            basic("me", "pw")
        );
        assert_eq!(back.credential("docker.io").unwrap(), basic("hub", "h"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("config.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let mut back = back;
        assert!(back.remove_login("127.0.0.1:5000").unwrap());
        assert!(!back.remove_login("127.0.0.1:5000").unwrap());
        back.save().unwrap();
        let again = DockerConfig::load(&dir.path().join("config.json")).unwrap();
        assert_eq!(again.credential("127.0.0.1:5000").unwrap(), None);
        assert_eq!(again.credential("docker.io").unwrap(), basic("hub", "h"));
    }

    #[test]
    fn missing_file_is_empty_and_save_creates_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/config.json");
        let mut c = DockerConfig::load(&path).unwrap();
        assert_eq!(c.credential("x.example").unwrap(), None);
        c.set_login("x.example", "a", "b").unwrap();
        c.save().unwrap();
        assert!(path.exists());
    }

    #[test]
    fn broken_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, "{nope").unwrap();
        let err = DockerConfig::load(&p).unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");
        let c = config(dir.path(), r#"{"auths": {"r.example": {"auth": "%%%"}}}"#);
        assert!(c.credential("r.example").is_err());
    }

    #[test]
    fn credential_debug_hides_secrets() {
        let c = basic("u", "hunter2").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
