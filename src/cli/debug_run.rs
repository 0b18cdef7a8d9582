//! `builder debug run`: run one command in the RUN sandbox on a root directory (or on an
//! overlay of lower directories), outside any build. A tool for testing the sandbox and
//! the overlay as root and rootless; hidden from help.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::error::{Error, Result};
use crate::sandbox::{
    self, stubs, userns, BindMount, LinuxSandbox, Network, OutputSink, RunOutcome, RunSpec,
    Sandbox, SandboxError, Security, Stream, Stubs,
};
use crate::snapshot::{mount_overlay, OverlayMount};

/// Network modes of `debug run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetworkArg {
    /// A private network with outbound access through slirp4netns (the host's when it is
    /// not installed), as RUN's default.
    Default,
    /// Only lo.
    None,
    /// The host's network.
    Host,
}

impl From<NetworkArg> for crate::domain::NetworkMode {
    /// The value of `--network` (kept apart for its help text) as the one mode set.
    fn from(arg: NetworkArg) -> Self {
        match arg {
            NetworkArg::Default => Self::Default,
            NetworkArg::None => Self::None,
            NetworkArg::Host => Self::Host,
        }
    }
}

/// Confinement modes of `debug run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecurityArg {
    /// Docker's defaults (capabilities, seccomp, masked paths).
    Sandbox,
    /// BuildKit's insecure mode; real root only.
    Insecure,
}

/// Arguments of `builder debug run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The root directory (with --lower: where the overlay is mounted).
    #[arg(long, value_name = "DIR")]
    pub rootfs: PathBuf,
    /// Mount an overlay on --rootfs with this lower directory (repeat, top first).
    #[arg(long = "lower", value_name = "DIR", requires_all = ["upper", "work"])]
    pub lowers: Vec<PathBuf>,
    /// The overlay's upper directory.
    #[arg(long, value_name = "DIR")]
    pub upper: Option<PathBuf>,
    /// The overlay's work directory.
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    /// Run as this user (name or uid[:gid]), resolved in the root's /etc/passwd and
    /// /etc/group.
    #[arg(long, default_value = "")]
    pub user: String,
    /// The network.
    #[arg(long, value_enum, default_value = "default")]
    pub network: NetworkArg,
    /// The confinement (`insecure`: real root only, as `RUN --security=insecure`).
    #[arg(long, value_enum, default_value = "sandbox")]
    pub security: SecurityArg,
    /// The host name.
    #[arg(long, default_value = stubs::DEFAULT_HOSTNAME)]
    pub hostname: String,
    /// The working directory.
    #[arg(long, default_value = "/")]
    pub cwd: String,
    /// An environment variable (KEY=VALUE; default: only PATH).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// A bind mount SRC:DST[:ro].
    #[arg(long = "mount", value_name = "SRC:DST[:ro]")]
    pub mounts: Vec<String>,
    /// Print the mount stubs the sandbox created, one `stub PATH` line each, on stderr.
    #[arg(long)]
    pub print_stubs: bool,
    /// The command.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

struct PassThrough;

impl OutputSink for PassThrough {
    fn output(&mut self, stream: Stream, data: &[u8]) {
        let _ = match stream {
            Stream::Stdout => std::io::stdout().write_all(data),
            Stream::Stderr => std::io::stderr().write_all(data),
        };
    }
}

/// Run `builder debug run`; exits with the command's status.
pub fn run(args: &RunArgs) -> Result<()> {
    userns::enter_build_namespace()?;
    sandbox::interrupt_on_signals();
    match run_inside(args) {
        Ok(0) => Ok(()),
        Ok(code) => std::process::exit(code),
        Err(Error::Sandbox(e)) if e.exit_code().is_some() => {
            eprintln!("error: {e}");
            std::process::exit(e.exit_code().unwrap_or(1))
        }
        Err(Error::Sandbox(SandboxError::Interrupted)) => {
            eprintln!("error: interrupted");
            std::process::exit(130)
        }
        Err(e) => Err(e),
    }
}

/// Runs the command of `args` in the sandbox (on the overlay, when asked for) and returns
/// its exit code as a shell gives it.
fn run_inside(args: &RunArgs) -> Result<i32> {
    let _overlay = mount_if_asked(args)?;
    let read = |name: &str| std::fs::read_to_string(args.rootfs.join(name)).ok();
    let user = sandbox::user::resolve(
        &args.user,
        read("etc/passwd").as_deref(),
        read("etc/group").as_deref(),
    )?;
    let network = Network::from(args.network);
    let mut env = args.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, format!("PATH={}", crate::domain::DEFAULT_PATH));
    }
    let mounts = bind_mounts(&args.mounts)?;
    let stubs = Stubs {
        resolv_conf: Some(stubs::resolv_conf(
            &stubs::host_resolv_conf(network),
            network,
        )),
        hosts: Some(stubs::hosts(&args.hostname, &[])),
    };
    let spec = RunSpec {
        rootfs: args.rootfs.clone(),
        args: args.command.clone(),
        env,
        cwd: args.cwd.clone(),
        user,
        hostname: args.hostname.clone(),
        network,
        mounts,
        stubs,
        security: security(args.security)?,
        ulimits: Vec::new(),
        shm_size: None,
    };
    let outcome = LinuxSandbox::new().run(&spec, &mut PassThrough)?;
    report(args, &outcome);
    Ok(outcome.status.shell_code())
}

/// Mounts the overlay on `--rootfs` (created if missing) when `--lower`, `--upper` and
/// `--work` ask for one; it stays mounted while the result lives.
fn mount_if_asked(args: &RunArgs) -> Result<Option<OverlayMount>> {
    match (&args.upper, &args.work) {
        (Some(upper), Some(work)) if !args.lowers.is_empty() => {
            std::fs::create_dir_all(&args.rootfs).map_err(|source| Error::Io {
                action: "create",
                path: args.rootfs.clone(),
                source,
            })?;
            Ok(Some(mount_overlay(
                &args.lowers,
                upper,
                work,
                &args.rootfs,
            )?))
        }
        _ => Ok(None),
    }
}

/// The bind mounts of the `--mount SRC:DST[:ro]` values.
fn bind_mounts(values: &[String]) -> Result<Vec<BindMount>> {
    let mut mounts = Vec::new();
    for m in values {
        let mut parts = m.splitn(3, ':');
        let (Some(src), Some(dst)) = (parts.next(), parts.next()) else {
            return Err(Error::Usage(format!(
                "invalid --mount {m:?}: expected SRC:DST[:ro]"
            )));
        };
        mounts.push(BindMount::path(src, dst, parts.next() == Some("ro")));
    }
    Ok(mounts)
}

/// The confinement `--security` asks for; `insecure` needs real root.
fn security(arg: SecurityArg) -> Result<Security> {
    match arg {
        SecurityArg::Sandbox => Ok(Security::Sandbox),
        SecurityArg::Insecure if !userns::real_root() => Err(Error::Usage(
            "--security insecure needs builder to run as real root".into(),
        )),
        SecurityArg::Insecure => Ok(Security::Insecure),
    }
}

/// Prints the stubs (with `--print-stubs`) and says when a signal ended the command.
fn report(args: &RunArgs, outcome: &RunOutcome) {
    if args.print_stubs {
        for stub in &outcome.stubs {
            eprintln!("stub {}", stub.display());
        }
    }
    if let sandbox::ExitStatus::Signal(_) = outcome.status {
        eprintln!("error: the command was {}", outcome.status);
    }
}
