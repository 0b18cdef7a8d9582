//! `USER` resolution: a user spec (`name`, `uid`, `name:group`, `uid:gid`) -> the uid, gid
//! and supplementary gids a RUN runs with, looked up in the image's `/etc/passwd` and
//! `/etc/group` exactly as BuildKit does (its `oci.GetUser`, which calls runc's
//! `user.GetExecUser`).
//!
//! Pure: lines and fields are read by [`crate::domain::passwd_entries`] and
//! [`crate::domain::group_entries`] (comment lines included, unparsable numbers are 0, as
//! runc reads them); the caller reads the two files from the root file system (or passes `None` when one
//! is missing) and gets a [`User`] or an error naming the user or group.
//!
//! The rules, in BuildKit's order:
//! - `""` is root (0:0, no supplementary groups); `UID:GID` with both numeric (or `root`)
//!   takes a fast path with no lookup and no supplementary groups.
//! - Otherwise the user part is looked up in passwd: a number matches by uid (and may be
//!   absent from the file), a name matches by name (and must be present). The first match
//!   wins and gives uid, primary gid (and the name).
//! - With an explicit group, the group part is looked up by gid or name in group (a number
//!   may be absent); it replaces the primary gid and no supplementary groups are set.
//! - Without one, a matched user's supplementary groups are every group that lists the name.

use super::error::{Result, SandboxError};
use super::User;
use crate::domain::{group_entries, passwd_entries, GroupEntry};

/// Highest id runc accepts for a user or group.
const MAX_ID: u64 = i32::MAX as u64;

