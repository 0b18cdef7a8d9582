//! Uncompressed layer sizes for `images`, `history` and `inspect`: the bytes of each layer's
//! plain tar (what `docker images` adds up), counted by decompressing the blob once and
//! remembered in the store's memo ([`crate::store::layer_sizes`]).

use std::io;

use oci_spec::image::Descriptor;

use crate::error::Result;
use crate::image::Image;
use crate::store::layer_sizes::LayerSizes;
use crate::store::{BlobStore, DirStore, StoreError};

/// The uncompressed sizes of a store's layers, memoised.
pub(crate) struct Sizer<'a> {
    store: &'a DirStore,
    memo: LayerSizes,
}

impl<'a> Sizer<'a> {
    /// A sizer over `store`, with its memo loaded.
    pub fn new(store: &'a DirStore) -> Self {
        Sizer {
            store,
            memo: LayerSizes::load(store.root()),
        }
    }

    /// The uncompressed size of one layer blob.
    pub fn layer(&mut self, layer: &Descriptor) -> Result<u64> {
        let key = layer.digest().to_string();
        if let Some(size) = self.memo.get(&key) {
            return Ok(size);
        }
        let path = self.store.blob_path(layer.digest())?;
        let blob = self.store.open(layer.digest())?;
        let io_err = |e| StoreError::io("decompress layer", &path, e);
        let mut plain = crate::snapshot::decompress(blob).map_err(io_err)?;
        let size = io::copy(&mut plain, &mut io::sink()).map_err(io_err)?;
        self.memo.insert(&key, size);
        Ok(size)
    }

    /// The uncompressed size of each of an image's layers, in order.
    pub fn layers(&mut self, image: &Image) -> Result<Vec<u64>> {
        image
            .manifest
            .layers()
            .iter()
            .map(|l| self.layer(l))
            .collect()
    }

    /// The uncompressed size of an image: the sum of its layers'.
    pub fn image(&mut self, image: &Image) -> Result<u64> {
        Ok(self.layers(image)?.iter().sum())
    }

    /// Write the memo back (best effort: a store that cannot be written to, such as one
    /// shared read-only, just computes again next time).
    pub fn finish(mut self) {
        let store = self.store;
        let _ = self.memo.save(|d| {
            crate::store::digest::parse_sha256_digest(d)
                .is_ok_and(|d| store.has(&d).unwrap_or(false))
        });
    }
}
