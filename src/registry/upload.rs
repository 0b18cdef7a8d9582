//! Uploads: a blob is looked for first (`HEAD`, skipped when the registry has it), mounted
//! from another repository of the same registry when its source is known, else uploaded as
//! one streamed `PUT` read straight from the store file (never held in memory); a failed
//! upload starts a fresh upload session. Manifests are `PUT` byte for byte with their own
//! media type, and the digest the registry answers with must be theirs.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use oci_spec::image::Digest;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};

use super::challenge::Scopes;
use super::error::{RegistryError, Result};
use super::fetch::status_error;
use super::retry;
use super::session::{error_message_of, Session};
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
/// `mount_from` (a repository of the same registry) when given; `progress` hears how far
/// the upload is (and of a blob that needed none, as complete).
pub fn push_blob(
    session: &Session,
    repo: &str,
    digest: &Digest,
    size: u64,
    store: &dyn BlobStore,
    mount_from: Option<&str>,
    progress: super::Progress<'_>,
) -> Result<BlobOutcome> {
    let scopes = match mount_from {
        Some(src) => Scopes::push(repo).and_pull(src),
        None => Scopes::push(repo),
    };
    if blob_exists(session, repo, digest, &scopes)? {
        progress(digest, size, size);
        return Ok(BlobOutcome::Existed);
    }
    let mut attempt = 1;
    loop {
        let mount = if attempt == 1 { mount_from } else { None };
        let location = match start_upload(session, repo, digest, mount, &scopes)? {
            Started::Mounted => {
                progress(digest, size, size);
                return Ok(BlobOutcome::Mounted);
            }
            Started::Session(location) => location,
        };
        match put_blob(session, &location, digest, size, store, &scopes, progress) {
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
            retry::retryable_status(*status) || matches!(*status, 400 | 401 | 404)
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

/// How much of a blob is read and sent at a time.
const UPLOAD_CHUNK: usize = 1 << 20;

/// How often a running upload tells its progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// A blob read from the store in [`UPLOAD_CHUNK`]s, as a request body stream; `sent`
/// counts the bytes handed to the request.
struct Chunks {
    reader: Box<dyn Read + Send>,
    left: u64,
    sent: Arc<AtomicU64>,
}

impl Iterator for Chunks {
    type Item = std::io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let want = self.left.min(UPLOAD_CHUNK as u64) as usize;
        let mut buf = vec![0u8; want];
        let mut filled = 0;
        while filled < want {
            match self.reader.read(buf.get_mut(filled..).unwrap_or_default()) {
                Ok(0) => {
                    return Some(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the blob in the store is shorter than its descriptor",
                    )))
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Some(Err(e)),
            }
        }
        self.left -= want as u64;
        self.sent.fetch_add(want as u64, Ordering::Relaxed);
        Some(Ok(buf))
    }
}

/// `PUT location?digest=…` with the whole blob streamed from the store in 1 MiB chunks.
///
/// This one request runs on the async client under the session's small runtime: the
/// blocking client hands a streamed body to its runtime 8 KiB at a time through a rendezvous
/// channel, which made a 160 MB upload to a local registry 1.7x slower than `skopeo copy`
/// (now it is on par, see `scripts/bench-registry.sh`). A
/// failure is not retried here (the registry may have taken part of the body); the caller
/// starts a fresh upload session instead.
fn put_blob(
    session: &Session,
    location: &str,
    digest: &Digest,
    size: u64,
    store: &dyn BlobStore,
    scopes: &Scopes,
    progress: super::Progress<'_>,
) -> Result<()> {
    let mut url = reqwest::Url::parse(location).map_err(|e| RegistryError::Protocol {
        registry: session.registry().to_string(),
        reason: format!("upload location {location:?} is not a URL: {e}"),
    })?;
    url.query_pairs_mut().append_pair("digest", digest.as_ref());
    // Long enough for a slow link (100 kB/s), short enough to notice a dead one.
    let timeout = session.wait() + Duration::from_secs(size / 100_000);
    let sent = Arc::new(AtomicU64::new(0));
    let body = Chunks {
        reader: store.open(digest)?,
        left: size,
        sent: Arc::clone(&sent),
    };
    let uploader = session.uploader()?;
    let mut request = uploader
        .client
        .put(url.clone())
        .timeout(timeout)
        .header(CONTENT_TYPE, "application/octet-stream")
        .header(CONTENT_LENGTH, size)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(body)));
    if let Some(auth) = session.authorization(scopes)? {
        request = request.header(AUTHORIZATION, auth);
    }
    // The request runs on the runtime; this thread tells the progress meanwhile.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    uploader.runtime.spawn(async move {
        let sent = async {
            let resp = request.send().await?;
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            Ok::<_, reqwest::Error>((status, text))
        }
        .await;
        let _ = done_tx.send(sent);
    });
    progress(digest, 0, size);
    let sent = loop {
        match done_rx.recv_timeout(PROGRESS_EVERY) {
            Ok(sent) => break sent,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                progress(digest, sent.load(Ordering::Relaxed).min(size), size);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(RegistryError::Protocol {
                    registry: session.registry().to_string(),
                    reason: format!("the upload of {digest} ended without an answer"),
                })
            }
        }
    };
    if matches!(sent, Ok((201 | 204, _))) {
        progress(digest, size, size);
    }
    match sent {
        Ok((201 | 204, _)) => Ok(()),
        Ok((status, text)) => Err(RegistryError::Status {
            method: "PUT".into(),
            url: url.to_string(),
            status,
            message: error_message_of(&text),
        }),
        Err(e) => Err(RegistryError::Http {
            action: "PUT".into(),
            url: url.to_string(),
            source: e,
        }),
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