/// Resolve `spec` against the image's passwd and group files (`None`: the file is
/// missing).
///
/// ```
/// use builder::sandbox::user::resolve;
/// let passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
/// let group = "root:x:0:\napp:x:1000:\nstaff:x:50:app\n";
/// let user = resolve("app", Some(passwd), Some(group)).unwrap();
/// assert_eq!((user.uid, user.gid, user.additional_gids), (1000, 1000, vec![50]));
/// assert!(resolve("nobody", Some(passwd), Some(group)).is_err());
/// ```
pub fn resolve(spec: &str, passwd: Option<&str>, group: Option<&str>) -> Result<User> {
    if let Some(user) = fast_path(spec) {
        return Ok(user);
    }
    // `user[:group[:ignored...]]`, as runc splits it.
    let mut parts = spec.split(':');
    let user_arg = parts.next().unwrap_or("");
    let group_arg = parts.next().unwrap_or("");
    let uid_num = parse_int(user_arg);
    let gid_num = parse_int(group_arg);

    let mut uid = 0u32;
    let mut gid = 0u32;
    let mut matched_name: Option<&str> = None;
    let users = passwd.map(|text| {
        passwd_entries(text)
            .filter(|u| match (user_arg.is_empty(), uid_num) {
                (true, _) => u.uid.unwrap_or(0) == 0,
                (false, Some(n)) => u64::from(u.uid.unwrap_or(0)) == n,
                (false, None) => u.name == user_arg,
            })
            .collect::<Vec<_>>()
    });
    match users.as_deref().and_then(|u| u.first()) {
        Some(found) => {
            matched_name = Some(found.name);
            uid = found.uid.unwrap_or(0);
            gid = found.gid.unwrap_or(0);
        }
        None if !user_arg.is_empty() => {
            let Some(n) = uid_num else {
                return Err(SandboxError::UnknownUser {
                    user: user_arg.to_string(),
                });
            };
            uid = checked_id(n)?;
        }
        None => {}
    }

    let mut additional_gids = Vec::new();
    if !group_arg.is_empty() || matched_name.is_some() {
        let groups: Vec<GroupEntry<'_>> = group
            .map(|text| {
                group_entries(text)
                    .filter(|g| {
                        if group_arg.is_empty() {
                            matched_name.is_some_and(|name| g.members.contains(&name))
                        } else if let Some(n) = gid_num {
                            u64::from(g.gid.unwrap_or(0)) == n
                        } else {
                            g.name == group_arg
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !group_arg.is_empty() {
            match groups.first() {
                Some(found) => gid = found.gid.unwrap_or(0),
                None => {
                    let Some(n) = gid_num else {
                        return Err(SandboxError::UnknownGroup {
                            group: group_arg.to_string(),
                        });
                    };
                    gid = checked_id(n)?;
                }
            }
        } else {
            additional_gids = groups.iter().map(|g| g.gid.unwrap_or(0)).collect();
        }
    }
    Ok(User {
        uid,
        gid,
        additional_gids,
    })
}

/// BuildKit's `ParseUIDGID`: both parts given and numeric (or `root`); `""` is root.
fn fast_path(spec: &str) -> Option<User> {
    if spec.is_empty() {
        return Some(User::root());
    }
    let (u, g) = spec.split_once(':')?;
    let id = |s: &str| -> Option<u32> {
        if s == "root" {
            Some(0)
        } else {
            s.parse::<u32>().ok()
        }
    };
    Some(User {
        uid: id(u)?,
        gid: id(g)?,
        additional_gids: Vec::new(),
    })
}

/// Go's `strconv.Atoi` on a user or group argument: a decimal number, possibly signed.
fn parse_int(s: &str) -> Option<u64> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        // Negative numbers are numbers too, and always out of range.
        if let Some(neg) = s.strip_prefix('-') {
            if !neg.is_empty() && neg.bytes().all(|b| b.is_ascii_digit()) {
                return Some(u64::MAX);
            }
        }
        return None;
    }
    Some(digits.parse::<u64>().unwrap_or(u64::MAX))
}

fn checked_id(n: u64) -> Result<u32> {
    if n > MAX_ID {
        return Err(SandboxError::IdOutOfRange);
    }
    Ok(n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n\
        user:x:1000:1000:user:/home/user:/bin/sh\n\
        \n\
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
    const GROUP: &str = "root:x:0:\nstaff:x:50:user,daemon\nuser:x:1000:\n\
        audio:x:29:user\nnogroup:x:65534:\n";

    fn ids(spec: &str) -> (u32, u32, Vec<u32>) {
        let u = resolve(spec, Some(PASSWD), Some(GROUP)).unwrap();
        (u.uid, u.gid, u.additional_gids)
    }

    #[test]
    fn empty_is_root_without_lookup() {
        assert_eq!(ids(""), (0, 0, vec![]));
        assert_eq!(resolve("", None, None).unwrap(), User::root());
    }

    #[test]
    fn numeric_pair_takes_the_fast_path() {
        assert_eq!(ids("1000:1000"), (1000, 1000, vec![]));
        assert_eq!(ids("root:root"), (0, 0, vec![]));
        assert_eq!(ids("5:7"), (5, 7, vec![]));
    }

    #[test]
    fn name_gives_primary_and_supplementary_groups() {
        assert_eq!(ids("user"), (1000, 1000, vec![50, 29]));
        assert_eq!(ids("daemon"), (1, 1, vec![50]));
        assert_eq!(ids("root"), (0, 0, vec![]));
    }

    #[test]
    fn uid_matches_by_number_and_may_be_absent() {
        assert_eq!(ids("1000"), (1000, 1000, vec![50, 29]));
        assert_eq!(ids("4242"), (4242, 0, vec![]));
    }

    #[test]
    fn explicit_group_replaces_gid_and_drops_supplementary() {
        assert_eq!(ids("user:staff"), (1000, 50, vec![]));
        assert_eq!(ids("user:4242"), (1000, 4242, vec![]));
        assert_eq!(ids("4242:staff"), (4242, 50, vec![]));
    }

    #[test]
    fn unknown_names_are_errors() {
        let e = resolve("nosuch", Some(PASSWD), Some(GROUP)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find user nosuch: no matching entries in passwd file"
        );
        let e = resolve("user:nosuch", Some(PASSWD), Some(GROUP)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find group nosuch: no matching entries in group file"
        );
        // No passwd file: names cannot be found, numbers can.
        assert!(resolve("user", None, None).is_err());
        assert_eq!(resolve("1000", None, None).unwrap().uid, 1000);
    }

    #[test]
    fn ids_out_of_range_are_errors() {
        assert!(resolve("4294967296", Some(PASSWD), Some(GROUP)).is_err());
        assert!(resolve("-1", Some(PASSWD), Some(GROUP)).is_err());
        assert!(resolve("user:3000000000", Some(PASSWD), Some(GROUP)).is_err());
    }
}
