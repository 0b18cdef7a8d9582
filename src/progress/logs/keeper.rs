//! Writing a build's logs while it runs: [`BuildLog`] owns the directory and its files,
//! [`LogKeeper`] is the [`Reporter`] that feeds it and passes every event on to the
//! display the user chose (whatever it is, `quiet` included).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{
    build_ids, io_err, logs_dir, BuildIndex, BuildInfo, BuildStatus, Result, VertexEntry,
    VertexStatus, MAX_MESSAGES,
};
use crate::progress::{utc_micros, Outcome, OutputLine, Reporter, VertexId};

/// Bytes of a vertex's output buffered before they go to its file.
const FILE_BUFFER: usize = 64 << 10;

/// One build's log directory, being written.
#[derive(Debug)]
pub struct BuildLog {
    dir: PathBuf,
    started: Instant,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    index: BuildIndex,
    /// Position in `index.vertices` and start time of each vertex.
    vertices: HashMap<VertexId, (usize, Instant)>,
    /// Open output files of running vertices.
    files: HashMap<VertexId, BufWriter<File>>,
}

impl BuildLog {
    /// Start the logs of a new build under `root`, removing old builds' so that, with
    /// this one, at most `keep` are kept (see the module docs for the builds kept beyond).
    pub fn create(root: &Path, info: BuildInfo, keep: usize) -> Result<BuildLog> {
        let parent = logs_dir(root);
        std::fs::create_dir_all(&parent).map_err(io_err("create", &parent))?;
        prune(root, keep.max(1) - 1);
        let now = SystemTime::now();
        let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let stamp = utc_micros(now);
        // `2026-11-22T18:30:24.123456Z` -> `20261122-183024`.
        let compact: String = stamp
            .chars()
            .take(19)
            .filter(|c| c.is_ascii_digit() || *c == 'T')
            .map(|c| if c == 'T' { '-' } else { c })
            .collect();
        let mut salt = (since.subsec_nanos() ^ (std::process::id() << 8)) & 0xff_ffff;
        let (id, dir) = loop {
            let id = format!("{compact}-{salt:06x}");
            let dir = parent.join(&id);
            match std::fs::create_dir(&dir) {
                Ok(()) => break (id, dir),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    salt = (salt + 1) & 0xff_ffff;
                }
                Err(e) => return Err(io_err("create", &dir)(e)),
            }
        };
        let log = BuildLog {
            dir,
            started: Instant::now(),
            state: Mutex::new(State {
                index: BuildIndex {
                    id,
                    started: stamp,
                    elapsed: None,
                    status: BuildStatus::Running,
                    pid: std::process::id(),
                    info,
                    image: None,
                    error: None,
                    vertices: Vec::new(),
                },
                vertices: HashMap::new(),
                files: HashMap::new(),
            }),
        };
        log.write_index(&log.lock(), false)?;
        Ok(log)
    }

    /// The build's id (`builder logs ID`).
    pub fn id(&self) -> String {
        self.lock().index.id.clone()
    }

    /// The build's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        crate::domain::lock(&self.state)
    }

    /// Replace `index.json`: a temp file renamed over it, so readers never see a part.
    /// `durable` also syncs it to disk (the build's last write).
    fn write_index(&self, st: &State, durable: bool) -> Result<()> {
        let path = self.dir.join("index.json");
        let mut bytes = serde_json::to_vec_pretty(&st.index).unwrap_or_default();
        bytes.push(b'\n');
        if durable {
            return crate::store::atomic::write_atomic(&path, &bytes).map_err(|e| {
                super::LogsError::Io {
                    action: "write",
                    path,
                    source: std::io::Error::other(e),
                }
            });
        }
        let temp = self.dir.join(".index.json.tmp");
        std::fs::write(&temp, &bytes).map_err(io_err("write", &temp))?;
        std::fs::rename(&temp, &path).map_err(io_err("write", &path))
    }

    fn entry(st: &mut State, id: VertexId) -> Option<&mut VertexEntry> {
        let (pos, _) = *st.vertices.get(&id)?;
        st.index.vertices.get_mut(pos)
    }

    fn start(&self, id: VertexId, name: &str) {
        let mut st = self.lock();
        let pos = st.index.vertices.len();
        st.vertices.insert(id, (pos, Instant::now()));
        st.index.vertices.push(VertexEntry {
            number: id,
            name: name.to_string(),
            status: VertexStatus::Running,
            started: utc_micros(SystemTime::now()),
            elapsed: None,
            miss: None,
            error: None,
            messages: Vec::new(),
            output_bytes: 0,
            truncated: false,
        });
        let _ = self.write_index(&st, false);
    }

    fn message(&self, id: VertexId, line: &str) {
        let mut st = self.lock();
        if let Some(v) = Self::entry(&mut st, id) {
            if v.messages.len() < MAX_MESSAGES {
                v.messages.push(line.to_string());
            }
        }
    }

    fn output(&self, id: VertexId, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let mut st = self.lock();
        let st = &mut *st;
        let Some(v) = Self::entry(st, id) else { return };
        if v.truncated {
            return;
        }
        let path = self.dir.join(v.log_file());
        let file = match st.files.entry(id) {
            std::collections::hash_map::Entry::Occupied(f) => Some(f.into_mut()),
            std::collections::hash_map::Entry::Vacant(slot) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .ok()
                .map(|f| slot.insert(BufWriter::with_capacity(FILE_BUFFER, f))),
        };
        let written = file.is_some_and(|f| f.write_all(data).is_ok());
        if let Some(v) = Self::entry(st, id) {
            if written {
                v.output_bytes += data.len() as u64;
            } else {
                v.truncated = true;
            }
        }
    }

    fn miss(&self, id: VertexId, reason: &str) {
        if let Some(v) = Self::entry(&mut self.lock(), id) {
            v.miss = Some(reason.to_string());
        }
    }

    fn end(
        &self,
        id: VertexId,
        status: VertexStatus,
        elapsed: Option<Duration>,
        error: Option<&str>,
    ) {
        let mut st = self.lock();
        let flushed = match st.files.remove(&id) {
            Some(mut f) => f.flush().is_ok(),
            None => true,
        };
        let took = elapsed.or_else(|| st.vertices.get(&id).map(|(_, at)| at.elapsed()));
        if let Some(v) = Self::entry(&mut st, id) {
            v.status = status;
            v.elapsed = took.map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0);
            v.error = error.map(str::to_string);
            v.truncated |= !flushed;
        }
        let _ = self.write_index(&st, false);
    }

    /// Mark the build ended, durably.
    fn finish(&self, outcome: &Outcome<'_>) -> Result<()> {
        let mut st = self.lock();
        for (_, mut f) in st.files.drain() {
            let _ = f.flush();
        }
        st.index.status = if outcome.error.is_some() {
            BuildStatus::Failed
        } else {
            BuildStatus::Ok
        };
        st.index.image = outcome.image.map(str::to_string);
        st.index.error = outcome.error.map(str::to_string);
        st.index.elapsed = Some((self.started.elapsed().as_secs_f64() * 10.0).round() / 10.0);
        self.write_index(&st, true)
    }
}

