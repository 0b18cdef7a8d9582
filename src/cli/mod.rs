//! Command-line interface: the clap definitions of every command in the CLI contract
//! (`../shared/design/CLI.md`), one file per command, and the dispatch from argv to them.
//!
//! Commands that are not built yet fail with "not implemented yet" and exit code 2.
//! `build`, `load` and `pull` first enter the build's user namespace
//! ([`crate::sandbox::userns`]): the process re-executes itself there, as root of it.

/// `println!` for command output that ends the process quietly when stdout is closed early
/// (`builder inspect app | head`), instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::cli::stdout_failed(e);
        }
    }};
}

mod build;
mod debug;
mod debug_run;
mod images;
mod inspect;
mod load;
mod login;
mod logout;
mod logs;
mod prune;
mod pull;
mod push;
mod rmi;
mod save;
mod tag;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::error::{Error, Result};
use crate::store::DirStore;

/// A daemonless, rootless builder: Dockerfile + context -> OCI image.
#[derive(Debug, Parser)]
#[command(name = "builder", version, about, propagate_version = true)]
pub struct Cli {
    /// The local store (default: $BUILDER_ROOT, else $XDG_DATA_HOME/builder, else
    /// ~/.local/share/builder).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image from a Dockerfile and a context.
    Build(Box<build::BuildArgs>),
    /// List images in the local store.
    Images(images::ImagesArgs),
    /// Print an image's config and manifest as JSON.
    Inspect(inspect::InspectArgs),
    /// Push an image from the local store to a registry.
    Push(push::PushArgs),
    /// Fetch an image into the local store.
    Pull(pull::PullArgs),
    /// Write images to a tarball for air-gapped hosts.
    Save(save::SaveArgs),
    /// Import an OCI or docker tarball into the local store.
    Load(load::LoadArgs),
    /// Log in to a registry (credentials kept in Docker's config.json).
    Login(login::LoginArgs),
    /// Log out of a registry.
    Logout(logout::LogoutArgs),
    /// Show the full, unclipped output of recent builds and their steps.
    Logs(logs::LogsArgs),
    /// Give an image in the store another name.
    Tag(tag::TagArgs),
    /// Remove image names from the store.
    Rmi(rmi::RmiArgs),
    /// Free build cache and unreferenced blobs.
    Prune(prune::PruneArgs),
    /// Inspect how a Dockerfile is understood.
    #[command(subcommand)]
    Debug(debug::DebugCommand),
}

/// Run the command line in `args` (argv including the program name); returns the exit code.
/// Errors are printed to stderr.
pub fn run_from<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return e.exit_code();
        }
    };
    match dispatch(cli) {
        Ok(()) => 0,
        Err(err) => {
            report(&err);
            err.exit_code()
        }
    }
}

/// Run with the process's own argv.
pub fn run() -> i32 {
    run_from(std::env::args_os())
}

fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Build(args) => {
            enter_namespace();
            build::run(&args, cli.root.as_deref())
        }
        Command::Images(args) => images::run(&args, cli.root.as_deref()),
        Command::Inspect(args) => inspect::run(&args, cli.root.as_deref()),
        Command::Push(args) => push::run(&args, cli.root.as_deref()),
        Command::Pull(args) => {
            enter_namespace();
            pull::run(&args, cli.root.as_deref())
        }
        Command::Save(args) => save::run(&args, cli.root.as_deref()),
        Command::Load(args) => {
            enter_namespace();
            load::run(&args, cli.root.as_deref())
        }
        Command::Login(args) => login::run(&args),
        Command::Logout(args) => logout::run(&args),
        Command::Logs(args) => logs::run(&args, cli.root.as_deref()),
        Command::Tag(args) => tag::run(&args, cli.root.as_deref()),
        Command::Rmi(args) => rmi::run(&args, cli.root.as_deref()),
        Command::Prune(args) => prune::run(&args),
        Command::Debug(cmd) => debug::run(&cmd),
    }
}

/// Enter the build's user namespace (commands that write images do, before any thread
/// starts: RUN needs it, and files keep their owners inside it). Where user namespaces
/// are not available the command goes on outside, said once: files keep the caller's
/// ids and RUN steps fail with the reason.
fn enter_namespace() {
    if let Err(e) = crate::sandbox::userns::enter_build_namespace() {
        eprintln!(
            "warning: {}; going on without it (RUN steps cannot run)",
            crate::progress::chain(&e)
        );
    }
}

/// The local store's root: `--root`, else the default place (CLI.md).
fn store_root(root: Option<&Path>) -> Result<PathBuf> {
    crate::store::default_root(root, |k| std::env::var_os(k)).ok_or_else(|| {
        Error::Usage(
            "cannot find the local store: pass --root or set $BUILDER_ROOT or $HOME".into(),
        )
    })
}

/// The local store: `--root`, else the default place (CLI.md).
fn open_store(root: Option<&Path>) -> Result<DirStore> {
    Ok(DirStore::new(store_root(root)?)?)
}

/// Print an error and its cause chain, once each.
fn report(err: &Error) {
    let mut text = format!("error: {err}");
    if let Error::Dockerfile { .. } | Error::Build { .. } = err {
        // Already rendered with its own "error:" line.
        text = err.to_string();
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!("\ncaused by: {cause}"));
        source = cause.source();
    }
    eprintln!("{text}");
}

/// Split `K=V` (the value may itself contain `=`).
fn parse_key_value(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// Standard output failed: a closed pipe ends the process as SIGPIPE would (exit 141, no
/// message); anything else is reported.
pub fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(141);
    }
    eprintln!("error: write to standard output: {e}");
    std::process::exit(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn key_value_splits_at_first_equals() {
        assert_eq!(
            parse_key_value("a=b=c"),
            Ok(("a".to_string(), "b=c".to_string()))
        );
        assert!(parse_key_value("=x").is_err());
        assert!(parse_key_value("novalue").is_err());
    }
}
