//! Command-line interface: the clap definitions of every command in the CLI contract
//! (`../shared/design/CLI.md`), one file per command, and the dispatch from argv to them.
//!
//! A request the contract names but this builder does not do (building for several platforms
//! at once) fails with "not implemented yet" and exit code 2. The long
//! help of each command is in `help`; `completion` and the hidden `docs` print what is
//! generated from these definitions (shell completions, manual pages).
//! `build`, `load`, `pull`, `prune` and `du` first enter the build's user namespace
//! ([`crate::sandbox::userns`]): the process re-executes itself there, as root of it (so
//! that prune can remove, and du read, files a rootless build made with mapped ids).

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
mod completion;
mod debug;
mod debug_run;
mod docs;
mod doctor;
mod du;
mod filter;
mod help;
mod history;
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
mod sizes;
mod tag;
mod template;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::error::{Error, Result};
use crate::store::DirStore;

/// A daemonless, rootless builder: Dockerfile + context -> OCI image.
#[derive(Debug, Parser)]
#[command(
    name = "builder",
    version,
    about,
    long_about = help::BUILDER,
    propagate_version = true
)]
pub struct Cli {
    /// The local store of images and build cache [default: $BUILDER_ROOT, else
    /// $XDG_DATA_HOME/builder, else ~/.local/share/builder].
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
    #[command(long_about = help::BUILD)]
    Build(Box<build::BuildArgs>),
    /// List images in the local store.
    #[command(long_about = help::IMAGES)]
    Images(images::ImagesArgs),
    /// Print an image's config and manifest as JSON.
    #[command(long_about = help::INSPECT)]
    Inspect(inspect::InspectArgs),
    /// Show the history of an image: its steps, newest first, with their layers' sizes.
    #[command(long_about = help::HISTORY)]
    History(history::HistoryArgs),
    /// Push an image from the local store to a registry.
    #[command(long_about = help::PUSH)]
    Push(push::PushArgs),
    /// Fetch an image into the local store.
    #[command(long_about = help::PULL)]
    Pull(pull::PullArgs),
    /// Write images to a tarball for air-gapped hosts.
    #[command(long_about = help::SAVE)]
    Save(save::SaveArgs),
    /// Import an OCI or docker tarball into the local store.
    #[command(long_about = help::LOAD)]
    Load(load::LoadArgs),
    /// Log in to a registry (credentials kept in Docker's config.json).
    Login(login::LoginArgs),
    /// Log out of a registry.
    Logout(logout::LogoutArgs),
    /// Show the full, unclipped output of recent builds and their steps.
    Logs(logs::LogsArgs),
    /// Give an image in the store another name.
    #[command(long_about = help::TAG)]
    Tag(tag::TagArgs),
    /// Remove image names from the store.
    #[command(long_about = help::RMI)]
    Rmi(rmi::RmiArgs),
    /// Free build cache and unreferenced blobs.
    #[command(long_about = help::PRUNE)]
    Prune(prune::PruneArgs),
    /// Show the disk usage of the build cache and the store.
    Du(du::DuArgs),
    /// Check what this host gives builder: namespaces, ids, overlay, network, emulators.
    Doctor(doctor::DoctorArgs),
    /// Inspect how a Dockerfile is understood.
    #[command(subcommand, long_about = help::DEBUG)]
    Debug(debug::DebugCommand),
    /// Print a shell completion script (bash, zsh, fish).
    #[command(long_about = help::COMPLETION)]
    Completion(completion::CompletionArgs),
    /// Write the manual pages.
    #[command(hide = true)]
    Docs(docs::DocsArgs),
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
        Command::History(args) => history::run(&args, cli.root.as_deref()),
        Command::Push(args) => push::run(&args, cli.root.as_deref()),
        Command::Pull(args) => {
            enter_namespace();
            let _gc = crate::store::build_guard(&store_root(cli.root.as_deref())?)?;
            pull::run(&args, cli.root.as_deref())
        }
        Command::Save(args) => save::run(&args, cli.root.as_deref()),
        Command::Load(args) => {
            enter_namespace();
            let _gc = crate::store::build_guard(&store_root(cli.root.as_deref())?)?;
            load::run(&args, cli.root.as_deref())
        }
        Command::Login(args) => login::run(&args),
        Command::Logout(args) => logout::run(&args),
        Command::Logs(args) => logs::run(&args, cli.root.as_deref()),
        Command::Tag(args) => tag::run(&args, cli.root.as_deref()),
        Command::Rmi(args) => rmi::run(&args, cli.root.as_deref()),
        Command::Prune(args) => {
            enter_namespace();
            prune::run(&args, cli.root.as_deref())
        }
        Command::Doctor(args) => match doctor::run(&args, cli.root.as_deref())? {
            0 => Ok(()),
            // Reported line by line already: RUN steps cannot run here.
            code => std::process::exit(code),
        },
        Command::Du(args) => {
            enter_namespace();
            du::run(&args, cli.root.as_deref())
        }
        Command::Debug(cmd) => debug::run(&cmd),
        Command::Completion(args) => completion::run(&args),
        Command::Docs(args) => docs::run(&args),
    }
}

