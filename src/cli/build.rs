//! `builder build [OPTIONS] CONTEXT`: flags as `docker buildx build` has them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::build::{build, BuildOutcome, BuildPolicy, BuildRequest};
use crate::error::{Error, Result};
use crate::progress::logs::{BuildInfo, BuildLog};
use crate::progress::{LogKeeper, Outcome, Plain, Quiet, RawJson, Reporter, Tty, WarningTally};
use crate::sandbox::Network;
use crate::solve::copy::Ownership;
use crate::solve::run::{
    parse_secret, parse_ssh, Entitlements, RunOptions, SecretSource, SshSource,
};

/// Progress output modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// tty when stderr is a terminal (and TERM is not `dumb`), plain otherwise.
    Auto,
    /// A live view: each running step with its time, transfers and last output lines.
    Tty,
    /// BuildKit's `#N [stage step/total] INSTRUCTION` lines, with RUN output.
    Plain,
    /// One JSON event per line (schema: docs/progress.md).
    Rawjson,
    /// Nothing but errors.
    Quiet,
}

/// Network modes for RUN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BuildNetworkArg {
    /// A private network with outbound access through slirp4netns, shared by the build's
    /// RUN steps: no way to the host's 127.0.0.1 services or abstract sockets (the host's
    /// network, with a warning, when slirp4netns is not installed).
    Default,
    /// A new network namespace with only `lo`.
    None,
    /// The host network, loopback services included.
    Host,
}

impl From<BuildNetworkArg> for crate::domain::NetworkMode {
    /// The value of `--network` (kept apart for its help text) as the one mode set.
    fn from(arg: BuildNetworkArg) -> Self {
        match arg {
            BuildNetworkArg::Default => Self::Default,
            BuildNetworkArg::None => Self::None,
            BuildNetworkArg::Host => Self::Host,
        }
    }
}

