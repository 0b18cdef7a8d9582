//! `RUN --mount`: every mount of a step turned into a host path the sandbox binds at its
//! target, plus the variables secret mounts add to the environment.
//!
//! - `bind`: a path of the build context (its `.dockerignore` applied), a stage, an image
//!   or a named context. Read-only mounts bind the tree directly (the context through a
//!   filtered copy when it has ignore rules); `rw` binds a throwaway copy. A direct bind
//!   source is resolved by the kernel inside its root (`openat2(RESOLVE_IN_ROOT)`) when
//!   the sandbox mounts it ([`BindMount::source_root`]), so swapping a directory of the
//!   context for a symlink cannot make it bind a host path; without `openat2` the source
//!   is copied instead, by the COPY engine, which stays inside the root.
//! - `cache`: a directory kept under the store root (`cache-mounts/`), created with the
//!   mount's `uid`, `gid` and `mode` (seeded from `from` when given) and keyed as BuildKit
//!   keys it, by its id and what it starts from ([`cache_dir_name`]); `sharing=shared`
//!   (a shared file lock), `locked` (an exclusive one: a second build waits) or
//!   `private` (a throwaway directory when the cache is busy). A cache the store does not
//!   have is first looked for in the `--cache-from` caches that exported it; the caches a
//!   build used are noted for `--cache-to ...,cache-mounts=` ([`note_cached`] for steps
//!   found in the build cache).
//! - `tmpfs`: a fresh tmpfs (mode 1777, `size=` its limit), mounted by the sandbox.
//! - `secret`: the value of a `--secret` of the build, as a read-only file (mode 0400 and
//!   0:0 unless asked otherwise) that the sandbox makes on a tmpfs of the run's own (the
//!   value reaches it through the request pipe, never a disk) and/or an environment
//!   variable; missing is an error only with `required=true`.
//! - `ssh`: a new socket of the step, owned `uid`:`gid` with `mode` (0600 and 0:0 unless
//!   asked otherwise), relayed read-only to the build's agent for the mount's id
//!   ([`super::ssh::Forwarder`], stopped with the step); a missing id leaves the mount
//!   out, or fails the step with `required=true`.
//!
//! A heredoc script run directly (`RUN <<EOF` with `#!`) is mounted the same way, read-only
//! at `/dev/pipes/`. Everything lives in the step's scratch directory, removed after the
//! step; mount targets never reach the layer (see [`super::stubs`]).

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;

use super::ssh::Forwarder;
use super::SecretSource;
use crate::cache::mount_cache::UsedMount;
use crate::dockerfile::instructions::{Mount, MountType, ShareMode};
use crate::graph::{PlannedMount, RunAction, Source};
use crate::rooted;
use crate::sandbox::BindMount;
use crate::solve::copy::{self, CopyRequest, EmptyDest, SourceRoot};
use crate::solve::copy_step::{source_tree, Tree, View};
use crate::solve::error::{StepError, StepResult};
use crate::solve::step_key;
use crate::solve::StepCx;
use crate::store::lock::FileLock;

/// Most symlinks followed when resolving a mount source.
const MAX_HOPS: usize = 40;

/// The mounts of one step, ready for the sandbox; locks held until dropped.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Bind mounts, parents before children.
    pub binds: Vec<BindMount>,
    /// `NAME=value` entries for secrets given as variables.
    pub env: Vec<String>,
    locks: Vec<FileLock>,
    forwards: Vec<Forwarder>,
}

