//! Root file systems of images being built, made only when a step needs one:
//!
//! - [`LayerTrees::materialize`] puts every layer of a stage into the snapshot store, in
//!   order, each a committed snapshot named by its chain id on top of the one below. A
//!   layer already there (from this build or an earlier one) is reused; one that is not is
//!   unpacked from its blob with [`snapshot::unpack`] (safely: nothing leaves the
//!   snapshot). COPY and WORKDIR then read their parent through [`LayeredDest`].
//! - [`LayerTrees::flatten`] makes one plain directory of a stage's or image's layers (for
//!   `COPY --from` and `type=local`/`type=tar` outputs), cached by top chain id under
//!   `ROOT/rootfs/` and made in a temp directory renamed into place, so a cached tree is
//!   always complete.
//!
//! Every layer is checked as it is read, by both: its blob must be the size its descriptor
//! gives and its uncompressed content must hash to its diff_id (hashed in the unpacking
//! pass). A snapshot is committed under its chain id, and a flattened tree renamed to its
//! top chain id, only after that check passed; a layer that fails it leaves nothing.
//!
//! Both read layer blobs, so both wait for a blob still being written in the background
//! ([`Layer::blob`]); a flattened tree already cached needs no blob.

use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::Descriptor;

use super::error::{ImageLayerError, LayerError, StepError, StepResult};
use super::layer::{top_chain_id, Layer};
use super::lower::LayeredDest;
use crate::progress::{self, Reporter, VertexId};
use crate::snapshot::{self, Owners, SnapshotId, Snapshotter, UnpackOptions};
use crate::store::BlobStore;

/// The file trees of layer chains: snapshots of a stage's layers and flattened trees,
/// made from layer blobs when a step needs them.
pub struct LayerTrees<'a> {
    /// Layer blobs.
    pub store: &'a dyn BlobStore,
    /// Committed snapshots.
    pub snapshots: &'a dyn Snapshotter,
    /// Where flattened trees are cached.
    pub flat_dir: PathBuf,
    /// Owners in base layers are set when permitted.
    pub owners: Owners,
}

impl std::fmt::Debug for LayerTrees<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerTrees")
            .field("flat_dir", &self.flat_dir)
            .field("owners", &self.owners)
            .finish_non_exhaustive()
    }
}

