//! Downloads: manifests (kept byte for byte, so their digest is the registry's) and blobs
//! streamed straight into the store. Every blob is checked against its descriptor's size as
//! it arrives and against its digest before it is committed; a connection that drops mid-blob
//! is resumed with `Range: bytes=N-` (or restarted when the registry ignores the range).
//! Nothing that fails a check reaches the store.
//!
//! A blob download that stalls is bounded: a try fails when no byte arrives for the wait
//! ([`Session::wait`], `BUILDER_REGISTRY_TIMEOUT`: for the answer, or for the next bytes of
//! the body), and a download makes at most [`retry::ATTEMPTS`] tries in all, with pauses
//! of a few seconds in all between them; then it fails with an error naming the blob and
//! the wait.

use std::io::Read;

use oci_spec::image::{Descriptor, Digest};
use reqwest::blocking::Response;
use reqwest::header::{ACCEPT, CONTENT_RANGE, CONTENT_TYPE, RANGE};

use super::challenge::Scopes;
use super::error::{RegistryError, Result};
use super::retry;
use super::session::{error_message, Session};
use crate::image::manifest::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST};
use crate::store::digest::sha256;
use crate::store::{BlobInfo, BlobStore, BlobWriter, StoreError};

/// Manifest media types this client accepts, best first.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// The largest manifest accepted (the distribution server's own limit is 4 MiB).
const MAX_MANIFEST: u64 = 4 << 20;

/// How much of a blob is read per call.
const BUF_SIZE: usize = 256 * 1024;

/// A manifest or index as the registry sent it.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The exact bytes.
    pub bytes: Vec<u8>,
    /// Their digest.
    pub digest: Digest,
    /// The `Content-Type` the registry gave.
    pub media_type: String,
}

/// GET the manifest `reference` (a tag or a digest) of `repo`. With `expected`, the bytes must
/// hash to it.
pub fn get_manifest(
    session: &Session,
    repo: &str,
    reference: &str,
    expected: Option<&Digest>,
) -> Result<FetchedManifest> {
    let url = session
        .endpoint()
        .url(&format!("{repo}/manifests/{reference}"));
    let scopes = Scopes::pull(repo);
    let what = format!("manifest {repo}:{reference}");
    let mut attempt = 1;
    loop {
        let sent =
            session.send_once_if_stalled(&scopes, &|c| c.get(&url).header(ACCEPT, MANIFEST_ACCEPT));
        let resp = match sent {
            // A stalled answer is one failed try, like a stalled body below.
            Err(RegistryError::Http { source, .. })
                if source.is_timeout() && attempt < retry::ATTEMPTS =>
            {
                retry::pause(attempt);
                attempt += 1;
                continue;
            }
            other => other?,
        };
        let resp = manifest_answer(session, &url, &what, resp)?;
        let media_type = header(&resp, CONTENT_TYPE.as_str());
        let registry_digest = header(&resp, "docker-content-digest");
        let mut bytes = Vec::new();
        match resp.take(MAX_MANIFEST + 1).read_to_end(&mut bytes) {
            Ok(_) => {}
            Err(e) if attempt < retry::ATTEMPTS => {
                let _ = e;
                retry::pause(attempt);
                attempt += 1;
                continue;
            }
            Err(e) => {
                return Err(RegistryError::Read {
                    what: "manifest".into(),
                    url,
                    source: e,
                })
            }
        }
        let digest = check_manifest(session, &what, expected, &registry_digest, &bytes)?;
        return Ok(FetchedManifest {
            media_type: media_type_of(&media_type, &bytes),
            bytes,
            digest,
        });
    }
}

/// The registry's answer `resp` to the GET of manifest `what` at `url`, unless it is an
/// error (`404`: not found).
fn manifest_answer(session: &Session, url: &str, what: &str, resp: Response) -> Result<Response> {
    let status = resp.status().as_u16();
    if status == 404 {
        return Err(RegistryError::NotFound {
            registry: session.registry().to_string(),
            what: what.to_string(),
        });
    }
    if !resp.status().is_success() {
        return Err(status_error("GET", url, resp));
    }
    Ok(resp)
}

/// Checks the manifest `bytes` (`what` names it in errors): at most 4 MiB, and hashing to
/// `expected`, else to the sha256 `Docker-Content-Digest` the registry sent, if any.
/// Returns their digest.
fn check_manifest(
    session: &Session,
    what: &str,
    expected: Option<&Digest>,
    registry_digest: &str,
    bytes: &[u8],
) -> Result<Digest> {
    if bytes.len() as u64 > MAX_MANIFEST {
        return Err(RegistryError::Protocol {
            registry: session.registry().to_string(),
            reason: format!("{what} is larger than 4 MiB"),
        });
    }
    let digest = sha256(bytes);
    let claimed = match expected {
        Some(d) => Some(d.clone()),
        None => registry_digest
            .parse::<Digest>()
            .ok()
            .filter(|d| d.algorithm() == &oci_spec::image::DigestAlgorithm::Sha256),
    };
    if let Some(claimed) = claimed.filter(|c| *c != digest) {
        return Err(RegistryError::DigestMismatch {
            registry: session.registry().to_string(),
            what: what.to_string(),
            expected: Box::new(claimed),
            actual: Box::new(digest),
        });
    }
    Ok(digest)
}

