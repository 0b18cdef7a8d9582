//! `builder tag SRC DEST`: give an image in the store another name.

use std::path::Path;

use clap::Args;

use crate::error::Result;
use crate::image::find_image;

/// Arguments of `builder tag`.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// The image in the local store: a name, a digest or a digest prefix.
    pub src: String,
    /// The new name, e.g. `localhost:5000/app:1.2`.
    pub dest: String,
}

/// Run `builder tag`.
pub fn run(args: &TagArgs, root: Option<&Path>) -> Result<()> {
    let store = super::open_store(root)?;
    let names = store.images();
    let found = find_image(&store, &names, &args.src)?;
    names.set(&args.dest, found.record)?;
    Ok(())
}
