//! Where a registry is reached: its API endpoint (`registry-1.docker.io` for `docker.io`) and
//! whether it speaks plain HTTP (`localhost`, `127.0.0.1`, `[::1]`, a registry listed in
//! `BUILDER_INSECURE_REGISTRIES`, or every registry with `registry.insecure=true`) or HTTPS
//! checked against the system's root certificates. Also the one HTTP client (rustls, no
//! OpenSSL) every session shares, and its async twin for streamed uploads.
//!
//! Every wait on a registry (a connection, an answer's headers, the next bytes of a body)
//! lasts at most [`io_timeout`]: `BUILDER_REGISTRY_TIMEOUT` seconds (1 to 3600), 30 by
//! default; a value that is not such a number is refused.

use std::time::Duration;

use super::error::{RegistryError, Result};
use crate::domain::reference::DEFAULT_DOMAIN;

/// The API host behind Docker Hub's name.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// How long to wait for a connection, a response's headers, or the next bytes of a body,
/// unless [`TIMEOUT_ENV`] says otherwise.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment variable that sets the wait, in whole seconds.
pub const TIMEOUT_ENV: &str = "BUILDER_REGISTRY_TIMEOUT";

/// The longest wait [`TIMEOUT_ENV`] may set.
const MAX_TIMEOUT_SECS: u64 = 3600;

/// The wait of this process (see the module docs).
pub fn io_timeout() -> Result<Duration> {
    io_timeout_from(std::env::var(TIMEOUT_ENV).ok().as_deref())
}

/// The wait that `value` (the variable's value, if set) gives.
pub fn io_timeout_from(value: Option<&str>) -> Result<Duration> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(IO_TIMEOUT);
    };
    match value.strip_suffix('s').unwrap_or(value).parse::<u64>() {
        Ok(secs) if (1..=MAX_TIMEOUT_SECS).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => Err(RegistryError::Setting {
            name: TIMEOUT_ENV,
            value: value.to_string(),
            reason: format!("give whole seconds from 1 to {MAX_TIMEOUT_SECS}"),
        }),
    }
}

/// Which registries are reached over plain HTTP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Insecure {
    /// Every registry (`registry.insecure=true`).
    pub all: bool,
    /// These registries (`host` or `host:port`), besides the loopback ones.
    pub registries: Vec<String>,
}

impl Insecure {
    /// The list in `BUILDER_INSECURE_REGISTRIES` (comma-separated; blanks ignored).
    pub fn from_list(list: &str) -> Self {
        Insecure {
            all: false,
            registries: list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// Whether `registry` (`host[:port]`) is reached over plain HTTP.
    pub fn allows(&self, registry: &str) -> bool {
        let host = host_of(registry);
        self.all
            || matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1")
            || self
                .registries
                .iter()
                .any(|r| r == registry || (host_of(r) == r && r == host))
    }
}

/// The host of `host[:port]` (brackets kept for IPv6).
fn host_of(registry: &str) -> &str {
    if registry.starts_with('[') {
        return match registry.find(']') {
            Some(end) => registry.get(..=end).unwrap_or(registry),
            None => registry,
        };
    }
    registry.split(':').next().unwrap_or(registry)
}

/// A registry's API endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The registry as references name it (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The host (and port) requests go to.
    pub host: String,
}

impl Endpoint {
    /// The endpoint of `registry` under the `insecure` rules.
    pub fn new(registry: &str, insecure: &Insecure) -> Self {
        let host = if registry == DEFAULT_DOMAIN {
            DOCKER_HUB_API.to_string()
        } else {
            registry.to_string()
        };
        let scheme = if insecure.allows(registry) {
            "http"
        } else {
            "https"
        };
        Endpoint {
            registry: registry.to_string(),
            scheme,
            host,
        }
    }

    /// `SCHEME://HOST/v2/` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}/v2/{}", self.scheme, self.host, path)
    }

    /// Resolve a `Location` header (absolute, or relative to this endpoint).
    pub fn resolve(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else if location.starts_with('/') {
            format!("{}://{}{}", self.scheme, self.host, location)
        } else {
            self.url(location)
        }
    }
}

/// Where Linux distributions keep the system's root certificates as one PEM bundle (the
/// places OpenSSL's probe looks first).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The roots added to the ones the TLS stack loads itself. With `SSL_CERT_FILE` (or
/// `SSL_CERT_DIR`) set, rustls' native loader reads only what it names; the system's
/// bundle is then added, so a private CA extends the system's roots instead of replacing
/// them. Without it, nothing (the loader already reads the system's roots).
fn extra_roots() -> Vec<reqwest::Certificate> {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    roots_beside(set("SSL_CERT_FILE") || set("SSL_CERT_DIR"))
}