/// Arguments of `builder build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The build context: a directory, `-` (stdin), a `.tar`/`.tar.gz` file, or a URL.
    ///
    /// With `-`, stdin is a tar of the context (plain, gzip, bzip2 or xz), or else the
    /// Dockerfile itself, with an empty context, as buildx reads it. A Git repository
    /// (`https://host/repo.git`, `git://`, `git@host:repo.git` with `--ssh default`) is
    /// checked out without its `.git`; `#ref:subdir` picks the ref and the directory that is
    /// the context. Another `http(s)://` URL is downloaded: a tarball is the context, anything
    /// else the Dockerfile (with an empty context). COPY and ADD read their
    /// sources from it. `.dockerignore` at its top (or
    /// `PATH.dockerignore` beside the Dockerfile) leaves files out.
    pub context: String,
    /// The Dockerfile [default: CONTEXT/Dockerfile, else the first of dockerfile,
    /// Containerfile, containerfile there]; `-` reads it from stdin (with a directory, tar
    /// file or URL context).
    ///
    /// A `PATH.dockerignore` beside it wins over CONTEXT/.dockerignore. With a tar context,
    /// PATH may name a file inside the archive.
    #[arg(short, long, value_name = "PATH")]
    pub file: Option<String>,
    /// Name the image, e.g. `-t app` or `-t registry.example.com/team/app:1.2` (repeatable).
    ///
    /// Every name goes into the local store and into each output; `--push` pushes each.
    #[arg(short, long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,
    /// Build this stage (its `AS` name, or its index from 0) and only the stages it needs
    /// [default: the last stage].
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Set a build argument declared with ARG: `K=V`, or `K` alone to take the value from the
    /// environment (repeatable).
    ///
    /// Example: `--build-arg VERSION=1.2 --build-arg HTTP_PROXY`. `K` alone is left out when
    /// the environment has no K.
    #[arg(long = "build-arg", value_name = "K=V")]
    pub build_args: Vec<String>,
    /// Use VALUE for `FROM NAME` and `COPY --from=NAME`: a directory,
    /// `oci-layout://PATH[:TAG][@DIGEST]` or `docker-image://REF` (repeatable).
    ///
    /// An `oci-layout://` value is an OCI image layout on disk, usable offline; a
    /// `docker-image://` value an image in the local store. Examples:
    /// `--build-context alpine=oci-layout://./alpine`, `--build-context src=../shared`.
    #[arg(long = "build-context", value_name = "NAME=VALUE", value_parser = super::parse_key_value)]
    pub build_contexts: Vec<(String, String)>,
    /// Run every step.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_bool, action = clap::ArgAction::Set)]
    pub no_cache: bool,
    /// Run every step of these stages.
    #[arg(long = "no-cache-filter", value_name = "STAGE")]
    pub no_cache_filter: Vec<String>,
    /// Also write the result here (repeatable):
    /// `type=oci|docker|registry|image|local|tar|cacheonly[,dest=PATH][,KEY=VALUE...]`.
    ///
    /// Types: `oci` (an OCI archive; `tar=false` writes a layout directory), `docker` (for
    /// `docker load`; without `dest`, loaded into the local docker or podman), `registry` (push every -t name), `image` (the local store; `push=true`
    /// also pushes), `local` (the root file system as files in a directory), `tar` (the same
    /// as one tar file), `cacheonly` (nothing). Keys: `compression=gzip|zstd|uncompressed`,
    /// `compression-level=N`, `force-compression=true` (base layers too),
    /// `oci-mediatypes=true|false`, `rewrite-timestamp=true` (with SOURCE_DATE_EPOCH),
    /// `name=NAME` (instead of the -t names; `name=a,name=b` or `"name=a,b"` for several),
    /// `registry.insecure=true` (plain HTTP).
    /// Examples: `-o type=oci,dest=app.tar`, `-o type=local,dest=rootfs`. Without -o the
    /// image goes only into the local store.
    #[arg(short, long = "output", value_name = "SPEC")]
    pub outputs: Vec<String>,
    /// Push every -t name to its registry once the build succeeds (shorthand for
    /// `-o type=registry`).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_bool, action = clap::ArgAction::Set)]
    pub push: bool,
    /// Load the image into the local docker (when its daemon answers) or podman, as buildx
    /// does (shorthand for `-o type=docker`); without either, the build fails saying what
    /// to use instead.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_bool, action = clap::ArgAction::Set)]
    pub load: bool,
    /// Fetch every base image from its registry, even those already in the local store
    /// (missing ones are always fetched).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_bool, action = clap::ArgAction::Set)]
    pub pull: bool,
    /// Build for this platform, e.g. `linux/arm64` or `linux/arm/v7` [default: the host's];
    /// several, comma-separated, build one image index with a manifest per platform.
    ///
    /// Picks the base images' platform and sets TARGETPLATFORM, TARGETOS, TARGETARCH.
    /// With several platforms every output carries the index; `type=local` and `type=tar`
    /// hold a directory per platform (`linux_amd64`); `type=docker` cannot hold an index.
    #[arg(long, value_name = "os/arch[/variant]")]
    pub platform: Option<String>,
    /// The network of RUN steps that do not set `RUN --network` (see docs/security.md).
    ///
    /// `default` is private to the build; `host` lets RUN reach what the host reaches,
    /// its 127.0.0.1 services included.
    #[arg(long, value_enum, default_value = "default")]
    pub network: BuildNetworkArg,
    /// An OCI annotation (repeatable), as buildx: `KEY=VALUE` on the image manifest(s),
    /// `index:KEY=VALUE` on the index of a multi-platform build,
    /// `manifest[linux/arm64]:KEY=VALUE` on one platform's manifest, `index,manifest:...` on
    /// both. Needs OCI media types (not `type=docker`).
    #[arg(long = "annotation", value_name = "[TYPE:]KEY=VALUE")]
    pub annotations: Vec<String>,
    /// Add an /etc/hosts entry for RUN steps (repeatable): `HOST:IP` or `HOST=IP`, e.g.
    /// `--add-host db.local=10.0.0.5`.
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_hosts: Vec<String>,
    /// The size of RUN steps' /dev/shm, e.g. `128m`, `1g` [default: 64m].
    #[arg(long = "shm-size", value_name = "BYTES")]
    pub shm_size: Option<String>,
    /// A resource limit for RUN steps (repeatable), as Docker's: `NAME=SOFT[:HARD]`, e.g.
    /// `--ulimit nofile=1024:4096` (`-1`: unlimited).
    #[arg(long = "ulimit", value_name = "NAME=SOFT[:HARD]")]
    pub ulimits: Vec<String>,
    /// Grant an entitlement (repeatable), as buildx: `security.insecure` lets
    /// `RUN --security=insecure` run (as real root only) with every capability, no seccomp
    /// filter and nothing masked; `network.host` is accepted and needed by nothing
    /// (`--network=host` works without it).
    #[arg(long = "allow", value_name = "ENTITLEMENT")]
    pub allow: Vec<String>,
    /// A secret for `RUN --mount=type=secret,id=ID` (repeatable): `id=ID[,src=PATH|,env=VAR]`.
    ///
    /// `src=` reads a file, `env=` an environment variable; `id=ID` alone reads the
    /// variable ID if it is set, else the file ID. Secrets never end up in the image.
    /// Example: `--secret id=npmrc,src=$HOME/.npmrc`.
    #[arg(long = "secret", value_name = "SPEC")]
    pub secrets: Vec<String>,
    /// Forward an SSH agent to `RUN --mount=type=ssh[,id=ID]` (repeatable):
    /// `default|ID[=SOCKET|KEY[,KEY...]]`.
    ///
    /// An id alone forwards the agent of `$SSH_AUTH_SOCK`; a socket path forwards that
    /// agent; key files (without a passphrase) are loaded into a private `ssh-agent` for
    /// the build. The step sees a socket of its own, read-only (keys are listed and used,
    /// never added or removed), at the mount's target, and `SSH_AUTH_SOCK` names it.
    /// Examples: `--ssh default`, `--ssh deploy=$HOME/.ssh/id_ed25519`.
    #[arg(long = "ssh", value_name = "ID[=PATH,...]")]
    pub ssh: Vec<String>,
    /// Also look for cached steps written by `--cache-to` (repeatable): `type=local,src=DIR`,
    /// or a registry artifact or an image pushed with `--cache-to type=inline`,
    /// `type=registry,ref=REF` or just `REF`.
    #[arg(long = "cache-from", value_name = "SPEC")]
    pub cache_from: Vec<String>,
    /// Write the cached steps of this build, with their layers, for another store's
    /// `--cache-from`: `type=local,dest=DIR[,mode=max]` (an OCI layout; every step the build
    /// used), or `type=registry,ref=REF[,mode=min|max][,image-manifest=true]
    /// [,oci-mediatypes=false][,compression=gzip|zstd|uncompressed][,ignore-error=true]`,
    /// or `type=inline` (in the image config); `type=local` and `type=registry` also take
    /// `cache-mounts=true|ID,...[,cache-mounts-max-size=1GiB]` to carry `RUN
    /// --mount=type=cache` contents (docs/cache.md).
    #[arg(long = "cache-to", value_name = "SPEC")]
    pub cache_to: Vec<String>,
    /// Progress output on stderr. Whatever the mode, every step's full output is kept for
    /// `builder logs`.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressMode,
    /// Print only the image (manifest) digest on standard output, and no progress.
    #[arg(short, long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_bool, action = clap::ArgAction::Set)]
    pub quiet: bool,
    /// Write the image (manifest) digest, `sha256:...`, to this file.
    #[arg(long, value_name = "PATH")]
    pub iidfile: Option<PathBuf>,
    /// Write JSON with `containerimage.digest`, `containerimage.config.digest` and
    /// `image.name` to this file.
    #[arg(long, value_name = "PATH")]
    pub metadata_file: Option<PathBuf>,
    /// Add a label to the image config, e.g.
    /// `--label org.opencontainers.image.source=https://example.com/app` (repeatable).
    #[arg(long = "label", value_name = "K=V", value_parser = super::parse_key_value)]
    pub labels: Vec<(String, String)>,
}

