//! `--progress=plain`: BuildKit's line format, one line per event, every line carrying its
//! vertex's `#N`, safe to read in a CI log.
//!
//! ```text
//! #1 [internal] load build definition from Dockerfile
//! #1 DONE 0.0s
//!
//! #2 [2/3] RUN make
//! #2 cache miss: RUN make: the parent layer changed
//! #2 0.132 cc -c main.c
//! #2 ...
//!
//! #3 [stage-1 2/2] COPY app /app
//! #3 DONE 0.1s
//!
//! #2 [2/3] RUN make
//! #2 1.503 cc -o app main.o
//! #2 DONE 1.6s
//! ```
//!
//! As in BuildKit (`util/progress/progressui/printer.go`): a blank line and the vertex's
//! name come before its lines whenever the previous line belonged to another vertex; a
//! vertex interrupted before it ended gets a `#N ...` line and is named again when it goes
//! on. Transfers print `#N ITEM CURRENT / TOTAL TIME` lines, at most one per item per 5% or
//! 5 s, and always the last one (`... done`). A vertex's output is shown up to
//! [`super::LOG_LIMIT`] bytes, then clipped with one notice (the full log has it all).
//! `cache miss: REASON` lines are our own.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::clip::{notice, Clip, Show};
use super::{bytes, secs, OutputLine, Reporter, VertexId};

/// A transfer line is printed when this share of the total moved since the last one...
const MIN_PROGRESS_DELTA: f64 = 0.05;
/// ...or this long passed.
const MIN_TIME_DELTA: Duration = Duration::from_secs(5);

/// Writes plain progress lines to a writer (stderr in the CLI).
pub struct Plain {
    inner: Mutex<Inner>,
}

struct Inner {
    out: Box<dyn Write + Send>,
    next: VertexId,
    /// Names of the vertices not ended yet.
    names: HashMap<VertexId, String>,
    /// The vertex the last line belonged to, while it has not ended.
    current: Option<VertexId>,
    /// Whether anything was printed (no blank line before the first vertex).
    printed: bool,
    transfers: HashMap<(VertexId, String), Transfer>,
    clip: Clip,
}

/// The state of one transfer's lines.
struct Transfer {
    started: Instant,
    /// The position and time of the last line printed.
    last: Option<(u64, Instant)>,
}

impl std::fmt::Debug for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Plain")
    }
}

impl Plain {
    /// Plain progress on standard error.
    pub fn stderr() -> Plain {
        Plain::new(Box::new(std::io::stderr()))
    }

    /// Plain progress on `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Plain {
        Plain {
            inner: Mutex::new(Inner {
                out,
                next: 0,
                names: HashMap::new(),
                current: None,
                printed: false,
                transfers: HashMap::new(),
                clip: Clip::default(),
            }),
        }
    }

    fn write(&self, f: impl FnOnce(&mut Inner) -> std::io::Result<()>) {
        let mut inner = crate::domain::lock(&self.inner);
        // Progress is best effort: a closed stderr must not fail the build.
        let _ = f(&mut inner).and_then(|()| inner.out.flush());
    }

    /// A line of `id` (announcing `id` first when the last line was another vertex's).
    fn line(&self, id: VertexId, text: &str) {
        self.write(|inner| {
            inner.switch_to(id)?;
            writeln!(inner.out, "#{id} {text}")
        });
    }

    /// The last line of `id`.
    fn end(&self, id: VertexId, text: &str) {
        self.write(|inner| {
            inner.switch_to(id)?;
            writeln!(inner.out, "#{id} {text}")?;
            inner.current = None;
            inner.names.remove(&id);
            inner.transfers.retain(|(v, _), _| *v != id);
            inner.clip.forget(id);
            Ok(())
        });
    }
}

impl Inner {
    /// Make `id` the vertex the next lines belong to: `#OLD ...` for an interrupted one,
    /// then a blank line and `#N NAME`.
    fn switch_to(&mut self, id: VertexId) -> std::io::Result<()> {
        if self.current == Some(id) {
            return Ok(());
        }
        let Some(name) = self.names.get(&id) else {
            // Ended or unknown: its line stands alone.
            return Ok(());
        };
        if let Some(old) = self.current {
            writeln!(self.out, "#{old} ...")?;
        }
        if self.printed {
            writeln!(self.out)?;
        }
        self.printed = true;
        writeln!(self.out, "#{id} {name}")?;
        self.current = Some(id);
        Ok(())
    }
}

