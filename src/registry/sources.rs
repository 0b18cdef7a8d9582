//! Where blobs came from: `ROOT/blob-sources.json` maps a blob digest to the registry
//! repositories it was pulled from or pushed to (`127.0.0.1:5000/busybox`), so a later push to
//! another repository of the same registry can mount the blob instead of uploading it. An
//! optimisation only: a missing or unreadable file means "source unknown", never an error.
//!
//! Writers take the flock on `ROOT/blob-sources.lock` and replace the file atomically, as the
//! image index does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::image::Digest;

use crate::store::atomic::write_atomic;
use crate::store::lock::FileLock;

/// At most this many repositories are remembered per blob (the newest kept).
const MAX_SOURCES: usize = 8;

type Sources = BTreeMap<String, Vec<String>>;

/// The blob-source annotations of a store root.
#[derive(Debug, Clone)]
pub struct BlobSources {
    path: PathBuf,
    lock: PathBuf,
}

impl BlobSources {
    /// The annotations of the store at `root`.
    pub fn new(root: &Path) -> Self {
        BlobSources {
            path: root.join("blob-sources.json"),
            lock: root.join("blob-sources.lock"),
        }
    }

    fn read(&self) -> Sources {
        std::fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Remember that `registry/repo` has every blob in `digests`. Failures are ignored: the
    /// annotations only save uploads.
    pub fn record(&self, registry: &str, repo: &str, digests: &[Digest]) {
        let Ok(_lock) = FileLock::exclusive(&self.lock) else {
            return;
        };
        let source = format!("{registry}/{repo}");
        let mut all = self.read();
        for d in digests {
            let list = all.entry(d.to_string()).or_default();
            list.retain(|s| *s != source);
            list.push(source.clone());
            if list.len() > MAX_SOURCES {
                list.remove(0);
            }
        }
        if let Ok(mut bytes) = serde_json::to_vec_pretty(&all) {
            bytes.push(b'\n');
            let _ = write_atomic(&self.path, &bytes);
        }
    }

    /// Whether any repository of any registry is known to have `digest`.
    pub fn known(&self, digest: &Digest) -> bool {
        self.read()
            .get(digest.as_ref())
            .is_some_and(|sources| !sources.is_empty())
    }

    /// A repository of `registry` other than `except` known to have `digest` (the newest).
    pub fn repo_on(&self, registry: &str, digest: &Digest, except: &str) -> Option<String> {
        let prefix = format!("{registry}/");
        self.read()
            .remove(digest.as_ref())?
            .into_iter()
            .rev()
            .filter_map(|s| s.strip_prefix(&prefix).map(str::to_string))
            .find(|repo| repo != except)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::digest::sha256;

    #[test]
    fn records_and_finds_sources_per_registry() {
        let dir = tempfile::tempdir().unwrap();
        let s = BlobSources::new(dir.path());
        let (a, b) = (sha256(b"a"), sha256(b"b"));
        assert_eq!(s.repo_on("r:1", &a, "x"), None);
        s.record("r:1", "base", &[a.clone(), b.clone()]);
        s.record("r:2", "other", std::slice::from_ref(&a));
        assert_eq!(s.repo_on("r:1", &a, "app"), Some("base".into()));
        assert_eq!(s.repo_on("r:1", &a, "base"), None);
        assert_eq!(s.repo_on("r:2", &a, "app"), Some("other".into()));
        assert_eq!(s.repo_on("r:2", &b, "app"), None);
        for i in 0..20 {
            s.record("r:1", &format!("repo{i}"), std::slice::from_ref(&a));
        }
        assert_eq!(s.repo_on("r:1", &a, "app"), Some("repo19".into()));
        assert_eq!(s.repo_on("r:1", &a, "repo19"), Some("repo18".into()));
    }

    #[test]
    fn a_broken_file_means_unknown() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("blob-sources.json"), b"{oops").unwrap();
        let s = BlobSources::new(dir.path());
        assert_eq!(s.repo_on("r", &sha256(b"a"), "x"), None);
        s.record("r", "base", &[sha256(b"a")]);
        assert_eq!(s.repo_on("r", &sha256(b"a"), "x"), Some("base".into()));
    }
}