/// The `-o` values, with `--load` (`type=docker`, loaded) and `--push` (`type=registry`).
fn parse_outputs(args: &BuildArgs) -> Result<crate::build::Outputs> {
    let mut specs = args.outputs.clone();
    if args.load && !specs.iter().any(|s| s == "type=docker") {
        specs.push("type=docker".to_string());
    }
    let mut outputs = crate::build::outputs::parse(&specs, args.push)?;
    let host = crate::domain::Platform::linux_from_rust_arch(std::env::consts::ARCH);
    outputs.annotations = crate::build::annotations::Annotations::parse(&args.annotations, &host)
        .map_err(Error::Usage)?;
    Ok(outputs)
}

/// A boolean flag's value as buildx (Go's `strconv.ParseBool`) takes it: `--push=false`.
fn parse_bool(text: &str) -> std::result::Result<bool, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("expected true or false, got {text:?}")),
    }
}

/// What the build flags say once checked, before the outputs and the environment's policy
/// join them in a [`BuildRequest`].
#[derive(Debug, Clone)]
struct Checked {
    build_args: BTreeMap<String, String>,
    source_date_epoch: Option<i64>,
    root: PathBuf,
    secrets: BTreeMap<String, SecretSource>,
    ssh: BTreeMap<String, SshSource>,
    entitlements: Entitlements,
    network: Network,
    cache_from: Vec<crate::cache::exchange::CacheSpec>,
    cache_to: Vec<crate::cache::exchange::CacheSpec>,
    run_options: RunOptions,
}

