//! What a build reads before planning: the build context (a directory, `-` for stdin — a
//! tar of the context, or a Dockerfile with an empty context, told apart by the first bytes
//! as buildx does — a `.tar`/`.tar.gz` file, a Git repository URL checked out by the
//! build's fetcher, `#ref:subdir` as buildx reads it, or an HTTP(S) URL of a tarball or a
//! Dockerfile) with its `.dockerignore`, the Dockerfile, and the
//! `--build-context` values, turned into [`NamedContext`]s (OCI layouts imported into the
//! store, local directories, or images already in the store).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::frontend::DockerfileSource;
use crate::context::archive::ArchiveCompression;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::export::layout::{import_layout, import_layout_index, LayoutRef, OCI_LAYOUT_SCHEME};
use crate::graph::Platform;
use crate::remote::{Fetched, Fetcher, RemoteRequest};
use crate::solve::NamedContext;
use crate::store::{DirStore, NameIndex, Reference};

/// The context and the Dockerfile, read.
#[derive(Debug)]
pub struct BuildInputs {
    /// The build context.
    pub context: Context,
    /// The Dockerfile's name in diagnostics.
    pub label: String,
    /// The Dockerfile's text.
    pub text: String,
    /// The Dockerfile came on stdin as the context (`builder build -`), so the context is
    /// empty.
    pub empty_context: bool,
}

/// What `builder build -` found on stdin: a tar of the context, or a Dockerfile.
#[derive(Debug)]
enum Stdin<R> {
    /// A tar (plain or compressed) whose first bytes are `head`, the rest in the reader.
    Tar(Vec<u8>, R),
    /// The whole stream: a Dockerfile.
    Dockerfile(Vec<u8>),
}

/// The bytes buildx looks at to tell a tar from a Dockerfile (two tar blocks).
const SNIFF: usize = 1024;

/// Tell what `reader` (stdin) holds, as buildx does: a gzip, bzip2, xz or zstd stream, or
/// bytes that start with a valid tar header, are a tar; anything else is a Dockerfile.
/// Empty stdin is neither.
fn sniff<R: Read>(mut reader: R) -> Result<Stdin<R>> {
    let io = |source| Error::Io {
        action: "read the build context or Dockerfile from",
        path: PathBuf::from("stdin"),
        source,
    };
    let mut head = Vec::with_capacity(SNIFF);
    (&mut reader)
        .take(SNIFF as u64)
        .read_to_end(&mut head)
        .map_err(io)?;
    if head.is_empty() {
        return Err(Error::Usage(
            "stdin is empty: with `-` as the context, pipe a tar of the context or a Dockerfile \
             to builder build"
                .into(),
        ));
    }
    let compressed = ArchiveCompression::detect(&head) != ArchiveCompression::None;
    // The first header alone (raw: a long-name or PAX extension entry is not followed to
    // the file's own header, which may lie past what was read).
    let tar_header = tar::Archive::new(&head[..])
        .entries()
        .is_ok_and(|e| matches!(e.raw(true).next(), Some(Ok(_))));
    if compressed || tar_header {
        return Ok(Stdin::Tar(head, reader));
    }
    reader.read_to_end(&mut head).map_err(io)?;
    Ok(Stdin::Dockerfile(head))
}

/// Open the context `context` and read the Dockerfile (`-f`; for a tar context, a path
/// inside the archive unless it names a file on disk). `-` is stdin: a tar of the context,
/// or a Dockerfile with an empty context.
pub fn open(context: &str, file: Option<&str>) -> Result<BuildInputs> {
    if context == "-" {
        if file == Some("-") {
            return Err(Error::Usage(
                "invalid argument: can't use stdin for both build context and dockerfile".into(),
            ));
        }
        return match sniff(std::io::stdin().lock())? {
            Stdin::Tar(head, rest) => open_tar(context, file, Some(head.chain(rest))),
            Stdin::Dockerfile(bytes) => stdin_dockerfile(file, bytes),
        };
    }
    if Path::new(context).is_file() {
        return open_tar(context, file, None::<std::io::Empty>);
    }
    let source = DockerfileSource::locate(context, file)?;
    let text = source.read()?;
    let on_disk = match &source {
        DockerfileSource::Path(p) => Some(p.as_path()),
        DockerfileSource::Stdin => None,
    };
    let ctx = Context::from_dir(Path::new(context), on_disk)?;
    Ok(BuildInputs {
        context: ctx,
        label: source.label(),
        text,
        empty_context: false,
    })
}