/// The system's bundle when the roots were `overridden`, else nothing.
fn roots_beside(overridden: bool) -> Vec<reqwest::Certificate> {
    if !overridden {
        return Vec::new();
    }
    SYSTEM_BUNDLES
        .iter()
        .find_map(|path| std::fs::read(path).ok())
        .and_then(|pem| reqwest::Certificate::from_pem_bundle(&pem).ok())
        .unwrap_or_default()
}

/// The HTTP client: rustls with the system's roots (and those of `SSL_CERT_FILE`), no
/// automatic gzip (blobs are checked byte for byte), redirects followed (blob downloads
/// often redirect to storage), and `wait` for each wait.
pub fn http_client(wait: Duration) -> Result<reqwest::blocking::Client> {
    let mut builder = reqwest::blocking::Client::builder();
    for root in extra_roots() {
        builder = builder.add_root_certificate(root);
    }
    builder
        .user_agent(concat!("builder/", env!("CARGO_PKG_VERSION")))
        .timeout(wait)
        .connect_timeout(wait)
        .pool_max_idle_per_host(8)
        .tcp_nodelay(true)
        .build()
        .map_err(RegistryError::Client)
}

/// The async twin of [`http_client`], for streamed uploads (see `upload`): the blocking
/// client feeds a request body to its runtime 8 KiB at a time through a rendezvous channel,
/// which was 1.7x slower than `skopeo copy` on a 160 MB layer; an async body takes 1 MiB
/// chunks.
pub fn async_http_client(wait: Duration) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder();
    for root in extra_roots() {
        builder = builder.add_root_certificate(root);
    }
    builder
        .user_agent(concat!("builder/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(wait)
        .read_timeout(wait)
        .tcp_nodelay(true)
        .build()
        .map_err(RegistryError::Client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cert_file_adds_to_the_system_roots() {
        assert!(roots_beside(false).is_empty());
        if SYSTEM_BUNDLES
            .iter()
            .any(|p| std::path::Path::new(p).is_file())
        {
            assert!(roots_beside(true).len() > 10);
        }
    }

    #[test]
    fn loopback_and_listed_registries_are_plain_http() {
        let none = Insecure::default();
        for r in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:41234",
            "[::1]:5000",
        ] {
            assert_eq!(Endpoint::new(r, &none).scheme, "http", "{r}");
        }
        for r in [
            "docker.io",
            "quay.io",
            "10.0.0.1:5000",
            "localhost.example:5000",
        ] {
            assert_eq!(Endpoint::new(r, &none).scheme, "https", "{r}");
        }
        let listed = Insecure::from_list(" reg.lan:5000, other.lan ,,");
        assert_eq!(listed.registries, ["reg.lan:5000", "other.lan"]);
        assert!(listed.allows("reg.lan:5000"));
        assert!(!listed.allows("reg.lan:6000"));
        assert!(listed.allows("other.lan"));
        assert!(listed.allows("other.lan:443"));
        let all = Insecure {
            all: true,
            registries: vec![],
        };
        assert!(all.allows("quay.io"));
    }

    #[test]
    fn the_wait_is_whole_seconds_in_range() {
        assert_eq!(io_timeout_from(None).unwrap(), IO_TIMEOUT);
        assert_eq!(io_timeout_from(Some(" ")).unwrap(), IO_TIMEOUT);
        assert_eq!(io_timeout_from(Some("5")).unwrap(), Duration::from_secs(5));
        assert_eq!(
            io_timeout_from(Some("90s")).unwrap(),
            Duration::from_secs(90)
        );
        for bad in ["0", "-1", "1.5", "abc", "3601", "5m"] {
            let err = io_timeout_from(Some(bad)).unwrap_err().to_string();
            assert!(
                err.contains("BUILDER_REGISTRY_TIMEOUT") && err.contains(bad),
                "{err}"
            );
        }
    }

    #[test]
    fn docker_hub_goes_to_its_api_host() {
        let e = Endpoint::new("docker.io", &Insecure::default());
        assert_eq!(
            e.url("library/busybox/manifests/latest"),
            "https://registry-1.docker.io/v2/library/busybox/manifests/latest"
        );
        assert_eq!(e.registry, "docker.io");
    }

    #[test]
    fn locations_resolve_against_the_endpoint() {
        let e = Endpoint::new("127.0.0.1:5000", &Insecure::default());
        assert_eq!(
            e.resolve("/v2/a/blobs/uploads/x?_state=1"),
            "http://127.0.0.1:5000/v2/a/blobs/uploads/x?_state=1"
        );
        assert_eq!(e.resolve("http://other:1/x"), "http://other:1/x");
    }
}