/// Check the flags that can be wrong on their own, in the order their errors are reported.
fn check(args: &BuildArgs, root: Option<&Path>) -> Result<Checked> {
    check_tags(&args.tags)?;
    let build_args = crate::build::resolve_build_args(&args.build_args, |k| std::env::var(k).ok())?;
    let source_date_epoch = source_date_epoch(&build_args)?;
    Ok(Checked {
        source_date_epoch,
        root: super::store_root(root)?,
        secrets: secrets(&args.secrets)?,
        ssh: ssh_sources(&args.ssh)?,
        entitlements: Entitlements::parse(&args.allow).map_err(Error::Usage)?,
        network: Network::from(args.network),
        cache_from: cache_specs(&args.cache_from, false)?,
        cache_to: cache_specs(&args.cache_to, true)?,
        run_options: run_options(args)?,
        build_args,
    })
}

/// `--add-host`, `--shm-size` and `--ulimit`, checked.
fn run_options(args: &BuildArgs) -> Result<RunOptions> {
    let add_hosts = args
        .add_hosts
        .iter()
        .map(|h| parse_add_host(h))
        .collect::<std::result::Result<_, _>>()
        .map_err(Error::Usage)?;
    let shm_size = match &args.shm_size {
        None => None,
        Some(text) => match crate::dockerfile::instructions::ram_in_bytes(text) {
            Some(n) if n > 0 => Some(n),
            _ => {
                return Err(Error::Usage(format!(
                    "invalid --shm-size {text:?}: expected a size such as 64m or 1g"
                )))
            }
        },
    };
    let ulimits = args
        .ulimits
        .iter()
        .map(|u| crate::sandbox::Ulimit::parse(u))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Usage(format!("--ulimit: {e}")))?;
    Ok(RunOptions {
        add_hosts,
        shm_size,
        ulimits,
    })
}

/// `HOST=IP` or `HOST:IP` (Docker's `--add-host`; `=` first, so that `HOST:IPv6` also
/// works), the address checked; `(host, ip)`.
fn parse_add_host(text: &str) -> std::result::Result<(String, String), String> {
    let (host, ip) = text
        .split_once('=')
        .or_else(|| text.split_once(':'))
        .ok_or_else(|| format!("invalid --add-host {text:?}: expected HOST:IP"))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("invalid --add-host {text:?}: no host name"));
    }
    if ip == "host-gateway" {
        return Err(format!(
            "invalid --add-host {text:?}: host-gateway names a daemon's gateway, and builder \
             runs none; give the address (with --network=host, 127.0.0.1 is the host)"
        ));
    }
    ip.parse::<std::net::IpAddr>()
        .map_err(|_| format!("invalid --add-host {text:?}: {ip:?} is not an IP address"))?;
    Ok((host.to_string(), ip.to_string()))
}

/// Refuse, before any work, a `-t` value the store could not name the image by (buildx's
/// `invalid tag`).
fn check_tags(tags: &[String]) -> Result<()> {
    for tag in tags {
        let reference = crate::store::Reference::parse(tag)
            .map_err(|e| Error::Usage(format!("invalid tag {tag:?}: {}", e.0)))?;
        if reference.digest().is_some() {
            return Err(Error::Usage(format!(
                "invalid tag {tag:?}: a name with a digest cannot be given to an image; use a tag"
            )));
        }
    }
    Ok(())
}

/// The request of `args`: every build flag goes into it (`--progress` and `-q` choose the
/// display instead, see [`mode`]).
fn request(
    args: &BuildArgs,
    checked: Checked,
    outputs: crate::build::Outputs,
    policy: BuildPolicy,
) -> BuildRequest {
    BuildRequest {
        context: args.context.clone(),
        file: args.file.clone(),
        tags: args.tags.clone(),
        target: args.target.clone(),
        build_args: checked.build_args,
        build_contexts: args.build_contexts.clone(),
        outputs,
        pull: args.pull,
        platform: args.platform.clone(),
        labels: args.labels.clone(),
        iidfile: args.iidfile.clone(),
        metadata_file: args.metadata_file.clone(),
        root: checked.root,
        source_date_epoch: checked.source_date_epoch,
        network: checked.network,
        entitlements: checked.entitlements,
        secrets: checked.secrets,
        ssh: checked.ssh,
        run_options: checked.run_options,
        no_cache: args.no_cache,
        no_cache_filter: args.no_cache_filter.clone(),
        cache_from: checked.cache_from,
        cache_to: checked.cache_to,
        policy,
    }
}

