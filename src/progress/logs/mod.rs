//! Full build logs: every vertex's whole output, kept for the latest builds, unclipped
//! (BuildKit keeps at most 1 MiB of a step's output; this keeps all of it).
//!
//! Layout, under the store root:
//!
//! ```text
//! ROOT/logs/20261122-183024-3fa9c1/
//!   index.json   the build (context, tags, status, image or error) and each vertex
//!                (number, name, status, times, cache-miss reason, error, the builder's
//!                own lines, output size)
//!   003.log      what vertex #3's process wrote, byte for byte, stdout and stderr as
//!                they came
//! ```
//!
//! [`LogKeeper`] writes it as the build runs: output goes straight to the vertex's file
//! (never held in memory), `index.json` is replaced (temp file, rename) whenever a vertex
//! starts or ends, and the build's last write sets its status (`ok` or `failed`), so a
//! directory whose status is still `running` after its process is gone belongs to an
//! interrupted build. A new build removes the oldest builds' logs until, with its own,
//! at most the number asked for are kept ([`KEEP_BUILDS`] unless set), except that the
//! latest successful build of each project (context, Dockerfile and target) is kept while
//! the total is under four times that number, so a run of failing experiments elsewhere
//! does not push out the logs of the last good build. Reading ([`list`], [`find`]) is for
//! `builder logs`.

mod keeper;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use keeper::{BuildLog, LogKeeper};

/// How many builds' logs are kept when nothing says otherwise (`BUILDER_KEEP_LOGS`, the
/// config file's `keep-logs`).
pub const KEEP_BUILDS: usize = 10;

/// Most builder lines kept per vertex (process output has no limit).
pub const MAX_MESSAGES: usize = 1000;

/// The directory holding every kept build's logs.
pub fn logs_dir(root: &Path) -> PathBuf {
    root.join("logs")
}

/// Failures reading or writing build logs.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// A file or directory could not be read or written.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done (`create log directory`).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An `index.json` is not what this version writes.
    #[error("read build log index {}: {reason}", path.display())]
    Corrupt {
        /// The index.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No kept build matches.
    #[error("{0}")]
    NotFound(String),
}

/// Result with [`LogsError`].
pub type Result<T, E = LogsError> = std::result::Result<T, E>;

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> LogsError {
    let path = path.to_path_buf();
    move |source| LogsError::Io {
        action,
        path,
        source,
    }
}

/// What a build was asked to do, as `builder logs` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildInfo {
    /// The context argument.
    pub context: String,
    /// `-f`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// `-t` names.
    #[serde(default)]
    pub tags: Vec<String>,
    /// `--target`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// What makes builds the same project for the retention rule: the context's absolute
    /// path (or URL), the Dockerfile and the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// A build's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildStatus {
    /// Still going (or interrupted: see [`BuildIndex::status_now`]).
    Running,
    /// Succeeded.
    Ok,
    /// Failed.
    Failed,
    /// Ended without saying how (killed); never written, only read.
    Interrupted,
}

impl BuildStatus {
    /// The word `builder logs` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildStatus::Running => "running",
            BuildStatus::Ok => "ok",
            BuildStatus::Failed => "failed",
            BuildStatus::Interrupted => "interrupted",
        }
    }
}

/// A vertex's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VertexStatus {
    /// Started, not ended.
    Running,
    /// Ran and succeeded.
    Done,
    /// Its result was there already.
    Cached,
    /// Failed.
    Error,
}

/// One vertex in `index.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VertexEntry {
    /// Its number (`#N`).
    pub number: u64,
    /// Its name (`[2/3] RUN make`).
    pub name: String,
    /// Its state.
    pub status: VertexStatus,
    /// When it started (RFC 3339, UTC).
    pub started: String,
    /// Seconds it took, once ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed: Option<f64>,
    /// Why the cache could not be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miss: Option<String>,
    /// Its error, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The builder's own lines about it (at most [`MAX_MESSAGES`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    /// Bytes its process wrote (all in [`VertexEntry::log_file`]).
    #[serde(default)]
    pub output_bytes: u64,
    /// Set when its log file could not be written completely.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl VertexEntry {
    /// The name of its output file in the build's directory (`003.log`).
    pub fn log_file(&self) -> String {
        format!("{:03}.log", self.number)
    }
}

/// A build's `index.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildIndex {
    /// The build's id (its directory's name).
    pub id: String,
    /// When it started (RFC 3339, UTC).
    pub started: String,
    /// Seconds it took, once ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed: Option<f64>,
    /// Its state as last written.
    pub status: BuildStatus,
    /// The process that ran it.
    pub pid: u32,
    /// What it was asked to do.
    #[serde(flatten)]
    pub info: BuildInfo,
    /// The image id, when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Its error, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Its vertices, in start order.
    pub vertices: Vec<VertexEntry>,
}