/// A remote context: a Git repository ([`open_git`]), or an HTTP(S) URL whose download is
/// a tarball of the context (plain or compressed) or else a Dockerfile with an empty
/// context, told apart as stdin is.
pub fn open_remote(context: &str, file: Option<&str>, remote: &dyn Fetcher) -> Result<BuildInputs> {
    if crate::remote::is_git_source(context) {
        return open_git(context, file, remote);
    }
    let req = RemoteRequest {
        url: context,
        checksum: None,
        keep_git_dir: false,
    };
    let Fetched::File { path, .. } = remote.fetch(&req).map_err(context_error)? else {
        return Err(Error::Usage(format!(
            "build context {context} is not a file"
        )));
    };
    let download = std::fs::File::open(&path).map_err(|source| Error::Io {
        action: "read the build context",
        path: path.clone(),
        source,
    })?;
    match sniff(download)? {
        Stdin::Tar(..) => open_tar(&path.to_string_lossy(), file, None::<std::io::Empty>),
        Stdin::Dockerfile(bytes) => stdin_dockerfile(file, bytes),
    }
}

/// The error of a remote context that could not be fetched.
fn context_error(e: crate::remote::FetchError) -> Error {
    let shown = e.to_string();
    Error::build(
        format!("ERROR: failed to solve: failed to read the build context: {shown}"),
        e,
    )
}

/// A Git repository as the context (`builder build https://host/repo.git#ref:subdir`, as
/// buildx): `remote` checks it out (its `.git` left out) and keeps the checkout while it
/// lives. `-f` names a file of the checkout, or `-` the Dockerfile on stdin.
fn open_git(context: &str, file: Option<&str>, remote: &dyn Fetcher) -> Result<BuildInputs> {
    let req = RemoteRequest {
        url: context,
        checksum: None,
        keep_git_dir: false,
    };
    let fetched = remote.fetch(&req).map_err(context_error)?;
    let Fetched::Dir { path } = fetched else {
        return Err(Error::Usage(format!(
            "build context {context} is not a Git repository"
        )));
    };
    let root = path.to_string_lossy().into_owned();
    let source = match file {
        Some("-") | None => DockerfileSource::locate(&root, file)?,
        Some(f) => {
            let rel = crate::context::matcher::clean_path(f.trim_start_matches('/'));
            if rel.starts_with("..") {
                return Err(Error::Usage(format!(
                    "the Dockerfile {f:?} is outside the context"
                )));
            }
            DockerfileSource::Path(path.join(rel))
        }
    };
    let text = source.read()?;
    let on_disk = match &source {
        DockerfileSource::Path(p) => Some(p.as_path()),
        DockerfileSource::Stdin => None,
    };
    let ctx = Context::from_dir(&path, on_disk)?;
    let label = match file {
        Some("-") => source.label(),
        other => other.unwrap_or("Dockerfile").to_string(),
    };
    Ok(BuildInputs {
        context: ctx,
        label,
        text,
        empty_context: false,
    })
}

/// A Dockerfile on stdin in place of the context: the build has an empty context.
fn stdin_dockerfile(file: Option<&str>, bytes: Vec<u8>) -> Result<BuildInputs> {
    if file.is_some() {
        return Err(Error::Usage(
            "ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles".into(),
        ));
    }
    Ok(BuildInputs {
        context: Context::empty()?,
        label: DockerfileSource::Stdin.label(),
        text: super::frontend::dockerfile_text(Path::new("-"), bytes)?,
        empty_context: true,
    })
}

/// A tar context: the file `context`, or the stream `stdin` (context `-`).
fn open_tar<R: Read>(context: &str, file: Option<&str>, stdin: Option<R>) -> Result<BuildInputs> {
    let outside = file.filter(|f| *f == "-" || Path::new(f).is_file());
    let inner = match file {
        Some(f) if outside.is_none() => f,
        _ => "Dockerfile",
    };
    let ctx = match stdin {
        None => Context::from_tar_file(Path::new(context), inner)?,
        Some(stream) => Context::from_tar(stream, inner)?,
    };
    let (label, text) = match outside {
        Some(f) => {
            let source = DockerfileSource::locate(context, Some(f))?;
            (source.label(), source.read()?)
        }
        None => {
            let rel = crate::context::matcher::clean_path(inner.trim_start_matches('/'));
            if rel.starts_with("..") {
                return Err(Error::Usage(format!(
                    "the Dockerfile {inner:?} is outside the context"
                )));
            }
            let source = DockerfileSource::Path(ctx.root.join(&rel));
            (inner.to_string(), source.read()?)
        }
    };
    Ok(BuildInputs {
        context: ctx,
        label,
        text,
        empty_context: false,
    })
}