/// Run `builder build`: build, then print the image digest with `-q`.
pub fn run(args: &BuildArgs, root: Option<&Path>) -> Result<()> {
    // The `-o` values are parsed once; a failure is reported once the build has started
    // (after the checks below), as every output error is.
    let outputs = parse_outputs(args);
    refuse_quiet_with_stdout_output(args, outputs.as_ref().ok())?;
    let checked = check(args, root)?;
    let mode = mode(args)?;
    let reporter = WarningTally::new(reporter(args, &checked.root, display(mode)));
    let built = build_policy()
        .and_then(|policy| Ok(request(args, checked, outputs?, policy)))
        .and_then(|request| build(&request, &reporter));
    finish(&reporter, &built);
    // The live view is cleared before anything else is printed; then the warnings'
    // summary, as buildx prints it (not with -q or rawjson).
    let warnings = reporter.into_warnings();
    if !matches!(mode, ProgressMode::Quiet | ProgressMode::Rawjson) {
        if let Some(summary) = crate::progress::warnings_summary(&warnings) {
            eprint!("{summary}");
        }
    }
    let outcome = built?;
    if args.quiet {
        outln!("{}", outcome.manifest);
    }
    Ok(())
}

/// SOURCE_DATE_EPOCH: the build arg, else the environment variable; empty is unset.
fn source_date_epoch(build_args: &BTreeMap<String, String>) -> Result<Option<i64>> {
    let epoch_text = build_args
        .get("SOURCE_DATE_EPOCH")
        .cloned()
        .or_else(|| std::env::var("SOURCE_DATE_EPOCH").ok())
        .filter(|v| !v.is_empty());
    match epoch_text {
        Some(v) => Ok(Some(v.parse::<i64>().map_err(|_| {
            Error::Usage(format!(
                "invalid SOURCE_DATE_EPOCH {v:?}: expected seconds since 1970"
            ))
        })?)),
        None => Ok(None),
    }
}

/// The `--secret` values by id (a later one with the same id wins).
fn secrets(specs: &[String]) -> Result<BTreeMap<String, SecretSource>> {
    let mut secrets = BTreeMap::new();
    for spec in specs {
        let (id, source) = parse_secret(spec, |k| std::env::var_os(k).is_some())
            .map_err(|e| Error::Usage(format!("invalid --secret: {e}")))?;
        secrets.insert(id, source);
    }
    Ok(secrets)
}

/// The `--ssh` values by id, `SSH_AUTH_SOCK` read here; an id given twice is an error
/// (as buildx says: a duplicate agent id).
fn ssh_sources(specs: &[String]) -> Result<BTreeMap<String, SshSource>> {
    let auth_sock = std::env::var_os("SSH_AUTH_SOCK");
    let mut sources = BTreeMap::new();
    for spec in specs {
        let (id, source) = parse_ssh(spec, auth_sock.as_deref())
            .map_err(|e| Error::Usage(format!("invalid --ssh: {e}")))?;
        if sources.insert(id.clone(), source).is_some() {
            return Err(Error::Usage(format!(
                "invalid --ssh: id {id:?} is given twice"
            )));
        }
    }
    Ok(sources)
}

/// `display`, keeping every step's output for `builder logs` in the store at `root`; when
/// the log cannot be made, a warning and `display` alone.
fn reporter(args: &BuildArgs, root: &Path, display: Box<dyn Reporter>) -> Box<dyn Reporter> {
    let local =
        !crate::domain::remote_source::is_remote_source(&args.context) && args.context != "-";
    let context = match local {
        true => std::path::absolute(&args.context)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| args.context.clone()),
        false => args.context.clone(),
    };
    let info = BuildInfo {
        context: args.context.clone(),
        dockerfile: args.file.clone(),
        tags: args.tags.clone(),
        target: args.target.clone(),
        project: Some(format!(
            "{context}\n{}\n{}",
            args.file.as_deref().unwrap_or(""),
            args.target.as_deref().unwrap_or("")
        )),
    };
    let keep = match crate::store::keep_logs() {
        Ok(n) => n.unwrap_or(crate::progress::logs::KEEP_BUILDS),
        Err(e) => {
            eprintln!(
                "warning: {e}; keeping the logs of the latest {} builds",
                crate::progress::logs::KEEP_BUILDS
            );
            crate::progress::logs::KEEP_BUILDS
        }
    };
    match BuildLog::create(root, info, keep) {
        Ok(log) => Box::new(LogKeeper::new(display, log)),
        Err(e) => {
            eprintln!(
                "warning: {}; this build's logs are not kept",
                crate::progress::chain(&e)
            );
            display
        }
    }
}

