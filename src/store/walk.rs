//! Disk usage of the store's directories, as `du` counts it: allocated blocks (a sparse or
//! tiny file costs what the file system gives it), each hard-linked file once, and never
//! across into another file system (a mount that a running step made).
//!
//! Files that vanish or cannot be read while being counted are skipped: usage is an
//! estimate taken while builds may run.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Counts allocated bytes; one walker counts a hard-linked file once however many trees
/// it walks.
#[derive(Debug, Default)]
pub(crate) struct Walker {
    seen: HashSet<(u64, u64)>,
}

impl Walker {
    /// A walker that has seen nothing.
    pub(crate) fn new() -> Walker {
        Walker::default()
    }

    /// Allocated bytes of `meta`'s file, or 0 when it was counted before (a hard link).
    fn count(&mut self, meta: &std::fs::Metadata) -> u64 {
        if !meta.is_dir() && meta.nlink() > 1 && !self.seen.insert((meta.dev(), meta.ino())) {
            return 0;
        }
        meta.blocks().saturating_mul(512)
    }

    /// Allocated bytes of `path` and, for a directory, of everything below it.
    pub(crate) fn size(&mut self, path: &Path) -> u64 {
        self.size_excluding(path, &[])
    }

    /// Like [`Walker::size`], leaving out the entries at the paths in `skip` (which are
    /// counted elsewhere).
    pub(crate) fn size_excluding(&mut self, path: &Path, skip: &[PathBuf]) -> u64 {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return 0;
        };
        let dev = meta.dev();
        let mut total = self.count(&meta);
        if !meta.is_dir() {
            return total;
        }
        let mut stack = vec![path.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let child = entry.path();
                if skip.contains(&child) {
                    continue;
                }
                let Ok(meta) = entry.metadata() else {
                    continue;
                };
                if meta.dev() != dev {
                    continue;
                }
                total = total.saturating_add(self.count(&meta));
                if meta.is_dir() {
                    stack.push(child);
                }
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_blocks_and_hard_links_once() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("d");
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("a"), vec![1u8; 100_000]).unwrap();
        std::fs::hard_link(d.join("a"), d.join("sub/b")).unwrap();
        std::fs::write(d.join("small"), b"x").unwrap();
        std::os::unix::fs::symlink("/nonexistent", d.join("link")).unwrap();
        let mut w = Walker::new();
        let total = w.size(&d);
        // 100 kB once, not twice; a one-byte file takes at least a block.
        assert!((100_000..200_000).contains(&total), "{total}");
        // Walked again by the same walker, the hard link is not counted again.
        let mut fresh = Walker::new();
        let only_a = fresh.size(&d.join("a"));
        assert!(only_a >= 100_000, "{only_a}");
        assert_eq!(fresh.size(&d.join("sub/b")), 0);
        assert_eq!(w.size(&t.path().join("missing")), 0);
        let mut w = Walker::new();
        let without_sub = w.size_excluding(&d, &[d.join("sub"), d.join("a")]);
        assert!(without_sub < 100_000, "{without_sub}");
    }
}
