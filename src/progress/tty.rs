//! `--progress=tty`: a live view on a terminal (stderr), drawn with `indicatif`.
//!
//! Below the scrolling lines sits a frame ([`super::tty_frame`]): the header
//! `[+] Building 12.3s (7/9)`, then each running vertex with a spinner and its time, its
//! transfers with bytes, and the last lines of its output. A vertex that ends leaves one
//! line above the frame (` => [2/3] RUN make   DONE 3.2s`, `CACHED`, `ERROR 0.1s`); an
//! exporting vertex also leaves its own lines under it, as buildx does
//! (` => => naming to docker.io/library/app:1`), so the view ends with the image's names
//! and digests. A
//! ticker thread redraws the frame ten times a second; events only change the board, so
//! a step printing megabytes costs no more than a few redraws.
//!
//! The cursor is never hidden, so nothing needs restoring when the process is
//! interrupted; at the end (or when the reporter is dropped on an error path) the frame
//! is cleared so that error messages print on a clean screen.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::tty_frame::{final_line, fit, Board, End};
use super::{Outcome, OutputLine, Reporter, VertexId};

/// How often the frame is redrawn.
const TICK: Duration = Duration::from_millis(100);

/// The terminal's size as (columns, rows).
type SizeFn = Box<dyn Fn() -> (usize, usize) + Send + Sync>;

/// The live terminal display.
pub struct Tty {
    shared: Arc<Shared>,
    ticker: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    bar: ProgressBar,
    size: SizeFn,
}

struct State {
    board: Board,
    next: VertexId,
    stopped: bool,
    /// The builder's own lines of the exporting vertices, printed under them when they end.
    exported: std::collections::BTreeMap<VertexId, Vec<String>>,
}

impl std::fmt::Debug for Tty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tty")
    }
}

impl Tty {
    /// The live view on standard error.
    pub fn stderr() -> Tty {
        let term = console::Term::stderr();
        Tty::with_target(
            ProgressDrawTarget::stderr_with_hz(15),
            Box::new(move || {
                let (rows, cols) = term.size();
                (usize::from(cols), usize::from(rows))
            }),
        )
    }

