//! The registry side of a build: base images the target names (`FROM`, `COPY --from`,
//! `RUN --mount from=`) that are not in the local store are pulled before the build is
//! planned (all of them with `--pull`), and `--push` / `-o type=registry` push the result under every
//! name once the build has succeeded.

use oci_spec::image::Digest;

use crate::build::outputs::{Outputs, Written};
use crate::dockerfile::ast::Span;
use crate::error::{Error, Result};
use crate::export::OutputType;
use crate::graph::Platform;
use crate::progress::{self, Reporter};
use crate::registry::{self, Auth, PushOptions};
use crate::store::{DirStore, Reference};

/// Make every image of `references` (with the Dockerfile lines that name it, see
/// [`crate::graph::base_images`]) available in the store: kept when it is there (unless
/// `always_pull`), pulled otherwise. A failure quotes the line of `dockerfile` (its label
/// and text) that names the image.
pub fn ensure_images(
    references: Vec<(String, Span)>,
    store: &DirStore,
    platform: &Platform,
    (always_pull, auth): (bool, &Auth),
    reporter: &dyn Reporter,
    (label, text): (&str, &str),
) -> Result<()> {
    for (reference, span) in references {
        let parsed = Reference::parse(&reference)
            .map_err(|e| Error::Usage(format!("invalid image reference {reference:?}: {e}")))?;
        if !always_pull && store.images().get(&reference)?.is_some() {
            continue;
        }
        let title = format!("[internal] load metadata for {reference}");
        progress::vertex(reporter, &title, |id| {
            let bytes = |blob: &Digest, done: u64, size: u64| {
                reporter.progress(id, blob.as_ref(), done, Some(size))
            };
            registry::ensure_image_with(&parsed, platform, store, auth, always_pull, &bytes)
        })
        .map_err(|e| super::diagnose::missing_image(label, text, &reference, span, e))?;
    }
    Ok(())
}

/// Whether [`ensure_images`] would pull any of `references`: with `always_pull`, any at all;
/// else one that the store does not name (or whose name cannot be looked up: pulling it
/// says why).
pub fn any_to_pull(references: &[(String, Span)], store: &DirStore, always_pull: bool) -> bool {
    let names = store.images();
    references
        .iter()
        .any(|(reference, _)| always_pull || !matches!(names.get(reference), Ok(Some(_))))
}

/// Whether any output pushes.
pub fn pushes(outputs: &Outputs) -> bool {
    outputs
        .specs
        .iter()
        .any(|s| s.push || s.kind == OutputType::Registry)
}

/// Refuse, before any work, a push that has no name to push to.
pub fn check_push_names(outputs: &Outputs, tags: &[String]) -> Result<()> {
    let unnamed = outputs
        .specs
        .iter()
        .filter(|s| s.push || s.kind == OutputType::Registry)
        .any(|s| s.names.is_empty() && tags.is_empty());
    if unnamed {
        return Err(Error::Usage(
            "pushing needs a name: give -t NAME or -o type=registry,name=NAME".into(),
        ));
    }
    Ok(())
}

/// Push the built image for every pushing output, under its `name=` names or else the `-t`
/// tags, with `auth`. The digest the registry reports must be the one the build made.
pub fn push_all(
    store: &DirStore,
    outputs: &Outputs,
    written: &Written,
    (tags, auth): (&[String], &Auth),
    reporter: &dyn Reporter,
) -> Result<()> {
    for spec in outputs
        .specs
        .iter()
        .filter(|s| s.push || s.kind == OutputType::Registry)
    {
        let names = if spec.names.is_empty() {
            tags
        } else {
            &spec.names[..]
        };
        if names.is_empty() {
            return Err(Error::Usage(
                "pushing needs a name: give -t NAME or -o type=registry,name=NAME".into(),
            ));
        }
        let image = written.for_spec(spec);
        let mut auth = auth.clone();
        if spec.registry_insecure {
            auth = auth.insecure();
        }
        let opts = PushOptions { auth };
        for name in names {
            let dest = Reference::parse(name)
                .map_err(|e| Error::Usage(format!("invalid image name {name:?}: {e}")))?;
            let title = format!("pushing {dest}");
            progress::vertex(reporter, &title, |id| -> Result<()> {
                let bytes = |blob: &Digest, done: u64, size: u64| {
                    reporter.progress(id, blob.as_ref(), done, Some(size))
                };
                let digest =
                    registry::push_image_with(store, image.digest(), &dest, &opts, &bytes)?.digest;
                reporter.log(id, &format!("pushed manifest {digest}"));
                Ok(())
            })?;
        }
    }
    Ok(())
}
