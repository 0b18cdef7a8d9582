//! Uploads: a blob is looked for first (`HEAD`, skipped when the registry has it), mounted
//! from another repository of the same registry when its source is known, else uploaded as
//! one streamed `PUT` read straight from the store file (never held in memory); a failed
//! upload starts a fresh upload session. Manifests are `PUT` byte for byte with their own
//! media type, and the digest the registry answers with must be theirs.

use std::io::Read;
use std::time::Duration;

use oci_spec::image::Digest;
use reqwest::blocking::Body;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};

use super::challenge::Scopes;
use super::error::{RegistryError, Result};
use super::fetch::status_error;
use super::retry;
use super::session::Session;
use super::transport::IO_TIMEOUT;
use crate::store::digest::sha256;
use crate::store::BlobStore;

/// What happened to one blob of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobOutcome {
    /// The registry already had it.
    Existed,
    /// Mounted from another repository of the same registry.
    Mounted,
    /// Uploaded.
    Uploaded,
}

/// Whether `repo` on the registry has the blob `digest` (`HEAD`).
pub fn blob_exists(
    session: &Session,
    repo: &str,
    digest: &Digest,
    scopes: &Scopes,
) -> Result<bool> {
    let url = session.endpoint().url(&format!("{repo}/blobs/{digest}"));
    let resp = session.send(scopes, &|c| c.head(&url))?;
    match resp.status().as_u16() {
        200 => Ok(true),
        404 => Ok(false),
        _ => Err(status_error("HEAD", &url, resp)),
    }
}

/// Put the blob `digest` (`size` bytes, in `store`) into `repo`, mounting it from
/// `mount_from` (a repository of the same registry) when given.
pub fn push_blob(
    session: &Session,
    repo: &str,
    digest: &Digest,
    size: u64,
    store: &dyn BlobStore,
    mount_from: Option<&str>,
) -> Result<BlobOutcome> {
    let scopes = match mount_from {
        Some(src) => Scopes::push(repo).and_pull(src),
        None => Scopes::push(repo),
    };
    if blob_exists(session, repo, digest, &scopes)? {
        return Ok(BlobOutcome::Existed);
    }
    let mut attempt = 1;
    loop {
        let mount = if attempt == 1 { mount_from } else { None };
        let location = match start_upload(session, repo, digest, mount, &scopes)? {
            Started::Mounted => return Ok(BlobOutcome::Mounted),
            Started::Session(location) => location,
        };
        match put_blob(session, &location, digest, size, store, &scopes) {
            Ok(()) => return Ok(BlobOutcome::Uploaded),
            Err(e) if attempt < retry::ATTEMPTS && is_transient(&e) => {
                retry::pause(attempt);
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether a failed upload is worth a fresh session.
fn is_transient(e: &RegistryError) -> bool {
    match e {
        RegistryError::Http { .. } | RegistryError::Read { .. } => true,
        RegistryError::Status { status, .. } => {
            retry::retryable_status(*status) || *status == 404 || *status == 400
        }
        _ => false,
    }
}

enum Started {
    Mounted,
    Session(String),
}

/// `POST …/blobs/uploads/` (with `?mount=&from=` when mounting).
fn start_upload(
    session: &Session,
    repo: &str,
    digest: &Digest,
    mount_from: Option<&str>,
    scopes: &Scopes,
) -> Result<Started> {
    let url = session.endpoint().url(&format!("{repo}/blobs/uploads/"));
    let resp = session.send(scopes, &|c| {
        let req = c.post(&url).header(CONTENT_LENGTH, 0);
        match mount_from {
            Some(src) => req.query(&[("mount", digest.as_ref()), ("from", src)]),
            None => req,
        }
    })?;
    match resp.status().as_u16() {
        201 if mount_from.is_some() => Ok(Started::Mounted),
        202 => {
            let location = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| RegistryError::Protocol {
                    registry: session.registry().to_string(),
                    reason: format!("POST {url} started an upload without a Location"),
                })?;
            Ok(Started::Session(session.endpoint().resolve(location)))
        }
        _ => Err(status_error("POST", &url, resp)),
    }
}

/// A reader standing in for a blob that could not be opened: the request fails with why.
struct Unreadable(String);

impl Read for Unreadable {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other(self.0.clone()))
    }
}

/// `PUT location?digest=…` with the whole blob streamed from the store.
fn put_blob(
    session: &Session,
    location: &str,
    digest: &Digest,
    size: u64,
    store: &dyn BlobStore,
    scopes: &Scopes,
) -> Result<()> {
    let mut url = reqwest::Url::parse(location).map_err(|e| RegistryError::Protocol {
        registry: session.registry().to_string(),
        reason: format!("upload location {location:?} is not a URL: {e}"),
    })?;
    url.query_pairs_mut().append_pair("digest", digest.as_ref());
    // Long enough for a slow link (100 kB/s), short enough to notice a dead one.
    let timeout = IO_TIMEOUT + Duration::from_secs(size / 100_000);
    let resp = session.send(scopes, &|c| {
        let body = match store.open(digest) {
            Ok(r) => Body::sized(r, size),
            Err(e) => Body::sized(Unreadable(e.to_string()), size),
        };
        c.put(url.clone())
            .timeout(timeout)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, size)
            .body(body)
    })?;
    match resp.status().as_u16() {
        201 | 204 => Ok(()),
        _ => Err(status_error("PUT", url.as_str(), resp)),
    }
}

/// `PUT` the manifest `bytes` as `repo:reference` with `media_type`; returns its digest, which
/// the registry's `Docker-Content-Digest` must confirm.
pub fn put_manifest(
    session: &Session,
    repo: &str,
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) -> Result<Digest> {
    let url = session
        .endpoint()
        .url(&format!("{repo}/manifests/{reference}"));
    let scopes = Scopes::push(repo);
    let resp = session.send(&scopes, &|c| {
        c.put(&url)
            .header(CONTENT_TYPE, media_type)
            .body(bytes.to_vec())
    })?;
    if resp.status().as_u16() != 201 && !resp.status().is_success() {
        return Err(status_error("PUT", &url, resp));
    }
    let digest = sha256(bytes);
    let answered = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !answered.is_empty() && answered != digest.as_ref() {
        return Err(RegistryError::Protocol {
            registry: session.registry().to_string(),
            reason: format!(
                "the registry stored manifest {repo}:{reference} as {answered}, not {digest}"
            ),
        });
    }
    Ok(digest)
}