/// Make every mount of `action`, the RUN of step `cx`, ready, using `work` (the step's
/// scratch directory).
pub fn prepare(cx: &StepCx<'_, '_>, action: &RunAction, work: &Path) -> StepResult<Prepared> {
    let mut out = Prepared::default();
    for (i, m) in action.mounts.iter().enumerate() {
        let scratch = work.join(format!("mount-{i}"));
        match m.mount.kind {
            MountType::Bind => bind(cx, m, &scratch, &mut out)?,
            MountType::Cache => cache(cx, m, &scratch, &mut out)?,
            MountType::Tmpfs => out
                .binds
                .push(BindMount::tmpfs(&m.target, m.mount.size_limit)),
            MountType::Secret => secret(&cx.run.secrets, m, &mut out)?,
            MountType::Ssh => ssh(&cx.run.ssh, m, &scratch, &mut out)?,
        }
    }
    if let Some(script) = &action.script {
        let dir = work.join("pipes");
        make_dir(&dir, 0o755, (0, 0))?;
        let file = dir.join(&script.name);
        write_file(&file, script.content.as_bytes(), 0o755, (0, 0))?;
        out.add(dir, "/dev/pipes", true);
    }
    // Parents first, as BuildKit orders mounts.
    out.binds.sort_by(|a, b| a.target.cmp(&b.target));
    Ok(out)
}

impl Prepared {
    fn add(&mut self, source: PathBuf, target: &str, readonly: bool) {
        self.binds.push(BindMount::path(source, target, readonly));
    }
}

fn bind(
    cx: &StepCx<'_, '_>,
    m: &PlannedMount,
    scratch: &Path,
    out: &mut Prepared,
) -> StepResult<()> {
    let from = m.from.clone().unwrap_or(Source::BuildContext);
    let tree = source_tree(cx, &from, View::Flat)?;
    let source = m.mount.source.clone().unwrap_or_else(|| "/".to_string());
    let filtered = tree.ignore.is_some_and(|i| !i.is_empty());
    let pinned = if m.mount.read_only && !filtered {
        pin_source(&tree.dir, &source)?
    } else {
        Pinned::Unsupported
    };
    match pinned {
        Pinned::Open => {
            out.binds.push(BindMount {
                source_root: Some(tree.dir.clone()),
                ..BindMount::path(
                    tree.dir.join(source.trim_start_matches('/')),
                    &m.target,
                    true,
                )
            });
            Ok(())
        }
        Pinned::Missing => Err(not_found(&source, &from)),
        Pinned::Unsupported => {
            let host =
                copy_out(cx.policy.ownership, &tree, &source, scratch).map_err(|e| match e {
                    Copied::Missing => not_found(&source, &from),
                    Copied::Failed(e) => e,
                })?;
            out.add(host, &m.target, m.mount.read_only);
            Ok(())
        }
    }
}

/// Whether a bind source can be left to the sandbox to resolve inside its root.
enum Pinned {
    /// It is there now (the sandbox resolves it again when it mounts it).
    Open,
    /// Not there (or a symlink loop).
    Missing,
    /// The kernel cannot resolve inside a root (no `openat2`).
    Unsupported,
}

/// Looks `source` up inside `root` with symlinks resolved as if `root` were `/`.
fn pin_source(root: &Path, source: &str) -> StepResult<Pinned> {
    let root_fd = rooted::open_root(root).map_err(StepError::io("open mount source", root))?;
    match rooted::open_in_root(root_fd.as_fd(), source, OFlags::PATH) {
        Ok(_) => Ok(Pinned::Open),
        Err(e) => match e.raw_os_error() {
            Some(nix::libc::ENOSYS) => Ok(Pinned::Unsupported),
            Some(nix::libc::ENOENT | nix::libc::ENOTDIR | nix::libc::ELOOP) => Ok(Pinned::Missing),
            _ => Err(StepError::io(
                "open mount source",
                &root.join(source.trim_start_matches('/')),
            )(e)),
        },
    }
}

fn not_found(source: &str, from: &Source) -> StepError {
    let place = match from {
        Source::BuildContext => "the build context".to_string(),
        Source::Stage(i) => format!("stage {i}"),
        Source::Image(r) => format!("image {r}"),
        Source::Context(n) => format!("build context {n:?}"),
        Source::Scratch => "scratch".to_string(),
    };
    StepError::Mount(format!("mount source {source:?} not found in {place}"))
}

enum Copied {
    Missing,
    Failed(StepError),
}