/// The transfer line's text after `#N ` (`sha256:… 1.20MB / 3.40MB 0.5s done`).
fn transfer_text(item: &str, current: u64, total: Option<u64>, took: Duration) -> String {
    let mut text = item.to_string();
    match total {
        Some(t) if t != 0 => text.push_str(&format!(" {} / {}", bytes(current), bytes(t))),
        _ if current != 0 => text.push_str(&format!(" {}", bytes(current))),
        _ => {}
    }
    if took.as_secs_f64() > 0.01 {
        text.push_str(&format!(" {:.1}s", took.as_secs_f64()));
    }
    if total == Some(current) {
        text.push_str(" done");
    }
    text
}

impl Reporter for Plain {
    fn start(&self, name: &str) -> VertexId {
        let mut id = 0;
        self.write(|inner| {
            inner.next += 1;
            id = inner.next;
            // One line per vertex name, whatever it contains.
            inner.names.insert(id, name.replace(['\n', '\r'], " "));
            inner.switch_to(id)
        });
        id
    }

    fn log(&self, id: VertexId, line: &str) {
        self.line(id, line);
    }

    fn output(&self, id: VertexId, _data: &[u8], lines: &[OutputLine]) {
        self.write(|inner| {
            for line in lines {
                let text = match inner.clip.check(id, line.text.len()) {
                    Show::Line => line.shown(),
                    Show::Notice => notice(id),
                    Show::Nothing => continue,
                };
                inner.switch_to(id)?;
                writeln!(inner.out, "#{id} {text}")?;
            }
            Ok(())
        });
    }

    fn cached(&self, id: VertexId) {
        self.end(id, "CACHED");
    }

    fn miss(&self, id: VertexId, reason: &str) {
        let first = reason.lines().next().unwrap_or_default();
        self.line(id, &format!("cache miss: {first}"));
    }

    fn progress(&self, id: VertexId, item: &str, current: u64, total: Option<u64>) {
        let now = Instant::now();
        self.write(|inner| {
            let t = inner
                .transfers
                .entry((id, item.to_string()))
                .or_insert(Transfer {
                    started: now,
                    last: None,
                });
            let complete = total == Some(current);
            if let (Some((last, at)), false) = (t.last, complete) {
                let delta = match total {
                    Some(t) if t > 0 => current.saturating_sub(last) as f64 / t as f64,
                    _ => 0.0,
                };
                if delta < MIN_PROGRESS_DELTA && now.duration_since(at) < MIN_TIME_DELTA {
                    return Ok(());
                }
            }
            t.last = Some((current, now));
            let text = transfer_text(item, current, total, now.duration_since(t.started));
            inner.switch_to(id)?;
            writeln!(inner.out, "#{id} {text}")
        });
    }

    fn done(&self, id: VertexId, elapsed: Duration) {
        self.end(id, &format!("DONE {}", secs(elapsed)));
    }

