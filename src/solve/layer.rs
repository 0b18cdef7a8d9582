//! Layers of a stage's image, and writing a step's change set as one: the upper directory
//! is streamed by [`crate::diff::write_layer`] straight into a [`crate::store::BlobWriter`]
//! (temp file, fsync, rename on commit), so the diff_id, the blob digest and the stored blob
//! come out of one pass.
//!
//! Compressed chunks are reused across layers: before a layer is written, the chunk index
//! of the store (`ROOT/chunks/`, one small file per large blob, see
//! [`crate::diff::ChunkIndex`]) is loaded, chunks already compressed in an older blob are
//! copied from it, and after the blob is committed its own index is saved. A store that
//! keeps no blob files (the in-memory one) simply compresses everything.
//!
//! A layer of this build may come back from its step before its blob is written (see
//! [`crate::solve::background`]): its diff_id and snapshot are final, its descriptor is
//! not until [`Layer::blob`] or [`Layer::resolve`] waited for the job. [`measure`] is the
//! first pass of such a layer: the same tar, hashed, nothing stored.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use oci_spec::image::{Descriptor, Digest, MediaType};

use super::background::PendingBlob;
use super::error::{StepError, StepResult};
use crate::diff::{self, ChunkIndex, Compression, ExistsBelow, LayerOptions};
use crate::image::{LayerCompression, ManifestFormat};
use crate::snapshot::SnapshotId;
use crate::store::digest::Sha256;
use crate::store::BlobStore;

/// One layer of an image being built: base layers and the layers of this build's steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// The blob in the store (OCI media type; see [`for_format`]).
    pub descriptor: Descriptor,
    /// The uncompressed digest (`rootfs.diff_ids`).
    pub diff_id: Digest,
    /// The chain id of the layers up to and including this one (OCI image spec), set
    /// once, when the layer is put on the ones below it ([`Layer::on`]).
    pub chain_id: Digest,
    /// The committed snapshot of the chain up to and including this layer, once it has
    /// been unpacked or made by a step (named by [`chain_ids`]).
    pub snapshot: Option<SnapshotId>,
    /// Set while the blob is being written in the background: `descriptor` is then a
    /// placeholder (the diff_id, size 0) until [`Layer::resolve`].
    pub pending: Option<PendingBlob>,
    /// The image a base layer comes from, as messages name it (`image busybox (manifest
    /// sha256:…)`); `None` for a layer a build made.
    pub image: Option<Arc<str>>,
}

impl Layer {
    /// A layer whose blob is in the store, on no other layer (its chain id is its
    /// diff_id until [`Layer::on`] puts it on a chain).
    pub fn new(descriptor: Descriptor, diff_id: Digest) -> Layer {
        Layer {
            descriptor,
            chain_id: diff_id.clone(),
            diff_id,
            snapshot: None,
            pending: None,
            image: None,
        }
    }

    /// This layer on top of `below` (bottom first): its chain id is set from theirs.
    pub fn on(mut self, below: &[Layer]) -> Layer {
        self.chain_id = chain_on(below, &self.diff_id);
        self
    }

    /// The blob's descriptor, waiting for it when it is being written in the background.
    pub fn blob(&self) -> StepResult<Descriptor> {
        match &self.pending {
            None => Ok(self.descriptor.clone()),
            Some(p) => Ok(p.wait()?),
        }
    }

    /// Wait for the blob if it is being written, and put its descriptor in place.
    pub fn resolve(&mut self) -> StepResult<()> {
        if self.pending.is_some() {
            self.descriptor = self.blob()?;
            self.pending = None;
        }
        Ok(())
    }
}

/// [`ExistsBelow`] that can be handed to a background job.
pub type SharedExistsBelow = Arc<dyn Fn(&Path) -> bool + Send + Sync>;

/// How new layers are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerSettings {
    /// Blob compression (`compression=`).
    pub compression: Compression,
    /// `compression-level=`.
    pub level: Option<i32>,
    /// Clamp file times to this (`SOURCE_DATE_EPOCH` with `rewrite-timestamp=true`).
    pub source_date_epoch: Option<i64>,
}

/// Write the change set in `dir` as a layer blob into `store`.
pub fn write(store: &dyn BlobStore, dir: &Path, settings: &LayerSettings) -> StepResult<Layer> {
    write_changes(store, dir, settings, None)
}