    /// The live view on `target`, a terminal whose size `size` tells as (columns, rows).
    pub fn with_target(target: ProgressDrawTarget, size: SizeFn) -> Tty {
        let bar = ProgressBar::with_draw_target(None, target);
        if let Ok(style) = ProgressStyle::with_template("{msg}") {
            bar.set_style(style);
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                board: Board::new(Instant::now()),
                next: 0,
                stopped: false,
                exported: std::collections::BTreeMap::new(),
            }),
            wake: Condvar::new(),
            bar,
            size,
        });
        let ticking = Arc::clone(&shared);
        let ticker = std::thread::Builder::new()
            .name("progress-tty".into())
            .spawn(move || ticking.tick_until_stopped())
            .ok();
        Tty {
            shared,
            ticker: Mutex::new(ticker),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// Vertex `id` ended: off the board, one line above the frame.
    fn end(&self, id: VertexId, end: impl FnOnce(Duration) -> End) {
        let st = self.lock();
        self.shared.end(st, id, end);
    }

    /// Stop the ticker and clear the frame, leaving `last` (if any) as the final line.
    fn stop(&self, last: Option<String>) {
        {
            let mut st = self.lock();
            if st.stopped {
                return;
            }
            st.stopped = true;
            self.shared.bar.set_message("");
            if let Some(line) = last {
                self.shared.bar.println(line);
            }
            self.shared.bar.finish_and_clear();
        }
        self.shared.wake.notify_all();
        let handle = crate::domain::lock(&self.ticker).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        crate::domain::lock(&self.state)
    }

    /// Draw the frame for the board as it is now.
    fn redraw(&self, st: &State) {
        if st.stopped {
            return;
        }
        let (width, height) = (self.size)();
        let frame = st.board.frame(Instant::now(), width, height);
        self.bar.set_message(frame.join("\n"));
    }

    fn tick_until_stopped(&self) {
        let mut st = self.lock();
        while !st.stopped {
            self.redraw(&st);
            st = match self.wake.wait_timeout(st, TICK) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    fn end(&self, mut st: MutexGuard<'_, State>, id: VertexId, end: impl FnOnce(Duration) -> End) {
        let Some(running) = st.board.end(id) else {
            return;
        };
        if st.stopped {
            return;
        }
        let (width, _) = (self.size)();
        let line = final_line(&running.name, end(running.started.elapsed()), width);
        let exported = st.exported.remove(&id).unwrap_or_default();
        self.redraw(&st);
        self.bar.println(line);
        for l in exported {
            self.bar.println(fit(&format!(" => => {l}"), width));
        }
        drop(st);
    }
}

impl Reporter for Tty {
    fn start(&self, name: &str) -> VertexId {
        let mut st = self.lock();
        st.next += 1;
        let id = st.next;
        st.board.start(id, name, Instant::now());
        if name.starts_with("exporting to ") {
            st.exported.insert(id, Vec::new());
        }
        self.shared.redraw(&st);
        id
    }

    fn log(&self, id: VertexId, line: &str) {
        let mut st = self.lock();
        if let Some(kept) = st.exported.get_mut(&id) {
            kept.push(line.to_string());
        }
        st.board.line(id, line);
    }

    fn output(&self, id: VertexId, _data: &[u8], lines: &[OutputLine]) {
        let mut st = self.lock();
        for l in lines {
            st.board.line(id, &l.text);
        }
    }

    fn cached(&self, id: VertexId) {
        self.end(id, |_| End::Cached);
    }

    fn progress(&self, id: VertexId, item: &str, current: u64, total: Option<u64>) {
        self.lock()
            .board
            .transfer(id, item, current, total, Instant::now());
    }

    fn done(&self, id: VertexId, elapsed: Duration) {
        self.end(id, |_| End::Done(elapsed));
    }

    fn error(&self, id: VertexId, _message: &str) {
        self.end(id, End::Error);
    }

    fn finish(&self, outcome: &Outcome<'_>) {
        let (width, _) = (self.shared.size)();
        let header = self
            .lock()
            .board
            .header(Instant::now(), outcome.error.is_none());
        self.stop(Some(fit(&header, width.saturating_sub(1).max(1))));
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        self.stop(None);
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use indicatif::TermLike;

    use super::*;

    /// A terminal that records what is written to it.
    #[derive(Debug, Clone)]
    struct Screen {
        width: u16,
        height: u16,
        written: Arc<Mutex<Vec<String>>>,
    }

    impl Screen {
        fn new(width: u16, height: u16) -> Screen {
            Screen {
                width,
                height,
                written: Arc::default(),
            }
        }
        fn lines(&self) -> Vec<String> {
            self.written.lock().unwrap().clone()
        }
        fn tty(&self) -> Tty {
            let (w, h) = (usize::from(self.width), usize::from(self.height));
            Tty::with_target(
                ProgressDrawTarget::term_like_with_hz(Box::new(self.clone()), 50),
                Box::new(move || (w, h)),
            )
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            self.width
        }
        fn height(&self) -> u16 {
            self.height
        }
        fn move_cursor_up(&self, _n: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _n: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _n: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _n: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.written.lock().unwrap().push(s.to_string());
            Ok(())
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            if !s.is_empty() {
                self.written.lock().unwrap().push(s.to_string());
            }
            Ok(())
        }
        fn clear_line(&self) -> io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    fn line(text: &str) -> OutputLine {
        OutputLine {
            at: Duration::from_millis(5),
            text: text.into(),
        }
    }

    #[test]
    fn vertices_leave_final_lines_and_the_header_finishes() {
        let screen = Screen::new(70, 30);
        let tty = screen.tty();
        let a = tty.start("[1/3] FROM busybox");
        tty.cached(a);
        let b = tty.start("[2/3] RUN make");
        tty.output(b, b"cc\n", &[line("cc -c main.c")]);
        std::thread::sleep(Duration::from_millis(250));
        tty.done(b, Duration::from_millis(1500));
        let c = tty.start("[3/3] RUN false");
        tty.error(c, "exit code 1");
        let d = tty.start("exporting to image");
        tty.log(d, "naming to docker.io/library/app:1");
        tty.done(d, Duration::from_millis(100));
        tty.finish(&Outcome::default());
        drop(tty);
        let lines = screen.lines();
        let text = lines.join("\n");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(" => [1/3] FROM busybox") && l.ends_with(" CACHED")),
            "{text}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(" => [2/3] RUN make") && l.ends_with(" DONE 1.5s")),
            "{text}"
        );
        assert!(lines.iter().any(|l| l.ends_with(" ERROR 0.0s")), "{text}");
        // The export leaves the image's name under its line, as buildx's view does.
        let at = lines
            .iter()
            .position(|l| l.starts_with(" => exporting to image"));
        let named = lines
            .iter()
            .position(|l| l.trim_end() == " => => naming to docker.io/library/app:1");
        assert!(matches!((at, named), (Some(a), Some(n)) if n > a), "{text}");
        // The live frame showed the output while the step ran.
        assert!(text.contains(" => # cc -c main.c"), "{text}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("[+] Building ") && l.ends_with("(4/4) FINISHED")),
            "{text}"
        );
    }

    #[test]
    fn a_narrow_terminal_and_many_threads_do_no_harm() {
        for (w, h) in [(1, 1), (8, 3), (20, 5)] {
            let screen = Screen::new(w, h);
            let tty = Arc::new(screen.tty());
            let threads: Vec<_> = (0..4)
                .map(|t| {
                    let tty = Arc::clone(&tty);
                    std::thread::spawn(move || {
                        let id = tty.start(&format!("[stage-{t} 2/2] RUN something long"));
                        for i in 0..300 {
                            tty.output(id, b"x\n", &[line(&format!("\x1b[1moutput\t{i}"))]);
                            tty.progress(id, "sha256:abc", i, Some(300));
                        }
                        tty.done(id, Duration::from_millis(3));
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            drop(tty);
            for l in screen.lines() {
                for part in l.split('\n') {
                    let width = console::measure_text_width(part);
                    assert!(width <= usize::from(w).max(1), "{w}x{h}: {part:?}");
                    assert!(!part.contains("\x1b[1m"), "{part:?}");
                }
            }
        }
    }

    #[test]
    fn dropping_without_finish_clears_and_stops() {
        let screen = Screen::new(40, 10);
        let tty = screen.tty();
        let a = tty.start("[1/1] RUN sleep");
        tty.log(a, "still going");
        drop(tty);
        // Nothing is written after the drop.
        let before = screen.lines().len();
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(screen.lines().len(), before);
    }
}