/// Copy `source` of `tree` (ignore rules applied) into the fresh directory `scratch`;
/// the host path of the copy. [`resolve_in`] only names the source: the copy opens it
/// again below the root without following symlinks, so a change in between cannot make
/// it read outside the root.
fn copy_out(
    ownership: copy::Ownership,
    tree: &Tree<'_>,
    source: &str,
    scratch: &Path,
) -> Result<PathBuf, Copied> {
    let resolved = resolve_in(&tree.dir, source).ok_or(Copied::Missing)?;
    let is_dir = resolved.is_dir();
    make_dir(scratch, 0o755, (0, 0)).map_err(Copied::Failed)?;
    let rel = resolved
        .strip_prefix(&tree.dir)
        .map(|p| format!("/{}", p.display()))
        .unwrap_or_else(|_| "/".to_string());
    let root = SourceRoot {
        dir: &tree.dir,
        ignore: tree.ignore,
        kind: tree.kind.clone(),
    };
    let mut req = CopyRequest::new(
        vec![copy::CopySource::Path(rel.clone())],
        root,
        "/",
        &EmptyDest,
    );
    req.ownership = ownership;
    copy::copy(&req, scratch).map_err(|source| {
        Copied::Failed(StepError::Copy {
            instruction: "RUN --mount",
            source,
        })
    })?;
    if is_dir {
        Ok(scratch.to_path_buf())
    } else {
        let name = Path::new(&rel).file_name().ok_or(Copied::Missing)?;
        Ok(scratch.join(name))
    }
}

fn cache(
    cx: &StepCx<'_, '_>,
    m: &PlannedMount,
    scratch: &Path,
    out: &mut Prepared,
) -> StepResult<()> {
    let owner = (m.mount.uid.unwrap_or(0), m.mount.gid.unwrap_or(0));
    let mode = m.mount.mode_or_default();
    let caches = cx.run.state_dir.join("cache-mounts");
    make_dir_all(&caches)?;
    let name = cache_name(cx, m)?;
    let dir = caches.join(&name);
    let lock_path = caches.join(format!("{name}.lock"));
    let lock = match m.mount.sharing_or_default() {
        ShareMode::Shared => Some(FileLock::shared(&lock_path)?),
        ShareMode::Locked => Some(FileLock::exclusive(&lock_path)?),
        ShareMode::Private => FileLock::try_exclusive(&lock_path)?,
    };
    let Some(lock) = lock else {
        // A private cache that another build is using: a fresh one for this step.
        make_dir(scratch, mode, owner)?;
        out.add(scratch.to_path_buf(), &m.target, m.mount.read_only);
        return Ok(());
    };
    if !dir.is_dir() {
        // Made aside and renamed into place, so a half-made cache is never used.
        let fresh = caches.join(format!(".new-{name}-{}", std::process::id()));
        crate::solve::trees::remove_tree(&fresh);
        if !restore_cache(cx, &name, &fresh, mode, owner)? {
            make_cache(cx, m, &fresh, mode, owner)?;
        }
        if std::fs::rename(&fresh, &dir).is_err() {
            crate::solve::trees::remove_tree(&fresh);
        }
    }
    if let Some(c) = cx.cache {
        c.use_mount(used_mount(m, name));
    }
    out.locks.push(lock);
    out.add(dir, &m.target, m.mount.read_only);
    Ok(())
}

/// The directory name under `cache-mounts/` of the cache mount `m` of step `cx`.
fn cache_name(cx: &StepCx<'_, '_>, m: &PlannedMount) -> StepResult<String> {
    let seed = match &m.from {
        Some(from) if *from != Source::Scratch => {
            let source = m.mount.source.as_deref().unwrap_or("/");
            Some(step_key::mount_source_identity(cx, from, source)?)
        }
        _ => None,
    };
    Ok(cache_dir_name(&m.mount, seed.as_deref()))
}

