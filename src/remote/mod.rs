//! Remote ADD sources: HTTP(S) files ([`http`]) and Git repositories ([`git`]).
//!
//! [`Fetcher`] is the boundary the step keys and the COPY engine use: [`Fetcher::key`] names
//! the content a source stands for now (the `--checksum` when given, else the downloaded
//! content's digest, or the commit a Git ref resolves to) and [`Fetcher::fetch`] puts that
//! content on local disk. [`Remote`] is the real fetcher of a build; what it downloads and
//! clones is kept under the store's `remote/` directory, so that a rebuild revalidates
//! rather than downloads again. [`NoFetcher`] refuses every source (unit tests, and callers
//! that must not reach the network).
//!
//! Nothing fetched is trusted: a `--checksum` is verified before the content is used, and
//! the content is copied into a layer by the COPY engine's rules like any other source.

pub mod git;
pub mod http;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

pub use crate::domain::remote_source::{is_git_source, is_http_source, is_remote_source};

/// One remote source of an ADD, with the flags that change what is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteRequest<'a> {
    /// The source as written (variables expanded).
    pub url: &'a str,
    /// `--checksum`: `sha256:...` for HTTP, a commit (or its prefix) for Git.
    pub checksum: Option<&'a str>,
    /// `--keep-git-dir` (Git only).
    pub keep_git_dir: bool,
}

/// What a fetch produced, on local disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A downloaded file, copied with mode 0600 (BuildKit's mode for URL sources).
    File {
        /// The downloaded file.
        path: PathBuf,
        /// The file name to use when the destination is a directory.
        filename: String,
        /// The mtime the file gets: `Last-Modified` (the Unix epoch when the server sent
        /// none, as BuildKit); `None` leaves the copy's time.
        mtime: Option<SystemTime>,
    },
    /// A checked-out Git tree, whose contents are copied like a directory.
    Dir {
        /// The checkout.
        path: PathBuf,
    },
}

/// A remote source that could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// This build cannot fetch remote sources.
    #[error("ADD from {url} is not supported here: remote sources need network fetching")]
    Unsupported {
        /// The source URL.
        url: String,
    },
    /// The content does not match `--checksum`.
    #[error("checksum mismatch for {url}: expected {expected}, got {actual}")]
    ChecksumMismatch {
        /// The source URL.
        url: String,
        /// The `--checksum` value.
        expected: String,
        /// What the content hashes to.
        actual: String,
    },
    /// An HTTP(S) download failed.
    #[error(transparent)]
    Http(#[from] http::HttpError),
    /// A Git source could not be resolved or checked out.
    #[error(transparent)]
    Git(#[from] git::GitError),
}

/// Fetches remote ADD sources.
pub trait Fetcher: Sync + std::fmt::Debug {
    /// A stable name for the content `req` stands for now, for the step's cache key: the
    /// checksum when given (nothing is downloaded), else what identifies the content (a
    /// content digest, a commit). May fetch; a later [`Fetcher::fetch`] of the same
    /// request in this build then reuses what was fetched.
    fn key(&self, req: &RemoteRequest<'_>) -> Result<String, FetchError>;

    /// The content of `req` on local disk, `--checksum` verified.
    fn fetch(&self, req: &RemoteRequest<'_>) -> Result<Fetched, FetchError>;
}

/// The fetcher of a build that may not reach the network: every source is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFetcher;

impl Fetcher for NoFetcher {
    fn key(&self, req: &RemoteRequest<'_>) -> Result<String, FetchError> {
        Err(FetchError::Unsupported {
            url: req.url.to_string(),
        })
    }

    fn fetch(&self, req: &RemoteRequest<'_>) -> Result<Fetched, FetchError> {
        Err(FetchError::Unsupported {
            url: req.url.to_string(),
        })
    }
}

/// How a build reaches remote sources.
#[derive(Clone, Default)]
pub struct RemoteSettings {
    /// Where downloads and clones are kept (the store's `remote/`).
    pub dir: PathBuf,
    /// The longest wait for a connection or the next bytes of an answer.
    pub timeout: Duration,
    /// `GIT_AUTH_TOKEN` / `GIT_AUTH_TOKEN.<host>` secrets: `(host, token)`, the host empty
    /// for the token of every host.
    pub git_auth_tokens: Vec<(String, String)>,
    /// `GIT_AUTH_HEADER` / `GIT_AUTH_HEADER.<host>` secrets: `(host, header)`.
    pub git_auth_headers: Vec<(String, String)>,
    /// `HTTP_AUTH_HEADER_<host>` secrets: `(host, Authorization value)`, for URL sources.
    pub http_auth_headers: Vec<(String, String)>,
    /// `HTTP_AUTH_TOKEN_<host>` secrets: `(host, token)`, sent as `Bearer <token>` (and
    /// winning over the host's header, as in BuildKit).
    pub http_auth_tokens: Vec<(String, String)>,
    /// The SSH agent socket of `--ssh default`, for `git@`/`ssh://` sources.
    pub ssh_auth_sock: Option<PathBuf>,
}

impl std::fmt::Debug for RemoteSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens and headers are secrets: only whether they are set is shown.
        let hosts = |v: &[(String, String)]| v.iter().map(|(h, _)| h.clone()).collect::<Vec<_>>();
        f.debug_struct("RemoteSettings")
            .field("dir", &self.dir)
            .field("timeout", &self.timeout)
            .field("git_auth_tokens", &hosts(&self.git_auth_tokens))
            .field("git_auth_headers", &hosts(&self.git_auth_headers))
            .field("http_auth_headers", &hosts(&self.http_auth_headers))
            .field("http_auth_tokens", &hosts(&self.http_auth_tokens))
            .field("ssh_auth_sock", &self.ssh_auth_sock)
            .finish()
    }
}

/// The fetcher of a build: HTTP(S) files and Git repositories, kept under `settings.dir`.
#[derive(Debug)]
pub struct Remote {
    http: http::HttpSources,
    git: git::GitSources,
}

impl Remote {
    /// A fetcher with `settings`.
    pub fn new(settings: RemoteSettings) -> Remote {
        Remote {
            http: http::HttpSources::new(&settings),
            git: git::GitSources::new(&settings),
        }
    }
}

impl Fetcher for Remote {
    fn key(&self, req: &RemoteRequest<'_>) -> Result<String, FetchError> {
        if is_git_source(req.url) {
            self.git.key(req)
        } else {
            self.http.key(req)
        }
    }

    fn fetch(&self, req: &RemoteRequest<'_>) -> Result<Fetched, FetchError> {
        if is_git_source(req.url) {
            self.git.fetch(req)
        } else {
            self.http.fetch(req)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_fetcher_refuses() {
        let req = RemoteRequest {
            url: "https://example.com/x",
            checksum: None,
            keep_git_dir: false,
        };
        let err = NoFetcher.fetch(&req).unwrap_err();
        assert!(err.to_string().contains("https://example.com/x"), "{err}");
        assert!(NoFetcher.key(&req).is_err());
    }

    #[test]
    fn settings_never_show_secrets() {
        let s = RemoteSettings {
            git_auth_tokens: vec![("example.com".into(), "s3cr3t-token".into())],
            http_auth_headers: vec![("example.org".into(), "Basic s3cr3t-header".into())],
            http_auth_tokens: vec![("example.net".into(), "s3cr3t-bearer".into())],
            ..RemoteSettings::default()
        };
        let shown = format!("{s:?}");
        assert!(
            shown.contains("example.com")
                && shown.contains("example.org")
                && shown.contains("example.net")
                && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }
}