/// Tell `reporter` how the build ended: the image, or the error with its causes.
fn finish(reporter: &dyn Reporter, built: &Result<BuildOutcome>) {
    match built {
        Ok(outcome) => reporter.finish(&Outcome {
            image: Some(outcome.manifest.as_ref()),
            ..Outcome::default()
        }),
        Err(e) => reporter.finish(&Outcome {
            error: Some(&e.summary()),
            ..Outcome::default()
        }),
    }
}

/// What the build takes from the environment, read once here: a value the build cannot
/// take is a usage error before anything is pulled or built.
fn build_policy() -> Result<BuildPolicy> {
    let writes = crate::solve::background::Writes::from_env().map_err(Error::Usage)?;
    let timeout =
        crate::registry::transport::io_timeout().map_err(|e| Error::Usage(e.to_string()))?;
    let mut registry = crate::registry::Auth::from_env();
    registry.timeout = Some(timeout);
    let backend = match std::env::var("BUILDER_SNAPSHOTTER").as_deref() {
        Ok("copy") => Some(crate::snapshot::Backend::Copy),
        Ok("overlay") => Some(crate::snapshot::Backend::Overlay),
        _ => None,
    };
    let ownership = if rustix::process::geteuid().is_root() {
        Ownership::Apply
    } else {
        Ownership::Ignore
    };
    Ok(BuildPolicy {
        backend,
        writes,
        ownership,
        registry,
        max_cache: crate::store::max_cache(),
        binfmt_misc: std::env::var_os("BUILDER_BINFMT_MISC")
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| crate::sandbox::binfmt::DEFAULT_DIR.into()),
    })
}

/// `-q` prints the digest on standard output, where a `dest=-` output writes its tarball.
/// `outputs` are the parsed `-o` values, `None` when they do not parse (then each value is
/// looked at alone).
fn refuse_quiet_with_stdout_output(
    args: &BuildArgs,
    outputs: Option<&crate::build::Outputs>,
) -> Result<()> {
    use crate::export::{Destination, OutputSpec};
    let to_stdout = match outputs {
        Some(o) => o.specs.iter().any(|s| s.dest == Destination::Stdout),
        None => args
            .outputs
            .iter()
            .any(|spec| OutputSpec::parse(spec).is_ok_and(|s| s.dest == Destination::Stdout)),
    };
    if args.quiet && to_stdout {
        return Err(Error::Usage(
            "-q prints the image digest on standard output, where -o ...,dest=- writes; \
             use --iidfile with an output to standard output"
                .into(),
        ));
    }
    Ok(())
}

/// `--cache-from` (`export == false`) or `--cache-to` values.
fn cache_specs(specs: &[String], export: bool) -> Result<Vec<crate::cache::exchange::CacheSpec>> {
    specs
        .iter()
        .map(|s| crate::cache::exchange::parse_spec(s, export).map_err(Error::Usage))
        .collect()
}

/// The display mode `--progress` (and `-q`) choose.
fn mode(args: &BuildArgs) -> Result<ProgressMode> {
    Ok(match (args.quiet, args.progress) {
        (true, _) => ProgressMode::Quiet,
        (false, ProgressMode::Auto) if stderr_is_terminal() => ProgressMode::Tty,
        (false, ProgressMode::Auto) => ProgressMode::Plain,
        (false, ProgressMode::Tty) if !stderr_is_terminal() => {
            return Err(Error::Usage(
                "--progress=tty needs a terminal on stderr: use --progress=plain or auto".into(),
            ))
        }
        (false, mode) => mode,
    })
}

/// The display of `mode`.
fn display(mode: ProgressMode) -> Box<dyn Reporter> {
    match mode {
        ProgressMode::Quiet => Box::new(Quiet::default()),
        ProgressMode::Tty => Box::new(Tty::stderr()),
        ProgressMode::Rawjson => Box::new(RawJson::stderr()),
        ProgressMode::Plain | ProgressMode::Auto => Box::new(Plain::stderr()),
    }
}

/// Whether stderr is a terminal that can redraw (`TERM=dumb` cannot).
fn stderr_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
