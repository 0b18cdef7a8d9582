//! `--progress=plain`: BuildKit's line format, one line per event, safe to interleave.
//!
//! ```text
//! #3 [2/3] COPY app /app
//! #3 DONE 0.1s
//!
//! #4 [3/3] WORKDIR /srv
//! #4 CACHED
//! ```

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use super::{Reporter, VertexId};

/// Writes plain progress lines to a writer (stderr in the CLI).
pub struct Plain {
    inner: Mutex<Inner>,
}

struct Inner {
    out: Box<dyn Write + Send>,
    next: VertexId,
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
            inner: Mutex::new(Inner { out, next: 0 }),
        }
    }

    fn write(&self, f: impl FnOnce(&mut Inner) -> std::io::Result<()>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Progress is best effort: a closed stderr must not fail the build.
        let _ = f(&mut inner).and_then(|()| inner.out.flush());
    }
}

impl Reporter for Plain {
    fn start(&self, name: &str) -> VertexId {
        let mut id = 0;
        self.write(|inner| {
            inner.next += 1;
            id = inner.next;
            writeln!(inner.out, "\n#{id} {name}")
        });
        id
    }

    fn log(&self, id: VertexId, line: &str) {
        self.write(|inner| writeln!(inner.out, "#{id} {line}"));
    }

    fn cached(&self, id: VertexId) {
        self.write(|inner| writeln!(inner.out, "#{id} CACHED"));
    }

    fn done(&self, id: VertexId, elapsed: Duration) {
        self.write(|inner| writeln!(inner.out, "#{id} DONE {:.1}s", elapsed.as_secs_f64()));
    }

    fn error(&self, id: VertexId, message: &str) {
        let first = message.lines().next().unwrap_or_default();
        self.write(|inner| writeln!(inner.out, "#{id} ERROR: {first}"));
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

    #[test]
    fn lines_follow_buildkit_plain_format() {
        let buf = Shared::default();
        let p = Plain::new(Box::new(buf.clone()));
        let a = p.start("[1/2] FROM docker.io/library/busybox:latest");
        p.done(a, Duration::from_millis(1234));
        let b = p.start("[2/2] COPY a /a");
        p.log(b, "copying");
        p.cached(b);
        let c = p.start("exporting to image");
        p.error(c, "no space left\nsecond line");
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "\n#1 [1/2] FROM docker.io/library/busybox:latest\n#1 DONE 1.2s\n\
             \n#2 [2/2] COPY a /a\n#2 copying\n#2 CACHED\n\
             \n#3 exporting to image\n#3 ERROR: no space left\n"
        );
    }
}
