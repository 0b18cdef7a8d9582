//! The uncompressed sizes of layer blobs, as `builder images` and `history` show them:
//! a memo at `ROOT/layer-sizes.json` (blob digest -> bytes of the plain tar) so that each
//! blob is decompressed once. It is only a memo: a missing, damaged or stale file costs a
//! recomputation, never a wrong answer (a blob's content never changes under its digest).
//! Written atomically; concurrent writers may drop each other's entries, which are then
//! computed again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::atomic::write_atomic;
use super::error::Result;

/// File name of the memo under the store root.
pub const LAYER_SIZES_FILE: &str = "layer-sizes.json";

/// The memo, loaded from a store root.
#[derive(Debug, Default)]
pub struct LayerSizes {
    path: PathBuf,
    sizes: BTreeMap<String, u64>,
    changed: bool,
}

impl LayerSizes {
    /// Load the memo of the store at `root` (empty when absent or unreadable).
    pub fn load(root: &Path) -> Self {
        let path = root.join(LAYER_SIZES_FILE);
        let sizes = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        LayerSizes {
            path,
            sizes,
            changed: false,
        }
    }

    /// The remembered uncompressed size of the blob `digest`.
    pub fn get(&self, digest: &str) -> Option<u64> {
        self.sizes.get(digest).copied()
    }

    /// Remember the uncompressed size of the blob `digest`.
    pub fn insert(&mut self, digest: &str, size: u64) {
        if self.sizes.insert(digest.to_string(), size) != Some(size) {
            self.changed = true;
        }
    }

    /// Write the memo back if it changed, keeping only entries `keep` approves (the blobs
    /// still in the store).
    pub fn save(&mut self, keep: impl Fn(&str) -> bool) -> Result<()> {
        if !self.changed {
            return Ok(());
        }
        self.sizes.retain(|d, _| keep(d));
        let bytes = serde_json::to_vec(&self.sizes).unwrap_or_default();
        write_atomic(&self.path, &bytes)?;
        self.changed = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_trip_and_prune_on_save() {
        let dir = tempfile::tempdir().unwrap();
        let mut memo = LayerSizes::load(dir.path());
        assert_eq!(memo.get("sha256:aa"), None);
        memo.insert("sha256:aa", 10);
        memo.insert("sha256:bb", 20);
        memo.save(|d| d != "sha256:bb").unwrap();
        let again = LayerSizes::load(dir.path());
        assert_eq!(again.get("sha256:aa"), Some(10));
        assert_eq!(again.get("sha256:bb"), None);
        std::fs::write(dir.path().join(LAYER_SIZES_FILE), b"garbage").unwrap();
        assert_eq!(LayerSizes::load(dir.path()).get("sha256:aa"), None);
    }
}