/// Write the change set in `dir` (an overlay upper directory) as a layer blob into
/// `store`; with `exists_below`, whiteouts and opaque markers for paths absent below are
/// dropped.
pub fn write_changes(
    store: &dyn BlobStore,
    dir: &Path,
    settings: &LayerSettings,
    exists_below: Option<ExistsBelow<'_>>,
) -> StepResult<Layer> {
    write_to_store(store, dir, settings, exists_below, None)
}

/// [`write_changes`] that gives up (the store keeps nothing) once `stop` is set.
pub fn write_changes_until(
    store: &dyn BlobStore,
    dir: &Path,
    settings: &LayerSettings,
    exists_below: Option<ExistsBelow<'_>>,
    stop: &AtomicBool,
) -> StepResult<Layer> {
    write_to_store(store, dir, settings, exists_below, Some(stop))
}

/// The tar of the layer [`write_changes`] would write, hashed only (nothing stored): its
/// `diff_id` and `uncompressed_size` are those of the blob.
pub fn measure(
    dir: &Path,
    settings: &LayerSettings,
    exists_below: Option<ExistsBelow<'_>>,
) -> StepResult<diff::LayerInfo> {
    let opts = LayerOptions {
        compression: Compression::Uncompressed,
        source_date_epoch: settings.source_date_epoch,
        exists_below,
        ..LayerOptions::default()
    };
    Ok(diff::write_layer(dir, &opts, std::io::sink())?)
}

fn write_to_store(
    store: &dyn BlobStore,
    dir: &Path,
    settings: &LayerSettings,
    exists_below: Option<ExistsBelow<'_>>,
    stop: Option<&AtomicBool>,
) -> StepResult<Layer> {
    let level = settings
        .level
        .unwrap_or_else(|| settings.compression.default_level());
    let chunks = chunk_dir(store);
    let index = match (&chunks, settings.compression) {
        (_, Compression::Uncompressed) | (None, _) => None,
        (Some(dir), c) => Some(ChunkIndex::load(dir, c, level, &|d| store.local_path(d))),
    };
    let opts = LayerOptions {
        compression: settings.compression,
        level: Some(level),
        source_date_epoch: settings.source_date_epoch,
        exists_below,
        reuse: index.as_ref().filter(|i| !i.is_empty()),
        ..LayerOptions::default()
    };
    let mut writer = store.writer()?;
    let sink = Stoppable {
        inner: &mut writer,
        stop,
    };
    // On failure the writer is dropped, and its temp file with it.
    let info = diff::write_layer(dir, &opts, sink)?;
    let blob = writer.commit(Some(&info.digest))?;
    if let Some(dir) = &chunks {
        if info.uncompressed_size >= INDEXED_SIZE {
            // Best effort: without its index the blob is only not reusable.
            let _ = diff::chunk_index::save(
                dir,
                &blob.digest,
                settings.compression,
                level,
                &info.chunks,
            );
        }
    }
    let media_type = ManifestFormat::Oci.layer_media_type(layer_compression(settings.compression));
    Ok(Layer::new(
        Descriptor::new(media_type, blob.size, blob.digest),
        info.diff_id,
    ))
}

/// A sink that fails once `stop` is set (an error `write_all` does not retry).
struct Stoppable<'s, W> {
    inner: W,
    stop: Option<&'s AtomicBool>,
}

impl<W: Write> Write for Stoppable<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            return Err(std::io::Error::other("the build stopped"));
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Layers at least this large (uncompressed) get a chunk index.
const INDEXED_SIZE: u64 = 1 << 20;

/// `ROOT/chunks/` of a store that keeps blobs as files at `ROOT/blobs/sha256/<hex>`.
fn chunk_dir(store: &dyn BlobStore) -> Option<PathBuf> {
    let probe = store.local_path(&crate::store::digest::sha256(b""))?;
    let algo = probe.parent()?;
    let blobs = algo.parent()?;
    if algo.file_name()? != "sha256" || blobs.file_name()? != "blobs" {
        return None;
    }
    Some(blobs.parent()?.join("chunks"))
}

/// The image crate's name for a compression.
pub fn layer_compression(c: Compression) -> LayerCompression {
    match c {
        Compression::Gzip => LayerCompression::Gzip,
        Compression::Zstd => LayerCompression::Zstd,
        Compression::Uncompressed => LayerCompression::Uncompressed,
    }
}

