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
use crate::store::{BlobInfo, BlobStore, StoreError};

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
        let status = resp.status().as_u16();
        if status == 404 {
            return Err(RegistryError::NotFound {
                registry: session.registry().to_string(),
                what: format!("manifest {repo}:{reference}"),
            });
        }
        if !resp.status().is_success() {
            return Err(status_error("GET", &url, resp));
        }
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
        if bytes.len() as u64 > MAX_MANIFEST {
            return Err(RegistryError::Protocol {
                registry: session.registry().to_string(),
                reason: format!("manifest {repo}:{reference} is larger than 4 MiB"),
            });
        }
        let digest = sha256(&bytes);
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
                what: format!("manifest {repo}:{reference}"),
                expected: Box::new(claimed),
                actual: Box::new(digest),
            });
        }
        return Ok(FetchedManifest {
            media_type: media_type_of(&media_type, &bytes),
            bytes,
            digest,
        });
    }
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
    let url = session.endpoint().url(&format!("{repo}/blobs/{digest}"));
    let scopes = Scopes::pull(repo);
    let mut writer = store.writer()?;
    let mut attempt = 1;
    let mut buf = vec![0u8; BUF_SIZE];
    progress(digest, 0, size);
    loop {
        let offset = writer.written();
        let stalled = |tries: u32| RegistryError::Stalled {
            what: format!("blob {digest}"),
            url: url.clone(),
            wait: session.wait(),
            tries,
        };
        let sent = session.send_once_if_stalled(&scopes, &|c| {
            let req = c.get(&url);
            if offset > 0 {
                req.header(RANGE, format!("bytes={offset}-"))
            } else {
                req
            }
        });
        let resp = match sent {
            Err(RegistryError::Http { source, .. }) if source.is_timeout() => {
                if attempt >= retry::ATTEMPTS {
                    return Err(stalled(attempt));
                }
                retry::pause(attempt);
                attempt += 1;
                continue;
            }
            other => other?,
        };
        let status = resp.status().as_u16();
        if status == 404 {
            return Err(RegistryError::NotFound {
                registry: session.registry().to_string(),
                what: format!("blob {digest} of {repo}"),
            });
        }
        let resumed = status == 206 && content_range_start(&resp) == Some(offset);
        if !(status == 200 || resumed) {
            if (status == 416 || status == 206) && attempt < retry::ATTEMPTS {
                // The range was refused or is not the one asked for: start over.
                writer = store.writer()?;
                attempt += 1;
                continue;
            }
            return Err(status_error("GET", &url, resp));
        }
        if status == 200 && offset > 0 {
            // The registry ignored the range and sends the whole blob again.
            writer = store.writer()?;
        }
        let mut body = resp;
        let broke = loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => n,
                Err(e) => break Some(e),
            };
            if writer.written() + n as u64 > size {
                return Err(RegistryError::SizeMismatch {
                    registry: session.registry().to_string(),
                    digest: digest.clone(),
                    expected: size,
                    actual: writer.written() + n as u64,
                });
            }
            let chunk = buf.get(..n).unwrap_or(&buf);
            std::io::Write::write_all(&mut writer, chunk)
                .map_err(|e| StoreError::io("write blob", digest.to_string(), e))?;
            progress(digest, writer.written(), size);
        };
        match broke {
            Some(e) if timed_out(&e) && attempt >= retry::ATTEMPTS => {
                return Err(stalled(attempt));
            }
            None if writer.written() == size => break,
            None if attempt >= retry::ATTEMPTS => {
                return Err(RegistryError::SizeMismatch {
                    registry: session.registry().to_string(),
                    digest: digest.clone(),
                    expected: size,
                    actual: writer.written(),
                })
            }
            Some(e) if attempt >= retry::ATTEMPTS => {
                return Err(RegistryError::Read {
                    what: format!("blob {digest}"),
                    url,
                    source: e,
                })
            }
            // A short body or a broken connection: resume after a pause.
            _ => {
                retry::pause(attempt);
                attempt += 1;
            }
        }
    }
    writer.commit(Some(digest)).map_err(|e| match e {
        StoreError::DigestMismatch { expected, actual } => RegistryError::DigestMismatch {
            registry: session.registry().to_string(),
            what: format!("blob {expected} of {repo}"),
            expected: Box::new(expected),
            actual: Box::new(actual),
        },
        other => other.into(),
    })
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
