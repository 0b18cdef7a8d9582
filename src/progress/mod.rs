//! Progress output: what the build tells the user while it runs, and the full logs it keeps.
//!
//! Pipeline stage: beside the others, called by [`crate::build`] and [`crate::solve`]. A build
//! reports *vertices* — units of work with a name such as `[build 2/4] COPY . /src` or
//! `exporting to image` — through the [`Reporter`] trait: [`Reporter::start`] returns the
//! vertex's number, then exactly one of [`Reporter::done`], [`Reporter::cached`] or
//! [`Reporter::error`] closes it; [`Reporter::log`] (the builder's own lines),
//! [`Reporter::output`] (what a RUN process wrote), [`Reporter::miss`] and
//! [`Reporter::progress`] (bytes of a transfer) come in between. The CLI calls
//! [`Reporter::finish`] once at the end.
//!
//! Displays (`--progress`): [`Plain`] writes BuildKit's `--progress=plain` lines
//! (`#5 [2/3] COPY a /a`, `#5 DONE 0.1s`); [`Tty`] a live view on a terminal; [`RawJson`]
//! one JSON event per line (the schema is in `docs/progress.md`); [`Quiet`] nothing.
//! [`LogKeeper`] wraps any of them and keeps every vertex's whole output under
//! `ROOT/logs/<build>/` for `builder logs` ([`logs`]). [`WarningTally`] keeps the build
//! warnings ([`Reporter::warn`]) for the summary after the build ([`warnings_summary`]). [`Reading`] reports a plain read
//! (a layer being extracted) as a transfer. [`Recorder`] keeps events for tests.
//!
//! Reporters are shared between threads (independent stages run in parallel, so events of
//! several vertices interleave), so every method takes `&self`; progress is best effort:
//! a reporter never fails the build.

mod clip;
mod format;
pub mod logs;
mod plain;
mod rawjson;
mod reading;
mod recorder;
mod tty;
mod tty_frame;
mod warnings;

use std::sync::Mutex;
use std::time::Duration;

pub use clip::LOG_LIMIT;
pub use format::{bytes, log_time, secs, terminal_safe, utc_micros};
pub use logs::LogKeeper;
pub use plain::Plain;
pub use rawjson::RawJson;
pub use reading::Reading;
pub use recorder::{Event, Recorder};
pub use tty::Tty;
pub use warnings::{warnings_summary, WarningTally};

/// The number of a vertex (`#N` in plain output), unique within a build.
pub type VertexId = u64;

/// One line of a process's output, as displays show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    /// Time since the vertex started.
    pub at: Duration,
    /// The line without its end (`\n`, `\r\n`), invalid UTF-8 replaced.
    pub text: String,
}

impl OutputLine {
    /// The line as BuildKit shows it after `#N `: seconds, a space, the text (`0.132 hello`).
    pub fn shown(&self) -> String {
        format!("{} {}", log_time(self.at), self.text)
    }
}

/// How a build ended, for [`Reporter::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome<'a> {
    /// The image id (manifest digest) when the build succeeded.
    pub image: Option<&'a str>,
    /// The error, with its causes, when it failed.
    pub error: Option<&'a str>,
    /// The id under which `builder logs` finds the build's logs, when they were kept.
    pub build: Option<&'a str>,
}

