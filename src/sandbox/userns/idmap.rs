//! Id maps of the build namespace: which ids the caller gets (root: all of them, one to
//! one; a user: itself as 0, plus its subordinate range from `/etc/subuid` and
//! `/etc/subgid` as 1..=N when `newuidmap`/`newgidmap` can install it; otherwise itself
//! only), and writing them for the re-executed child.
//!
//! [`plan`] is pure; [`install`] writes `/proc/PID/{uid_map,setgroups,gid_map}` or runs
//! the setuid helpers.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Mapping;

/// A subordinate id range (`/etc/subuid` line `name:start:count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SubIds {
    pub start: u32,
    pub count: u32,
}

/// How the child's ids will be mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Plan {
    /// Real root: every id maps to itself.
    Identity,
    /// 0 -> the caller, 1..=count -> the subordinate ranges, through the setuid helpers.
    Range {
        uid: u32,
        gid: u32,
        uids: SubIds,
        gids: SubIds,
        newuidmap: PathBuf,
        newgidmap: PathBuf,
    },
    /// 0 -> the caller only; `why` says what was missing for a range.
    Single { uid: u32, gid: u32, why: String },
}

/// The largest id count a map line can have when 0 maps to 0.
const IDENTITY_COUNT: u32 = u32::MAX;

/// Decide the mapping for a caller with real ids `uid`/`gid` (effective uid `euid`).
/// `passwd`, `subuid`, `subgid` are the host files' contents (`None` when unreadable);
/// `tools` are the paths of `newuidmap` and `newgidmap` when found.
pub(super) fn plan(
    euid: u32,
    (uid, gid): (u32, u32),
    passwd: Option<&str>,
    (subuid, subgid): (Option<&str>, Option<&str>),
    tools: Option<(PathBuf, PathBuf)>,
) -> Plan {
    if euid == 0 {
        return Plan::Identity;
    }
    let name = passwd.and_then(|p| user_name(p, uid));
    let uids = subuid.and_then(|t| find_range(t, name.as_deref(), uid));
    let gids = subgid.and_then(|t| find_range(t, name.as_deref(), uid));
    let who = name.unwrap_or_else(|| uid.to_string());
    match (uids, gids, tools) {
        (Some(uids), Some(gids), Some((newuidmap, newgidmap))) => Plan::Range {
            uid,
            gid,
            uids,
            gids,
            newuidmap,
            newgidmap,
        },
        (Some(_), Some(_), None) => Plan::Single {
            uid,
            gid,
            why: "newuidmap and newgidmap were not found (Debian package uidmap)".into(),
        },
        _ => Plan::Single {
            uid,
            gid,
            why: format!("/etc/subuid and /etc/subgid give {who} no range"),
        },
    }
}

/// The login name of `uid` in a passwd file.
pub(super) fn user_name(passwd: &str, uid: u32) -> Option<String> {
    crate::domain::passwd_entries(passwd)
        .find(|u| u.uid == Some(uid) && !u.name.is_empty())
        .map(|u| u.name.to_string())
}

/// The first range of `name` (or of the numeric `uid`) in a subuid/subgid file.
pub(super) fn find_range(text: &str, name: Option<&str>, uid: u32) -> Option<SubIds> {
    let uid = uid.to_string();
    text.lines().find_map(|line| {
        let line = line.trim();
        if line.starts_with('#') {
            return None;
        }
        let mut f = line.split(':');
        let who = f.next()?;
        if Some(who) != name && who != uid {
            return None;
        }
        let start: u32 = f.next()?.trim().parse().ok()?;
        let count: u32 = f.next()?.trim().parse().ok()?;
        // Ids 1..=count must fit: start + count - 1 <= u32::MAX - 1.
        (count > 0 && start.checked_add(count).is_some()).then_some(SubIds { start, count })
    })
}

