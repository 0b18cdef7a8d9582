//! How much of a process's output the line displays (plain, rawjson) show: the first
//! [`LOG_LIMIT`] bytes of each vertex, then one notice, as BuildKit clips a step's log
//! (`[output clipped, log limit 2MiB reached]`). Nothing is lost: the full log keeps
//! every byte, and the notice says how to read it.

use std::collections::HashMap;

use super::VertexId;

/// Bytes of output lines shown per vertex (BuildKit's default limit).
pub const LOG_LIMIT: usize = 2 << 20;

/// What to do with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// Show it.
    Line,
    /// The limit is reached with this line: show [`notice`] instead.
    Notice,
    /// The limit was reached before: show nothing.
    Nothing,
}

/// Bytes shown so far, per vertex.
#[derive(Debug, Default)]
pub struct Clip {
    shown: HashMap<VertexId, usize>,
}

impl Clip {
    /// Whether a line of `len` bytes of `id`'s output is shown.
    pub fn check(&mut self, id: VertexId, len: usize) -> Show {
        let shown = self.shown.entry(id).or_insert(0);
        if *shown > LOG_LIMIT {
            return Show::Nothing;
        }
        *shown += len + 1;
        if *shown > LOG_LIMIT {
            Show::Notice
        } else {
            Show::Line
        }
    }

    /// `id` ended.
    pub fn forget(&mut self, id: VertexId) {
        self.shown.remove(&id);
    }
}

/// The line shown instead of the rest of `id`'s output.
pub fn notice(id: VertexId) -> String {
    format!("[output clipped, log limit 2MiB reached; `builder logs --step {id}` shows all of it]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_clipped_once_per_vertex() {
        let mut c = Clip::default();
        let line = 1023;
        let fit = LOG_LIMIT / (line + 1);
        for _ in 0..fit {
            assert_eq!(c.check(1, line), Show::Line);
        }
        assert_eq!(c.check(2, line), Show::Line);
        assert_eq!(c.check(1, line), Show::Notice);
        assert_eq!(c.check(1, line), Show::Nothing);
        c.forget(1);
        assert_eq!(c.check(1, line), Show::Line);
    }
}
