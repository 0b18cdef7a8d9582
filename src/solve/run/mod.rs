//! RUN: a command executed in the stage's root file system, its changes made a layer.
//!
//! One step, in order: the parent chain is materialized as snapshots; a fresh snapshot is
//! prepared on it and mounted as the step's root ([`crate::snapshot::StepRoot`]: overlay of
//! the chain with the snapshot as upper directory, or a copy of the chain where overlay
//! does not work); USER is resolved against the image's /etc/passwd and /etc/group; the
//! RUN mounts are made ready ([`mounts`]; ssh agent sockets by [`ssh`]); the command runs
//! in the sandbox, its output streamed to the step's progress ([`output`]); the empty
//! mount stubs are removed ([`stubs`]); the root is unmounted and the change set made the
//! layer (whiteouts only for paths that exist below) and committed as the next snapshot
//! ([`super::commit`]).
//!
//! As in BuildKit, a RUN always makes a layer, even when it changed nothing (an empty
//! tar). A command that exits non-zero or is killed fails the step with BuildKit's words
//! (`process "/bin/sh -c false" did not complete successfully: exit code: 1`) and the
//! last lines of its output; nothing of it is kept.

mod compare;
mod interrupt;
pub mod mounts;
pub mod output;
pub mod secrets;
pub mod security;
pub mod ssh;
pub mod stubs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use secrets::{parse_secret, SecretSource};
pub use security::Entitlements;
pub use ssh::{parse_ssh, SshAgents, SshSource};

use interrupt::InterruptGuard;

use super::error::{RunLog, StepError, StepResult};

use super::commit::commit_changes;
use super::layer::{Layer, SharedExistsBelow};
use super::lower::{read_file, LayeredDest};
use super::step_cx::StepCx;
use super::StageResult;
use crate::dockerfile::instructions::MountType;
use crate::domain::DEFAULT_PATH;
use crate::graph::RunAction;
use crate::sandbox::{self, Network, RunSpec, Sandbox, Stubs};
use crate::snapshot::{self, Backend, Changes};

/// How RUN steps run, for the whole build.
pub struct RunSettings<'a> {
    /// The sandbox that runs commands.
    pub sandbox: &'a dyn Sandbox,
    /// The build's `--network` (a step's `--network=default` uses it).
    pub network: Network,
    /// The build's `--secret`s, by id.
    pub secrets: BTreeMap<String, SecretSource>,
    /// The agent socket of each `--ssh` id ([`SshAgents::sockets`]).
    pub ssh: BTreeMap<String, PathBuf>,
    /// The store root: steps work under `run/`, cache mounts live in `cache-mounts/`.
    pub state_dir: PathBuf,
    /// Force a root file system backend (`None`: overlay when it works, said otherwise).
    pub backend: Option<Backend>,
    /// What `--allow` granted.
    pub entitlements: Entitlements,
    /// builder runs as real root (not as a user mapped to root in its build namespace).
    pub real_root: bool,
    /// `--add-host`, `--shm-size` and `--ulimit`.
    pub options: RunOptions,
}

/// What `--add-host`, `--shm-size` and `--ulimit` give every RUN step of a build (inputs
/// of the steps' keys, as in BuildKit, where they are part of the exec op).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Extra /etc/hosts entries, `(host, ip)`, in order.
    pub add_hosts: Vec<(String, String)>,
    /// The size of /dev/shm in bytes (`None`: 64 MiB).
    pub shm_size: Option<u64>,
    /// Resource limits.
    pub ulimits: Vec<sandbox::Ulimit>,
}

impl RunOptions {
    /// The step key's text for these options; `None` when none is set (so keys of builds
    /// without them stay as they were).
    pub fn key(&self) -> Option<String> {
        if *self == RunOptions::default() {
            return None;
        }
        let hosts: Vec<String> = self
            .add_hosts
            .iter()
            .map(|(h, ip)| format!("{h}:{ip}"))
            .collect();
        let ulimits: Vec<String> = self.ulimits.iter().map(ToString::to_string).collect();
        Some(format!(
            "add-host={}\nshm-size={:?}\nulimit={}\n",
            hosts.join(","),
            self.shm_size,
            ulimits.join(",")
        ))
    }
}

