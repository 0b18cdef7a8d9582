//! Loading a docker archive into the local container engine: `type=docker` without `dest`
//! (and `--load`), as buildx loads it into the docker it talks to. A docker whose daemon
//! answers is taken first, else podman (which needs no daemon); the archive streams into
//! `ENGINE load`'s standard input, never to a file.

use std::io::{self, Read, Write};
use std::process::{Command, Stdio};

use super::error::{ExportError, Result};

/// What to use instead when no engine answers.
const INSTEAD: &str = "no docker daemon answers and podman is not installed: write the \
image to a file with -o type=docker,dest=app.tar and load it where it is needed \
(docker load -i app.tar), or use -o type=oci,dest=app.tar, or push it with --push";

/// The engine to load into: `docker` when its daemon answers, else `podman` when
/// installed.
fn engine() -> Option<&'static str> {
    let answers = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if answers("docker", &["version", "--format", "{{.Server.Version}}"]) {
        return Some("docker");
    }
    answers("podman", &["version"]).then_some("podman")
}

/// Run `ENGINE load` and let `write` stream the archive into it; the engine's name and what
/// it said (`Loaded image: app:1`).
pub(crate) fn load(write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<(String, String)> {
    let Some(engine) = engine() else {
        return Err(ExportError::Destination {
            path: "the local image store".into(),
            reason: INSTEAD.into(),
        });
    };
    let failed = |e: io::Error| ExportError::io("run", format!("{engine} load"), e);
    let mut child = Command::new(engine)
        .arg("load")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(failed)?;
    let written = match child.stdin.take() {
        Some(stdin) => {
            let mut input = io::BufWriter::with_capacity(256 * 1024, stdin);
            write(&mut input).and_then(|()| input.flush().map_err(failed))
        }
        None => Err(failed(io::Error::other("no standard input"))),
    };
    let mut said = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut said);
    }
    let mut complaint = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut complaint);
    }
    let status = child.wait().map_err(failed)?;
    if !status.success() {
        return Err(ExportError::Destination {
            path: format!("{engine} load").into(),
            reason: format!("{status}: {}", complaint.trim()),
        });
    }
    written?;
    Ok((engine.to_string(), said.trim().to_string()))
}
