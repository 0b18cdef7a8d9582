//! One registry, spoken to: every request goes through [`Session::send`], which adds the
//! `Authorization` the registry asked for, answers a `401` challenge once (Basic with the
//! stored credential, or the bearer-token flow: GET `realm?service=…&scope=…` with Basic
//! credentials or anonymously, or POST a refresh token), caches tokens per set of scopes, and
//! retries connection failures and `5xx` answers with backoff. Requests are built by a
//! closure so that a retry can rebuild the body (reopen a blob) instead of buffering it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use serde::Deserialize;

use super::challenge::{Challenge, Scopes};
use super::credentials::{Credential, DockerConfig};
use super::error::{RegistryError, Result};
use super::retry;
use super::transport::{async_http_client, http_client, io_timeout, Endpoint};
use super::Auth;

/// Where a session's credential comes from.
#[derive(Debug, Clone)]
pub enum CredentialSource {
    /// Looked up in this `config.json` on the first challenge (`None`: no file, anonymous).
    Config(Option<std::path::PathBuf>),
    /// Given (by `builder login`).
    Given(Credential),
}

#[derive(Default)]
struct AuthState {
    /// The scheme the registry asked for on its first `401`.
    challenge: Option<Challenge>,
    /// Bearer tokens by the scopes they were asked for.
    tokens: HashMap<Scopes, HeaderValue>,
    /// The credential, once looked up (`Some(None)`: there is none).
    credential: Option<Option<Credential>>,
}

