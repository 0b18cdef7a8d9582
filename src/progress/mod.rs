//! Progress output: what the build tells the user while it runs.
//!
//! Pipeline stage: beside the others, called by [`crate::build`] and [`crate::solve`]. A build
//! reports *vertices* — units of work with a name such as `[build 2/4] COPY . /src` or
//! `exporting to image` — through the [`Reporter`] trait: [`Reporter::start`] returns the
//! vertex's number, then exactly one of [`Reporter::done`], [`Reporter::cached`] or
//! [`Reporter::error`] closes it; [`Reporter::log`] adds lines in between.
//!
//! Implementations: [`Plain`] writes BuildKit's `--progress=plain` lines (`#5 [2/3] COPY a /a`,
//! `#5 DONE 0.1s`) to any writer (stderr in the CLI); [`Quiet`] writes nothing; [`Recorder`]
//! keeps events for tests. A live tty display and `rawjson` come later. Reporters are shared
//! between threads (stages of one level may run in parallel), so every method takes `&self`.

mod plain;

use std::sync::Mutex;
use std::time::Duration;

pub use plain::Plain;

/// The number of a vertex (`#N` in plain output), unique within a build.
pub type VertexId = u64;

/// Receives progress events.
pub trait Reporter: Send + Sync + std::fmt::Debug {
    /// A vertex starts; returns its number.
    fn start(&self, name: &str) -> VertexId;
    /// A line of output belonging to `id`.
    fn log(&self, id: VertexId, line: &str);
    /// `id` was not run: its result was already there.
    fn cached(&self, id: VertexId);
    /// `id` has to run although it ran before: `reason` names the first input that
    /// differs (`COPY src/: src/main.rs changed`). Reported right after [`Reporter::start`].
    fn miss(&self, id: VertexId, reason: &str) {
        self.log(id, &format!("cache miss: {reason}"));
    }
    /// `id` finished after `elapsed`.
    fn done(&self, id: VertexId, elapsed: Duration);
    /// `id` failed with `message`.
    fn error(&self, id: VertexId, message: &str);
}

/// Reports nothing (`--progress=quiet`, `-q`).
#[derive(Debug, Default)]
pub struct Quiet {
    next: Mutex<VertexId>,
}

impl Reporter for Quiet {
    fn start(&self, _name: &str) -> VertexId {
        let mut n = self.next.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        *n
    }
    fn log(&self, _id: VertexId, _line: &str) {}
    fn cached(&self, _id: VertexId) {}
    fn done(&self, _id: VertexId, _elapsed: Duration) {}
    fn error(&self, _id: VertexId, _message: &str) {}
}

/// One recorded progress event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A vertex started.
    Start(VertexId, String),
    /// A log line.
    Log(VertexId, String),
    /// A cached vertex.
    Cached(VertexId),
    /// A cache miss and its reason.
    Miss(VertexId, String),
    /// A finished vertex.
    Done(VertexId),
    /// A failed vertex.
    Error(VertexId, String),
}

/// Keeps every event, for tests (the recording fake of [`Reporter`]).
#[derive(Debug, Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.lock().clone()
    }

    /// The names of the started vertices, in order.
    pub fn started(&self) -> Vec<String> {
        self.lock()
            .iter()
            .filter_map(|e| match e {
                Event::Start(_, name) => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Event>> {
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Reporter for Recorder {
    fn start(&self, name: &str) -> VertexId {
        let mut events = self.lock();
        let id = events
            .iter()
            .filter(|e| matches!(e, Event::Start(..)))
            .count() as VertexId
            + 1;
        events.push(Event::Start(id, name.to_string()));
        id
    }
    fn log(&self, id: VertexId, line: &str) {
        self.lock().push(Event::Log(id, line.to_string()));
    }
    fn cached(&self, id: VertexId) {
        self.lock().push(Event::Cached(id));
    }
    fn miss(&self, id: VertexId, reason: &str) {
        self.lock().push(Event::Miss(id, reason.to_string()));
    }
    fn done(&self, id: VertexId, _elapsed: Duration) {
        self.lock().push(Event::Done(id));
    }
    fn error(&self, id: VertexId, message: &str) {
        self.lock().push(Event::Error(id, message.to_string()));
    }
}

/// `err` and its causes, joined with `: ` (a cause already in the text is not repeated).
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

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