/// `newuidmap`/`newgidmap`, searched in `PATH` and the usual places.
pub(super) fn find_tools(path_var: Option<&str>) -> Option<(PathBuf, PathBuf)> {
    let dirs: Vec<PathBuf> = path_var
        .unwrap_or("")
        .split(':')
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .chain(["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .collect();
    let find = |tool: &str| dirs.iter().map(|d| d.join(tool)).find(|p| p.is_file());
    Some((find("newuidmap")?, find("newgidmap")?))
}

/// Install `plan` for the child `pid` (which has unshared its user namespace and waits).
/// Returns the mapping in force, and a warning to print when it is a single id.
pub(super) fn install(pid: u32, plan: &Plan) -> Result<(Mapping, Option<String>), String> {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    match plan {
        Plan::Identity => {
            let line = format!("0 0 {IDENTITY_COUNT}\n");
            write(&proc_dir.join("uid_map"), &line)?;
            write(&proc_dir.join("gid_map"), &line)?;
            Ok((Mapping::Range(IDENTITY_COUNT - 1), None))
        }
        Plan::Range {
            uid,
            gid,
            uids,
            gids,
            newuidmap,
            newgidmap,
        } => {
            if let Err(e) = run_helper(newuidmap, pid, *uid, *uids) {
                // Nothing is written yet: a single mapping still works.
                let why = e;
                return install(
                    pid,
                    &Plan::Single {
                        uid: *uid,
                        gid: *gid,
                        why,
                    },
                );
            }
            if let Err(e) = run_helper(newgidmap, pid, *gid, *gids) {
                write(&proc_dir.join("setgroups"), "deny")?;
                write(&proc_dir.join("gid_map"), &format!("0 {gid} 1\n"))?;
                return Ok((Mapping::Single, Some(single_warning(&e))));
            }
            Ok((Mapping::Range(uids.count.min(gids.count)), None))
        }
        Plan::Single { uid, gid, why } => {
            write(&proc_dir.join("uid_map"), &format!("0 {uid} 1\n"))?;
            write(&proc_dir.join("setgroups"), "deny")?;
            write(&proc_dir.join("gid_map"), &format!("0 {gid} 1\n"))?;
            Ok((Mapping::Single, Some(single_warning(why))))
        }
    }
}

fn single_warning(why: &str) -> String {
    format!(
        "warning: {why}: only your own user is mapped (as root) in the build, so files owned \
         by other users cannot be created (chown, USER, adduser fail)"
    )
}

fn run_helper(tool: &Path, pid: u32, id: u32, range: SubIds) -> Result<(), String> {
    let out = Command::new(tool)
        .args([
            pid.to_string(),
            "0".into(),
            id.to_string(),
            "1".into(),
            "1".into(),
            range.start.to_string(),
            range.count.to_string(),
        ])
        .output()
        .map_err(|e| format!("run {}: {e}", tool.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed: {}",
            tool.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";

    fn tools() -> Option<(PathBuf, PathBuf)> {
        Some(("/usr/bin/newuidmap".into(), "/usr/bin/newgidmap".into()))
    }

    #[test]
    fn root_maps_everything_to_itself() {
        assert_eq!(plan(0, (0, 0), None, (None, None), None), Plan::Identity);
    }

    #[test]
    fn a_user_with_ranges_and_tools_gets_a_range() {
        let sub = "bob:100000:65536\nalice:200000:65536\n";
        let p = plan(
            1000,
            (1000, 1000),
            Some(PASSWD),
            (Some(sub), Some(sub)),
            tools(),
        );
        let Plan::Range { uids, gids, .. } = p else {
            panic!("{p:?}")
        };
        assert_eq!(
            uids,
            SubIds {
                start: 200000,
                count: 65536
            }
        );
        assert_eq!(gids, uids);
    }

    #[test]
    fn ranges_match_by_uid_too() {
        assert_eq!(
            find_range("1000:300000:10\n", Some("alice"), 1000),
            Some(SubIds {
                start: 300000,
                count: 10
            })
        );
        assert_eq!(find_range("# alice:1:2\n", Some("alice"), 1000), None);
        assert_eq!(
            find_range("alice:4294967290:10\n", Some("alice"), 1000),
            None
        );
    }

    #[test]
    fn missing_range_or_tools_falls_back_to_single() {
        let p = plan(
            1000,
            (1000, 1000),
            Some(PASSWD),
            (Some(""), Some("")),
            tools(),
        );
        let Plan::Single { why, .. } = p else {
            panic!("{p:?}")
        };
        assert!(why.contains("give alice no range"), "{why}");
        let sub = "alice:200000:65536\n";
        let p = plan(
            1000,
            (1000, 1000),
            Some(PASSWD),
            (Some(sub), Some(sub)),
            None,
        );
        let Plan::Single { why, .. } = p else {
            panic!("{p:?}")
        };
        assert!(why.contains("uidmap"), "{why}");
    }

    #[test]
    fn user_names_come_from_passwd() {
        assert_eq!(user_name(PASSWD, 1000).as_deref(), Some("alice"));
        assert_eq!(user_name(PASSWD, 7), None);
    }
}