/// The compression a layer media type says its blob has (gzip when unknown).
pub fn compression_of(media_type: &MediaType) -> LayerCompression {
    let t = media_type.to_string();
    if t.ends_with("zstd") {
        LayerCompression::Zstd
    } else if t.ends_with(".tar") || t.ends_with("+tar") || t.ends_with("diff.tar") {
        LayerCompression::Uncompressed
    } else {
        LayerCompression::Gzip
    }
}

/// `desc` with the media type of `format` for the same compression (Docker and OCI name
/// the same blobs differently).
pub fn for_format(desc: &Descriptor, format: ManifestFormat) -> Descriptor {
    let mut out = desc.clone();
    out.set_media_type(format.layer_media_type(compression_of(desc.media_type())));
    if format == ManifestFormat::Docker {
        out.set_annotations(None);
    }
    out
}

/// The chain ids of `diff_ids` (OCI image spec): the first layer's is its diff_id, each
/// next one is `sha256(parent_chain_id + " " + diff_id)`.
pub fn chain_ids<'a>(diff_ids: impl IntoIterator<Item = &'a Digest>) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::new();
    for d in diff_ids {
        out.push(next_chain_id(out.last(), d));
    }
    out
}

/// The chain id of a layer `diff_id` on top of `below` (bottom first), from the chain id
/// the top of `below` carries.
pub fn chain_on(below: &[Layer], diff_id: &Digest) -> Digest {
    next_chain_id(below.last().map(|l| &l.chain_id), diff_id)
}

/// The chain id of the top of `layers` (`None` for no layers).
pub fn top_chain_id(layers: &[Layer]) -> Option<&Digest> {
    layers.last().map(|l| &l.chain_id)
}

/// The chain id of `diff_id` on the chain `parent` (OCI image spec).
fn next_chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => diff_id.clone(),
        Some(parent) => {
            let mut h = Sha256::new();
            h.update(format!("{parent} {diff_id}").as_bytes());
            h.finish()
        }
    }
}

