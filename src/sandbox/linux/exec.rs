//! The last steps of a sandbox's init, inside the new root: the working directory
//! (created when missing, owned by the user, as BuildKit does), Docker's default
//! capability bounding set, the user's ids, and `execve` with a `PATH` lookup in the
//! command's own environment (as runc does).

use std::ffi::CString;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::thread::CapabilitySet;

use super::protocol::Failure;
use crate::domain::DEFAULT_PATH;
use crate::sandbox::User;

/// Docker's default capabilities: everything else leaves the bounding set.
pub(super) fn docker_default() -> CapabilitySet {
    CapabilitySet::CHOWN
        | CapabilitySet::DAC_OVERRIDE
        | CapabilitySet::FSETID
        | CapabilitySet::FOWNER
        | CapabilitySet::MKNOD
        | CapabilitySet::NET_RAW
        | CapabilitySet::SETGID
        | CapabilitySet::SETUID
        | CapabilitySet::SETFCAP
        | CapabilitySet::SETPCAP
        | CapabilitySet::NET_BIND_SERVICE
        | CapabilitySet::SYS_CHROOT
        | CapabilitySet::KILL
        | CapabilitySet::AUDIT_WRITE
}

/// Make `cwd` (as root, parents too, each new one owned by the user) and enter it.
pub(super) fn enter_cwd(cwd: &str, user: &User) -> Result<(), Failure> {
    let path = Path::new("/").join(cwd);
    let not_dir = || Failure::CwdNotDirectory {
        cwd: cwd.to_string(),
    };
    let mut cur = PathBuf::from("/");
    for part in path.components().skip(1) {
        cur.push(part);
        match std::fs::metadata(&cur) {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => return Err(not_dir()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOTDIR) => return Err(not_dir()),
            Err(e) => return Err(Failure::setup(format!("stat {}", cur.display()), e)),
        }
        match std::fs::create_dir(&cur) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOTDIR) => return Err(not_dir()),
            Err(e) => {
                return Err(Failure::setup(
                    format!("create working directory {}", cur.display()),
                    e,
                ))
            }
        }
        let _ = std::fs::set_permissions(&cur, std::fs::Permissions::from_mode(0o755));
        match std::os::unix::fs::lchown(&cur, Some(user.uid), Some(user.gid)) {
            // An unmapped user: switching to it fails next, with the better message.
            Err(e) if e.raw_os_error() != Some(nix::libc::EINVAL) => {
                let action = format!("chown working directory {}", cur.display());
                return Err(Failure::setup(action, e));
            }
            _ => {}
        }
    }
    std::env::set_current_dir(&path)
        .map_err(|e| Failure::setup(format!("enter working directory {cwd}"), e))
}

/// Drop every capability outside `keep` (Docker's default set, [`docker_default`], or
/// less) from the bounding set, and clear the inheritable and ambient sets.
pub(super) fn bound_capabilities(keep: CapabilitySet) -> Result<(), Failure> {
    for bit in 0..64u32 {
        let cap = CapabilitySet::from_bits_retain(1u64 << bit);
        match rustix::thread::capability_is_in_bounding_set(cap) {
            Ok(true) if !keep.contains(cap) => {
                rustix::thread::remove_capability_from_bounding_set(cap)
                    .map_err(|e| Failure::setup(format!("drop capability {bit}"), e))?;
            }
            Ok(_) => {}
            // Past the kernel's last capability.
            Err(_) => break,
        }
    }
    let _ = rustix::thread::clear_ambient_capability_set();
    if let Ok(mut sets) = rustix::thread::capabilities(None) {
        sets.inheritable = CapabilitySet::empty();
        let _ = rustix::thread::set_capabilities(None, sets);
    }
    Ok(())
}

/// Set the resource limits of `ulimits` (before the capabilities go: raising a hard
/// limit needs `CAP_SYS_RESOURCE` where the host allows it at all).
pub(super) fn set_limits(ulimits: &[crate::sandbox::Ulimit]) -> Result<(), Failure> {
    for u in ulimits {
        let Some(resource) = u.resource() else {
            continue;
        };
        let v = |l: Option<u64>| l.unwrap_or(nix::libc::RLIM_INFINITY);
        let limit = nix::libc::rlimit {
            rlim_cur: v(u.soft),
            rlim_max: v(u.hard),
        };
        // SAFETY: setrlimit reads the struct it is given and nothing else.
        let rc = unsafe { nix::libc::setrlimit(resource as _, &limit) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            return Err(Failure::setup(format!("set ulimit {u}"), e));
        }
    }
    Ok(())
}