/// Remove the oldest builds' logs until `keep` are left, sparing the latest successful
/// build of each project while fewer than four times `keep` are left (best effort: a build
/// that cannot be removed now is removed next time).
fn prune(root: &Path, keep: usize) {
    let Ok(ids) = build_ids(root) else { return };
    if ids.len() <= keep {
        return;
    }
    let indexes: Vec<Option<super::BuildIndex>> = ids
        .iter()
        .map(|id| super::read_index(root, id).ok())
        .collect();
    let spared = latest_good_per_project(&indexes);
    let removed = |id: &String| std::fs::remove_dir_all(logs_dir(root).join(id)).is_ok();
    let mut left = ids.len();
    // Oldest first: the builds no rule spares, down to `keep`; then the spared ones, down
    // to four times `keep`.
    for (spared_pass, limit) in [(false, keep), (true, keep.saturating_mul(4))] {
        for (i, id) in ids.iter().enumerate() {
            if left <= limit {
                break;
            }
            if spared.contains(&i) == spared_pass && removed(id) {
                left -= 1;
            }
        }
    }
}

/// The positions in `indexes` (oldest first) of each project's newest successful build.
fn latest_good_per_project(indexes: &[Option<super::BuildIndex>]) -> Vec<usize> {
    let mut newest: HashMap<&str, usize> = HashMap::new();
    for (i, index) in indexes.iter().enumerate() {
        if let Some(ix) = index {
            if let (Some(project), super::BuildStatus::Ok) = (&ix.info.project, ix.status) {
                newest.insert(project.as_str(), i);
            }
        }
    }
    newest.into_values().collect()
}

/// A [`Reporter`] that keeps the build's logs in a [`BuildLog`] and passes every event
/// on to `display`.
#[derive(Debug)]
pub struct LogKeeper {
    display: Box<dyn Reporter>,
    log: BuildLog,
}

impl LogKeeper {
    /// Keep logs in `log`, show progress with `display`.
    pub fn new(display: Box<dyn Reporter>, log: BuildLog) -> LogKeeper {
        LogKeeper { display, log }
    }

    /// The build's id.
    pub fn build_id(&self) -> String {
        self.log.id()
    }
}

impl Reporter for LogKeeper {
    fn start(&self, name: &str) -> VertexId {
        let id = self.display.start(name);
        self.log.start(id, name);
        id
    }

    fn log(&self, id: VertexId, line: &str) {
        self.log.message(id, line);
        self.display.log(id, line);
    }

    fn output(&self, id: VertexId, data: &[u8], lines: &[OutputLine]) {
        self.log.output(id, data);
        self.display.output(id, data, lines);
    }

    fn cached(&self, id: VertexId) {
        self.log.end(id, VertexStatus::Cached, None, None);
        self.display.cached(id);
    }

    fn miss(&self, id: VertexId, reason: &str) {
        self.log.miss(id, reason);
        self.display.miss(id, reason);
    }

    fn progress(&self, id: VertexId, item: &str, current: u64, total: Option<u64>) {
        self.display.progress(id, item, current, total);
    }

    fn done(&self, id: VertexId, elapsed: Duration) {
        self.log.end(id, VertexStatus::Done, Some(elapsed), None);
        self.display.done(id, elapsed);
    }

    fn error(&self, id: VertexId, message: &str) {
        self.log.end(id, VertexStatus::Error, None, Some(message));
        self.display.error(id, message);
    }

    fn finish(&self, outcome: &Outcome<'_>) {
        // Best effort: the build's result stands whether or not its log could be closed.
        let _ = self.log.finish(outcome);
        let id = self.log.id();
        self.display.finish(&Outcome {
            build: Some(&id),
            ..*outcome
        });
    }
}
