//! One download: a GET (conditional when something is kept), retried a few times when the
//! connection fails or the server answers 5xx, the body streamed into a temp file beside
//! what is kept while it is hashed. Each wait lasts at most the client's timeout.

use std::io::{Read, Write};
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reqwest::StatusCode;
use tempfile::NamedTempFile;

use super::kept::Kept;
use super::HttpError;
use crate::store::digest::Sha256;

/// How many times a download is tried before its last failure is the answer.
const ATTEMPTS: u32 = 3;

/// The wait before the second attempt; it doubles after each.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// What a kept download is revalidated with, and the request's credentials.
#[derive(Debug, Default, Clone)]
pub(super) struct Conditions<'a> {
    /// `If-None-Match`.
    pub etag: Option<&'a str>,
    /// `If-Modified-Since`.
    pub last_modified: Option<&'a str>,
    /// `Authorization` from the build's secrets (sensitive); it replaces the Basic auth of
    /// the URL's credentials.
    pub authorization: Option<HeaderValue>,
}

/// The server's answer.
#[derive(Debug)]
pub(super) enum Answer {
    /// 304: what is kept is current.
    NotModified,
    /// New content, in a temp file beside what is kept.
    Body {
        /// The content.
        tmp: NamedTempFile,
        /// `sha256:<hex>` of the content.
        digest: String,
        /// `ETag`.
        etag: Option<String>,
        /// `Last-Modified`.
        last_modified: Option<String>,
    },
}

/// One failed attempt: worth another, or final.
enum Failure {
    Retry(HttpError),
    Fatal(HttpError),
}

/// GET `url` (shown as `shown` in errors) under `cond`, the body kept in `kept`'s
/// directory.
pub(super) fn get(
    client: &Client,
    url: &str,
    shown: &str,
    cond: Conditions<'_>,
    kept: &Kept,
) -> Result<Answer, HttpError> {
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match try_get(client, url, shown, &cond, kept) {
            Ok(answer) => return Ok(answer),
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Retry(e)) if attempt >= ATTEMPTS => return Err(e),
            Err(Failure::Retry(_)) => {
                std::thread::sleep(backoff);
                backoff *= 2;
                attempt += 1;
            }
        }
    }
}

/// One attempt of [`get`].
fn try_get(
    client: &Client,
    url: &str,
    shown: &str,
    cond: &Conditions<'_>,
    kept: &Kept,
) -> Result<Answer, Failure> {
    let mut req = client.get(url);
    if let Some(auth) = &cond.authorization {
        // `headers` replaces (where `header` would add a second `Authorization`).
        let mut map = HeaderMap::new();
        map.insert(AUTHORIZATION, auth.clone());
        req = req.headers(map);
    }
    let mut conditional = false;
    // A hostile server's header that is no valid header value is not sent back.
    for (name, value) in [
        (IF_NONE_MATCH, cond.etag),
        (IF_MODIFIED_SINCE, cond.last_modified),
    ] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            req = req.header(name, v);
            conditional = true;
        }
    }
    let resp = req.send().map_err(|e| {
        let err = transfer(shown, &e);
        if e.is_builder() || e.is_redirect() || tls_refused(&e) {
            Failure::Fatal(err)
        } else {
            Failure::Retry(err)
        }
    })?;
    let status = resp.status();
    if status == StatusCode::NOT_MODIFIED && conditional {
        return Ok(Answer::NotModified);
    }
    if !status.is_success() {
        let err = HttpError::Status {
            url: shown.to_string(),
            status: status.to_string(),
        };
        return Err(if status.is_server_error() {
            Failure::Retry(err)
        } else {
            Failure::Fatal(err)
        });
    }
    save(resp, shown, kept)
}

/// Stream `resp`'s body into a temp file of `kept`, hashing it.
fn save(mut resp: Response, shown: &str, kept: &Kept) -> Result<Answer, Failure> {
    let header = |name| {
        resp.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let (etag, last_modified) = (header(ETAG), header(LAST_MODIFIED));
    let mut tmp = kept.temp().map_err(Failure::Fatal)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match resp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Failure::Retry(HttpError::Transfer {
                    url: shown.to_string(),
                    reason: format!("read the answer: {}", cause(&e)),
                }))
            }
        };
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        tmp.write_all(chunk).map_err(|e| {
            Failure::Fatal(HttpError::Io {
                action: "write",
                path: tmp.path().to_path_buf(),
                source: e,
            })
        })?;
    }
    Ok(Answer::Body {
        tmp,
        digest: hasher.finish().to_string(),
        etag,
        last_modified,
    })
}

/// Whether `e` is a TLS handshake refused over the certificate or the protocol (rustls
/// reports those as `InvalidData`): another attempt would fail the same way.
fn tls_refused(e: &reqwest::Error) -> bool {
    let mut next = std::error::Error::source(e);
    while let Some(err) = next {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(invalid_data)
        {
            return true;
        }
        next = err.source();
    }
    false
}

/// Whether `io`, or an I/O error it wraps (whose `source` skips it), is `InvalidData`.
fn invalid_data(io: &std::io::Error) -> bool {
    io.kind() == std::io::ErrorKind::InvalidData
        || io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<std::io::Error>())
            .is_some_and(invalid_data)
}

/// A request that failed before an answer, without the URL reqwest would show (it may
/// hold credentials).
fn transfer(shown: &str, e: &reqwest::Error) -> HttpError {
    let mut reason = String::new();
    let mut next: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = next {
        let text = match err.downcast_ref::<reqwest::Error>() {
            Some(r) => {
                // `without_url` is by value: show a copy's text.
                let plain = format!("{r}");
                match r.url() {
                    Some(u) => plain.replace(&format!(" for url ({u})"), ""),
                    None => plain,
                }
            }
            None => err.to_string(),
        };
        if !reason.contains(&text) {
            if !reason.is_empty() {
                reason.push_str(": ");
            }
            reason.push_str(&text);
        }
        next = err.source();
    }
    HttpError::Transfer {
        url: shown.to_string(),
        reason,
    }
}

/// `e` and its causes, `: `-joined.
fn cause(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(err) = next {
        let text = err.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = err.source();
    }
    out
}
