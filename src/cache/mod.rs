//! The build cache: what a step produced, found again by the step's cache key.
//!
//! Pipeline stage: beside `solve`, which asks [`CacheStore::get`] before running a step
//! and [`CacheStore::put`]s a [`Record`] after committing it. Records live under
//! `ROOT/cache/records/<hex of key>.json`, each written atomically (temp file, fsync,
//! rename), so a reader sees a complete record or none, even after `kill -9`. A record's
//! file mtime is its last use (refreshed on every hit); pruning and the store cap remove
//! the least recently used first.
//!
//! A record refers to a layer blob in the store and, by chain id, to the committed
//! snapshot of the step's result; either may have been removed since (prune), so a hit is
//! only a hit when the blob is still there (the snapshot is remade from the blob on
//! demand).
//!
//! Two builds computing the same step serialise on [`CacheStore::lock`]: the second waits,
//! then finds the first one's record.
//!
//! Keys are computed by [`key`] (an explicit, versioned encoding of a step's named inputs);
//! [`explain`] keeps those inputs to say why a later build missed; [`build_cache`] is what
//! one build holds: the records, the `--no-cache` policy and its explanations;
//! [`exchange`] moves records between stores; [`artifact`] is the registry cache's format;
//! [`stat`] remembers file digests by stat data.
//!
//! Garbage collection, `builder du` and the store cap are the store's
//! ([`crate::store::prune`]); they treat these records as roots.

mod record;
pub mod stat;

pub mod artifact;
pub mod build_cache;
pub mod exchange;
pub mod explain;
pub mod mount_cache;
pub mod key;

pub use build_cache::{BuildCache, NoCache};
pub use explain::{Explainer, StepRef};
pub use key::{KeyInputs, KEY_VERSION};

pub use record::{CacheError, CacheStore, Listed, Record, RecordLayer, StepLock};
