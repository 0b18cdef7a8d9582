//! Git sources of ADD: a ref resolved to its commit (the cache key), the repository kept
//! under the store and checked out through the `git` command.

use super::{FetchError, Fetched, RemoteRequest, RemoteSettings};

/// Why a Git source could not be resolved or checked out.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// Not written yet.
    #[error("ADD from {url}: Git sources are not supported yet")]
    NotYet {
        /// The repository.
        url: String,
    },
}

/// The Git sources of a build.
#[derive(Debug)]
pub struct GitSources {}

impl GitSources {
    /// The Git side of a build's fetcher.
    pub fn new(_settings: &RemoteSettings) -> GitSources {
        GitSources {}
    }

    /// See [`super::Fetcher::key`].
    pub fn key(&self, req: &RemoteRequest<'_>) -> Result<String, FetchError> {
        Err(GitError::NotYet {
            url: req.url.to_string(),
        }
        .into())
    }

    /// See [`super::Fetcher::fetch`].
    pub fn fetch(&self, req: &RemoteRequest<'_>) -> Result<Fetched, FetchError> {
        Err(GitError::NotYet {
            url: req.url.to_string(),
        }
        .into())
    }
}
