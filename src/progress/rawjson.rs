//! `--progress=rawjson`: one JSON object per line, for programs to read.
//!
//! ```text
//! {"time":"2026-11-22T18:30:24.123456Z","event":"start","vertex":3,"name":"[2/3] RUN make"}
//! {"time":"2026-11-22T18:30:24.255012Z","event":"log","vertex":3,"from":"process","at":0.132,"line":"cc -c main.c"}
//! {"time":"2026-11-22T18:30:25.601345Z","event":"done","vertex":3,"elapsed":1.478}
//! ```
//!
//! A vertex's process output is shown up to [`super::LOG_LIMIT`] bytes, then one notice
//! (the full log keeps it all). Every line is a complete object written with one `write` under a lock, so lines of
//! concurrent vertices never mix; strings are JSON-escaped (quotes, backslashes, control
//! characters), so a line always parses alone. The schema — every event and field — is in
//! `docs/progress.md`; fields are only ever added.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Map, Value};

use super::clip::{notice, Clip, Show};
use super::{utc_micros, Outcome, OutputLine, Reporter, VertexId};

/// At most one `progress` event per item this often (the first and the last always go).
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// Writes progress events as JSON lines (stderr in the CLI).
pub struct RawJson {
    inner: Mutex<Inner>,
}

struct Inner {
    out: Box<dyn Write + Send>,
    next: VertexId,
    /// When each transfer's last `progress` event went out.
    last_progress: HashMap<(VertexId, String), Instant>,
    clip: Clip,
}

impl std::fmt::Debug for RawJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawJson")
    }
}

impl RawJson {
    /// JSON events on standard error.
    pub fn stderr() -> RawJson {
        RawJson::new(Box::new(std::io::stderr()))
    }

