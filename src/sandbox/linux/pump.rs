//! Read a sandboxed command's stdout and stderr (to the sink, as chunks arrive) and the
//! helper's status pipe (collected), all at once, until every writer is gone.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{ChildStderr, ChildStdout};

use rustix::event::{poll, PollFd, PollFlags};

use crate::sandbox::{OutputSink, Stream};

/// Pump until EOF on all three; returns what the status pipe said.
pub(super) fn pump(
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    status: OwnedFd,
    io: &mut dyn OutputSink,
) -> io::Result<Vec<u8>> {
    let mut sources: Vec<(Option<Stream>, OwnedFd)> = Vec::new();
    if let Some(out) = stdout {
        sources.push((Some(Stream::Stdout), OwnedFd::from(out)));
    }
    if let Some(err) = stderr {
        sources.push((Some(Stream::Stderr), OwnedFd::from(err)));
    }
    sources.push((None, status));
    let mut status_text = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while !sources.is_empty() {
        let mut fds: Vec<PollFd<'_>> = sources
            .iter()
            .map(|(_, fd)| PollFd::new(fd, PollFlags::IN))
            .collect();
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        let mut closed = Vec::new();
        for (i, (stream, fd)) in sources.iter().enumerate() {
            if !ready.get(i).copied().unwrap_or(false) {
                continue;
            }
            let n = match rustix::io::read(fd.as_fd(), &mut buf[..]) {
                Ok(n) => n,
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => continue,
                Err(e) => return Err(e.into()),
            };
            let data = buf.get(..n).unwrap_or_default();
            if n == 0 {
                closed.push(i);
            } else if let Some(stream) = stream {
                io.output(*stream, data);
            } else {
                status_text.extend_from_slice(data);
            }
        }
        for i in closed.into_iter().rev() {
            sources.remove(i);
        }
    }
    Ok(status_text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::CollectOutput;
    use std::process::{Command, Stdio};

    #[test]
    fn pumps_both_streams_and_status() {
        let (status_r, status_w) = rustix::pipe::pipe().unwrap();
        let mut child = Command::new("sh")
            .args(["-c", "echo out; echo err >&2; echo out2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(status_w);
        let mut sink = CollectOutput::default();
        let text = pump(
            child.stdout.take(),
            child.stderr.take(),
            status_r,
            &mut sink,
        )
        .unwrap();
        child.wait().unwrap();
        assert_eq!(sink.stdout, b"out\nout2\n");
        assert_eq!(sink.stderr, b"err\n");
        assert!(text.is_empty());
    }
}