impl std::fmt::Debug for RunSettings<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSettings")
            .field("network", &self.network)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("ssh", &self.ssh.keys().collect::<Vec<_>>())
            .field("state_dir", &self.state_dir)
            .field("backend", &self.backend)
            .field("entitlements", &self.entitlements)
            .field("real_root", &self.real_root)
            .field("options", &self.options)
            .finish()
    }
}

/// Run `action`, the RUN of step `cx`, on top of `st`; the new layer (always one,
/// possibly empty).
pub fn run(
    cx: &StepCx<'_, '_>,
    st: &mut StageResult,
    action: &RunAction,
) -> StepResult<Option<Layer>> {
    let settings = cx.run;
    let confinement =
        security::security(action.security, settings.entitlements, settings.real_root)?;
    let snaps = cx.stores.trees.snapshots;
    let (parent, view) = cx.stores.trees.dest(&mut st.layers, cx.reporter)?;
    let lowers = match &parent {
        Some(top) => snaps.view(top)?,
        None => Vec::new(),
    };
    let user = resolve_user(&view, &action.user)?;
    let run_root = settings.state_dir.join("run");
    std::fs::create_dir_all(&run_root).map_err(StepError::io("create directory", &run_root))?;
    let work = tempfile::Builder::new()
        .prefix("step-")
        .tempdir_in(&run_root)
        .map_err(StepError::io("create directory in", &run_root))?;
    let prepared = mounts::prepare(cx, action, work.path())?;
    let backend = settings
        .backend
        .unwrap_or_else(|| Backend::detect(&run_root));
    let active = snaps.prepare(parent.as_ref())?;
    let target = work.path().join("rootfs");
    let rootfs = match snapshot::StepRoot::prepare(backend, &lowers, &active, &target) {
        Ok(r) => r,
        Err(e) => {
            let _ = snaps.abort(active);
            return Err(e.into());
        }
    };

    let network = action.network.for_run(settings.network);
    let mut spec = RunSpec::new(rootfs.path(), action.args.clone());
    spec.env = environment(action, &prepared.env);
    spec.cwd = if action.workdir.is_empty() {
        "/".to_string()
    } else {
        action.workdir.clone()
    };
    spec.user = user;
    spec.network = network;
    spec.mounts = prepared.binds.clone();
    spec.security = confinement;
    spec.stubs = Stubs {
        resolv_conf: Some(sandbox::stubs::resolv_conf(
            &sandbox::stubs::host_resolv_conf(network),
            network,
        )),
        hosts: Some(sandbox::stubs::hosts(
            &spec.hostname,
            &settings.options.add_hosts,
        )),
    };
    spec.ulimits = settings.options.ulimits.clone();
    spec.shm_size = settings.options.shm_size;
    let outcome = execute(cx, &spec);
    let removed = match &outcome {
        Ok(o) => stubs::remove_empty_stubs(rootfs.path(), &o.stubs),
        Err(_) => Vec::new(),
    };
    // Unmount before anything else touches the snapshot.
    let changes = rootfs.release();
    drop(prepared);
    let result = outcome.and_then(|_| {
        let changes = changes?;
        finish(&active, &view, &changes, &removed)
    });
    remove_work_dir(work, backend);
    match result {
        Ok(()) => {
            let below = exists_below(view, !lowers.is_empty());
            Ok(Some(commit_changes(cx, active, &st.layers, Some(below))?))
        }
        Err(e) => {
            let _ = snaps.abort(active);
            Err(e)
        }
    }
}

