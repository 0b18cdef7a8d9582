//! [`Recorder`]: the recording fake of [`Reporter`], for tests.

use std::sync::Mutex;
use std::time::Duration;

use super::{Reporter, VertexId};

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
    /// Bytes of a transfer: item, current, total.
    Progress(VertexId, String, u64, Option<u64>),
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
        crate::domain::lock(&self.events)
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
    fn progress(&self, id: VertexId, item: &str, current: u64, total: Option<u64>) {
        self.lock()
            .push(Event::Progress(id, item.to_string(), current, total));
    }
}
