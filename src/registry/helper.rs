//! Docker credential helpers: `docker-credential-NAME get|store|erase`, speaking JSON on
//! stdin/stdout as the docker-credential-helpers protocol defines. A helper that says
//! "credentials not found" is not an error: there are simply none.

use std::io::Write;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::credentials::Credential;
use super::error::{RegistryError, Result};

/// The username a helper returns for an identity (refresh) token.
const TOKEN_USERNAME: &str = "<token>";

#[derive(Serialize, Deserialize)]
struct HelperCredential {
    #[serde(rename = "ServerURL", default)]
    server_url: String,
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Run `docker-credential-<helper> <action>` with `input` on stdin; its stdout on success.
fn run(helper: &str, action: &'static str, server: &str, input: &[u8]) -> Result<Vec<u8>> {
    let fail = |reason: String| RegistryError::Helper {
        helper: helper.to_string(),
        action,
        registry: server.to_string(),
        reason,
    };
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input)
            .map_err(|e| fail(format!("cannot write to {program}: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("cannot wait for {program}: {e}")))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        let mut text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if text.is_empty() {
            text = String::from_utf8_lossy(&out.stderr).trim().to_string();
        }
        Err(fail(text))
    }
}

/// The credential `helper` keeps for `server`, or `None` if it has none.
pub fn get(helper: &str, server: &str) -> Result<Option<Credential>> {
    let out = match run(helper, "get", server, server.as_bytes()) {
        Ok(out) => out,
        Err(RegistryError::Helper { reason, .. })
            if reason.to_lowercase().contains("credentials not found") =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let cred: HelperCredential =
        serde_json::from_slice(&out).map_err(|e| RegistryError::Helper {
            helper: helper.to_string(),
            action: "get",
            registry: server.to_string(),
            reason: format!("its answer is not valid JSON: {e}"),
        })?;
    if cred.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(if cred.username == TOKEN_USERNAME {
        Credential::IdentityToken(cred.secret)
    } else {
        Credential::Basic {
            username: cred.username,
            password: cred.secret,
        }
    }))
}

/// Give `helper` the credential for `server`.
pub fn store(helper: &str, server: &str, username: &str, password: &str) -> Result<()> {
    let input = serde_json::to_vec(&HelperCredential {
        server_url: server.to_string(),
        username: username.to_string(),
        secret: password.to_string(),
    })
    .unwrap_or_default();
    run(helper, "store", server, &input).map(|_| ())
}

/// Make `helper` forget the credential for `server`.
pub fn erase(helper: &str, server: &str) -> Result<()> {
    match run(helper, "erase", server, server.as_bytes()) {
        Ok(_) => Ok(()),
        Err(RegistryError::Helper { reason, .. })
            if reason.to_lowercase().contains("credentials not found") =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}
