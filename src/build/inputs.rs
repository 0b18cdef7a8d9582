//! What a build reads before planning: the build context (a directory, `-` for a tar on
//! stdin, or a `.tar`/`.tar.gz` file) with its `.dockerignore`, the Dockerfile, and the
//! `--build-context` values, turned into [`NamedContext`]s (OCI layouts imported into the
//! store, local directories, or images already in the store).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::frontend::DockerfileSource;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::export::layout::{import_layout, LayoutRef, OCI_LAYOUT_SCHEME};
use crate::graph::Platform;
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
}

/// Open the context `context` and read the Dockerfile (`-f`; for a tar context, a path
/// inside the archive unless it names a file on disk).
pub fn open(context: &str, file: Option<&str>) -> Result<BuildInputs> {
    let tar_file = context != "-" && Path::new(context).is_file();
    if context != "-" && !tar_file {
        let source = DockerfileSource::locate(context, file)?;
        let text = source.read()?;
        let on_disk = match &source {
            DockerfileSource::Path(p) => Some(p.as_path()),
            DockerfileSource::Stdin => None,
        };
        let ctx = Context::from_dir(Path::new(context), on_disk)?;
        return Ok(BuildInputs {
            context: ctx,
            label: source.label(),
            text,
        });
    }
    if context == "-" && file == Some("-") {
        return Err(Error::Usage(
            "the context and the Dockerfile cannot both come from stdin".into(),
        ));
    }
    let outside = file.filter(|f| *f == "-" || Path::new(f).is_file());
    let inner = match file {
        Some(f) if outside.is_none() => f,
        _ => "Dockerfile",
    };
    let ctx = if tar_file {
        Context::from_tar_file(Path::new(context), inner)?
    } else {
        Context::from_tar(std::io::stdin().lock(), inner)?
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

/// Resolve every `--build-context NAME=VALUE`; a `docker-image://REF` that is not in the
/// store is pulled (with `auth`).
pub fn named_contexts(
    specs: &[(String, String)],
    store: &DirStore,
    names: &NameIndex,
    platform: &Platform,
    auth: &crate::registry::Auth,
) -> Result<BTreeMap<String, NamedContext>> {
    let mut out = BTreeMap::new();
    for (name, value) in specs {
        let resolved = if value.starts_with(OCI_LAYOUT_SCHEME) {
            let layout = LayoutRef::parse(value)?;
            NamedContext::Image(import_layout(&layout, platform, store)?)
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