/// Pull the image of `--build-context NAME=docker-image://REF` into the store.
fn pull_context(
    name: &str,
    value: &str,
    reference: &str,
    store: &DirStore,
    platform: &Platform,
    auth: &crate::registry::Auth,
) -> Result<oci_spec::image::Digest> {
    let parsed = Reference::parse(reference).map_err(|e| {
        Error::Usage(format!(
            "--build-context {name}={value}: invalid reference: {e}"
        ))
    })?;
    crate::registry::ensure_image(&parsed, platform, store, auth, false).map_err(|e| {
        Error::build(
            format!(
                "ERROR: failed to solve: --build-context {name}={value}: image {reference:?} is not in the local store and could not be pulled: {}\n\
                 hint: fetch it with `builder pull {reference}` where the registry can be reached, \
                 import a tarball with `builder load -i FILE`, or use a local copy: \
                 --build-context {name}=oci-layout://DIR",
                crate::error::chain(&e),
            ),
            e,
        )
    })
}

/// Resolve every `--build-context NAME=VALUE` for the build's `platforms` (the first one's
/// image is taken from an index, unless there are several and the layout holds them all: then
/// the index is kept whole); a `docker-image://REF` that is not in the store is pulled
/// (with `auth`).
pub fn named_contexts(
    specs: &[(String, String)],
    store: &DirStore,
    names: &NameIndex,
    platforms: &[Platform],
    auth: &crate::registry::Auth,
) -> Result<BTreeMap<String, NamedContext>> {
    let Some(platform) = platforms.first() else {
        return Err(Error::Usage("a build for no platform".into()));
    };
    let mut out = BTreeMap::new();
    for (name, value) in specs {
        let resolved = if value.starts_with(OCI_LAYOUT_SCHEME) {
            let layout = LayoutRef::parse(value)?;
            NamedContext::Image(match platforms.len() > 1 {
                true => import_layout_index(&layout, platform, store)?,
                false => import_layout(&layout, platform, store)?,
            })
        } else if let Some(reference) = value.strip_prefix("docker-image://") {
            match names.get(reference)? {
                Some(record) => NamedContext::Image(record.digest),
                None => NamedContext::Image(pull_context(
                    name, value, reference, store, platform, auth,
                )?),
            }
        } else if value.contains("://") {
            return Err(Error::Usage(format!(
                "--build-context {name}={value}: unsupported source (expected a directory, oci-layout://PATH or docker-image://REF)"
            )));
        } else {
            let dir = PathBuf::from(value);
            if !dir.is_dir() {
                return Err(Error::Usage(format!(
                    "--build-context {name}={value}: not a directory"
                )));
            }
            NamedContext::Dir(dir)
        };
        out.insert(name.clone(), resolved);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(name: &str, content: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(content.len() as u64);
        b.append_data(&mut h, name, content).unwrap();
        b.into_inner().unwrap()
    }

    fn whole(s: Stdin<&[u8]>) -> (bool, Vec<u8>) {
        match s {
            Stdin::Tar(head, mut rest) => {
                let mut all = head;
                rest.read_to_end(&mut all).unwrap();
                (true, all)
            }
            Stdin::Dockerfile(bytes) => (false, bytes),
        }
    }

    #[test]
    fn stdin_is_a_tar_when_buildx_would_say_so() {
        let tar = tar_of("Dockerfile", &b"FROM scratch\n".repeat(200));
        assert_eq!(whole(sniff(&tar[..]).unwrap()), (true, tar.clone()));
        // A long first name takes an extension entry: the file's own header comes later.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(3);
        b.append_data(
            &mut h,
            format!("{}/Dockerfile", "d".repeat(200)),
            &b"abc"[..],
        )
        .unwrap();
        let long = b.into_inner().unwrap();
        assert_eq!(whole(sniff(&long[..]).unwrap()), (true, long.clone()));
        // Compressed streams are told by their magic alone.
        for magic in [&[0x1f, 0x8b, 0x08][..], b"BZh9", &[0x28, 0xb5, 0x2f, 0xfd]] {
            let (is_tar, _) = whole(sniff(magic).unwrap());
            assert!(is_tar, "{magic:?}");
        }
    }

    #[test]
    fn anything_else_is_the_dockerfile_whole() {
        let short = b"FROM scratch\nENV A=1\n";
        assert_eq!(whole(sniff(&short[..]).unwrap()), (false, short.to_vec()));
        // Longer than what is looked at: nothing is lost.
        let long = format!("FROM scratch\n{}", "RUN true\n".repeat(500));
        let (is_tar, bytes) = whole(sniff(long.as_bytes()).unwrap());
        assert!(!is_tar);
        assert_eq!(bytes, long.as_bytes());
        let e = sniff(&b""[..]).unwrap_err().to_string();
        assert!(e.contains("stdin is empty"), "{e}");
    }
}