fn used_mount(m: &PlannedMount, name: String) -> UsedMount {
    let (uid, gid) = (m.mount.uid.unwrap_or(0), m.mount.gid.unwrap_or(0));
    UsedMount {
        id: m.mount.cache_id(),
        name,
        uid,
        gid,
        mode: m.mount.mode_or_default(),
    }
}

/// Note the cache mounts of `action`, the RUN of step `cx` found in the build cache, that
/// the store has, as used by this build (for `--cache-to ...,cache-mounts=`).
pub fn note_cached(cx: &StepCx<'_, '_>, action: &RunAction) {
    let Some(cache) = cx.cache.filter(|c| c.export_mounts) else {
        return;
    };
    let caches = cx.run.state_dir.join("cache-mounts");
    for m in &action.mounts {
        if m.mount.kind != MountType::Cache {
            continue;
        }
        if let Ok(name) = cache_name(cx, m) {
            if caches.join(&name).is_dir() {
                cache.use_mount(used_mount(m, name));
            }
        }
    }
}

/// Fill the new cache directory `fresh` from a `--cache-from` that exported the cache
/// mount `name`; whether one had it (else `fresh` is not there).
fn restore_cache(
    cx: &StepCx<'_, '_>,
    name: &str,
    fresh: &Path,
    mode: u32,
    owner: (u32, u32),
) -> StepResult<bool> {
    let Some(cache) = cx.cache.filter(|c| !c.mount_import.is_empty()) else {
        return Ok(false);
    };
    make_dir(fresh, mode, owner)?;
    if cache.restore_mount(name, fresh) {
        set_mode_owner(fresh, mode, owner)?;
        return Ok(true);
    }
    crate::solve::trees::remove_tree(fresh);
    Ok(false)
}

/// Make the new cache directory `fresh`: empty, or seeded from the mount's `from`.
fn make_cache(
    cx: &StepCx<'_, '_>,
    m: &PlannedMount,
    fresh: &Path,
    mode: u32,
    owner: (u32, u32),
) -> StepResult<()> {
    let Some(from) = &m.from else {
        return make_dir(fresh, mode, owner);
    };
    let tree = source_tree(cx, from, View::Flat)?;
    let source = m.mount.source.clone().unwrap_or_else(|| "/".to_string());
    let copied = copy_out(cx.policy.ownership, &tree, &source, fresh).map_err(|e| match e {
        Copied::Missing => not_found(&source, from),
        Copied::Failed(e) => e,
    })?;
    if copied != fresh {
        return Err(StepError::Mount(format!(
            "cache mount source {source:?} is not a directory"
        )));
    }
    set_mode_owner(fresh, mode, owner)
}

/// The directory name of a cache mount under `cache-mounts/`. BuildKit keys a cache by
/// its id (default: the target) plus the snapshot it starts from: none for a plain
/// mount, the `from` source (`seed`, its identity) when given, and a directory made with
/// the owner and mode when `uid`, `gid` or `mode` is given without a `source` path. So a
/// cache seeded from a stage never shares storage with a plain cache of the same id. A
/// plain mount's name is the sha256 of its id alone; the others are prefixed with a NUL,
/// which no id written in a Dockerfile holds.
fn cache_dir_name(mount: &Mount, seed: Option<&str>) -> String {
    let id = mount.cache_id();
    let source = clean_source(mount.source.as_deref());
    let perms = (mount.uid.is_some() || mount.gid.is_some() || mount.mode.is_some())
        && (seed.is_none() || source == "/");
    let text = if seed.is_none() && !perms {
        id
    } else {
        let mut t = format!("\0cache-mount\nid {}\n", quoted(&id));
        if let Some(seed) = seed {
            t.push_str(&format!(
                "from {}\nsource {}\n",
                quoted(seed),
                quoted(&source)
            ));
        }
        if perms {
            let (uid, gid) = (mount.uid.unwrap_or(0), mount.gid.unwrap_or(0));
            t.push_str(&format!(
                "mkdir {uid}:{gid} {:o}\n",
                mount.mode_or_default()
            ));
        }
        t
    };
    crate::store::digest::sha256(text.as_bytes())
        .digest()
        .to_string()
}