/// Enter the build's user namespace (commands that write images do, before any thread
/// starts: RUN needs it, and files keep their owners inside it). Where user namespaces
/// are not available the command goes on outside, said in one line with what RUN steps
/// get instead: chroot isolation for real root, nothing for anyone else.
fn enter_namespace() {
    if let Err(e) = crate::sandbox::userns::enter_build_namespace() {
        eprintln!(
            "warning: {}; going on without it: {}",
            crate::error::chain(&e),
            crate::sandbox::isolation::fall_back()
        );
        if let Some(hint) = crate::build::hint(&e) {
            eprintln!("hint: {hint}");
        }
    }
}

/// The local store's root: `--root`, else the default place (CLI.md); created, or made,
/// private to its owner before any command puts anything in it.
fn store_root(root: Option<&Path>) -> Result<PathBuf> {
    let root = crate::store::default_root(root, |k| std::env::var_os(k)).ok_or_else(|| {
        Error::Usage(
            "cannot find the local store: pass --root or set $BUILDER_ROOT or $HOME".into(),
        )
    })?;
    // Absolute, so that nothing below depends on the working directory (the `git` of a
    // Git source runs elsewhere, say).
    let root = std::path::absolute(&root).unwrap_or(root);
    crate::store::prepare_root(&root)?;
    Ok(root)
}

/// The local store: `--root`, else the default place (CLI.md).
fn open_store(root: Option<&Path>) -> Result<DirStore> {
    Ok(DirStore::new(store_root(root)?)?)
}

/// Print an error: a build failure as its rendered diagnostic (the Dockerfile excerpt,
/// `ERROR: failed to solve: ...`, a hint); anything else as `error: ` and its cause chain,
/// each cause once, then a `hint:` line where one helps.
fn report(err: &Error) {
    eprintln!("{}", render_error(err));
}

/// The text [`report`] prints for `err`.
fn render_error(err: &Error) -> String {
    if let Error::Dockerfile { rendered, .. } | Error::Build { rendered, .. } = err {
        return rendered.clone();
    }
    let mut text = format!("error: {}", crate::error::chain(err));
    if let Some(hint) = crate::build::hint(err) {
        text.push_str("\nhint: ");
        text.push_str(&hint);
    }
    text
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

    /// Every visible command has a summary, and every visible argument help text.
    #[test]
    fn every_command_and_argument_has_help() {
        fn check(cmd: &clap::Command, path: &str) {
            assert!(cmd.get_about().is_some(), "{path} has no summary");
            for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
                assert!(
                    arg.get_help().is_some() || arg.get_long_help().is_some(),
                    "{path} {} has no help",
                    arg.get_id()
                );
            }
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                check(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        check(&cmd, "builder");
    }

    #[test]
    fn build_failures_print_as_rendered_and_others_with_their_causes_once() {
        let e = Error::build(
            "Dockerfile:1\nERROR: failed to solve: x".into(),
            std::io::Error::other("x"),
        );
        assert_eq!(render_error(&e), "Dockerfile:1\nERROR: failed to solve: x");
        let e = Error::Io {
            action: "read Dockerfile",
            path: "ctx/Dockerfile".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert_eq!(
            render_error(&e),
            "error: read Dockerfile ctx/Dockerfile: entity not found"
        );
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
