//! `builder logs [BUILD] [--step N|NAME | --failed]`: the full logs of recent builds, as
//! `builder build` kept them (`crate::progress::logs`), whatever progress mode it showed.

use std::io::{Read, Write};
use std::path::Path;

use clap::Args;

use crate::error::{Error, Result};
use crate::progress::logs::{self, BuildIndex, LogsError, VertexEntry, VertexStatus};

/// Arguments of `builder logs`.
#[derive(Debug, Args)]
#[command(after_help = "\
Every build keeps the whole output of each step (nothing is clipped) for the latest 10 builds
(BUILDER_KEEP_LOGS=N or `keep-logs = N` in the config file to change it); the latest
successful build of each project (context, Dockerfile, target) is kept beyond them.

Examples:
  builder logs                      list the kept builds, newest first
  builder logs last                 the latest build: every step, its output and how it ended
  builder logs --failed             the output of the step that failed in the latest build
  builder logs --step 7             the output of step #7 (the number progress shows), byte for byte
  builder logs 20261122-1830 --step 'RUN make' > make.log")]
pub struct LogsArgs {
    /// The build: an id from the list (or a unique start of one), or `last`. Default: the
    /// list of builds, or the latest build with --step or --failed.
    #[arg(value_name = "BUILD")]
    pub build: Option<String>,
    /// Print only this step's output, exactly as its process wrote it: its number (`#N` in
    /// the progress output) or a piece of its name that no other step has.
    #[arg(long, value_name = "N|NAME", conflicts_with = "failed")]
    pub step: Option<String>,
    /// Print only the output of the step that failed.
    #[arg(long)]
    pub failed: bool,
}

/// Run `builder logs`.
pub fn run(args: &LogsArgs, root: Option<&Path>) -> Result<()> {
    let root = super::store_root(root)?;
    if args.build.is_none() && args.step.is_none() && !args.failed {
        return list(&root);
    }
    let index = logs::find(&root, args.build.as_deref()).map_err(to_error)?;
    let vertex = match (&args.step, args.failed) {
        (Some(sel), _) => Some(index.vertex(sel).map_err(to_error)?),
        (None, true) => Some(index.failed_vertex().ok_or_else(|| {
            Error::Usage(format!(
                "no step of build {} failed (it is {})",
                index.id,
                index.status_now().as_str()
            ))
        })?),
        (None, false) => None,
    };
    let mut out = std::io::stdout().lock();
    let written = match vertex {
        Some(v) => copy_output(&root, &index, v, &mut out, None),
        None => whole_build(&root, &index, &mut out),
    };
    written
        .and_then(|()| out.flush())
        .unwrap_or_else(|e| super::stdout_failed(e));
    Ok(())
}

/// The table of kept builds, newest first.
fn list(root: &Path) -> Result<()> {
    let builds = logs::list(root).map_err(to_error)?;
    outln!(
        "{:<22}  {:<19}  {:>8}  {:<11}  {:>5}  NAME",
        "BUILD",
        "STARTED (UTC)",
        "TIME",
        "STATUS",
        "STEPS"
    );
    for b in &builds {
        let started: String = b.started.replace('T', " ").chars().take(19).collect();
        let time = b
            .elapsed
            .map(|s| format!("{s:.1}s"))
            .unwrap_or_else(|| "-".into());
        outln!(
            "{:<22}  {:<19}  {:>8}  {:<11}  {:>5}  {}",
            b.id,
            started,
            time,
            b.status_now().as_str(),
            b.vertices.len(),
            name_of(b)
        );
    }
    Ok(())
}

/// What a build made or read: its first tag (`+N` more), else its context.
fn name_of(b: &BuildIndex) -> String {
    match b.info.tags.as_slice() {
        [] => b.info.context.clone(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (+{})", rest.len()),
    }
}

/// Every vertex of the build, in the plain format without times: its name, why the cache
/// missed, its whole output, the builder's lines, how it ended.
fn whole_build(root: &Path, index: &BuildIndex, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "build {} of {} ({})",
        index.id,
        name_of(index),
        index.status_now().as_str()
    )?;
    for v in &index.vertices {
        let n = v.number;
        writeln!(out, "\n#{n} {}", v.name)?;
        if let Some(miss) = &v.miss {
            writeln!(out, "#{n} cache miss: {miss}")?;
        }
        copy_output(root, index, v, out, Some(&format!("#{n} ")))?;
        for m in &v.messages {
            writeln!(out, "#{n} {m}")?;
        }
        if v.truncated {
            writeln!(out, "#{n} (the log could not be written completely)")?;
        }
        let elapsed = v.elapsed.map(|s| format!(" {s:.1}s")).unwrap_or_default();
        match v.status {
            VertexStatus::Done => writeln!(out, "#{n} DONE{elapsed}")?,
            VertexStatus::Cached => writeln!(out, "#{n} CACHED")?,
            VertexStatus::Error => writeln!(
                out,
                "#{n} ERROR: {}",
                v.error.as_deref().unwrap_or_default()
            )?,
            VertexStatus::Running => writeln!(out, "#{n} (did not end)")?,
        }
    }
    if let Some(e) = &index.error {
        writeln!(out, "\n{e}")?;
    }
    if let Some(image) = &index.image {
        writeln!(out, "\nimage {image}")?;
    }
    Ok(())
}

/// Copy vertex `v`'s output to `out`: exactly, or with `prefix` before every line (and a
/// final line end added).
fn copy_output(
    root: &Path,
    index: &BuildIndex,
    v: &VertexEntry,
    out: &mut dyn Write,
    prefix: Option<&str>,
) -> std::io::Result<()> {
    let path = logs::log_path(root, &index.id, v);
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && v.output_bytes == 0 => return Ok(()),
        Err(e) => {
            // Not a stdout failure: say which file, then go on with the rest.
            eprintln!("warning: cannot read {}: {e}", path.display());
            return Ok(());
        }
    };
    let Some(prefix) = prefix else {
        std::io::copy(&mut file, out)?;
        return Ok(());
    };
    let mut buf = vec![0u8; 64 << 10];
    let mut line_start = true;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("warning: cannot read {}: {e}", path.display());
                break;
            }
        };
        for piece in buf
            .get(..n)
            .unwrap_or_default()
            .split_inclusive(|&b| b == b'\n')
        {
            if line_start {
                out.write_all(prefix.as_bytes())?;
            }
            out.write_all(piece)?;
            line_start = piece.ends_with(b"\n");
        }
    }
    if !line_start {
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn to_error(e: LogsError) -> Error {
    match e {
        LogsError::NotFound(msg) => Error::Usage(msg),
        LogsError::Io {
            action,
            path,
            source,
        } => Error::Io {
            action,
            path,
            source,
        },
        LogsError::Corrupt { path, reason } => Error::Io {
            action: "read build log index",
            path,
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, reason),
        },
    }
}