/// The media type of a manifest: the `Content-Type`, else its `mediaType` field.
fn media_type_of(content_type: &str, bytes: &[u8]) -> String {
    let ct = content_type.split(';').next().unwrap_or("").trim();
    if !ct.is_empty() && ct != "application/json" && ct != "application/octet-stream" {
        return ct.to_string();
    }
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType", default)]
        media_type: String,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Probe>(bytes) {
        Ok(p) if !p.media_type.is_empty() => p.media_type,
        Ok(p) if p.manifests.is_some() => "application/vnd.oci.image.index.v1+json".into(),
        _ => "application/vnd.oci.image.manifest.v1+json".into(),
    }
}

/// Whether `media_type` is an index or a manifest list.
pub fn is_index(media_type: &str) -> bool {
    media_type == "application/vnd.oci.image.index.v1+json" || media_type == DOCKER_MANIFEST_LIST
}

/// Whether `media_type` is a single-image manifest this client can use.
pub fn is_manifest(media_type: &str) -> bool {
    media_type == "application/vnd.oci.image.manifest.v1+json" || media_type == DOCKER_MANIFEST
}

fn header(resp: &Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// The error for an unexpected answer.
pub fn status_error(method: &str, url: &str, resp: Response) -> RegistryError {
    RegistryError::Status {
        method: method.to_string(),
        url: url.to_string(),
        status: resp.status().as_u16(),
        message: error_message(resp),
    }
}

/// Download the blob `desc` of `repo` into `store`, checking size and digest; resumes a
/// dropped connection where it broke. `progress` hears of every chunk.
pub fn download_blob(
    session: &Session,
    repo: &str,
    desc: &Descriptor,
    store: &dyn BlobStore,
    progress: super::Progress<'_>,
) -> Result<BlobInfo> {
    let digest = desc.digest();
    let size = desc.size();
    let mut download = BlobDownload {
        session,
        repo,
        digest,
        size,
        url: session.endpoint().url(&format!("{repo}/blobs/{digest}")),
        scopes: Scopes::pull(repo),
        store,
        progress,
        writer: store.writer()?,
        attempt: 1,
    };
    let mut buf = vec![0u8; BUF_SIZE];
    progress(digest, 0, size);
    while !download.try_once(&mut buf)? {}
    download.commit()
}

/// One blob download under way: the store writer it fills and the tries made so far.
struct BlobDownload<'a> {
    session: &'a Session,
    repo: &'a str,
    digest: &'a Digest,
    size: u64,
    url: String,
    scopes: Scopes,
    store: &'a dyn BlobStore,
    progress: super::Progress<'a>,
    writer: Box<dyn BlobWriter + 'a>,
    /// The try under way, from 1 to [`retry::ATTEMPTS`].
    attempt: u32,
}