/// Run `spec` in the sandbox, its output streamed to the step's vertex: its outcome when
/// it succeeded, else the step's failure (with the end of its output).
fn execute(cx: &StepCx<'_, '_>, spec: &RunSpec) -> StepResult<sandbox::RunOutcome> {
    let mut out = output::StepOutput::new(cx.reporter, cx.tag.vertex);
    let ran = {
        // Ctrl-C ends the command (and fails the step, which cleans up) rather than the
        // process, for as long as any RUN's command runs.
        let _ctrl_c = InterruptGuard::new();
        cx.run.sandbox.run(spec, &mut out)
    };
    out.finish();
    let process = spec.args.join(" ");
    match ran {
        Ok(o) if o.status.success() => Ok(o),
        Ok(o) => Err(StepError::RunFailed {
            process,
            status: o.status,
            log: RunLog {
                name: cx.tag.name.clone(),
                tail: out.tail(output::TAIL_LINES),
            },
        }),
        Err(source) => Err(StepError::RunError { process, source }),
    }
}

/// The change set of a finished step, made ready to be written as its layer: in the
/// upper directory, without the sandbox's copied-up stubs.
fn finish(
    active: &snapshot::Active,
    view: &LayeredDest,
    changes: &Changes,
    removed: &[PathBuf],
) -> StepResult<()> {
    if let Changes::Compare { lowers, tree } = changes {
        compare::to_upper(tree, lowers, &active.upper)?;
    }
    stubs::prune_copied_up(&active.upper, removed, view);
    Ok(())
}

/// Whether a path exists in the parent (`view`; never when there is no parent): only
/// whiteouts of such paths reach the layer.
fn exists_below(view: LayeredDest, has_parent: bool) -> SharedExistsBelow {
    Arc::new(move |path: &Path| {
        has_parent
            && crate::solve::copy::DestFs::lstat(&view, &path.to_string_lossy())
                .ok()
                .flatten()
                .is_some()
    })
}

/// The step's environment: the plan's (ARG values included), `PATH` when missing,
/// `SSH_AUTH_SOCK` (the first ssh mount's target, unless set), the proxy variables, then
/// secrets given as variables.
fn environment(action: &RunAction, secret_env: &[String]) -> Vec<String> {
    let mut env = action.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(format!("PATH={DEFAULT_PATH}"));
    }
    // As BuildKit's exec op: set even when an optional mount is left out.
    let first_ssh = action
        .mounts
        .iter()
        .find(|m| m.mount.kind == MountType::Ssh);
    if let Some(m) = first_ssh {
        if !env.iter().any(|e| e.starts_with("SSH_AUTH_SOCK=")) {
            env.push(format!("SSH_AUTH_SOCK={}", m.target));
        }
    }
    env.extend(action.proxy_env.iter().map(|(k, v)| format!("{k}={v}")));
    env.extend(secret_env.iter().cloned());
    env
}

/// USER as ids, looked up in the image's /etc/passwd and /etc/group.
fn resolve_user(view: &LayeredDest, spec: &str) -> StepResult<sandbox::User> {
    let text = |path: &str| -> StepResult<Option<String>> {
        let bytes = read_file(view, path).map_err(StepError::io("read", path))?;
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
    };
    let (passwd, group) = if spec.is_empty() {
        (None, None)
    } else {
        (text("/etc/passwd")?, text("/etc/group")?)
    };
    Ok(sandbox::user::resolve(
        spec,
        passwd.as_deref(),
        group.as_deref(),
    )?)
}

/// Remove the step's scratch directory: its root mount point is empty once unmounted (and
/// only removed then: a mount still there is left alone rather than emptied).
fn remove_work_dir(work: tempfile::TempDir, backend: Backend) {
    let path = work.keep();
    let root = path.join("rootfs");
    let unmounted =
        backend == Backend::Copy || std::fs::remove_dir(&root).is_ok() || !root.exists();
    if unmounted {
        crate::solve::trees::remove_tree(&path);
    }
}

#[cfg(test)]
mod tests;
