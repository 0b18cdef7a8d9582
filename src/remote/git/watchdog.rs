//! Running one `git` command to its end, its output read as it comes, and, for a command
//! that talks to a `git://` or ssh remote, given up once it makes no progress for the
//! build's timeout.
//!
//! Why a watchdog on progress rather than an overall bound: a large repository may take
//! far longer than the timeout to fetch while data keeps arriving, and a bound long enough
//! for it would leave a stalled server waited for just as long. HTTP remotes need none:
//! curl gives up by itself (`http.lowSpeedLimit`/`http.lowSpeedTime`, see `cli`), and ssh
//! only bounds its connection and handshake (`ConnectTimeout`). *Progress* is anything the
//! command's processes do: bytes on its output, bytes its processes read (the network, the
//! pipe from ssh, the pack being indexed) and CPU time they spend, summed over git and its
//! children as `/proc` shows them. A command waiting on a silent server does none of it.
//!
//! A watched command runs in a process group of its own, so that giving up kills it with
//! every helper it started (ssh, `index-pack`), and nothing keeps its output open. Out of
//! the terminal's group, Ctrl-C no longer reaches it: it dies with the builder instead
//! (`PR_SET_PDEATHSIG`).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a finished command gave.
pub struct Output {
    /// How it exited.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
}

/// How a command ended.
pub enum Ended {
    /// It exited by itself.
    Exited(Output),
    /// It made no progress for the timeout and was killed; what it wrote to stderr.
    Stalled(Vec<u8>),
}

/// Runs `cmd` (its stdin closed, its output captured) to its end; with `idle`, kills it
/// once it has made no progress (see the module docs) for that long.
pub fn run(cmd: &mut Command, idle: Option<Duration>) -> std::io::Result<Ended> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if idle.is_some() {
        cmd.process_group(0);
        // SAFETY: only prctl, which is async-signal-safe, on the child itself.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn()?;
    let seen = Arc::new(AtomicU64::new(0));
    let stdout = drain(child.stdout.take(), &seen);
    let stderr = drain(child.stderr.take(), &seen);
    let status = match idle {
        None => Some(child.wait()?),
        Some(idle) => watch(&mut child, &seen, idle)?,
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok(match status {
        Some(status) => Ended::Exited(Output {
            status,
            stdout,
            stderr,
        }),
        None => Ended::Stalled(stderr),
    })
}

/// Waits for `child`, killing its process group once neither its output (`seen` bytes)
/// nor its processes' activity has moved for `idle`: its exit status, or `None` if killed.
fn watch(
    child: &mut Child,
    seen: &AtomicU64,
    idle: Duration,
) -> std::io::Result<Option<ExitStatus>> {
    let pid = child.id();
    // Short looks first (most commands end within milliseconds), then up to a tenth of
    // the idle time, at most 250 ms, between looks.
    let longest = (idle / 10).clamp(Duration::from_millis(10), Duration::from_millis(250));
    let mut tick = Duration::from_millis(2);
    let mut last = (seen.load(Ordering::Relaxed), activity(pid));
    let mut since = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = (seen.load(Ordering::Relaxed), activity(pid));
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= idle {
            let group = i32::try_from(pid).map(nix::unistd::Pid::from_raw);
            let killed = group.is_ok_and(|g| {
                nix::sys::signal::killpg(g, nix::sys::signal::Signal::SIGKILL).is_ok()
            });
            if !killed {
                child.kill()?;
            }
            child.wait()?;
            return Ok(None);
        }
        std::thread::sleep(tick);
        tick = (tick * 2).min(longest);
    }
}

/// A thread reading `pipe` to its end, counting what arrives in `seen`.
fn drain<R: Read + Send + 'static>(pipe: Option<R>, seen: &Arc<AtomicU64>) -> JoinHandle<Vec<u8>> {
    let seen = Arc::clone(seen);
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let Some(mut pipe) = pipe else {
            return out;
        };
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    out.extend_from_slice(buf.get(..n).unwrap_or_default());
                    seen.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        out
    })
}

/// Most processes a command's tree is followed into.
const MAX_PROCESSES: usize = 64;

/// A sum that moves whenever process `pid` or one of its descendants reads something or
/// spends CPU time (0 when `/proc` cannot tell).
fn activity(pid: u32) -> u64 {
    let mut total: u64 = 0;
    let mut todo = vec![pid];
    let mut visited = 0;
    while let Some(p) = todo.pop() {
        visited += 1;
        if visited > MAX_PROCESSES {
            break;
        }
        total = total.wrapping_add(read_chars(p)).wrapping_add(cpu_ticks(p));
        let children = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children"));
        todo.extend(
            children
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    total
}

/// `rchar` of `/proc/PID/io`: bytes the process has read, from anything.
fn read_chars(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// User plus system CPU time of the process, in clock ticks (`/proc/PID/stat`).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which may itself hold spaces and parentheses:
    // state is the first of them, utime the 12th and stime the 13th.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> u64 { fields.get(i).and_then(|v| v.parse().ok()).unwrap_or(0) };
    field(11).wrapping_add(field(12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_command_is_killed_after_the_idle_time() {
        let started = Instant::now();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo started >&2; sleep 30"]);
        let ended = run(&mut cmd, Some(Duration::from_millis(500))).unwrap();
        let Ended::Stalled(stderr) = ended else {
            panic!("not killed");
        };
        assert_eq!(stderr, b"started\n");
        // The sleeping child was killed with its parent: nothing held the pipes open.
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_command_that_keeps_writing_runs_past_the_idle_time() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "for i in 1 2 3 4 5 6; do echo $i; sleep 0.2; done"]);
        let ended = run(&mut cmd, Some(Duration::from_millis(700))).unwrap();
        let Ended::Exited(out) = ended else {
            panic!("killed while writing");
        };
        assert!(out.status.success());
        assert_eq!(out.stdout, b"1\n2\n3\n4\n5\n6\n");
    }

    #[test]
    fn an_unwatched_command_gives_its_output() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let Ended::Exited(out) = run(&mut cmd, None).unwrap() else {
            panic!("an unwatched command cannot stall");
        };
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(
            (out.stdout.as_slice(), out.stderr.as_slice()),
            (&b"out\n"[..], &b"err\n"[..])
        );
    }
}
