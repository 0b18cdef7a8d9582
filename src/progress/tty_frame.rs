//! What the live terminal view shows, as plain data and pure functions: the [`Board`] of
//! running vertices, the [`Board::frame`] drawn below the scrolling lines, and the
//! [`final_line`] a vertex leaves when it ends. [`super::Tty`] only puts these on the
//! terminal, so everything here is tested without one.
//!
//! ```text
//!  => [1/3] FROM docker.io/library/busybox:latest                     CACHED
//! [+] Building 3.4s (2/4)
//!  / [2/3] RUN make                                                     3.2s
//!  => # cc -c main.c
//!  => # cc -o app main.o
//!  - [internal] load metadata for docker.io/library/debian:12           0.5s
//!  => sha256:0123… 1.20MB / 3.40MB                                       0.5s
//! ```
//!
//! Every line fits the terminal's width (names and output are cut, never wrapped), the
//! frame fits its height (output tails go first, then vertices are summarised), and
//! control characters from a process never reach the terminal.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::{bytes, secs, terminal_safe, VertexId};

/// Lines of a running vertex's output shown under it.
pub const TAIL_LINES: usize = 6;

/// Spinner frames (ASCII: any terminal, any locale).
const SPINNER: [char; 4] = ['|', '/', '-', '\\'];

/// Below this width only names are shown, without times.
const MIN_TIMED_WIDTH: usize = 24;

/// The live state: what is running and how far the build is.
#[derive(Debug)]
pub struct Board {
    started: Instant,
    count_started: u64,
    count_ended: u64,
    running: BTreeMap<VertexId, Running>,
}

/// A running vertex.
#[derive(Debug)]
pub struct Running {
    /// Its name, terminal-safe.
    pub name: String,
    /// When it started.
    pub started: Instant,
    tail: VecDeque<String>,
    transfers: Vec<Transfer>,
}

#[derive(Debug)]
struct Transfer {
    item: String,
    current: u64,
    total: Option<u64>,
    started: Instant,
}

/// How a vertex ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// It ran, in this long.
    Done(Duration),
    /// Its result was there already.
    Cached,
    /// It failed after this long.
    Error(Duration),
}

impl Board {
    /// An empty board; the build's clock starts at `now`.
    pub fn new(now: Instant) -> Board {
        Board {
            started: now,
            count_started: 0,
            count_ended: 0,
            running: BTreeMap::new(),
        }
    }

    /// Vertex `id` started.
    pub fn start(&mut self, id: VertexId, name: &str, now: Instant) {
        self.count_started += 1;
        self.running.insert(
            id,
            Running {
                name: terminal_safe(name),
                started: now,
                tail: VecDeque::new(),
                transfers: Vec::new(),
            },
        );
    }

    /// A line of `id`'s output (only the last [`TAIL_LINES`] are kept).
    pub fn line(&mut self, id: VertexId, text: &str) {
        if let Some(r) = self.running.get_mut(&id) {
            if r.tail.len() == TAIL_LINES {
                r.tail.pop_front();
            }
            r.tail.push_back(terminal_safe(text));
        }
    }

    /// Bytes of a transfer of `id`; a complete one leaves the view.
    pub fn transfer(
        &mut self,
        id: VertexId,
        item: &str,
        current: u64,
        total: Option<u64>,
        now: Instant,
    ) {
        let Some(r) = self.running.get_mut(&id) else {
            return;
        };
        if total == Some(current) {
            r.transfers.retain(|t| t.item != item);
            return;
        }
        match r.transfers.iter_mut().find(|t| t.item == item) {
            Some(t) => {
                t.current = current;
                t.total = total;
            }
            None => r.transfers.push(Transfer {
                item: terminal_safe(item),
                current,
                total,
                started: now,
            }),
        }
    }

    /// Vertex `id` ended; its state, if it was running.
    pub fn end(&mut self, id: VertexId) -> Option<Running> {
        let r = self.running.remove(&id)?;
        self.count_ended += 1;
        Some(r)
    }

    /// `[+] Building 12.3s (7/9)`, with ` FINISHED` at the end of a build.
    pub fn header(&self, now: Instant, finished: bool) -> String {
        let mut text = format!(
            "[+] Building {:.1}s ({}/{})",
            now.duration_since(self.started).as_secs_f64(),
            self.count_ended,
            self.count_started
        );
        if finished {
            text.push_str(" FINISHED");
        }
        text
    }

    /// The live lines at `now` for a terminal of `width` x `height`.
    pub fn frame(&self, now: Instant, width: usize, height: usize) -> Vec<String> {
        let width = usable(width);
        let max_lines = height.saturating_sub(1).max(1);
        let mut out = vec![fit(&self.header(now, false), width)];
        let mut vertex_lines = Vec::new();
        for r in self.running.values() {
            let took = now.duration_since(r.started);
            let spin = SPINNER
                .get((took.as_millis() / 150) as usize % SPINNER.len())
                .copied()
                .unwrap_or('|');
            let mut lines = vec![align(&format!(" {spin} {}", r.name), &secs(took), width)];
            for t in &r.transfers {
                let amount = match t.total {
                    Some(total) if total != 0 => {
                        format!(" {} / {}", bytes(t.current), bytes(total))
                    }
                    _ => format!(" {}", bytes(t.current)),
                };
                let left = format!(" => {}{amount}", t.item);
                lines.push(align(&left, &secs(now.duration_since(t.started)), width));
            }
            let tail: Vec<String> = r
                .tail
                .iter()
                .map(|l| fit(&format!(" => # {l}"), width))
                .collect();
            vertex_lines.push((lines, tail));
        }
        let all: usize = vertex_lines.iter().map(|(l, t)| l.len() + t.len()).sum();
        // The header and every line.
        let with_tails = all < max_lines;
        let mut shown = 0;
        for (lines, tail) in &vertex_lines {
            let need = lines.len() + if with_tails { tail.len() } else { 0 };
            // Keep one line for the summary of what does not fit.
            let rest_after = vertex_lines.len() - shown - 1;
            let reserve = usize::from(rest_after > 0);
            if out.len() + need + reserve > max_lines {
                break;
            }
            out.extend(lines.iter().cloned());
            if with_tails {
                out.extend(tail.iter().cloned());
            }
            shown += 1;
        }
        if shown < vertex_lines.len() {
            let more = format!(" ... {} more running", vertex_lines.len() - shown);
            if out.len() < max_lines {
                out.push(fit(&more, width));
            }
        }
        out
    }
}