/// Take the user's supplementary groups, gid and uid (in that order).
pub(super) fn switch_user(user: &User) -> Result<(), Failure> {
    let groups: Vec<rustix::process::Gid> = user
        .additional_gids
        .iter()
        .map(|&g| rustix::process::Gid::from_raw(g))
        .collect();
    match rustix::thread::set_thread_groups(&groups) {
        Ok(()) => {}
        // `setgroups` is denied with a single id mapping: fine when there is nothing to set.
        Err(rustix::io::Errno::PERM) if groups.is_empty() => {}
        // Denied (single mapping) or unmapped: name the user, not its groups, unless the
        // user itself is root.
        Err(rustix::io::Errno::PERM | rustix::io::Errno::INVAL) => {
            return Err(if user.uid != 0 {
                Failure::NotMapped {
                    what: "uid".into(),
                    id: user.uid,
                }
            } else {
                Failure::NotMapped {
                    what: "gid".into(),
                    id: user.additional_gids.first().copied().unwrap_or(user.gid),
                }
            })
        }
        Err(e) => return Err(Failure::setup("set supplementary groups", e)),
    }
    let gid = rustix::process::Gid::from_raw(user.gid);
    rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(|e| match e {
        rustix::io::Errno::INVAL => Failure::NotMapped {
            what: "gid".into(),
            id: user.gid,
        },
        e => Failure::setup(format!("set gid {}", user.gid), e),
    })?;
    let uid = rustix::process::Uid::from_raw(user.uid);
    rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(|e| match e {
        rustix::io::Errno::INVAL => Failure::NotMapped {
            what: "uid".into(),
            id: user.uid,
        },
        e => Failure::setup(format!("set uid {}", user.uid), e),
    })?;
    Ok(())
}

/// Look `args[0]` up and exec it; returns only on failure.
pub(super) fn exec(args: &[String], env: &[String]) -> Failure {
    let Some(command) = args.first() else {
        return Failure::setup("exec", "no command");
    };
    let path_var = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let Some(program) = look_path(command, path_var) else {
        return Failure::NotFound {
            command: command.clone(),
        };
    };
    let cstrings = |v: &[String]| -> Option<Vec<CString>> {
        v.iter().map(|s| CString::new(s.as_bytes()).ok()).collect()
    };
    let (Some(argv), Some(envp), Ok(prog)) = (
        cstrings(args),
        cstrings(env),
        CString::new(program.as_os_str().as_encoded_bytes()),
    ) else {
        return Failure::NotExecutable {
            command: command.clone(),
            reason: "an argument or variable contains a NUL byte".into(),
        };
    };
    let err = match nix::unistd::execve(&prog, &argv, &envp) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    match err {
        nix::errno::Errno::ENOENT if !command.contains('/') => Failure::NotFound {
            command: command.clone(),
        },
        e => Failure::NotExecutable {
            command: command.clone(),
            reason: e.desc().to_lowercase(),
        },
    }
}

/// Go's `exec.LookPath`: a name with a slash is used as is; otherwise the first
/// executable regular file of that name in `PATH` (an empty entry is the current
/// directory).
fn look_path(command: &str, path_var: &str) -> Option<PathBuf> {
    if command.contains('/') {
        return Some(PathBuf::from(command));
    }
    path_var.split(':').find_map(|dir| {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(command);
        let meta = std::fs::metadata(&candidate).ok()?;
        (meta.is_file() && meta.mode() & 0o111 != 0).then_some(candidate)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_path_searches_path_and_keeps_slashes() {
        assert_eq!(look_path("./x", ""), Some(PathBuf::from("./x")));
        let sh = look_path("sh", "/nonexistent:/bin:/usr/bin").unwrap();
        assert!(sh.ends_with("sh"));
        assert_eq!(look_path("no-such-command-xyz", "/bin:/usr/bin"), None);
    }

    #[test]
    fn docker_default_has_fourteen_capabilities() {
        assert_eq!(docker_default().bits().count_ones(), 14);
    }
}
