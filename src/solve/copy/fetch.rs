//! Remote ADD sources (HTTP(S) files and Git repositories): how they are recognised, and
//! the [`Fetcher`] boundary that downloads them. Network fetching is not implemented yet:
//! [`NoFetcher`] answers every request with a clear "not supported yet".

use std::path::PathBuf;
use std::time::SystemTime;

/// A remote source that could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// This build cannot fetch remote sources.
    #[error("ADD from {url} is not supported yet: remote sources need network fetching")]
    Unsupported {
        /// The source URL.
        url: String,
    },
    /// The download or clone failed.
    #[error("fetch {url}")]
    Failed {
        /// The source URL.
        url: String,
        /// The cause.
        #[source]
        source: std::io::Error,
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
        /// `Last-Modified`, when the server sent one.
        mtime: Option<SystemTime>,
    },
    /// A checked-out Git tree, whose contents are copied like a directory.
    Dir {
        /// The checkout.
        path: PathBuf,
    },
}

/// Fetches remote ADD sources.
pub trait Fetcher {
    /// Fetches `url`, verifying `checksum` (`sha256:...` for HTTP, a commit prefix for Git).
    fn fetch(&self, url: &str, checksum: Option<&str>) -> Result<Fetched, FetchError>;
}

/// The fetcher of a build without network access: every fetch is "not supported yet".
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFetcher;

impl Fetcher for NoFetcher {
    fn fetch(&self, url: &str, _checksum: Option<&str>) -> Result<Fetched, FetchError> {
        Err(FetchError::Unsupported {
            url: url.to_string(),
        })
    }
}

/// Whether a source is a Git repository reference (`git@host:repo`, `git://`, `ssh://`,
/// or an HTTP(S) URL whose path ends in `.git`).
pub fn is_git_source(src: &str) -> bool {
    if src.starts_with("git@") || src.starts_with("git://") || src.starts_with("ssh://") {
        return true;
    }
    if !(src.starts_with("http://") || src.starts_with("https://")) {
        return false;
    }
    let without_fragment = src.split('#').next().unwrap_or(src);
    let path = without_fragment
        .split('?')
        .next()
        .unwrap_or(without_fragment);
    path.trim_end_matches('/').ends_with(".git")
}

/// Whether a source is a remote HTTP(S) file (and not a Git repository).
pub fn is_http_source(src: &str) -> bool {
    (src.starts_with("http://") || src.starts_with("https://")) && !is_git_source(src)
}

/// The file name BuildKit gives a URL download: the last path element, or `__unnamed__`.
pub fn url_filename(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let path = rest.split_once('/').map(|(_, p)| p).unwrap_or("");
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(base) if !base.is_empty() && base != "." => base.to_string(),
        _ => "__unnamed__".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_sources() {
        assert!(is_http_source("https://example.com/a.tar.gz"));
        assert!(!is_http_source(
            "https://github.com/moby/buildkit.git#v0.10.1"
        ));
        assert!(is_git_source(
            "https://github.com/moby/buildkit.git#v0.10.1"
        ));
        assert!(is_git_source("git@github.com:moby/buildkit.git"));
        assert!(!is_git_source("local/file.git"));
        assert!(!is_http_source("file.txt"));
    }

    #[test]
    fn url_file_names() {
        assert_eq!(url_filename("http://example.com/foobar"), "foobar");
        assert_eq!(url_filename("https://example.com/a/b.tgz?x=1"), "b.tgz");
        assert_eq!(url_filename("https://example.com"), "__unnamed__");
        assert_eq!(url_filename("https://example.com/"), "__unnamed__");
    }

    #[test]
    fn no_fetcher_says_not_supported() {
        let err = NoFetcher.fetch("https://example.com/x", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ADD from https://example.com/x is not supported yet: remote sources need network fetching"
        );
    }
}
