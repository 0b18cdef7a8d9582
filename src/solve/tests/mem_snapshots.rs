//! A [`Snapshotter`] test double: what is prepared and committed is kept in memory,
//! each snapshot's files in a directory of its own under a temporary directory; no mount,
//! no privilege. It counts what is still prepared, so tests can check a solve leaves
//! nothing behind.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::snapshot::{Active, Result, SnapshotError, SnapshotId, Snapshotter};

#[derive(Default)]
struct State {
    next: u64,
    /// Committed: name -> (its directory, its parent).
    committed: BTreeMap<String, (PathBuf, Option<SnapshotId>)>,
    /// Prepared, not yet committed or aborted: key -> its directory.
    active: BTreeMap<String, PathBuf>,
}

/// Snapshots as plain directories, their chain in memory.
pub(crate) struct MemSnapshotter {
    dir: tempfile::TempDir,
    state: Mutex<State>,
}

impl MemSnapshotter {
    pub(crate) fn new() -> MemSnapshotter {
        MemSnapshotter {
            dir: tempfile::tempdir().expect("create the snapshot directory"),
            state: Mutex::default(),
        }
    }

    /// How many snapshots are prepared and neither committed nor aborted.
    pub(crate) fn active(&self) -> usize {
        self.lock().active.len()
    }

    /// The names of the committed snapshots.
    pub(crate) fn committed(&self) -> Vec<String> {
        self.lock().committed.keys().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        crate::domain::lock(&self.state)
    }
}

fn io(
    action: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> SnapshotError {
    let path = path.to_path_buf();
    move |source| SnapshotError::Io {
        action,
        path,
        source,
    }
}

impl Snapshotter for MemSnapshotter {
    fn prepare(&self, parent: Option<&SnapshotId>) -> Result<Active> {
        let mut state = self.lock();
        if let Some(p) = parent {
            if !state.committed.contains_key(p.as_str()) {
                return Err(SnapshotError::NotFound(p.to_string()));
            }
        }
        state.next += 1;
        let key = format!("active-{}", state.next);
        let dir = self.dir.path().join(&key);
        let (upper, work) = (dir.join("fs"), dir.join("work"));
        std::fs::create_dir_all(&upper).map_err(io("create", &upper))?;
        std::fs::create_dir_all(&work).map_err(io("create", &work))?;
        state.active.insert(key.clone(), dir);
        Ok(Active::new(key, parent.cloned(), upper, work))
    }

    fn commit(&self, active: Active, name: &str) -> Result<SnapshotId> {
        let mut state = self.lock();
        state.active.remove(active.key());
        if !state.committed.contains_key(name) {
            let parent = active.parent().cloned();
            state
                .committed
                .insert(name.to_string(), (active.upper, parent));
        }
        Ok(SnapshotId::new(name))
    }

    fn abort(&self, active: Active) -> Result<()> {
        if let Some(dir) = self.lock().active.remove(active.key()) {
            let _ = crate::snapshot::remove_tree(&dir);
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Result<Option<SnapshotId>> {
        let found = self.lock().committed.contains_key(name);
        Ok(found.then(|| SnapshotId::new(name)))
    }

    fn view(&self, id: &SnapshotId) -> Result<Vec<PathBuf>> {
        let state = self.lock();
        let mut out = Vec::new();
        let mut at = Some(id.clone());
        while let Some(name) = at {
            let (dir, parent) = state
                .committed
                .get(name.as_str())
                .ok_or_else(|| SnapshotError::NotFound(name.to_string()))?;
            out.push(dir.clone());
            at = parent.clone();
        }
        Ok(out)
    }

    fn remove(&self, id: &SnapshotId) -> Result<()> {
        self.lock().committed.remove(id.as_str());
        Ok(())
    }
}
