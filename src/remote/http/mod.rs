//! HTTP(S) sources of ADD, as BuildKit's `source/http` fetches them: a GET through the one
//! HTTP client (rustls with the system's roots plus those of `SSL_CERT_FILE`; proxies from
//! `HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`), kept under `<remote>/http/` with what
//! revalidates it (`ETag`, `Last-Modified`; see [`kept`]), so that a rebuild asks the
//! server with `If-None-Match` / `If-Modified-Since` and a 304 reuses what is kept.
//!
//! Keys: with `--checksum` (`sha256:` only) the checksum itself, nothing fetched; else the
//! content's digest and its file name, after revalidating. The mtime (`Last-Modified`) is
//! not part of the key: as BuildKit's content checksums, which leave mtimes out, a file
//! whose date alone changed keeps the step cached (with the date it was cached with). Each
//! URL is resolved
//! at most once per build, so a key and the fetch that follows make one request. A
//! download that does not match `--checksum` is an error and nothing of it is kept.
//!
//! A URL's credentials (`user:password@`) go to the server as Basic auth (as Go's client
//! does) and are masked (`xxxxx`) wherever the URL is shown. The `HTTP_AUTH_HEADER_<host>`
//! and `HTTP_AUTH_TOKEN_<host>` secrets replace that header (see [`auth`]).

mod auth;
mod date;
mod download;
mod kept;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::blocking::Client;

use self::auth::HostAuth;
use self::download::{Answer, Conditions};
use self::kept::{Kept, Record};
use super::{FetchError, Fetched, RemoteRequest, RemoteSettings};
use crate::store::StoreError;