impl LayerTrees<'_> {
    /// Make sure every layer in `layers` has a committed snapshot; returns the top one
    /// (`None` for no layers).
    pub fn materialize(
        &self,
        layers: &mut [Layer],
        reporter: &dyn Reporter,
    ) -> StepResult<Option<SnapshotId>> {
        let count = layers.len();
        let mut parent: Option<SnapshotId> = None;
        for (i, layer) in layers.iter_mut().enumerate() {
            if layer.snapshot.is_none() {
                let name = layer.chain_id.to_string();
                let at = Position {
                    index: i + 1,
                    count,
                };
                layer.snapshot = match self.snapshots.get(&name)? {
                    Some(id) => Some(id),
                    None => Some(self.unpack(layer, at, parent.as_ref(), &name, reporter)?),
                };
            }
            parent = layer.snapshot.clone();
        }
        Ok(parent)
    }

    /// Unpack `layer` on `parent` and commit it as `name` (its chain id) only once its
    /// content has proved to be its diff_id: a layer that is not is discarded whole, so no
    /// snapshot ever holds content other than its name says.
    fn unpack(
        &self,
        layer: &Layer,
        at: Position,
        parent: Option<&SnapshotId>,
        name: &str,
        reporter: &dyn Reporter,
    ) -> StepResult<SnapshotId> {
        let blob = layer.blob()?;
        let digest = blob.digest();
        let title = format!("unpacking layer {digest}");
        progress::vertex(reporter, &title, |id| {
            let reader = self.open_blob(layer, &blob, at)?;
            let active = self.snapshots.prepare(parent)?;
            let item = format!("extracting {digest}");
            let size = Some(blob.size());
            let reader = progress::Reading::new(reader, reporter, id, item, size);
            match snapshot::unpack(reader, &active.upper, &self.options(layer)) {
                Ok(stats) => tell_warnings(reporter, id, &stats.warnings),
                Err(e) => {
                    let _ = self.snapshots.abort(active);
                    return Err(at.error(layer, &blob, e.into()));
                }
            }
            Ok(self.snapshots.commit(active, name)?)
        })
    }

    /// The blob of `layer`, once its size in the store is the one its descriptor gives.
    fn open_blob(
        &self,
        layer: &Layer,
        blob: &Descriptor,
        at: Position,
    ) -> StepResult<Box<dyn Read + Send>> {
        let actual = self.store.size(blob.digest())?;
        if actual != blob.size() {
            let size = LayerError::Size {
                expected: blob.size(),
                actual,
            };
            return Err(at.error(layer, blob, size));
        }
        Ok(self.store.open(blob.digest())?)
    }

    /// How `layer` is unpacked: owners as set, content checked against its diff_id.
    fn options(&self, layer: &Layer) -> UnpackOptions {
        UnpackOptions {
            owners: self.owners,
            diff_id: Some(layer.diff_id.clone()),
        }
    }

    /// The parent file system of a step on top of `layers`, materialized: the top snapshot
    /// (to prepare the step's own on) and the merged view of the chain.
    pub fn dest(
        &self,
        layers: &mut [Layer],
        reporter: &dyn Reporter,
    ) -> StepResult<(Option<SnapshotId>, LayeredDest)> {
        match self.materialize(layers, reporter)? {
            Some(top) => {
                let view = LayeredDest::new(self.snapshots.view(&top)?);
                Ok((Some(top), view))
            }
            None => Ok((None, LayeredDest::new(Vec::new()))),
        }
    }

    /// One plain directory holding the file system of `layers` (read-only by convention:
    /// it is shared between builds).
    pub fn flatten(&self, layers: &[Layer], reporter: &dyn Reporter) -> StepResult<PathBuf> {
        let key = match top_chain_id(layers) {
            Some(top) => top.digest().to_string(),
            None => "empty".to_string(),
        };
        let dest = self.flat_dir.join(&key);
        if dest.is_dir() {
            return Ok(dest);
        }
        std::fs::create_dir_all(&self.flat_dir)
            .map_err(StepError::io("create directory", &self.flat_dir))?;
        let temp = tempfile::Builder::new()
            .prefix(&format!(".tmp-{key}-"))
            .tempdir_in(&self.flat_dir)
            .map_err(StepError::io("create directory in", &self.flat_dir))?;
        if !layers.is_empty() {
            let title = format!("flattening {} layers", layers.len());
            let applied = progress::vertex(reporter, &title, |id| {
                self.apply_all(layers, temp.path(), reporter, id)
            });
            if let Err(e) = applied {
                // Nothing of a tree that failed is kept, read-only directories included.
                remove_tree(&temp.keep());
                return Err(e);
            }
        }
        let temp = temp.keep();
        match std::fs::rename(&temp, &dest) {
            Ok(()) => Ok(dest),
            Err(_) if dest.is_dir() => {
                // Another build flattened the same layers first.
                remove_tree(&temp);
                Ok(dest)
            }
            Err(e) => {
                remove_tree(&temp);
                Err(StepError::io("rename flattened rootfs to", &dest)(e))
            }
        }
    }

    /// Apply `layers` bottom up onto `dir`, each checked as [`LayerTrees::unpack`] checks it;
    /// the warnings of each are told on the vertex `id`.
    fn apply_all(
        &self,
        layers: &[Layer],
        dir: &Path,
        reporter: &dyn Reporter,
        id: VertexId,
    ) -> StepResult<()> {
        let count = layers.len();
        for (i, layer) in layers.iter().enumerate() {
            let at = Position {
                index: i + 1,
                count,
            };
            let blob = layer.blob()?;
            let reader = self.open_blob(layer, &blob, at)?;
            let stats = snapshot::apply(reader, dir, &self.options(layer))
                .map_err(|e| at.error(layer, &blob, e.into()))?;
            tell_warnings(reporter, id, &stats.warnings);
        }
        Ok(())
    }
}

/// How many warnings of one layer are shown; the rest are counted.
const WARNINGS_SHOWN: usize = 5;

/// Tell the warnings of unpacking one layer on its progress vertex.
fn tell_warnings(reporter: &dyn Reporter, id: VertexId, warnings: &[String]) {
    for w in warnings.iter().take(WARNINGS_SHOWN) {
        reporter.log(id, &format!("warning: {w}"));
    }
    if warnings.len() > WARNINGS_SHOWN {
        let more = warnings.len() - WARNINGS_SHOWN;
        reporter.log(id, &format!("warning: and {more} more warnings"));
    }
}

/// Where a layer sits in its image (counted from 1, bottom up), for messages.
#[derive(Debug, Clone, Copy)]
struct Position {
    index: usize,
    count: usize,
}

impl Position {
    fn error(self, layer: &Layer, blob: &Descriptor, source: LayerError) -> StepError {
        StepError::ImageLayer(Box::new(ImageLayerError {
            index: self.index,
            count: self.count,
            digest: blob.digest().clone(),
            image: layer
                .image
                .as_deref()
                .unwrap_or("the build cache")
                .to_string(),
            source,
        }))
    }
}

/// Remove a directory tree, making read-only directories writable first.
pub(crate) fn remove_tree(path: &Path) {
    if std::fs::remove_dir_all(path).is_ok() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(path);
}

#[cfg(test)]
#[path = "trees_tests.rs"]
mod tests;
