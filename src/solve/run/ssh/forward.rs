//! One step's agent socket: a new socket in the step's scratch directory (never the
//! agent's own), bind-mounted at the mount's target, and a thread that accepts on it and
//! relays each connection to the build's agent for that id.
//!
//! Like BuildKit's forwarded agent, the relay is read-only: it passes only the requests to
//! list keys (`SSH2_AGENTC_REQUEST_IDENTITIES`) and to sign (`SSH2_AGENTC_SIGN_REQUEST`);
//! adding, removing, locking and extensions are answered `SSH_AGENT_FAILURE` without
//! reaching the agent. Messages are framed as the agent protocol frames them (a 4-byte
//! length, then the type) and capped at OpenSSH's 256 KiB. At most [`MAX_CONNECTIONS`] are
//! served at once; [`Forwarder`]'s drop closes every connection and joins the threads.

use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};

/// Connections served at once; more are closed as they come.
pub const MAX_CONNECTIONS: usize = 16;

/// The longest message either side may send (OpenSSH's `AGENT_MAX_LEN`).
const MAX_MESSAGE: usize = 256 * 1024;

/// `SSH2_AGENTC_REQUEST_IDENTITIES`.
const REQUEST_IDENTITIES: u8 = 11;
/// `SSH2_AGENTC_SIGN_REQUEST`.
const SIGN_REQUEST: u8 = 13;
/// `SSH_AGENT_FAILURE`.
const FAILURE: u8 = 5;

/// How often the accept loop looks whether it should stop.
const POLL_INTERVAL_MS: i64 = 100;

/// A step's agent socket and its relay, running until dropped.
pub struct Forwarder {
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Forwarder")
    }
}

impl Forwarder {
    /// Listen on the new socket `socket` (its directory private to the builder) and relay
    /// to the agent at `agent`.
    pub fn start(socket: &Path, agent: PathBuf) -> io::Result<Forwarder> {
        let listener = bind(socket)?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let accept = std::thread::Builder::new()
            .name("ssh-forward".into())
            .spawn(move || accept_loop(&listener, &agent, &flag))?;
        Ok(Forwarder {
            stop,
            accept: Some(accept),
        })
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Bind a listener at `path`; through the directory's descriptor when the path is too long
/// for a socket address.
fn bind(path: &Path) -> io::Result<UnixListener> {
    if path.as_os_str().len() < 100 {
        return UnixListener::bind(path);
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return UnixListener::bind(path);
    };
    let fd = rustix::fs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let short = Path::new("/proc/self/fd")
        .join(rustix::fd::AsRawFd::as_raw_fd(&fd).to_string())
        .join(name);
    let bound = UnixListener::bind(short);
    drop(fd);
    bound
}

/// One live connection: its thread, and both streams to shut down when the step ends.
struct Conn {
    thread: JoinHandle<()>,
    client: UnixStream,
    agent: Arc<Mutex<Option<UnixStream>>>,
}

impl Conn {
    fn shut(&self) {
        let _ = self.client.shutdown(std::net::Shutdown::Both);
        if let Ok(agent) = self.agent.lock() {
            if let Some(a) = agent.as_ref() {
                let _ = a.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

fn accept_loop(listener: &UnixListener, agent: &Path, stop: &AtomicBool) {
    let mut conns: Vec<Conn> = Vec::new();
    let interval = Timespec {
        tv_sec: 0,
        tv_nsec: POLL_INTERVAL_MS * 1_000_000,
    };
    while !stop.load(Ordering::SeqCst) {
        let mut fds = [PollFd::new(listener, PollFlags::IN)];
        if !matches!(poll(&mut fds, Some(&interval)), Ok(n) if n > 0) {
            continue;
        }
        let Ok((client, _)) = listener.accept() else {
            continue;
        };
        conns.retain(|c| !c.thread.is_finished());
        if conns.len() >= MAX_CONNECTIONS || client.set_nonblocking(false).is_err() {
            continue;
        }
        if let Some(conn) = spawn_conn(client, agent) {
            conns.push(conn);
        }
    }
    for c in &conns {
        c.shut();
    }
    for c in conns {
        let _ = c.thread.join();
    }
}

fn spawn_conn(client: UnixStream, agent: &Path) -> Option<Conn> {
    let slot = Arc::new(Mutex::new(None));
    let theirs = client.try_clone().ok()?;
    let (path, their_slot) = (agent.to_path_buf(), Arc::clone(&slot));
    let thread = std::thread::Builder::new()
        .name("ssh-forward-conn".into())
        .spawn(move || {
            let _ = relay(&theirs, &path, &their_slot);
            // The accept loop holds a clone: close the connection for the client now.
            let _ = theirs.shutdown(std::net::Shutdown::Both);
        })
        .ok()?;
    Some(Conn {
        thread,
        client,
        agent: slot,
    })
}

/// Serve one client: allowed requests go to the agent (connected on the first), the rest
/// are refused; ends when the client closes or either side breaks the framing.
fn relay(client: &UnixStream, path: &Path, slot: &Mutex<Option<UnixStream>>) -> io::Result<()> {
    let mut client = client;
    let mut agent: Option<UnixStream> = None;
    while let Some(msg) = read_message(&mut client)? {
        if !matches!(msg.first(), Some(&(REQUEST_IDENTITIES | SIGN_REQUEST))) {
            write_message(&mut client, &[FAILURE])?;
            continue;
        }
        let upstream = match &mut agent {
            Some(a) => a,
            None => {
                let a = UnixStream::connect(path)?;
                if let Ok(mut s) = slot.lock() {
                    *s = Some(a.try_clone()?);
                }
                agent.insert(a)
            }
        };
        write_message(upstream, &msg)?;
        let reply = read_message(upstream)?.ok_or(io::ErrorKind::UnexpectedEof)?;
        write_message(&mut client, &reply)?;
    }
    Ok(())
}

/// The next message's body (type byte first); `None` when the peer closed between messages.
fn read_message(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 || len > MAX_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("agent message of {len} bytes"),
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok(Some(body))
}

fn write_message(w: &mut impl Write, body: &[u8]) -> io::Result<()> {
    let len = u32::try_from(body.len()).map_err(|_| io::ErrorKind::InvalidData)?;
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    w.write_all(&out)
}

#[cfg(test)]
#[path = "forward_tests.rs"]
mod tests;
