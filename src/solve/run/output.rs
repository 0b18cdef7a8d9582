//! A RUN step's output on its way to the user: every chunk goes to the progress reporter
//! exactly as the process wrote it (the full log keeps those bytes), together with the
//! lines it completed, split per stream, for display (BuildKit's plain progress shows
//! `#7 0.132 hello`: seconds since the step started, then the line); the last lines are
//! kept in memory up to a cap so that a failure can quote them.

use std::collections::VecDeque;
use std::time::Instant;

use crate::progress::{OutputLine, Reporter, VertexId};
use crate::sandbox::{OutputSink, Stream};

/// Most bytes of log kept in memory (older lines are dropped first).
const LOG_CAP: usize = 4 << 20;
/// A line longer than this is shown in pieces (the full log keeps it whole).
const MAX_LINE: usize = 64 << 10;
/// Lines quoted in a failure.
pub const TAIL_LINES: usize = 20;

/// Streams a command's output to a progress vertex and keeps the log.
pub struct StepOutput<'a> {
    reporter: &'a dyn Reporter,
    vertex: VertexId,
    started: Instant,
    partial: [Vec<u8>; 2],
    lines: VecDeque<OutputLine>,
    kept: usize,
}

impl<'a> StepOutput<'a> {
    /// Output of the step shown as `vertex`, timed from now.
    pub fn new(reporter: &'a dyn Reporter, vertex: VertexId) -> StepOutput<'a> {
        StepOutput {
            reporter,
            vertex,
            started: Instant::now(),
            partial: [Vec::new(), Vec::new()],
            lines: VecDeque::new(),
            kept: 0,
        }
    }

    /// Report what is left of unterminated lines (call once the command ended).
    pub fn finish(&mut self) {
        let mut lines = Vec::new();
        for i in 0..self.partial.len() {
            let rest = std::mem::take(&mut self.partial[i]);
            if !rest.is_empty() {
                lines.push(self.line(&rest));
            }
        }
        if !lines.is_empty() {
            self.reporter.output(self.vertex, &[], &lines);
        }
    }

    /// The last `n` lines of the log, each prefixed with its time as reported.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let skip = self.lines.len().saturating_sub(n);
        self.lines
            .iter()
            .skip(skip)
            .map(OutputLine::shown)
            .collect()
    }

    /// A complete line for display (kept for the tail too).
    fn line(&mut self, raw: &[u8]) -> OutputLine {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = OutputLine {
            at: self.started.elapsed(),
            text: String::from_utf8_lossy(raw).into_owned(),
        };
        self.kept += line.text.len();
        self.lines.push_back(line.clone());
        // Only the tail is ever quoted; the full log is the reporter's to keep.
        while self.kept > LOG_CAP || self.lines.len() > TAIL_LINES {
            match self.lines.pop_front() {
                Some(old) => self.kept -= old.text.len(),
                None => break,
            }
        }
        line
    }
}

impl OutputSink for StepOutput<'_> {
    fn output(&mut self, stream: Stream, data: &[u8]) {
        let i = match stream {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        };
        let mut buf = std::mem::take(&mut self.partial[i]);
        buf.extend_from_slice(data);
        let mut lines = Vec::new();
        let mut start = 0;
        while let Some(pos) = buf[start..].iter().position(|&b| b == b'\n') {
            lines.push(self.line(&buf[start..start + pos]));
            start += pos + 1;
        }
        let mut rest = buf.split_off(start);
        while rest.len() > MAX_LINE {
            let tail = rest.split_off(MAX_LINE);
            lines.push(self.line(&rest));
            rest = tail;
        }
        self.partial[i] = rest;
        self.reporter.output(self.vertex, data, &lines);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::{Event, Recorder};

    fn logged(r: &Recorder) -> Vec<String> {
        r.events()
            .into_iter()
            .filter_map(|e| match e {
                // Drop the time prefix.
                Event::Log(_, l) => l.split_once(' ').map(|(_, t)| t.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn lines_are_split_per_stream_and_timed() {
        let r = Recorder::default();
        let id = r.start("[2/2] RUN x");
        let mut out = StepOutput::new(&r, id);
        out.output(Stream::Stdout, b"hel");
        out.output(Stream::Stderr, b"warn\r\n");
        out.output(Stream::Stdout, b"lo\nworld");
        out.finish();
        assert_eq!(logged(&r), vec!["warn", "hello", "world"]);
        let tail = out.tail(2);
        assert_eq!(tail.len(), 2);
        assert!(tail[1].ends_with(" world"), "{tail:?}");
        assert!(tail[0].starts_with("0.0"), "{tail:?}");
    }

    #[test]
    fn the_log_is_capped_and_long_lines_cut() {
        let r = crate::progress::Quiet::default();
        let mut out = StepOutput::new(&r, 1);
        let long = vec![b'x'; MAX_LINE * 2 + 5];
        out.output(Stream::Stdout, &long);
        out.finish();
        assert_eq!(out.lines.len(), 3);
        let line = vec![b'y'; 1000];
        for _ in 0..(LOG_CAP / 1000 + 100) {
            out.output(Stream::Stdout, &line);
            out.output(Stream::Stdout, b"\n");
        }
        assert!(out.kept <= LOG_CAP);
        assert_eq!(out.tail(TAIL_LINES).len(), TAIL_LINES);
    }

    /// Keeps the raw bytes and the lines it is given.
    #[derive(Debug, Default)]
    struct Raw {
        data: std::sync::Mutex<(Vec<u8>, Vec<String>)>,
    }

    impl Reporter for Raw {
        fn start(&self, _name: &str) -> VertexId {
            1
        }
        fn log(&self, _id: VertexId, _line: &str) {}
        fn output(&self, _id: VertexId, data: &[u8], lines: &[OutputLine]) {
            let mut d = self.data.lock().unwrap();
            d.0.extend_from_slice(data);
            d.1.extend(lines.iter().map(|l| l.text.clone()));
        }
        fn cached(&self, _id: VertexId) {}
        fn done(&self, _id: VertexId, _elapsed: std::time::Duration) {}
        fn error(&self, _id: VertexId, _message: &str) {}
    }

    #[test]
    fn every_byte_reaches_the_reporter_as_written() {
        let r = Raw::default();
        let mut out = StepOutput::new(&r, 1);
        let long = vec![b'z'; MAX_LINE + 10];
        let chunks: [(Stream, &[u8]); 5] = [
            (Stream::Stdout, b"caf\xe9\r\n"),
            (Stream::Stderr, b"err"),
            (Stream::Stdout, &long),
            (Stream::Stdout, b"\n\xff end"),
            (Stream::Stderr, b"\n"),
        ];
        let mut expected = Vec::new();
        for (stream, data) in chunks {
            out.output(stream, data);
            expected.extend_from_slice(data);
        }
        out.finish();
        let (data, lines) = std::mem::take(&mut *r.data.lock().unwrap());
        assert!(data == expected, "raw output differs");
        assert_eq!(
            lines.len(),
            5,
            "{:?}",
            lines.iter().map(|l| l.len()).collect::<Vec<_>>()
        );
        assert_eq!(lines[0], "caf\u{fffd}");
        assert_eq!(lines[1].len() + lines[2].len(), MAX_LINE + 10);
        assert_eq!(lines[3], "err");
        assert_eq!(lines[4], "\u{fffd} end");
    }
}