/// A mount `source` as an absolute clean path (`/` when not given).
fn clean_source(source: Option<&str>) -> String {
    let mut kept: Vec<String> = Vec::new();
    for c in components(source.unwrap_or("/")) {
        if c == ".." {
            kept.pop();
        } else {
            kept.push(c);
        }
    }
    format!("/{}", kept.join("/"))
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn secret(
    secrets: &BTreeMap<String, SecretSource>,
    m: &PlannedMount,
    out: &mut Prepared,
) -> StepResult<()> {
    let id = m.mount.secret_id().unwrap_or_default();
    let Some(source) = secrets.get(&id) else {
        if m.mount.required {
            return Err(StepError::Mount(format!("secret {id}: not found")));
        }
        return Ok(());
    };
    let value = source.read(&id).map_err(StepError::Mount)?;
    if !m.target.is_empty() {
        // Made by the sandbox on a tmpfs of the run's own: never on the store's disk.
        let owner = (m.mount.uid.unwrap_or(0), m.mount.gid.unwrap_or(0));
        let mode = m.mount.mode_or_default();
        out.binds.push(BindMount::file_in_memory(
            &m.target,
            value.clone(),
            mode,
            owner,
        ));
    }
    if let Some(name) = &m.mount.env {
        let name = if name.is_empty() { &id } else { name };
        out.env
            .push(format!("{name}={}", String::from_utf8_lossy(&value)));
    }
    Ok(())
}

/// The step's socket for an ssh mount, relayed to the agent of its id in `agents`.
fn ssh(
    agents: &BTreeMap<String, PathBuf>,
    m: &PlannedMount,
    scratch: &Path,
    out: &mut Prepared,
) -> StepResult<()> {
    let id = m.mount.ssh_id();
    let Some(agent) = agents.get(&id) else {
        if m.mount.required {
            return Err(StepError::Mount(format!(
                "no SSH key {id:?} forwarded from the client: pass --ssh {id}[=SOCKET|KEY]"
            )));
        }
        return Ok(());
    };
    // Private to the builder: the socket is reached only through its mount.
    make_dir(scratch, 0o700, (0, 0))?;
    let socket = scratch.join("agent.sock");
    let forward = Forwarder::start(&socket, agent.clone())
        .map_err(|e| StepError::Mount(format!("ssh {id}: make the agent socket: {e}")))?;
    out.forwards.push(forward);
    let owner = (m.mount.uid.unwrap_or(0), m.mount.gid.unwrap_or(0));
    set_mode_owner(&socket, m.mount.mode_or_default(), owner)?;
    out.add(socket, &m.target, false);
    Ok(())
}

/// `path` inside `root`, symlinks followed as if `root` were `/`; `None` when absent.
pub fn resolve_in(root: &Path, path: &str) -> Option<PathBuf> {
    let mut pending: Vec<String> = components(path);
    pending.reverse();
    let mut walked: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(comp) = pending.pop() {
        if comp == ".." {
            walked.pop();
            continue;
        }
        let host = walked
            .iter()
            .fold(root.to_path_buf(), |p, c| p.join(c))
            .join(&comp);
        let meta = std::fs::symlink_metadata(&host).ok()?;
        if meta.file_type().is_symlink() {
            hops += 1;
            if hops > MAX_HOPS {
                return None;
            }
            let target = std::fs::read_link(&host).ok()?;
            let target = target.to_string_lossy();
            if target.starts_with('/') {
                walked.clear();
            }
            for c in components(&target).into_iter().rev() {
                pending.push(c);
            }
            continue;
        }
        if !meta.is_dir() && !pending.is_empty() {
            return None;
        }
        walked.push(comp);
    }
    Some(walked.iter().fold(root.to_path_buf(), |p, c| p.join(c)))
}

fn components(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect()
}

fn make_dir_all(dir: &Path) -> StepResult<()> {
    std::fs::create_dir_all(dir).map_err(StepError::io("create directory", dir))
}

fn make_dir(dir: &Path, mode: u32, owner: (u32, u32)) -> StepResult<()> {
    std::fs::create_dir(dir).map_err(StepError::io("create directory", dir))?;
    set_mode_owner(dir, mode, owner)
}

fn write_file(path: &Path, data: &[u8], mode: u32, owner: (u32, u32)) -> StepResult<()> {
    std::fs::write(path, data).map_err(StepError::io("write", path))?;
    set_mode_owner(path, mode, owner)
}

fn set_mode_owner(path: &Path, mode: u32, (uid, gid): (u32, u32)) -> StepResult<()> {
    if (uid, gid) != (0, 0) || rustix::process::geteuid().is_root() {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))
            .map_err(StepError::io("change the owner of", path))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))
        .map_err(StepError::io("set the mode of", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_resolve_inside_their_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/f"), "x").unwrap();
        std::os::unix::fs::symlink("/a/b", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("a/up")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert_eq!(resolve_in(root, "/"), Some(root.to_path_buf()));
        assert_eq!(resolve_in(root, "abs/f"), Some(root.join("a/b/f")));
        assert_eq!(resolve_in(root, "a/up/a/b"), Some(root.join("a/b")));
        assert_eq!(resolve_in(root, "../../a"), Some(root.join("a")));
        assert_eq!(resolve_in(root, "nope"), None);
        assert_eq!(resolve_in(root, "a/b/f/g"), None);
        assert_eq!(resolve_in(root, "loop"), None);
    }

    fn cache_mount(target: &str) -> Mount {
        Mount {
            kind: MountType::Cache,
            target: Some(target.to_string()),
            ..Mount::default()
        }
    }

    #[test]
    fn a_plain_cache_is_named_by_its_id_alone() {
        let plain = cache_mount("/test/");
        let hex = crate::store::digest::sha256(b"/test").digest().to_string();
        assert_eq!(cache_dir_name(&plain, None), hex);
        let named = Mount {
            id: Some("/test".into()),
            ..cache_mount("/elsewhere")
        };
        assert_eq!(cache_dir_name(&named, None), hex);
    }

    #[test]
    fn a_cache_seeded_from_a_source_has_storage_of_its_own() {
        let plain = cache_dir_name(&cache_mount("/test"), None);
        let seeded = Mount {
            source: Some("/d".into()),
            ..cache_mount("/test")
        };
        let a = cache_dir_name(&seeded, Some("stage sha256:aa"));
        let b = cache_dir_name(&seeded, Some("stage sha256:bb"));
        assert_ne!(a, plain);
        assert_ne!(a, b);
        let same = Mount {
            source: Some("d/../d/".into()),
            ..cache_mount("/test")
        };
        assert_eq!(cache_dir_name(&same, Some("stage sha256:aa")), a);
        let other = Mount {
            source: Some("/e".into()),
            ..cache_mount("/test")
        };
        assert_ne!(cache_dir_name(&other, Some("stage sha256:aa")), a);
        // With a source path, BuildKit mounts it as it is: the owner and mode do not count.
        let owned = Mount {
            uid: Some(1000),
            ..seeded
        };
        assert_eq!(cache_dir_name(&owned, Some("stage sha256:aa")), a);
    }

    #[test]
    fn a_cache_with_an_owner_or_mode_starts_from_its_own_directory() {
        let plain = cache_dir_name(&cache_mount("/test"), None);
        let owned = |uid, mode| Mount {
            uid,
            mode,
            ..cache_mount("/test")
        };
        let root = cache_dir_name(&owned(Some(0), None), None);
        assert_ne!(root, plain);
        assert_ne!(cache_dir_name(&owned(Some(1000), None), None), root);
        assert_ne!(cache_dir_name(&owned(None, Some(0o700)), None), root);
        assert_eq!(cache_dir_name(&owned(None, Some(0o755)), None), root);
    }
}