/// A connection to one registry (cheap to share between threads).
pub struct Session {
    client: Client,
    /// The longest wait for a connection, an answer or the next bytes of a body.
    wait: std::time::Duration,
    uploader: std::sync::OnceLock<Uploader>,
    endpoint: Endpoint,
    source: CredentialSource,
    state: Mutex<AuthState>,
    /// Held while a token is fetched, so that threads missing the same token (parallel
    /// blob transfers) fetch it once: the others find it cached when they get the lock.
    refresh: Mutex<()>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// The async client for streamed uploads, and the runtime (two worker threads) it runs on,
/// shared by all uploads of a session so that connections are reused.
#[derive(Debug)]
pub struct Uploader {
    /// The runtime; call `block_on` from any thread.
    pub runtime: tokio::runtime::Runtime,
    /// The client.
    pub client: reqwest::Client,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The registry's error message from a failed response (its `errors` JSON, else the start of
/// the body).
pub fn error_message(resp: Response) -> String {
    let mut body = String::new();
    let _ = std::io::Read::read_to_string(&mut std::io::Read::take(resp, 16 * 1024), &mut body);
    error_message_of(&body)
}

/// The registry's error message in a response body (its `errors` JSON, else the start of
/// the body).
pub fn error_message_of(body: &str) -> String {
    if let Ok(parsed) = serde_json::from_str::<ErrorBody>(body) {
        let parts: Vec<String> = parsed
            .errors
            .iter()
            .map(|e| match (e.code.is_empty(), e.message.is_empty()) {
                (false, false) => {
                    format!("{}: {}", e.code.to_lowercase().replace('_', " "), e.message)
                }
                (true, false) => e.message.clone(),
                _ => e.code.to_lowercase().replace('_', " "),
            })
            .collect();
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    body.trim().chars().take(300).collect()
}

impl Session {
    /// A session with `registry` under `auth`'s transport rules and credentials.
    pub fn new(registry: &str, auth: &Auth) -> Result<Self> {
        Self::with_source(
            registry,
            auth,
            CredentialSource::Config(auth.config.clone()),
        )
    }

    /// A session with an explicit credential source.
    pub fn with_source(registry: &str, auth: &Auth, source: CredentialSource) -> Result<Self> {
        let wait = match auth.timeout {
            Some(wait) => wait,
            None => io_timeout()?,
        };
        Ok(Session {
            client: http_client(wait)?,
            wait,
            uploader: std::sync::OnceLock::new(),
            endpoint: Endpoint::new(registry, &auth.insecure),
            source,
            state: Mutex::new(AuthState::default()),
            refresh: Mutex::new(()),
        })
    }

    /// The longest wait for a connection, an answer or the next bytes of a body
    /// (`BUILDER_REGISTRY_TIMEOUT`).
    pub fn wait(&self) -> std::time::Duration {
        self.wait
    }

    /// The registry's endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The registry host as references name it.
    pub fn registry(&self) -> &str {
        &self.endpoint.registry
    }

    fn state(&self) -> MutexGuard<'_, AuthState> {
        // Every update is a single assignment or insert: a poisoned lock is still consistent.
        crate::domain::lock(&self.state)
    }

    /// The credential for this registry, looked up once.
    fn credential(&self) -> Result<Option<Credential>> {
        if let Some(c) = &self.state().credential {
            return Ok(c.clone());
        }
        let found = match &self.source {
            CredentialSource::Given(c) => Some(c.clone()),
            CredentialSource::Config(None) => None,
            CredentialSource::Config(Some(path)) => {
                DockerConfig::load(path)?.credential(self.registry())?
            }
        };
        self.state().credential = Some(found.clone());
        Ok(found)
    }

    /// Send the request `build` makes (again on each retry), authorised for `scopes`.
    /// Returns the response whatever its status, except that a `401` is answered (or turned
    /// into [`RegistryError::LoginRequired`] / [`RegistryError::Denied`]) and retryable
    /// failures are retried first.
    pub fn send(
        &self,
        scopes: &Scopes,
        build: &dyn Fn(&Client) -> RequestBuilder,
    ) -> Result<Response> {
        self.send_retrying(scopes, build, true)
    }

    /// [`send`](Self::send), except that a wait that times out is returned at once, for a
    /// caller that counts it against its own tries (a blob download).
    pub fn send_once_if_stalled(
        &self,
        scopes: &Scopes,
        build: &dyn Fn(&Client) -> RequestBuilder,
    ) -> Result<Response> {
        self.send_retrying(scopes, build, false)
    }

    fn send_retrying(
        &self,
        scopes: &Scopes,
        build: &dyn Fn(&Client) -> RequestBuilder,
        retry_timeouts: bool,
    ) -> Result<Response> {
        let mut attempt = 1;
        let mut reauthorized = false;
        loop {
            let mut request = build(&self.client)
                .build()
                .map_err(|e| RegistryError::Http {
                    action: "build a request to".into(),
                    url: self.endpoint.url(""),
                    source: e,
                })?;
            let used = self.authorization(scopes)?;
            if let Some(value) = &used {
                request.headers_mut().insert(AUTHORIZATION, value.clone());
            }
            let method = request.method().to_string();
            let url = request.url().to_string();
            let resp = match self.client.execute(request) {
                Ok(r) => r,
                Err(e)
                    if retry::retryable_error(&e)
                        && (retry_timeouts || !e.is_timeout())
                        && attempt < retry::ATTEMPTS =>
                {
                    retry::pause(attempt);
                    attempt += 1;
                    continue;
                }
                Err(e) => {
                    return Err(RegistryError::Http {
                        action: method,
                        url,
                        source: e,
                    })
                }
            };
            let status = resp.status().as_u16();
            if status == 401 {
                if reauthorized {
                    return Err(self.refused(scopes, resp));
                }
                self.on_challenge(scopes, &resp, used.as_ref())?;
                reauthorized = true;
                continue;
            }
            if retry::retryable_status(status) && attempt < retry::ATTEMPTS {
                drop(resp);
                retry::pause(attempt);
                attempt += 1;
                continue;
            }
            return Ok(resp);
        }
    }

    /// The async client and its runtime for streamed uploads (made on first use).
    pub fn uploader(&self) -> Result<&Uploader> {
        if let Some(u) = self.uploader.get() {
            return Ok(u);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("builder-upload")
            .enable_all()
            .build()
            .map_err(|e| RegistryError::Read {
                what: "an upload runtime".into(),
                url: self.endpoint.url(""),
                source: e,
            })?;
        let client = async_http_client(self.wait)?;
        Ok(self.uploader.get_or_init(|| Uploader { runtime, client }))
    }

    /// The `Authorization` header for `scopes`, fetching a token if the registry wants one.
    pub fn authorization(&self, scopes: &Scopes) -> Result<Option<HeaderValue>> {
        let challenge = {
            let state = self.state();
            if let Some(t) = state.tokens.get(scopes) {
                return Ok(Some(t.clone()));
            }
            state.challenge.clone()
        };
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => match self.credential()? {
                Some(Credential::Basic { username, password }) => {
                    Ok(Some(basic_header(&username, &password)))
                }
                _ => Ok(None),
            },
            Some(Challenge::Bearer {
                realm,
                service,
                scope: _,
            }) => {
                let _refresh = crate::domain::lock(&self.refresh);
                if let Some(t) = self.state().tokens.get(scopes) {
                    return Ok(Some(t.clone()));
                }
                let token = self.fetch_token(&realm, service.as_deref(), scopes)?;
                self.state().tokens.insert(scopes.clone(), token.clone());
                Ok(Some(token))
            }
        }
    }

    /// Learn the scheme from a `401` and get ready to authorise the retry. `used` is the
    /// header the refused request carried: when another thread has cached a different
    /// token for `scopes` meanwhile, the retry takes that one instead of fetching again.
    fn on_challenge(
        &self,
        scopes: &Scopes,
        resp: &Response,
        used: Option<&HeaderValue>,
    ) -> Result<()> {
        let header = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let challenge = Challenge::parse(header).ok_or_else(|| RegistryError::Protocol {
            registry: self.registry().to_string(),
            reason: format!("401 Unauthorized with an unusable challenge {header:?}"),
        })?;
        if challenge == Challenge::Basic && self.credential()?.is_none() {
            return Err(RegistryError::LoginRequired {
                registry: self.registry().to_string(),
            });
        }
        let _refresh = crate::domain::lock(&self.refresh);
        let mut state = self.state();
        if matches!(challenge, Challenge::Bearer { .. })
            && state.tokens.get(scopes).is_some_and(|t| Some(t) != used)
        {
            state.challenge = Some(challenge);
            return Ok(());
        }
        state.tokens.remove(scopes);
        if let Challenge::Bearer {
            realm,
            service,
            scope: Some(extra),
        } = &challenge
        {
            // Ask for what the registry said it needs as well, cached under our own scopes.
            let wanted = scopes.and(extra);
            drop(state);
            let token = self.fetch_token(realm, service.as_deref(), &wanted)?;
            let mut state = self.state();
            state.tokens.insert(scopes.clone(), token);
            state.challenge = Some(challenge);
            return Ok(());
        }
        state.challenge = Some(challenge);
        Ok(())
    }

    /// The error for a `401` that authorising did not cure.
    fn refused(&self, scopes: &Scopes, resp: Response) -> RegistryError {
        let has_credential = matches!(self.credential(), Ok(Some(_)));
        if !has_credential {
            return RegistryError::LoginRequired {
                registry: self.registry().to_string(),
            };
        }
        RegistryError::Denied {
            registry: self.registry().to_string(),
            what: describe(scopes),
            reason: error_message(resp),
        }
    }

    /// A bearer token for `scopes` from `realm`.
    fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &Scopes,
    ) -> Result<HeaderValue> {
        let credential = self.credential()?;
        let mut attempt = 1;
        let resp = loop {
            let request = self.token_request(realm, service, scopes, credential.as_ref());
            match request.send() {
                Ok(r)
                    if retry::retryable_status(r.status().as_u16())
                        && attempt < retry::ATTEMPTS => {}
                Ok(r) => break r,
                Err(e) if retry::retryable_error(&e) && attempt < retry::ATTEMPTS => {}
                Err(e) => {
                    return Err(RegistryError::Http {
                        action: "get a token from".into(),
                        url: realm.to_string(),
                        source: e,
                    })
                }
            }
            retry::pause(attempt);
            attempt += 1;
        };
        self.token_answer(realm, scopes, credential.is_some(), resp)
    }

