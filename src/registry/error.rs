//! The registry module's error type: every way talking to a registry, reading credentials or
//! writing `config.json` can fail, naming the registry, repository or digest involved.

use std::path::PathBuf;

use oci_spec::image::Digest;

use crate::image::ImageError;
use crate::store::StoreError;

/// A failure while pulling, pushing or logging in.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry asked for credentials and none are configured.
    #[error("{registry} requires authentication: run `builder login {registry}`")]
    LoginRequired {
        /// The registry host (`127.0.0.1:5000`, `docker.io`).
        registry: String,
    },
    /// The registry (or its token service) refused the credentials or the access asked for.
    #[error("{registry} denied access to {what}: {reason} (check `builder login {registry}`)")]
    Denied {
        /// The registry host.
        registry: String,
        /// What was asked for (`repository app`, `login`).
        what: String,
        /// The registry's reason.
        reason: String,
    },
    /// A manifest or blob the registry does not have.
    #[error("{what} not found in {registry}")]
    NotFound {
        /// The registry host.
        registry: String,
        /// What is missing (`manifest busybox:latest`, `blob sha256:…`).
        what: String,
    },
    /// The registry answered with an unexpected status.
    #[error("{method} {url}: {status}{}", message_suffix(message))]
    Status {
        /// The HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The registry's error message, if it sent one.
        message: String,
    },
    /// The registry could not be reached, or the connection broke (after retries).
    #[error("{action} {url}")]
    Http {
        /// What was being done (`GET`, `read blob from`).
        action: String,
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// Reading a response body broke (after retries).
    #[error("read {what} from {url}")]
    Read {
        /// What was being read.
        what: String,
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Content from the registry did not hash to the digest it was asked for; nothing was
    /// stored.
    #[error("{what} from {registry} has digest {actual}, expected {expected}: the download is corrupt, nothing was stored")]
    DigestMismatch {
        /// The registry host.
        registry: String,
        /// What was downloaded (`blob`, `manifest`).
        what: String,
        /// The digest asked for.
        expected: Box<Digest>,
        /// The digest of what arrived.
        actual: Box<Digest>,
    },
    /// A blob had another size than its descriptor says; nothing was stored.
    #[error(
        "blob {digest} from {registry} is {actual} bytes, expected {expected}: nothing was stored"
    )]
    SizeMismatch {
        /// The registry host.
        registry: String,
        /// The blob.
        digest: Digest,
        /// The size in the descriptor.
        expected: u64,
        /// The size that arrived (at least).
        actual: u64,
    },
    /// The registry broke the distribution protocol.
    #[error("{registry}: {reason}")]
    Protocol {
        /// The registry host.
        registry: String,
        /// What was wrong.
        reason: String,
    },
    /// A reference cannot be used with a registry.
    #[error("invalid reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference given.
        reference: String,
        /// Why.
        reason: String,
    },
    /// The docker config file could not be read or written.
    #[error("{action} {}", path.display())]
    Config {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A credential helper (`docker-credential-NAME`) failed.
    #[error("credential helper docker-credential-{helper} failed to {action} credentials for {registry}: {reason}")]
    Helper {
        /// The helper's name.
        helper: String,
        /// `get`, `store` or `erase`.
        action: &'static str,
        /// The registry.
        registry: String,
        /// What went wrong.
        reason: String,
    },
    /// A setting from the environment is not valid.
    #[error("invalid {name}={value:?}: {reason}")]
    Setting {
        /// The environment variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it must be.
        reason: String,
    },
    /// Every try of a download ended with no byte for the whole wait.
    #[error("download {what} from {url}: no data for {}s, {tries} tries in all (BUILDER_REGISTRY_TIMEOUT sets the wait); gave up", wait.as_secs())]
    Stalled {
        /// What was downloaded (`blob sha256:…`).
        what: String,
        /// The URL.
        url: String,
        /// The wait of one try.
        wait: std::time::Duration,
        /// How many tries were made.
        tries: u32,
    },
    /// The HTTP client could not be set up.
    #[error("set up the HTTP client")]
    Client(#[source] reqwest::Error),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An image in the store (or from the registry) could not be read.
    #[error(transparent)]
    Image(#[from] ImageError),
}

fn message_suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

impl RegistryError {
    /// Whether this is the caller's mistake (a bad reference) rather than a failure.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            RegistryError::InvalidReference { .. } | RegistryError::Setting { .. }
        )
    }
}

/// Result with [`RegistryError`].
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