/// Whether `dir` has no entries (a step that changed nothing makes no layer).
pub fn is_empty_dir(dir: &Path) -> StepResult<bool> {
    let mut entries = std::fs::read_dir(dir).map_err(StepError::io("read layer directory", dir))?;
    Ok(entries.next().is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::digest::sha256;
    use crate::store::MemStore;

    #[test]
    fn chain_ids_follow_the_oci_spec() {
        let a = sha256(b"a");
        let b = sha256(b"b");
        let ids = chain_ids([&a, &b]);
        assert_eq!(ids[0], a);
        assert_eq!(ids[1], sha256(format!("{a} {b}").as_bytes()));
        assert!(chain_ids([]).is_empty());
    }

    #[test]
    fn a_layer_put_on_others_carries_their_chain_id() {
        let desc = |d: &Digest| Descriptor::new(MediaType::ImageLayer, 0, d.clone());
        let (a, b, c) = (sha256(b"a"), sha256(b"b"), sha256(b"c"));
        let mut layers: Vec<Layer> = Vec::new();
        for d in [&a, &b, &c] {
            let l = Layer::new(desc(d), d.clone()).on(&layers);
            layers.push(l);
        }
        let got: Vec<&Digest> = layers.iter().map(|l| &l.chain_id).collect();
        let want = chain_ids([&a, &b, &c]);
        assert_eq!(got, want.iter().collect::<Vec<_>>());
        assert_eq!(top_chain_id(&layers), want.last());
        assert_eq!(chain_on(&layers[..1], &b), want[1]);
    }

    #[test]
    fn writes_a_layer_into_the_store_and_names_its_media_type() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("f"), "x").unwrap();
        let store = MemStore::new();
        let layer = write(&store, t.path(), &LayerSettings::default()).unwrap();
        assert!(store.has(layer.descriptor.digest()).unwrap());
        assert_eq!(
            layer.descriptor.media_type().to_string(),
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        let docker = for_format(&layer.descriptor, ManifestFormat::Docker);
        assert_eq!(
            docker.media_type().to_string(),
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        );
        assert_eq!(
            compression_of(&MediaType::ImageLayerZstd),
            LayerCompression::Zstd
        );
        assert_eq!(
            compression_of(&MediaType::ImageLayer),
            LayerCompression::Uncompressed
        );
        assert!(!is_empty_dir(t.path()).unwrap());
    }

    /// A tree of `dirs` x 100 files of 10 KiB of base64-like text, fixed times.
    fn tree(root: &Path, dirs: u32) {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for d in 0..dirs {
            let dir = root.join(format!("d{d:03}"));
            std::fs::create_dir_all(&dir).unwrap();
            for f in 0..100 {
                let data: Vec<u8> = (0..10240)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        b'A' + (x % 58) as u8
                    })
                    .collect();
                std::fs::write(dir.join(format!("f{f:04}")), data).unwrap();
            }
        }
        settle(root);
    }

    fn settle(root: &Path) {
        for e in walkdir::WalkDir::new(root) {
            let p = e.unwrap().into_path();
            let t = nix::sys::time::TimeSpec::new(1_600_000_000, 0);
            nix::sys::stat::utimensat(
                nix::fcntl::AT_FDCWD,
                &p,
                &t,
                &t,
                nix::sys::stat::UtimensatFlags::NoFollowSymlink,
            )
            .unwrap();
        }
    }

    fn blob(store: &crate::store::DirStore, layer: &Layer) -> Vec<u8> {
        std::fs::read(store.blob_path(layer.descriptor.digest()).unwrap()).unwrap()
    }

    #[test]
    fn reused_chunks_give_the_same_blob_as_compressing() {
        use crate::store::DirStore;
        for compression in [Compression::Gzip, Compression::Zstd] {
            let settings = LayerSettings {
                compression,
                ..LayerSettings::default()
            };
            let ctx = tempfile::tempdir().unwrap();
            tree(ctx.path(), 5);
            let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let (warm, fresh) = (
                DirStore::new(a.path()).unwrap(),
                DirStore::new(b.path()).unwrap(),
            );
            let first = write(&warm, ctx.path(), &settings).unwrap();
            assert!(a
                .path()
                .join("chunks")
                .join(first.descriptor.digest().digest())
                .is_file());

            // One small file changes; the rest of the tree is as it was.
            let f = ctx.path().join("d002/f0050");
            let mut data = std::fs::read(&f).unwrap();
            data.extend_from_slice(b"1700000000123456789\n");
            std::fs::write(&f, data).unwrap();
            settle(ctx.path());

            let reused = write(&warm, ctx.path(), &settings).unwrap();
            let compressed = write(&fresh, ctx.path(), &settings).unwrap();
            assert_ne!(reused.diff_id, first.diff_id);
            assert_eq!(reused.descriptor.digest(), compressed.descriptor.digest());
            assert_eq!(reused.diff_id, compressed.diff_id);
            assert_eq!(blob(&warm, &reused), blob(&fresh, &compressed));

            // The blob is one valid stream of the tar (gzip -t accepts it too).
            let bytes = blob(&warm, &reused);
            let tar = match compression {
                Compression::Gzip => {
                    let mut v = Vec::new();
                    std::io::Read::read_to_end(
                        &mut flate2::read::GzDecoder::new(&bytes[..]),
                        &mut v,
                    )
                    .unwrap();
                    v
                }
                _ => zstd::stream::decode_all(&bytes[..]).unwrap(),
            };
            assert_eq!(crate::store::digest::sha256(&tar), reused.diff_id);
            if compression == Compression::Gzip {
                let path = warm.blob_path(reused.descriptor.digest()).unwrap();
                if let Ok(out) = std::process::Command::new("gzip")
                    .arg("-t")
                    .arg(&path)
                    .output()
                {
                    assert!(out.status.success(), "gzip -t: {out:?}");
                }
            }
        }
    }

    #[test]
    fn a_changed_file_recompresses_only_its_chunk() {
        use crate::store::DirStore;
        let ctx = tempfile::tempdir().unwrap();
        tree(ctx.path(), 5);
        let a = tempfile::tempdir().unwrap();
        let store = DirStore::new(a.path()).unwrap();
        let settings = LayerSettings::default();
        write(&store, ctx.path(), &settings).unwrap();
        let f = ctx.path().join("d002/f0050");
        std::fs::write(&f, "changed").unwrap();
        settle(ctx.path());
        let mut writer = store.writer().unwrap();
        let index = ChunkIndex::load(&a.path().join("chunks"), Compression::Gzip, 6, &|d| {
            store.local_path(d)
        });
        let opts = LayerOptions {
            reuse: Some(&index),
            ..LayerOptions::default()
        };
        let info = diff::write_layer(ctx.path(), &opts, &mut writer).unwrap();
        let total = info.chunks.len() as u64;
        assert!(total >= 3, "{total} chunks");
        assert!(
            info.reused_chunks + 2 >= total,
            "{} of {total}",
            info.reused_chunks
        );
        assert!(info.reused_chunks < total);
    }
}
