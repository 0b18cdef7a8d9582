//! `--chown=USER[:GROUP]` resolution, as BuildKit does it: each part is a number, `root`
//! (always 0, no lookup) or a name looked up in the destination image's `/etc/passwd` and
//! `/etc/group`. A user alone also sets the group: a numeric user gives the same number, a
//! named user gives its primary group. An unknown name is an error. The files are read by
//! [`crate::domain::passwd_entries`] and [`crate::domain::group_entries`]; comment lines
//! never match here.

use super::error::CopyError;
use crate::domain::{group_entries, passwd_entries};

/// One part of a chown spec.
enum Id<'a> {
    Num(u32),
    Name(&'a str),
}

fn parse_id(part: &str) -> Id<'_> {
    if part == "root" {
        return Id::Num(0);
    }
    match part.parse::<u32>() {
        Ok(n) if !part.starts_with('+') => Id::Num(n),
        _ => Id::Name(part),
    }
}

/// Resolves a `--chown` value to `(uid, gid)`. `passwd` and `group` are the texts of the
/// image's `/etc/passwd` and `/etc/group`, or `None` when the image has no such file.
///
/// ```
/// use builder::solve::copy::resolve_chown;
/// let passwd = "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
/// let group = "root:x:0:\nstaff:x:50:\n";
/// assert_eq!(resolve_chown("app", Some(passwd), Some(group)).unwrap(), (1000, 1001));
/// assert_eq!(resolve_chown("app:staff", Some(passwd), Some(group)).unwrap(), (1000, 50));
/// assert_eq!(resolve_chown("55", None, None).unwrap(), (55, 55));
/// assert!(resolve_chown("nobody", Some(passwd), Some(group)).is_err());
/// ```
pub fn resolve_chown(
    spec: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<(u32, u32), CopyError> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, mut gid) = match parse_id(user_part) {
        Id::Num(n) => (n, n),
        Id::Name(name) => {
            let found = passwd
                .and_then(|text| passwd_entries(text).find(|u| !u.comment && u.name == name))
                .ok_or_else(|| CopyError::UnknownUser {
                    name: name.to_string(),
                })?;
            (found.uid.unwrap_or(0), found.gid.unwrap_or(0))
        }
    };
    if let Some(part) = group_part {
        gid = match parse_id(part) {
            Id::Num(n) => n,
            Id::Name(name) => {
                let found = group
                    .and_then(|text| group_entries(text).find(|g| !g.comment && g.name == name))
                    .ok_or_else(|| CopyError::UnknownGroup {
                        name: name.to_string(),
                    })?;
                found.gid.unwrap_or(0)
            }
        };
    }
    Ok((uid, gid))
}

/// Whether a chown spec needs the image's user databases (it names a user or group).
pub fn chown_needs_lookup(spec: &str) -> bool {
    spec.split(':')
        .any(|part| matches!(parse_id(part), Id::Name(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1001:App:/home/app:/bin/sh
";
    const GROUP: &str = "root:x:0:\nwheel:x:10:root\nmygroup:x:2000:app\n";

    fn r(spec: &str) -> Result<(u32, u32), CopyError> {
        resolve_chown(spec, Some(PASSWD), Some(GROUP))
    }

    #[test]
    fn numeric_and_named_forms() {
        assert_eq!(r("55").unwrap(), (55, 55));
        assert_eq!(r("10:11").unwrap(), (10, 11));
        assert_eq!(r("1").unwrap(), (1, 1));
        assert_eq!(r("app").unwrap(), (1000, 1001));
        assert_eq!(r("app:mygroup").unwrap(), (1000, 2000));
        assert_eq!(r("55:mygroup").unwrap(), (55, 2000));
        assert_eq!(r("app:7").unwrap(), (1000, 7));
        assert_eq!(r("daemon:root").unwrap(), (1, 0));
        assert_eq!(r("root").unwrap(), (0, 0));
        // `root` never needs the databases.
        assert_eq!(resolve_chown("root:root", None, None).unwrap(), (0, 0));
        assert_eq!(
            resolve_chown("4294967295", None, None).unwrap(),
            (u32::MAX, u32::MAX)
        );
    }

    #[test]
    fn unknown_names_are_errors() {
        assert_eq!(
            r("nobody").unwrap_err().to_string(),
            "unable to find user nobody: no matching entries in passwd file"
        );
        assert_eq!(
            r("app:nogroup").unwrap_err().to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
        // No /etc/passwd in the image (e.g. --link, or FROM scratch).
        assert!(resolve_chown("app", None, None).is_err());
        // A number too big for a uid is a name, and not found.
        assert!(r("4294967296").is_err());
    }

    #[test]
    fn lookup_need() {
        assert!(chown_needs_lookup("app"));
        assert!(chown_needs_lookup("1:staff"));
        assert!(!chown_needs_lookup("1:2"));
        assert!(!chown_needs_lookup("root"));
    }
}