    /// The token request: a POST of the refresh token for an identity token, else a GET
    /// with the scopes, and Basic credentials when there are some.
    fn token_request(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &Scopes,
        credential: Option<&Credential>,
    ) -> RequestBuilder {
        if let Some(Credential::IdentityToken(refresh)) = credential {
            let mut form = vec![
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", refresh.clone()),
                ("client_id", "builder".to_string()),
            ];
            if let Some(s) = service {
                form.push(("service", s.to_string()));
            }
            if !scopes.as_slice().is_empty() {
                form.push(("scope", scopes.to_string()));
            }
            return self.client.post(realm).form(&form);
        }
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = service {
            query.push(("service", s));
        }
        for s in scopes.as_slice() {
            query.push(("scope", s));
        }
        let mut req = self.client.get(realm).query(&query);
        if let Some(Credential::Basic { username, password }) = credential {
            req = req
                .query(&[("account", username.as_str())])
                .header(AUTHORIZATION, basic_header(username, password));
        }
        req
    }

    /// The token in the token service's answer `resp`; a refusal is an error that says
    /// whether logging in would help (`has_credential` is false).
    fn token_answer(
        &self,
        realm: &str,
        scopes: &Scopes,
        has_credential: bool,
        resp: Response,
    ) -> Result<HeaderValue> {
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            if !has_credential {
                return Err(RegistryError::LoginRequired {
                    registry: self.registry().to_string(),
                });
            }
            return Err(RegistryError::Denied {
                registry: self.registry().to_string(),
                what: describe(scopes),
                reason: error_message(resp),
            });
        }
        if !resp.status().is_success() {
            return Err(RegistryError::Status {
                method: "GET".into(),
                url: realm.to_string(),
                status,
                message: error_message(resp),
            });
        }
        let mut text = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(resp, 1 << 20), &mut text);
        let body: TokenResponse =
            serde_json::from_slice(&text).map_err(|e| RegistryError::Protocol {
                registry: self.registry().to_string(),
                reason: format!("the token service {realm} sent no usable token: {e}"),
            })?;
        let token = if body.token.is_empty() {
            body.access_token
        } else {
            body.token
        };
        if token.is_empty() {
            return Err(RegistryError::Protocol {
                registry: self.registry().to_string(),
                reason: format!("the token service {realm} sent an empty token"),
            });
        }
        HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| RegistryError::Protocol {
            registry: self.registry().to_string(),
            reason: format!("the token service {realm} sent a token that is not a header value"),
        })
    }
}

/// `Basic base64(user:password)`.
fn basic_header(username: &str, password: &str) -> HeaderValue {
    let encoded = STANDARD.encode(format!("{username}:{password}"));
    // Base64 output is always a valid header value.
    HeaderValue::from_str(&format!("Basic {encoded}")).unwrap_or(HeaderValue::from_static(""))
}

/// What `scopes` ask for, in words (`repository app (pull,push)`).
fn describe(scopes: &Scopes) -> String {
    let parts: Vec<String> = scopes
        .as_slice()
        .iter()
        .map(|s| {
            let mut it = s.splitn(3, ':');
            match (it.next(), it.next(), it.next()) {
                (Some("repository"), Some(name), Some(actions)) => {
                    format!("repository {name} ({actions})")
                }
                _ => s.clone(),
            }
        })
        .collect();
    if parts.is_empty() {
        "the registry".into()
    } else {
        parts.join(", ")
    }
}