    fn error(&self, id: VertexId, message: &str) {
        let first = message.lines().next().unwrap_or_default();
        self.end(id, &format!("ERROR: {first}"));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::progress::OutputLine;

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

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn plain() -> (Plain, Shared) {
        let buf = Shared::default();
        (Plain::new(Box::new(buf.clone())), buf)
    }

    #[test]
    fn lines_follow_buildkit_plain_format() {
        let (p, buf) = plain();
        let a = p.start("[1/2] FROM docker.io/library/busybox:latest");
        p.done(a, Duration::from_millis(1234));
        let b = p.start("[2/2] COPY a /a");
        p.log(b, "copying");
        p.cached(b);
        let c = p.start("[3/3] RUN make");
        p.miss(c, "RUN make: the parent layer changed");
        let line = |ms, text: &str| OutputLine {
            at: Duration::from_millis(ms),
            text: text.into(),
        };
        p.output(c, b"cc\nld\n", &[line(132, "cc"), line(12_050, "ld")]);
        p.done(c, Duration::from_millis(12_100));
        let d = p.start("exporting to image");
        p.error(d, "no space left\nsecond line");
        assert_eq!(
            buf.text(),
            "#1 [1/2] FROM docker.io/library/busybox:latest\n#1 DONE 1.2s\n\
             \n#2 [2/2] COPY a /a\n#2 copying\n#2 CACHED\n\
             \n#3 [3/3] RUN make\n#3 cache miss: RUN make: the parent layer changed\n\
             #3 0.132 cc\n#3 12.05 ld\n#3 DONE 12.1s\n\
             \n#4 exporting to image\n#4 ERROR: no space left\n"
        );
    }

    #[test]
    fn interleaved_vertices_are_announced_again() {
        let (p, buf) = plain();
        let a = p.start("[a 2/2] RUN one");
        p.log(a, "0.100 a1");
        let b = p.start("[b 2/2] RUN two");
        p.log(b, "0.100 b1");
        p.log(a, "0.200 a2");
        p.done(b, Duration::from_millis(300));
        p.done(a, Duration::from_millis(400));
        assert_eq!(
            buf.text(),
            "#1 [a 2/2] RUN one\n#1 0.100 a1\n#1 ...\n\
             \n#2 [b 2/2] RUN two\n#2 0.100 b1\n#2 ...\n\
             \n#1 [a 2/2] RUN one\n#1 0.200 a2\n#1 ...\n\
             \n#2 [b 2/2] RUN two\n#2 DONE 0.3s\n\
             \n#1 [a 2/2] RUN one\n#1 DONE 0.4s\n"
        );
    }

    #[test]
    fn transfers_print_seldom_and_always_at_the_end() {
        let (p, buf) = plain();
        let a = p.start("[internal] load metadata for busybox");
        let item = "sha256:0123";
        p.progress(a, item, 0, Some(1_000_000));
        for i in 1..100 {
            p.progress(a, item, i * 1000, Some(1_000_000));
        }
        p.progress(a, item, 1_000_000, Some(1_000_000));
        p.progress(a, "sha256:4567", 2048, None);
        p.done(a, Duration::from_millis(10));
        let text = buf.text();
        let lines: Vec<&str> = text.lines().collect();
        // The first report, one per 5% (50 kB), the end.
        assert_eq!(lines[1], "#1 sha256:0123 0B / 1.00MB");
        assert!(lines.contains(&"#1 sha256:0123 50.00kB / 1.00MB"), "{text}");
        assert!(
            !lines.contains(&"#1 sha256:0123 51.00kB / 1.00MB"),
            "{text}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("#1 sha256:0123 1.00MB / 1.00MB") && l.ends_with(" done")),
            "{text}"
        );
        assert!(lines.iter().any(|l| l.starts_with("#1 sha256:4567 2.05kB")));
        assert_eq!(lines.len(), 6, "{text}");
    }

    #[test]
    fn concurrent_vertices_keep_whole_lines() {
        let (p, buf) = plain();
        let p = Arc::new(p);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let p = Arc::clone(&p);
                std::thread::spawn(move || {
                    let id = p.start(&format!("[s{t} 2/2] RUN x"));
                    for i in 0..200 {
                        p.log(id, &format!("line {t}-{i}"));
                    }
                    p.done(id, Duration::from_millis(5));
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = buf.text();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let (num, rest) = line.split_once(' ').unwrap();
            let n: usize = num.strip_prefix('#').unwrap().parse().unwrap();
            if let Some(body) = rest.strip_prefix("line ") {
                // Thread t's vertex carries only thread t's lines.
                let t: usize = body.split('-').next().unwrap().parse().unwrap();
                let header = text
                    .lines()
                    .find(|l| l.starts_with(&format!("#{n} [s")))
                    .unwrap();
                assert_eq!(header, format!("#{n} [s{t} 2/2] RUN x"));
            }
        }
        assert_eq!(text.matches(" DONE ").count(), 4);
    }

    #[test]
    fn long_output_is_clipped_with_a_notice() {
        let (p, buf) = plain();
        let a = p.start("[2/2] RUN yes");
        let text = "y".repeat(1023);
        let lines: Vec<OutputLine> = (0..3000)
            .map(|_| OutputLine {
                at: Duration::from_millis(1),
                text: text.clone(),
            })
            .collect();
        p.output(a, b"", &lines);
        p.done(a, Duration::from_secs(1));
        let out = buf.text();
        let shown = out.lines().filter(|l| l.ends_with("yyy")).count();
        assert_eq!(shown, crate::progress::LOG_LIMIT / 1024);
        assert!(out.contains(
            "\n#1 [output clipped, log limit 2MiB reached; `builder logs --step 1` shows all of it]\n#1 DONE 1.0s\n"
        ));
    }
}
