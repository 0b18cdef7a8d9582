//! What a COPY or ADD can fail with, in the user's words, naming the path involved.

use std::path::PathBuf;

use crate::context::PatternError;
use crate::remote::FetchError;

/// A COPY/ADD failure.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// A source path (not a wildcard) matches nothing.
    #[error("source {pattern:?} not found in {root}{}", if *excluded { " (it is excluded by .dockerignore)" } else { "" })]
    SourceNotFound {
        /// The source as written in the Dockerfile.
        pattern: String,
        /// Where it was looked for ("the build context", "stage \"build\"").
        root: String,
        /// The path exists but `.dockerignore` excludes it.
        excluded: bool,
    },
    /// Several sources were copied to a destination that is not a directory.
    #[error("when using {instruction} with more than one source file, the destination must be a directory and end with a /")]
    DestinationNotDirectory {
        /// `COPY` or `ADD`.
        instruction: &'static str,
    },
    /// A path that must be a directory is something else.
    #[error("cannot copy to non-directory: {path}")]
    NotADirectory {
        /// The path in the image.
        path: String,
    },
    /// A file would replace a directory.
    #[error("cannot replace directory {path} with a file")]
    ReplaceDirectory {
        /// The path in the image.
        path: String,
    },
    /// Symlinks nest too deeply (or loop).
    #[error("too many levels of symbolic links resolving {path}")]
    TooManySymlinks {
        /// The path being resolved.
        path: String,
    },
    /// `--chown` names a user missing from the image's /etc/passwd.
    #[error("unable to find user {name}: no matching entries in passwd file")]
    UnknownUser {
        /// The user name.
        name: String,
    },
    /// `--chown` names a group missing from the image's /etc/group.
    #[error("unable to find group {name}: no matching entries in group file")]
    UnknownGroup {
        /// The group name.
        name: String,
    },
    /// An `--exclude` pattern is not valid.
    #[error("invalid --exclude pattern: {0}")]
    Exclude(#[source] PatternError),
    /// A source pattern is not valid glob syntax.
    #[error("invalid source: {0}")]
    SourcePattern(#[source] PatternError),
    /// An archive entry's name leads outside the extraction directory.
    #[error("archive {archive:?}: entry {entry:?} is outside the extraction directory")]
    ArchiveEscape {
        /// The archive source.
        archive: String,
        /// The offending entry name.
        entry: String,
    },
    /// An archive symlink would lead outside the extraction directory.
    #[error("archive {archive:?}: symlink {entry:?} points outside the extraction directory")]
    ArchiveSymlinkEscape {
        /// The archive source.
        archive: String,
        /// The symlink, relative to the extraction directory.
        entry: String,
    },
    /// An archive entry of a kind that is not extracted (devices, sparse files...).
    #[error("archive {archive:?}: unsupported entry {entry:?} of type {kind}")]
    ArchiveEntry {
        /// The archive source.
        archive: String,
        /// The entry name.
        entry: String,
        /// Its tar type, as a character.
        kind: char,
    },
    /// A source file of a kind that cannot be copied (a socket, ...).
    #[error("cannot copy {path}: unsupported file type")]
    UnsupportedFile {
        /// The source path.
        path: String,
    },
    /// `COPY` was given a URL or Git source.
    #[error("source can't be a URL for COPY: {source_url}")]
    UrlForCopy {
        /// The URL.
        source_url: String,
    },
    /// `--checksum` used where it is not allowed.
    #[error("{0}")]
    Checksum(&'static str),
    /// A remote source could not be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// Ownership could not be set (not root, and not inside the build's user namespace).
    #[error("set owner of {path} to {uid}:{gid}: {source}")]
    Chown {
        /// The path in the image.
        path: String,
        /// Wanted uid.
        uid: u32,
        /// Wanted gid.
        gid: u32,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A filesystem operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("read source", "write").
        action: &'static str,
        /// The path involved (in the image or the source tree).
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl CopyError {
    /// Wraps an I/O error with what was being done and where.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> CopyError {
        let path = path.into();
        move |source| CopyError::Io {
            action,
            path,
            source,
        }
    }
}
