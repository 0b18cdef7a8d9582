//! `builder rmi NAME...`: remove image names from the store. A name removes that name; a
//! digest or digest prefix removes every name of that image. Blobs stay until `prune`.
//! `-f` skips names that are not in the store, as `docker rmi -f` does.

use std::path::Path;

use clap::Args;

use crate::error::{Error, Result};
use crate::store::images::canonical_name;
use crate::store::{DirStore, StoreError};

/// Arguments of `builder rmi`.
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Names to remove; a digest or digest prefix removes every name of that image.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Do not fail on names that are not in the store (other errors, such as an ambiguous
    /// digest prefix, still fail).
    #[arg(short, long)]
    pub force: bool,
}

/// Remove one name, or every name of one image; returns the names removed.
fn remove(store: &DirStore, query: &str) -> Result<Vec<String>> {
    let names = store.images();
    if let Ok(key) = canonical_name(query) {
        if names.get(&key)?.is_some() {
            names.remove(&key)?;
            return Ok(vec![key]);
        }
    }
    let found = names.resolve(query)?;
    let digest = found.record.digest.clone();
    let removed = names.update(|images| {
        let doomed: Vec<String> = images
            .iter()
            .filter(|(_, r)| r.digest == digest)
            .map(|(n, _)| n.clone())
            .collect();
        for n in &doomed {
            images.remove(n);
        }
        Ok(doomed)
    })?;
    Ok(removed)
}

/// Run `builder rmi`: every name is tried; each failure is reported, and the command fails
/// if any did. With `--force` a name that is not found is no failure.
pub fn run(args: &RmiArgs, root: Option<&Path>) -> Result<()> {
    let store = super::open_store(root)?;
    let mut last_error: Option<Error> = None;
    for query in &args.names {
        match remove(&store, query) {
            Ok(removed) => {
                for name in removed {
                    outln!("Untagged: {name}");
                }
            }
            Err(Error::Store(StoreError::ImageNotFound(_))) if args.force => {}
            Err(e) => {
                if let Some(previous) = last_error.replace(e) {
                    eprintln!("error: {previous}");
                }
            }
        }
    }
    match last_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