/// Why an HTTP(S) source could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The HTTP client could not be made (no readable root certificates, say).
    #[error("set up the HTTP client: {reason}")]
    Client {
        /// Why.
        reason: String,
    },
    /// No answer came, or the answer broke off (after retries).
    #[error("download {url}: {reason}")]
    Transfer {
        /// The URL (credentials masked).
        url: String,
        /// What failed.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("download {url}: the server answered {status}")]
    Status {
        /// The URL (credentials masked).
        url: String,
        /// `404 Not Found`.
        status: String,
    },
    /// `--checksum` is no `sha256:` digest.
    #[error("invalid checksum {checksum:?}: {reason}")]
    Checksum {
        /// The flag's value.
        checksum: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A file of the kept downloads could not be written.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A kept download could not be committed.
    #[error(transparent)]
    Store(Box<StoreError>),
}

impl From<StoreError> for HttpError {
    fn from(e: StoreError) -> Self {
        HttpError::Store(Box::new(e))
    }
}

/// A URL resolved in this build.
#[derive(Debug, Clone)]
struct Resolved {
    /// `sha256:<hex>` of the content.
    digest: String,
    /// The file name in a directory destination.
    filename: String,
    /// `Last-Modified`, or the Unix epoch without one (as BuildKit).
    mtime: SystemTime,
    /// The content on disk.
    path: PathBuf,
}

/// The HTTP(S) sources of a build.
#[derive(Debug)]
pub struct HttpSources {
    /// `<remote>/http`.
    dir: PathBuf,
    /// The longest wait for a connection or the next bytes of an answer.
    timeout: Duration,
    /// Made on first use (reading the root certificates takes a while).
    client: OnceLock<Result<Client, String>>,
    /// The `Authorization` of each host the build's secrets name.
    auth: HostAuth,
    /// What each URL resolved to in this build.
    resolved: Mutex<HashMap<String, Resolved>>,
}

impl HttpSources {
    /// The HTTP side of a build's fetcher (a zero timeout is the registry's default).
    pub fn new(settings: &RemoteSettings) -> HttpSources {
        let timeout = match settings.timeout {
            Duration::ZERO => crate::registry::transport::IO_TIMEOUT,
            t => t,
        };
        HttpSources {
            dir: settings.dir.join("http"),
            timeout,
            client: OnceLock::new(),
            auth: HostAuth::new(settings),
            resolved: Mutex::new(HashMap::new()),
        }
    }

    /// See [`super::Fetcher::key`].
    pub fn key(&self, req: &RemoteRequest<'_>) -> Result<String, FetchError> {
        if let Some(sum) = req.checksum {
            check_checksum(sum)?;
            return Ok(sum.to_string());
        }
        let r = self.resolve(req)?;
        Ok(format!("{} {}", r.digest, r.filename))
    }

    /// See [`super::Fetcher::fetch`].
    pub fn fetch(&self, req: &RemoteRequest<'_>) -> Result<Fetched, FetchError> {
        let r = self.resolve(req)?;
        Ok(Fetched::File {
            path: r.path,
            filename: r.filename,
            mtime: Some(r.mtime),
        })
    }

    /// `req`'s URL resolved: once per build, `--checksum` verified.
    fn resolve(&self, req: &RemoteRequest<'_>) -> Result<Resolved, FetchError> {
        if let Some(sum) = req.checksum {
            check_checksum(sum)?;
        }
        let mut memo = self
            .resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let r = match memo.get(req.url) {
            Some(r) => r.clone(),
            None => {
                let r = self.resolve_now(req)?;
                memo.insert(req.url.to_string(), r.clone());
                r
            }
        };
        match req.checksum {
            Some(sum) if sum != r.digest => Err(mismatch(req.url, sum, &r.digest)),
            _ => Ok(r),
        }
    }

    /// Resolve `req` against what is kept and the server.
    fn resolve_now(&self, req: &RemoteRequest<'_>) -> Result<Resolved, FetchError> {
        let kept = Kept::of(&self.dir, req.url);
        let record = kept.load();
        if let (Some(sum), Some(r)) = (req.checksum, &record) {
            if r.digest == sum {
                kept.touch();
                return Ok(resolved(&kept, r));
            }
        }
        let shown = redact(req.url);
        let cond = Conditions {
            etag: record.as_ref().and_then(|r| r.etag.as_deref()),
            last_modified: record.as_ref().and_then(|r| r.last_modified.as_deref()),
            authorization: self.auth.header(req.url, &shown)?,
        };
        match download::get(self.client()?, req.url, &shown, cond, &kept)? {
            Answer::NotModified => {
                let r = record.ok_or_else(|| HttpError::Status {
                    url: shown.clone(),
                    status: "304 Not Modified to a request without conditions".into(),
                })?;
                kept.touch();
                Ok(resolved(&kept, &r))
            }
            Answer::Body {
                tmp,
                digest,
                etag,
                last_modified,
            } => {
                if let Some(sum) = req.checksum.filter(|s| *s != digest) {
                    kept.discard(tmp);
                    return Err(mismatch(req.url, sum, &digest));
                }
                let record = Record {
                    url: shown,
                    digest,
                    filename: url_filename(req.url),
                    etag,
                    last_modified,
                };
                kept.commit(tmp, &record)?;
                Ok(resolved(&kept, &record))
            }
        }
    }

    /// The client, made on first use.
    fn client(&self) -> Result<&Client, HttpError> {
        let made = self.client.get_or_init(|| {
            crate::registry::transport::http_client(self.timeout).map_err(|e| e.to_string())
        });
        made.as_ref().map_err(|reason| HttpError::Client {
            reason: reason.clone(),
        })
    }
}

/// What `record`, kept in `kept`, resolves to.
fn resolved(kept: &Kept, record: &Record) -> Resolved {
    let mtime = record
        .last_modified
        .as_deref()
        .and_then(date::parse_http_date)
        .unwrap_or(UNIX_EPOCH);
    Resolved {
        digest: record.digest.clone(),
        filename: record.filename.clone(),
        mtime,
        path: kept.content(&record.digest),
    }
}

/// `--checksum` must be a `sha256:` digest: the only one BuildKit's HTTP source computes.
fn check_checksum(sum: &str) -> Result<(), HttpError> {
    let bad = |reason| HttpError::Checksum {
        checksum: sum.to_string(),
        reason,
    };
    let Some((algo, hex)) = sum.split_once(':') else {
        return Err(bad("expected sha256:<64 hex digits>"));
    };
    if algo != "sha256" {
        return Err(bad("only sha256 checksums are supported for URLs"));
    }
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(bad("expected sha256:<64 lowercase hex digits>"));
    }
    Ok(())
}

/// The error of content that does not match `--checksum`.
fn mismatch(url: &str, expected: &str, actual: &str) -> FetchError {
    FetchError::ChecksumMismatch {
        url: redact(url),
        expected: expected.to_string(),
        actual: actual.to_string(),
    }
}

pub use crate::domain::remote_source::redact_credentials as redact;

/// The file name BuildKit's Dockerfile frontend gives a URL download: the last element of
/// the URL's (percent-decoded) path, `__unnamed__` when there is none, and `download` for
/// a name no file may have (`..`, control characters).
pub fn url_filename(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let path = percent_decode(rest.split_once('/').map(|(_, p)| p).unwrap_or(""));
    let base = match path.trim_end_matches('/').rsplit('/').next() {
        Some(base) if !base.is_empty() && base != "." => base,
        _ => return "__unnamed__".to_string(),
    };
    let name = base.trim();
    let name = name.rsplit('/').next().unwrap_or(name);
    if name.is_empty() || name == "." || name == ".." || name.chars().any(char::is_control) {
        "download".to_string()
    } else {
        name.to_string()
    }
}

/// `%XX` escapes decoded (invalid escapes kept as written, invalid UTF-8 replaced).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
