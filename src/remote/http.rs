//! HTTP(S) sources of ADD: downloads through the one HTTP client, kept under the store
//! with what revalidates them (`ETag`, `Last-Modified`), `--checksum` verified.

use super::{FetchError, Fetched, RemoteRequest, RemoteSettings};

/// Why an HTTP(S) source could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Not written yet.
    #[error("ADD from {url}: HTTP sources are not supported yet")]
    NotYet {
        /// The URL.
        url: String,
    },
}

/// The HTTP(S) sources of a build.
#[derive(Debug)]
pub struct HttpSources {}

impl HttpSources {
    /// The HTTP side of a build's fetcher.
    pub fn new(_settings: &RemoteSettings) -> HttpSources {
        HttpSources {}
    }

    /// See [`super::Fetcher::key`].
    pub fn key(&self, req: &RemoteRequest<'_>) -> Result<String, FetchError> {
        Err(HttpError::NotYet {
            url: req.url.to_string(),
        }
        .into())
    }

    /// See [`super::Fetcher::fetch`].
    pub fn fetch(&self, req: &RemoteRequest<'_>) -> Result<Fetched, FetchError> {
        Err(HttpError::NotYet {
            url: req.url.to_string(),
        }
        .into())
    }
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
    fn url_file_names() {
        assert_eq!(url_filename("http://example.com/foobar"), "foobar");
        assert_eq!(url_filename("https://example.com/a/b.tgz?x=1"), "b.tgz");
        assert_eq!(url_filename("https://example.com"), "__unnamed__");
        assert_eq!(url_filename("https://example.com/"), "__unnamed__");
    }
}