impl BuildIndex {
    /// The status, with a `running` build whose process is gone shown as interrupted.
    pub fn status_now(&self) -> BuildStatus {
        let alive = Path::new("/proc").join(self.pid.to_string()).exists();
        match self.status {
            BuildStatus::Running if !alive => BuildStatus::Interrupted,
            s => s,
        }
    }

    /// The vertex that failed, if one did.
    pub fn failed_vertex(&self) -> Option<&VertexEntry> {
        self.vertices
            .iter()
            .find(|v| v.status == VertexStatus::Error)
    }

    /// The vertex `sel` names: its number (`3`, `#3`), its exact name, or a piece of
    /// exactly one name (`RUN make`).
    pub fn vertex(&self, sel: &str) -> Result<&VertexEntry> {
        let sel = sel.trim();
        if let Ok(n) = sel.trim_start_matches('#').parse::<u64>() {
            // A number names a step by its number only: names hold digests, and `99`
            // must not pick whichever step's digest happens to contain it.
            return self.vertices.iter().find(|v| v.number == n).ok_or_else(|| {
                LogsError::NotFound(format!(
                    "build {} has no step #{n}; its steps are:\n{}",
                    self.id,
                    self.steps_list(&self.vertices.iter().collect::<Vec<_>>())
                ))
            });
        }
        if let Some(v) = self.vertices.iter().find(|v| v.name == sel) {
            return Ok(v);
        }
        let matching: Vec<&VertexEntry> = self
            .vertices
            .iter()
            .filter(|v| v.name.contains(sel))
            .collect();
        match matching.as_slice() {
            [one] => Ok(one),
            [] => Err(LogsError::NotFound(format!(
                "build {} has no step {sel:?}; its steps are:\n{}",
                self.id,
                self.steps_list(&self.vertices.iter().collect::<Vec<_>>())
            ))),
            many => Err(LogsError::NotFound(format!(
                "{sel:?} names {} steps of build {}; give the number:\n{}",
                many.len(),
                self.id,
                self.steps_list(many)
            ))),
        }
    }

    fn steps_list(&self, steps: &[&VertexEntry]) -> String {
        steps
            .iter()
            .map(|v| format!("  #{} {}", v.number, v.name))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Whether `name` is a build id this module made (`20261122-183024-3fa9c1`).
fn is_build_id(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    matches!(parts.as_slice(), [d, t, r]
        if d.len() == 8 && t.len() == 6 && !r.is_empty()
            && d.bytes().chain(t.bytes()).all(|b| b.is_ascii_digit())
            && r.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The ids of the kept builds, oldest first.
pub fn build_ids(root: &Path) -> Result<Vec<String>> {
    let dir = logs_dir(root);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("read", &dir)(e)),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| is_build_id(n))
        .collect();
    ids.sort();
    Ok(ids)
}

/// Read the index of build `id`.
pub fn read_index(root: &Path, id: &str) -> Result<BuildIndex> {
    let path = logs_dir(root).join(id).join("index.json");
    let bytes = std::fs::read(&path).map_err(io_err("read", &path))?;
    serde_json::from_slice(&bytes).map_err(|e| LogsError::Corrupt {
        path,
        reason: e.to_string(),
    })
}

/// The kept builds, newest first (a build whose index cannot be read is left out).
pub fn list(root: &Path) -> Result<Vec<BuildIndex>> {
    let mut ids = build_ids(root)?;
    ids.reverse();
    Ok(ids
        .iter()
        .filter_map(|id| read_index(root, id).ok())
        .collect())
}

/// The build `sel` names (an id or a unique start of one; `None` or `last`: the newest).
pub fn find(root: &Path, sel: Option<&str>) -> Result<BuildIndex> {
    let ids = build_ids(root)?;
    let id = match sel {
        None | Some("last" | "latest") => ids.last().cloned().ok_or_else(|| {
            LogsError::NotFound(format!(
                "no build logs are kept in {}: run a build first",
                logs_dir(root).display()
            ))
        })?,
        Some(s) => {
            let matching: Vec<&String> = ids.iter().filter(|id| id.starts_with(s)).collect();
            match matching.as_slice() {
                [one] => (*one).clone(),
                [] => {
                    return Err(LogsError::NotFound(format!(
                        "no kept build {s:?}: `builder logs` lists the kept builds"
                    )))
                }
                _ => {
                    return Err(LogsError::NotFound(format!(
                        "{s:?} is the start of {} build ids: give more of it",
                        matching.len()
                    )))
                }
            }
        }
    };
    read_index(root, &id)
}

/// The path of vertex `v`'s output file in build `id`.
pub fn log_path(root: &Path, id: &str, v: &VertexEntry) -> PathBuf {
    logs_dir(root).join(id).join(v.log_file())
}

#[cfg(test)]
mod tests;