    /// JSON events on `out`.
    pub fn new(out: Box<dyn Write + Send>) -> RawJson {
        RawJson {
            inner: Mutex::new(Inner {
                out,
                next: 0,
                last_progress: HashMap::new(),
                clip: Clip::default(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        crate::domain::lock(&self.inner)
    }

    /// Write the event `event` with `fields` (after `time`, `event` and `vertex`).
    fn emit(&self, inner: &mut Inner, event: &str, vertex: Option<VertexId>, fields: Value) {
        let mut obj = Map::new();
        obj.insert("time".into(), Value::String(utc_micros(SystemTime::now())));
        obj.insert("event".into(), Value::String(event.into()));
        if let Some(v) = vertex {
            obj.insert("vertex".into(), json!(v));
        }
        if let Value::Object(more) = fields {
            obj.extend(more);
        }
        let mut line = Value::Object(obj).to_string();
        line.push('\n');
        // Best effort: a closed stderr must not fail the build.
        let _ = inner
            .out
            .write_all(line.as_bytes())
            .and_then(|()| inner.out.flush());
    }

    /// `id` ended: drop what is kept about it.
    fn forget(&self, id: VertexId) {
        let mut inner = self.lock();
        inner.last_progress.retain(|(v, _), _| *v != id);
        inner.clip.forget(id);
    }

    fn event(&self, event: &str, vertex: VertexId, fields: Value) {
        let mut inner = self.lock();
        self.emit(&mut inner, event, Some(vertex), fields);
    }
}

impl Reporter for RawJson {
    fn start(&self, name: &str) -> VertexId {
        let mut inner = self.lock();
        inner.next += 1;
        let id = inner.next;
        self.emit(&mut inner, "start", Some(id), json!({ "name": name }));
        id
    }

    fn log(&self, id: VertexId, line: &str) {
        self.event("log", id, json!({ "from": "builder", "line": line }));
    }

    fn output(&self, id: VertexId, _data: &[u8], lines: &[OutputLine]) {
        let mut inner = self.lock();
        for l in lines {
            let fields = match inner.clip.check(id, l.text.len()) {
                Show::Line => {
                    let at = (l.at.as_secs_f64() * 1000.0).round() / 1000.0;
                    json!({ "from": "process", "at": at, "line": l.text })
                }
                Show::Notice => json!({ "from": "builder", "line": notice(id) }),
                Show::Nothing => continue,
            };
            self.emit(&mut inner, "log", Some(id), fields);
        }
    }

    fn cached(&self, id: VertexId) {
        self.event("cached", id, json!({}));
        self.forget(id);
    }

    fn miss(&self, id: VertexId, reason: &str) {
        self.event("miss", id, json!({ "reason": reason }));
    }

    fn progress(&self, id: VertexId, item: &str, current: u64, total: Option<u64>) {
        let now = Instant::now();
        let mut inner = self.lock();
        let key = (id, item.to_string());
        let complete = total == Some(current);
        if let Some(last) = inner.last_progress.get(&key) {
            if !complete && now.duration_since(*last) < PROGRESS_EVERY {
                return;
            }
        }
        inner.last_progress.insert(key, now);
        let fields = json!({ "item": item, "current": current, "total": total });
        self.emit(&mut inner, "progress", Some(id), fields);
    }

    fn done(&self, id: VertexId, elapsed: Duration) {
        let secs = (elapsed.as_secs_f64() * 1000.0).round() / 1000.0;
        self.event("done", id, json!({ "elapsed": secs }));
        self.forget(id);
    }

    fn error(&self, id: VertexId, message: &str) {
        self.event("error", id, json!({ "message": message }));
        self.forget(id);
    }

    fn finish(&self, outcome: &Outcome<'_>) {
        let mut fields = Map::new();
        let status = if outcome.error.is_some() {
            "failed"
        } else {
            "ok"
        };
        fields.insert("status".into(), json!(status));
        if let Some(image) = outcome.image {
            fields.insert("image".into(), json!(image));
        }
        if let Some(error) = outcome.error {
            fields.insert("error".into(), json!(error));
        }
        if let Some(build) = outcome.build {
            fields.insert("build".into(), json!(build));
        }
        let mut inner = self.lock();
        self.emit(&mut inner, "result", None, Value::Object(fields));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn events(buf: &Shared) -> Vec<Value> {
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with('\n'));
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect()
    }

    #[test]
    fn every_event_is_one_parseable_line() {
        let buf = Shared::default();
        let r = RawJson::new(Box::new(buf.clone()));
        let tricky = "say \"hi\"\\ \n\r\t\x1b[31m\x00 é\u{2028}";
        let a = r.start(tricky);
        r.miss(a, "RUN x: the parent layer changed");
        r.output(
            a,
            b"raw",
            &[OutputLine {
                at: Duration::from_millis(1500),
                text: tricky.into(),
            }],
        );
        r.log(a, "layer written");
        r.progress(a, "sha256:ab", 10, Some(20));
        r.progress(a, "sha256:ab", 11, Some(20));
        r.progress(a, "sha256:ab", 20, Some(20));
        r.done(a, Duration::from_millis(1234));
        let b = r.start("[2/2] COPY a /a");
        r.cached(b);
        let c = r.start("exporting to image");
        r.error(c, "no space left\non device");
        r.finish(&Outcome {
            image: None,
            error: Some("build failed"),
            build: Some("20261122-183024-ab12"),
        });
        let ev = events(&buf);
        let kinds: Vec<&str> = ev.iter().map(|e| e["event"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "start", "miss", "log", "log", "progress", "progress", "done", "start", "cached",
                "start", "error", "result"
            ]
        );
        for e in &ev {
            let t = e["time"].as_str().unwrap();
            assert_eq!(t.len(), "2026-11-22T18:30:24.123456Z".len(), "{t}");
            assert!(t.ends_with('Z'));
        }
        assert_eq!(ev[0]["name"], tricky);
        assert_eq!(ev[0]["vertex"], 1);
        assert_eq!(ev[1]["reason"], "RUN x: the parent layer changed");
        assert_eq!(ev[2]["from"], "process");
        assert_eq!(ev[2]["at"], 1.5);
        assert_eq!(ev[2]["line"], tricky);
        assert_eq!(ev[3]["from"], "builder");
        assert_eq!(ev[4]["current"], 10);
        assert_eq!(ev[4]["total"], 20);
        assert_eq!(ev[5]["current"], 20, "the last report always goes out");
        assert_eq!(ev[6]["elapsed"], 1.234);
        assert_eq!(ev[8]["vertex"], 2);
        assert_eq!(ev[10]["message"], "no space left\non device");
        assert_eq!(ev[11]["status"], "failed");
        assert_eq!(ev[11]["build"], "20261122-183024-ab12");
        assert!(ev[11].get("vertex").is_none());
    }
}
