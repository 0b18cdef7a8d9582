//! The user-mode network stack attached to the build's network namespace: one
//! `slirp4netns` process for the whole build. It makes `eth0` (10.0.2.100/24, default
//! route via 10.0.2.2, MTU 65520) in the namespace and carries its traffic through
//! ordinary sockets of the builder's own network, as the builder's user.
//!
//! Why slirp4netns and not pasta (both in Debian, measured on the same host, rootless and
//! as root): slirp4netns is ready in 3–20 ms and says so on `--ready-fd`; pasta (passt
//! 2023-03) takes 45–135 ms, has no readiness signal but its own exit, and then runs on
//! as a daemon of its own, so a builder killed with SIGKILL would leave it behind.
//! slirp4netns quits as soon as the `--exit-fd` pipe closes, which the kernel does for
//! us however the builder ends. Its throughput is lower than pasta's; for package
//! downloads it does not matter.
//!
//! Isolation flags: `--disable-host-loopback` (10.0.2.2 does not lead to the host's
//! 127.0.0.1), `--enable-sandbox` and `--enable-seccomp` (the stack itself runs in an
//! empty mount namespace, with few capabilities and system calls). DNS sent to 10.0.2.3
//! is forwarded to the host's resolvers.

use std::fs::File;
use std::io::{self, Read, Seek};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::{fcntl_setfd, FdFlags};
use rustix::pipe::{pipe_with, PipeFlags};

/// The DNS forwarder slirp4netns offers in the namespace.
pub(crate) const DNS_FORWARDER: &str = "10.0.2.3";

/// How long the stack may take to come up before the build gives up on it.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A running slirp4netns: killed by [`Slirp::stop`] or when dropped, reaped before the
/// drop returns.
#[derive(Debug)]
pub(crate) struct Slirp {
    /// The process until it is stopped; then the thread that reaps it.
    state: Mutex<Running>,
    /// The write end of `--exit-fd`: closing it (as the kernel does when the builder
    /// dies) makes slirp4netns quit.
    _exit: OwnedFd,
}

#[derive(Debug)]
enum Running {
    Up(Child),
    Reaping(Option<JoinHandle<()>>),
}

impl Slirp {
    /// Start `program` on the namespace `netns` and wait until its interface is up; on
    /// failure the error says what slirp4netns printed.
    pub(crate) fn start(program: &Path, netns: BorrowedFd<'_>) -> io::Result<Slirp> {
        let (ready_r, ready_w) = pipe_with(PipeFlags::CLOEXEC)?;
        let (exit_r, exit_w) = pipe_with(PipeFlags::CLOEXEC)?;
        // A file, not a pipe: nothing has to read it while the build runs.
        let log = tempfile::tempfile()?;
        let keep = [netns.as_raw_fd(), ready_w.as_raw_fd(), exit_r.as_raw_fd()];
        let mut cmd = Command::new(program);
        cmd.args([
            "--configure",
            "--mtu=65520",
            "--disable-host-loopback",
            "--enable-sandbox",
            "--enable-seccomp",
            "--netns-type=path",
        ])
        .arg(format!("--ready-fd={}", keep[1]))
        .arg(format!("--exit-fd={}", keep[2]))
        .arg(format!("/proc/self/fd/{}", keep[0]))
        .arg("eth0")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log.try_clone()?)
        .process_group(0);
        // SAFETY: only close_range/fcntl, which are async-signal-safe, on descriptors of
        // this process.
        unsafe {
            cmd.pre_exec(move || {
                // The stack handles the RUN steps' traffic: nothing the builder's caller left
                // open (a directory on `8<`) may reach it, only its three descriptors.
                super::super::fds::cloexec_from(3)?;
                for fd in keep {
                    fcntl_setfd(BorrowedFd::borrow_raw(fd), FdFlags::empty())?;
                }
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        drop((ready_w, exit_r));
        let mut child = child;
        match wait_ready(&ready_r) {
            Ok(true) => Ok(Slirp {
                state: Mutex::new(Running::Up(child)),
                _exit: exit_w,
            }),
            outcome => {
                let _ = child.kill();
                let status = child.wait()?;
                let why = match outcome {
                    Ok(_) => format!("it exited ({status})"),
                    Err(e) => e.to_string(),
                };
                Err(io::Error::other(format!("{why}: {}", tail(log))))
            }
        }
    }
}

impl Slirp {
    /// Kill the stack, and reap it on a thread of its own: its exit removes eth0 from the
    /// namespace, which waits for the kernel's network teardown (10–35 ms measured on a
    /// busy host), and the build has better things to do meanwhile.
    pub(crate) fn stop(&self) {
        let mut state = crate::domain::lock(&self.state);
        if let Running::Up(child) = &mut *state {
            let _ = child.kill();
            let pid = child.id();
            let reaper = std::thread::Builder::new()
                .name("network-reaper".into())
                .spawn(move || reap(pid));
            match reaper {
                Ok(handle) => *state = Running::Reaping(Some(handle)),
                Err(_) => {
                    let _ = child.wait();
                    *state = Running::Reaping(None);
                }
            }
        }
    }
}

/// Wait for the (killed) process `pid`, a child of this process.
fn reap(pid: u32) {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        while let Err(rustix::io::Errno::INTR) =
            rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())
        {}
    }
}

impl Drop for Slirp {
    fn drop(&mut self) {
        self.stop();
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Running::Reaping(handle) = state {
            if let Some(handle) = handle.take() {
                let _ = handle.join();
            }
        }
    }
}

/// Whether slirp4netns wrote its ready byte (false: it closed the pipe, i.e. exited).
fn wait_ready(ready: &OwnedFd) -> io::Result<bool> {
    let timeout = Timespec {
        tv_sec: READY_TIMEOUT.as_secs() as i64,
        tv_nsec: 0,
    };
    let mut fds = [PollFd::new(ready, PollFlags::IN)];
    loop {
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("not ready after {} s", READY_TIMEOUT.as_secs()),
                ))
            }
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let mut byte = [0u8; 1];
    Ok(rustix::io::read(ready, &mut byte)? == 1)
}

/// The last lines slirp4netns wrote, on one line, without its warnings (it always warns
/// that its seccomp support is experimental).
fn tail(mut log: File) -> String {
    let mut text = String::new();
    let _ = log.rewind();
    let _ = log.take(64 * 1024).read_to_string(&mut text);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("WARNING:"))
        .collect();
    let start = lines.len().saturating_sub(3);
    match lines.get(start..) {
        Some(last) if !last.is_empty() => last.join("; "),
        _ => "no output".to_string(),
    }
}