impl BlobDownload<'_> {
    /// One try: asks for the rest of the blob (from what is written) and reads the body.
    /// True when the whole blob is written; false when another try is due.
    fn try_once(&mut self, buf: &mut [u8]) -> Result<bool> {
        let offset = self.writer.written();
        let Some(resp) = self.send(offset)? else {
            return Ok(false);
        };
        let status = resp.status().as_u16();
        if status == 404 {
            return Err(RegistryError::NotFound {
                registry: self.session.registry().to_string(),
                what: format!("blob {} of {}", self.digest, self.repo),
            });
        }
        let resumed = status == 206 && content_range_start(&resp) == Some(offset);
        if !(status == 200 || resumed) {
            if (status == 416 || status == 206) && self.attempt < retry::ATTEMPTS {
                // The range was refused or is not the one asked for: start over.
                self.writer = self.store.writer()?;
                self.attempt += 1;
                return Ok(false);
            }
            return Err(status_error("GET", &self.url, resp));
        }
        if status == 200 && offset > 0 {
            // The registry ignored the range and sends the whole blob again.
            self.writer = self.store.writer()?;
        }
        let broke = self.read_body(resp, buf)?;
        self.end_of_body(broke)
    }

    /// Sends the GET, with `Range: bytes=offset-` past the start. `None` when the answer
    /// stalled and another try is due (after a pause).
    fn send(&mut self, offset: u64) -> Result<Option<Response>> {
        let url = &self.url;
        let sent = self.session.send_once_if_stalled(&self.scopes, &|c| {
            let req = c.get(url);
            if offset > 0 {
                req.header(RANGE, format!("bytes={offset}-"))
            } else {
                req
            }
        });
        match sent {
            Err(RegistryError::Http { source, .. }) if source.is_timeout() => {
                if self.attempt >= retry::ATTEMPTS {
                    return Err(self.stalled());
                }
                retry::pause(self.attempt);
                self.attempt += 1;
                Ok(None)
            }
            other => other.map(Some),
        }
    }

    /// Streams the body into the writer, failing as soon as it exceeds the descriptor's
    /// size. Returns the read error that ended it early, if any.
    fn read_body(&mut self, mut body: Response, buf: &mut [u8]) -> Result<Option<std::io::Error>> {
        loop {
            let n = match body.read(buf) {
                Ok(0) => return Ok(None),
                Ok(n) => n,
                Err(e) => return Ok(Some(e)),
            };
            if self.writer.written() + n as u64 > self.size {
                return Err(RegistryError::SizeMismatch {
                    registry: self.session.registry().to_string(),
                    digest: self.digest.clone(),
                    expected: self.size,
                    actual: self.writer.written() + n as u64,
                });
            }
            let chunk = buf.get(..n).unwrap_or(buf);
            std::io::Write::write_all(&mut self.writer, chunk)
                .map_err(|e| StoreError::io("write blob", self.digest.to_string(), e))?;
            (self.progress)(self.digest, self.writer.written(), self.size);
        }
    }

    /// After a body ended (`broke` is the read error, if any): true when the blob is
    /// complete, false when another try is due (after a pause), an error on the last try.
    fn end_of_body(&mut self, broke: Option<std::io::Error>) -> Result<bool> {
        match broke {
            Some(e) if timed_out(&e) && self.attempt >= retry::ATTEMPTS => Err(self.stalled()),
            None if self.writer.written() == self.size => Ok(true),
            None if self.attempt >= retry::ATTEMPTS => Err(RegistryError::SizeMismatch {
                registry: self.session.registry().to_string(),
                digest: self.digest.clone(),
                expected: self.size,
                actual: self.writer.written(),
            }),
            Some(e) if self.attempt >= retry::ATTEMPTS => Err(RegistryError::Read {
                what: format!("blob {}", self.digest),
                url: self.url.clone(),
                source: e,
            }),
            // A short body or a broken connection: resume after a pause.
            _ => {
                retry::pause(self.attempt);
                self.attempt += 1;
                Ok(false)
            }
        }
    }

    /// The error for a download that stalled on its last try.
    fn stalled(&self) -> RegistryError {
        RegistryError::Stalled {
            what: format!("blob {}", self.digest),
            url: self.url.clone(),
            wait: self.session.wait(),
            tries: self.attempt,
        }
    }

    /// Commits the blob, which the store admits only if it hashes to the descriptor's
    /// digest.
    fn commit(self) -> Result<BlobInfo> {
        let (session, repo) = (self.session, self.repo);
        self.writer.commit(Some(self.digest)).map_err(|e| match e {
            StoreError::DigestMismatch { expected, actual } => RegistryError::DigestMismatch {
                registry: session.registry().to_string(),
                what: format!("blob {expected} of {repo}"),
                expected: Box::new(expected),
                actual: Box::new(actual),
            },
            other => other.into(),
        })
    }
}

/// Whether reading a body failed because no byte came within the wait.
fn timed_out(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::TimedOut
        || e.get_ref()
            .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
            .is_some_and(reqwest::Error::is_timeout)
}

/// The first byte of a `206`'s `Content-Range: bytes FIRST-LAST/TOTAL`.
fn content_range_start(resp: &Response) -> Option<u64> {
    let v = resp.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let rest = v.trim().strip_prefix("bytes ")?;
    rest.split('-').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_from_header_or_body() {
        assert_eq!(
            media_type_of(
                "application/vnd.oci.image.manifest.v1+json; charset=utf-8",
                b"{}"
            ),
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(
            media_type_of(
                "application/json",
                format!(r#"{{"mediaType":"{DOCKER_MANIFEST}"}}"#).as_bytes()
            ),
            DOCKER_MANIFEST
        );
        assert_eq!(
            media_type_of("", br#"{"schemaVersion":2,"manifests":[]}"#),
            "application/vnd.oci.image.index.v1+json"
        );
        assert!(is_index(DOCKER_MANIFEST_LIST));
        assert!(is_manifest(DOCKER_MANIFEST));
        assert!(!is_manifest(
            "application/vnd.docker.distribution.manifest.v1+prettyjws"
        ));
    }
}
