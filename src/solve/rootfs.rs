//! Root file systems of images being built, made only when a step needs one:
//!
//! - [`Rootfs::materialize`] puts every layer of a stage into the snapshot store, in
//!   order, each a committed snapshot named by its chain id on top of the one below. A
//!   layer already there (from this build or an earlier one) is reused; one that is not is
//!   unpacked from its blob with [`snapshot::unpack`] (safely: nothing leaves the
//!   snapshot). COPY and WORKDIR then read their parent through [`LayeredDest`].
//! - [`Rootfs::flatten`] makes one plain directory of a stage's or image's layers (for
//!   `COPY --from` and `type=local`/`type=tar` outputs), cached by top chain id under
//!   `ROOT/rootfs/` and made in a temp directory renamed into place, so a cached tree is
//!   always complete.
//!
//! Both read layer blobs, so both wait for a blob still being written in the background
//! ([`Layer::blob`]); a flattened tree already cached needs no blob.

use std::path::{Path, PathBuf};

use super::error::{StepError, StepResult};
use super::layer::{chain_ids, Layer};
use super::lower::LayeredDest;
use crate::progress::{self, Reporter, VertexId};
use crate::snapshot::{self, DirSnapshotter, Owners, SnapshotId, Snapshotter, UnpackOptions};
use crate::store::BlobStore;

/// Makes root file systems from layers.
#[derive(Debug)]
pub struct Rootfs<'a> {
    /// Layer blobs.
    pub store: &'a dyn BlobStore,
    /// Committed snapshots.
    pub snapshots: &'a DirSnapshotter,
    /// Where flattened trees are cached.
    pub flat_dir: PathBuf,
    /// Owners in base layers are set when permitted.
    pub owners: Owners,
}

impl Rootfs<'_> {
    /// Make sure every layer in `layers` has a committed snapshot; returns the top one
    /// (`None` for no layers).
    pub fn materialize(
        &self,
        layers: &mut [Layer],
        reporter: &dyn Reporter,
    ) -> StepResult<Option<SnapshotId>> {
        let chains = chain_ids(layers.iter().map(|l| &l.diff_id));
        let mut parent: Option<SnapshotId> = None;
        for (layer, chain) in layers.iter_mut().zip(chains) {
            if layer.snapshot.is_none() {
                let name = chain.to_string();
                layer.snapshot = match self.snapshots.get(&name)? {
                    Some(id) => Some(id),
                    None => Some(self.unpack(layer, parent.as_ref(), &name, reporter)?),
                };
            }
            parent = layer.snapshot.clone();
        }
        Ok(parent)
    }

    fn unpack(
        &self,
        layer: &Layer,
        parent: Option<&SnapshotId>,
        name: &str,
        reporter: &dyn Reporter,
    ) -> StepResult<SnapshotId> {
        let blob = layer.blob()?;
        let digest = blob.digest();
        let title = format!("unpacking layer {digest}");
        progress::vertex(reporter, &title, |id| {
            let active = self.snapshots.prepare(parent)?;
            let item = format!("extracting {digest}");
            let size = Some(blob.size());
            let blob = progress::Reading::new(self.store.open(digest)?, reporter, id, item, size);
            let opts = UnpackOptions {
                owners: self.owners,
            };
            match snapshot::unpack(blob, &active.upper, &opts) {
                Ok(stats) => tell_warnings(reporter, id, &stats.warnings),
                Err(e) => {
                    let _ = self.snapshots.abort(active);
                    return Err(StepError::Snapshot(e));
                }
            }
            Ok(self.snapshots.commit(active, name)?)
        })
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
        let chains = chain_ids(layers.iter().map(|l| &l.diff_id));
        let key = match chains.last() {
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
            progress::vertex(reporter, &title, |id| {
                self.apply_all(layers, temp.path(), reporter, id)
            })?;
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

    fn apply_all(
        &self,
        layers: &[Layer],
        dir: &Path,
        reporter: &dyn Reporter,
        id: VertexId,
    ) -> StepResult<()> {
        let opts = UnpackOptions {
            owners: self.owners,
        };
        for layer in layers {
            let blob = self.store.open(layer.blob()?.digest())?;
            let stats = snapshot::apply(blob, dir, &opts)?;
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