/// The line a vertex leaves when it ends: ` => NAME   DONE 1.2s` (or `CACHED`, `ERROR 0.1s`).
pub fn final_line(name: &str, end: End, width: usize) -> String {
    let right = match end {
        End::Done(took) => format!("DONE {}", secs(took)),
        End::Cached => "CACHED".to_string(),
        End::Error(took) => format!("ERROR {}", secs(took)),
    };
    align(
        &format!(" => {}", terminal_safe(name)),
        &right,
        usable(width),
    )
}

/// The width lines may use: one less than the terminal's, so that no terminal wraps a
/// full line early; at least 1.
fn usable(width: usize) -> usize {
    width.saturating_sub(1).max(1)
}

/// `text` cut to `width` columns.
pub fn fit(text: &str, width: usize) -> String {
    console::truncate_str(text, width, "").into_owned()
}

/// `left` and `right` on one line of `width` columns, `right` at the right edge; `left`
/// is cut to make room, and `right` is left out when there is no room for both.
pub fn align(left: &str, right: &str, width: usize) -> String {
    let right_width = console::measure_text_width(right);
    if width < MIN_TIMED_WIDTH || right_width + 2 > width {
        return fit(left, width);
    }
    let room = width - right_width - 1;
    let left = fit(left, room);
    let pad = room - console::measure_text_width(&left);
    format!("{left}{} {right}", " ".repeat(pad))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn width_of(line: &str) -> usize {
        console::measure_text_width(line)
    }

    #[test]
    fn frame_shows_running_vertices_with_times_and_tails() {
        let t0 = Instant::now();
        let mut b = Board::new(t0);
        b.start(1, "[1/3] FROM busybox", t0);
        b.end(1);
        b.start(2, "[2/3] RUN make", t0);
        for i in 0..10 {
            b.line(2, &format!("line {i}"));
        }
        b.start(3, "[internal] load metadata for debian", t0);
        b.transfer(3, "sha256:0123", 1_200_000, Some(3_400_000), t0);
        let frame = b.frame(t0 + Duration::from_millis(3250), 60, 40);
        assert_eq!(frame[0], "[+] Building 3.2s (1/3)");
        assert_eq!(
            frame[1],
            format!(" / [2/3] RUN make{}3.2s", " ".repeat(59 - 17 - 4))
        );
        assert_eq!(frame[2], " => # line 4");
        assert_eq!(frame[7], " => # line 9");
        assert!(frame[8].starts_with(" / [internal] load metadata for debian"));
        assert!(frame[9].starts_with(" => sha256:0123 1.20MB / 3.40MB "));
        assert!(frame[9].ends_with(" 3.2s"));
        assert_eq!(frame.len(), 10);
        for line in &frame {
            assert_eq!(width_of(line).max(59), 59, "{line:?}");
        }
        b.transfer(3, "sha256:0123", 3_400_000, Some(3_400_000), t0);
        assert_eq!(b.frame(t0, 60, 40).len(), 9);
    }

    #[test]
    fn narrow_and_short_terminals_get_what_fits() {
        let t0 = Instant::now();
        let mut b = Board::new(t0);
        for id in 1..=5 {
            b.start(
                id,
                &format!("[stage-{id} 2/2] RUN a-rather-long-command --with flags"),
                t0,
            );
            b.line(
                id,
                "\x1b[2Jcleared?\r\tand a very long line of output indeed",
            );
        }
        for width in [0, 1, 2, 5, 12, 23, 24, 30, 200] {
            for height in [0, 1, 2, 3, 8, 50] {
                let frame = b.frame(t0 + Duration::from_secs(2), width, height);
                assert!(
                    frame.len() <= height.saturating_sub(1).max(1),
                    "{width}x{height}: {frame:?}"
                );
                for line in &frame {
                    assert!(width_of(line) <= width.saturating_sub(1).max(1), "{line:?}");
                    assert!(!line.contains('\x1b') && !line.contains('\r'), "{line:?}");
                }
            }
        }
        // Short: tails go first, then vertices are summed up.
        let frame = b.frame(t0, 80, 6);
        assert_eq!(frame.len(), 5);
        assert_eq!(frame[4].trim(), "... 2 more running");
        assert!(frame.iter().all(|l| !l.contains(" => # ")));
        let frame = b.frame(t0, 80, 50);
        assert!(frame
            .iter()
            .any(|l| l.contains(" => # cleared?    and a very")));
    }

    #[test]
    fn final_lines_name_the_end() {
        let d = Duration::from_millis(1234);
        let done = final_line("[2/3] RUN make", End::Done(d), 41);
        assert_eq!(
            done,
            format!(" => [2/3] RUN make{}DONE 1.2s", " ".repeat(40 - 18 - 9))
        );
        assert!(final_line("x", End::Cached, 40).ends_with(" CACHED"));
        assert!(final_line("x", End::Error(d), 40).ends_with(" ERROR 1.2s"));
        assert_eq!(final_line("[2/3] RUN make", End::Cached, 10), " => [2/3]");
    }
}
