//! Layers a throwaway stage recorded as plain tar ([`RecordLayer::uncompressed_stand_in`])
//! made compressed once something outside the build needs the blob: a `--cache-to` export,
//! which must not ship plain tar to the next runner. The layer is written again from its
//! snapshot by the same pass an eager build makes (so it is the blob an eager build would
//! have), its diff_id checked against the record's, and recorded in place of the stand-in.
//!
//! [`RecordLayer::uncompressed_stand_in`]: crate::cache::RecordLayer::uncompressed_stand_in

use oci_spec::image::{Descriptor, Digest};

use super::layer::{self, LayerSettings};
use crate::cache::CacheStore;
use crate::snapshot::Snapshotter;
use crate::store::BlobStore;

/// The compressed blob of the layer whose snapshot is named `chain_id` and whose tar is
/// `diff_id`, written into `store` with `settings`; `None` when the snapshot is gone or its
/// tar is another one.
pub(crate) fn compressed(
    store: &dyn BlobStore,
    snapshots: &dyn Snapshotter,
    settings: &LayerSettings,
    (chain_id, diff_id): (&Digest, &Digest),
) -> Option<Descriptor> {
    let snapshot = snapshots.get(chain_id.as_ref()).ok().flatten()?;
    let dir = snapshots.view(&snapshot).ok()?.into_iter().next()?;
    let made = layer::write_changes(store, &dir, settings, None).ok()?;
    (made.diff_id == *diff_id).then_some(made.descriptor)
}

/// Make every stand-in among the records of `keys` compressed (see the module docs);
/// returns how many stay plain tar (their snapshot gone): those are exported as they are.
pub fn compress_for_export(
    store: &dyn BlobStore,
    snapshots: &dyn Snapshotter,
    settings: &LayerSettings,
    records: &CacheStore,
    keys: &[Digest],
) -> usize {
    let mut left = 0;
    for key in keys {
        let Some(mut record) = records.get(key) else {
            continue;
        };
        let Some(layer) = record.layer.as_mut().filter(|l| l.uncompressed_stand_in) else {
            continue;
        };
        match compressed(
            store,
            snapshots,
            settings,
            (&layer.chain_id, &layer.diff_id),
        ) {
            Some(descriptor) => {
                layer.descriptor = descriptor;
                layer.uncompressed_stand_in = false;
                if records.put(&record).is_err() {
                    left += 1;
                }
            }
            None => left += 1,
        }
    }
    left
}
