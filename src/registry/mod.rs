//! Registries: pulling base images into the local store, pushing images from it, and the
//! credentials and transport both need (Docker's `config.json`, credential helpers, the
//! bearer-token and Basic flows, plain HTTP for loopback and listed registries).
//!
//! Pipeline stage: beside `image`. A build's `FROM` calls [`ensure_image`] (or [`pull()`]) and
//! reads the result with `image::read_image`; `builder push`, `--push` and `-o type=registry`
//! call [`push()`] with the manifest digest the build wrote. References are `store::Reference`
//! (`busybox` = `docker.io/library/busybox:latest`; `docker.io` is served by
//! `registry-1.docker.io`).
//!
//! Invariants: every blob is checked against its descriptor's size and digest while it
//! streams into the store and committed only if it matches; a name is set only after all of an
//! image's blobs are committed; manifests travel byte for byte, so digests are the registry's;
//! no layer is ever held in memory in either direction.
//!
//! The client is our own, over blocking `reqwest` with rustls and the system's roots (no
//! OpenSSL), rather than `oci-client`: oci-client buffers whole layers in `Vec<u8>` for its
//! pull and push helpers, has no retry, no `Range` resume of a dropped download and no
//! cross-repository mount in its push path, and works on its own reference and manifest types
//! (re-serialising manifests, which changes their digests). What is needed here is small — a
//! session that answers `401` challenges and retries ([`session`]), blob GET into a store
//! writer ([`fetch`]), HEAD / mount / streamed PUT ([`upload`]) — and the blocking client keeps
//! its tokio runtime on its own thread, around network work only.

pub mod challenge;
pub mod credentials;
mod error;
pub mod fetch;
mod helper;
pub mod login;
mod parallel;
pub mod pull;
pub mod push;
pub mod retry;
pub mod session;
pub mod sources;
pub mod transport;
pub mod upload;

use std::path::PathBuf;

use oci_spec::image::Digest;

pub use error::{RegistryError, Result};
pub use pull::{pull_image, pull_image_with, PullReport};
pub use push::{push_image, push_image_with, PushOptions, PushReport};
pub use transport::Insecure;

use crate::image::{find_image, read_image, Platform};
use crate::store::{BlobStore, DirStore, Reference};

/// Told how far each blob transfer is: the blob, the bytes moved so far, its size. Called
/// from the transfer threads, often (callers thin it out).
pub type Progress<'a> = &'a (dyn Fn(&Digest, u64, u64) + Sync);

/// A [`Progress`] that ignores everything.
pub fn silent(_blob: &Digest, _done: u64, _size: u64) {}

/// How registries are reached and authenticated to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Auth {
    /// Docker's `config.json` to read credentials from (`None`: anonymous only).
    pub config: Option<PathBuf>,
    /// Which registries speak plain HTTP (loopback ones always do).
    pub insecure: Insecure,
    /// The longest wait on a registry; `None`: [`transport::io_timeout`], read when a
    /// session starts.
    pub timeout: Option<std::time::Duration>,
}

impl Auth {
    /// From the environment: `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, and
    /// `BUILDER_INSECURE_REGISTRIES`.
    pub fn from_env() -> Self {
        let env = |k: &str| std::env::var_os(k);
        Auth {
            config: credentials::config_path(env),
            insecure: Insecure::from_list(
                &std::env::var("BUILDER_INSECURE_REGISTRIES").unwrap_or_default(),
            ),
            timeout: None,
        }
    }

    /// The same, with plain HTTP for every registry (`registry.insecure=true`).
    pub fn insecure(mut self) -> Self {
        self.insecure.all = true;
        self
    }
}

/// Pull `reference` for `platform` into `store`, name it there (when the reference has a
/// tag), and return the digest of the platform's manifest, which `image::read_image` reads.
///
/// ```no_run
/// use builder::image::{Platform, PlatformExt};
/// use builder::registry::{pull, Auth};
/// use builder::store::{DirStore, Reference};
/// let store = DirStore::new("/tmp/store")?;
/// let r = Reference::parse("127.0.0.1:5000/busybox")?;
/// let digest = pull(&r, &Platform::host(), &store, &Auth::from_env())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn pull(
    reference: &Reference,
    platform: &Platform,
    store: &DirStore,
    auth: &Auth,
) -> Result<Digest> {
    pull_image(reference, platform, store, auth).map(|r| r.manifest)
}

/// Push the image whose manifest is `manifest` from `store` to `dest`; returns the manifest
/// digest, equal to the registry's `Docker-Content-Digest`.
pub fn push(
    store: &DirStore,
    manifest: &Digest,
    dest: &Reference,
    opts: &PushOptions,
) -> Result<Digest> {
    push_image(store, manifest, dest, opts).map(|r| r.digest)
}

/// The image for `FROM reference`: from the store when it is there and complete (no network),
/// else pulled; with `always_pull` (`--pull`) the registry is asked every time. Returns the
/// platform's manifest digest.
pub fn ensure_image(
    reference: &Reference,
    platform: &Platform,
    store: &DirStore,
    auth: &Auth,
    always_pull: bool,
) -> Result<Digest> {
    ensure_image_with(reference, platform, store, auth, always_pull, &silent)
}

/// [`ensure_image`], telling `progress` how far each blob download is.
pub fn ensure_image_with(
    reference: &Reference,
    platform: &Platform,
    store: &DirStore,
    auth: &Auth,
    always_pull: bool,
    progress: Progress<'_>,
) -> Result<Digest> {
    if !always_pull {
        if let Some(digest) = local_image(reference, platform, store)? {
            return Ok(digest);
        }
    }
    pull_image_with(reference, platform, store, auth, progress).map(|r| r.manifest)
}

/// The complete image `reference` names in the store, if there is one.
fn local_image(
    reference: &Reference,
    platform: &Platform,
    store: &DirStore,
) -> Result<Option<Digest>> {
    let found = match reference.digest() {
        Some(d) if store.has(d).unwrap_or(false) => {
            crate::image::select_manifest(store, d, platform).ok()
        }
        Some(_) => None,
        None => find_image(store, &store.images(), &reference.to_string())
            .ok()
            .map(|r| r.record.digest),
    };
    let Some(digest) = found else { return Ok(None) };
    let Ok(image) = read_image(store, &digest) else {
        return Ok(None);
    };
    for layer in image.manifest.layers() {
        if !store.has(layer.digest())? {
            return Ok(None);
        }
    }
    Ok(Some(digest))
}