/// Receives progress events.
pub trait Reporter: Send + Sync + std::fmt::Debug {
    /// A vertex starts; returns its number.
    fn start(&self, name: &str) -> VertexId;
    /// A line of the builder's own about `id` (`exporting manifest sha256:…`).
    fn log(&self, id: VertexId, line: &str);
    /// Output of the process `id` runs: `data` exactly as it was written (stdout and stderr
    /// as they came, any bytes), and `lines`, the lines that `data` completed, for display.
    /// A line may span calls; the last, unterminated one comes with empty `data`. By
    /// default each line is shown as a [`Reporter::log`] line (`0.132 hello`).
    fn output(&self, id: VertexId, data: &[u8], lines: &[OutputLine]) {
        let _ = data;
        for line in lines {
            self.log(id, &line.shown());
        }
    }
    /// A build-check warning about `id`, in BuildKit's short form (`Rule: message (line N)`);
    /// displays show it as the line `WARN: ...` of the vertex.
    fn warn(&self, id: VertexId, short: &str) {
        self.log(id, &format!("WARN: {short}"));
    }
    /// `id` was not run: its result was already there.
    fn cached(&self, id: VertexId);
    /// `id` has to run although it ran before: `reason` names the first input that
    /// differs (`COPY src/: src/main.rs changed`). Reported right after [`Reporter::start`].
    fn miss(&self, id: VertexId, reason: &str) {
        self.log(id, &format!("cache miss: {reason}"));
    }
    /// Bytes moved by a transfer of `id`: `item` names what moves (a blob's digest),
    /// `current` of `total` bytes (when known) are done. Called often; displays thin it
    /// out. `current == total` means the item is complete.
    fn progress(&self, id: VertexId, item: &str, current: u64, total: Option<u64>) {
        let _ = (id, item, current, total);
    }
    /// `id` finished after `elapsed`.
    fn done(&self, id: VertexId, elapsed: Duration);
    /// `id` failed with `message`.
    fn error(&self, id: VertexId, message: &str);
    /// The build ended (called once, after every vertex closed). Displays end here (the
    /// live view is cleared), log keepers mark the build complete.
    fn finish(&self, outcome: &Outcome<'_>) {
        let _ = outcome;
    }
}

/// Reports nothing (`--progress=quiet`, `-q`).
#[derive(Debug, Default)]
pub struct Quiet {
    next: Mutex<VertexId>,
}

impl Reporter for Quiet {
    fn start(&self, _name: &str) -> VertexId {
        let mut n = crate::domain::lock(&self.next);
        *n += 1;
        *n
    }
    fn log(&self, _id: VertexId, _line: &str) {}
    fn output(&self, _id: VertexId, _data: &[u8], _lines: &[OutputLine]) {}
    fn cached(&self, _id: VertexId) {}
    fn done(&self, _id: VertexId, _elapsed: Duration) {}
    fn error(&self, _id: VertexId, _message: &str) {}
}

/// `err` and its causes, joined with `: `, each said once (the rule of [`crate::domain`]).
pub use crate::domain::error_chain as chain;

/// Run `work` as the vertex `name`: started, then done with its time, or failed with its
/// error and causes.
pub fn vertex<T, E: std::error::Error>(
    reporter: &dyn Reporter,
    name: &str,
    work: impl FnOnce(VertexId) -> Result<T, E>,
) -> Result<T, E> {
    let started = std::time::Instant::now();
    let id = reporter.start(name);
    match work(id) {
        Ok(v) => {
            reporter.done(id, started.elapsed());
            Ok(v)
        }
        Err(e) => {
            reporter.error(id, &chain(&e));
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vertex_reports_start_and_end() {
        let r = Recorder::default();
        let ok: Result<u8, std::io::Error> = vertex(&r, "one", |_| Ok(1));
        assert_eq!(ok.unwrap(), 1);
        let err: Result<u8, std::io::Error> = vertex(&r, "two", |id| {
            r.log(id, "working");
            Err(std::io::Error::other("broke"))
        });
        assert!(err.is_err());
        assert_eq!(
            r.events(),
            vec![
                Event::Start(1, "one".into()),
                Event::Done(1),
                Event::Start(2, "two".into()),
                Event::Log(2, "working".into()),
                Event::Error(2, "broke".into()),
            ]
        );
        assert_eq!(r.started(), vec!["one", "two"]);
        let q = Quiet::default();
        assert_eq!((q.start("a"), q.start("b")), (1, 2));
    }
}
