//! Reading `/etc/passwd` and `/etc/group` style files (`name:x:uid:gid...`,
//! `name:x:gid:members`): the one line-and-field rule `USER` resolution, `--chown`
//! resolution and the build's own user-namespace setup share. Pure: callers read the file
//! and pass its text; a missing file is theirs to handle.
//!
//! The rule, as runc's `ParsePasswdFilter`/`ParseGroupFilter` read them: every line is
//! trimmed and empty lines are skipped; fields are split on `:`; a numeric field that is
//! missing or not a decimal number is `None` (callers that follow runc read it as 0). Lines
//! starting with `#` are returned too, marked [`PasswdEntry::comment`]: runc's lookup does not
//! skip them, `--chown` does. `/etc/subuid` (`name:start:count`) is another format and is
//! not read here.

/// One passwd line's fields that the build needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry<'a> {
    /// The login name (first field).
    pub name: &'a str,
    /// The uid (third field), `None` when missing or not a number.
    pub uid: Option<u32>,
    /// The primary gid (fourth field), `None` when missing or not a number.
    pub gid: Option<u32>,
    /// Whether the line starts with `#`.
    pub comment: bool,
}

/// One group line's fields that the build needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry<'a> {
    /// The group name (first field).
    pub name: &'a str,
    /// The gid (third field), `None` when missing or not a number.
    pub gid: Option<u32>,
    /// The members (fourth field split on `,`; empty when the field is missing).
    pub members: Vec<&'a str>,
    /// Whether the line starts with `#`.
    pub comment: bool,
}

/// The entries of a passwd file's text, in file order.
///
/// ```
/// use builder::domain::passwd_entries;
/// let e: Vec<_> = passwd_entries("root:x:0:0::/root:/bin/sh\n\napp:x:1000:bad\n").collect();
/// assert_eq!((e[0].name, e[0].uid, e[0].gid), ("root", Some(0), Some(0)));
/// assert_eq!((e[1].name, e[1].uid, e[1].gid), ("app", Some(1000), None));
/// ```
pub fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    lines(text).map(|(line, comment)| {
        // name:password:UID:GID:GECOS:directory:shell
        let mut f = line.split(':');
        let name = f.next().unwrap_or("");
        let _password = f.next();
        let uid = number(f.next());
        let gid = number(f.next());
        PasswdEntry {
            name,
            uid,
            gid,
            comment,
        }
    })
}

/// The entries of a group file's text, in file order.
///
/// ```
/// use builder::domain::group_entries;
/// let e: Vec<_> = group_entries("staff:x:50:app,bob\n").collect();
/// assert_eq!((e[0].name, e[0].gid, e[0].members.clone()), ("staff", Some(50), vec!["app", "bob"]));
/// ```
pub fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    lines(text).map(|(line, comment)| {
        // group_name:password:GID:user_list
        let mut f = line.split(':');
        let name = f.next().unwrap_or("");
        let _password = f.next();
        let gid = number(f.next());
        let members = f.next().map(|l| l.split(',').collect()).unwrap_or_default();
        GroupEntry {
            name,
            gid,
            members,
            comment,
        }
    })
}

/// Trimmed non-empty lines, each with whether it is a comment.
fn lines(text: &str) -> impl Iterator<Item = (&str, bool)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| (l, l.starts_with('#')))
}

/// A numeric field: decimal, surrounding blanks ignored.
fn number(field: Option<&str>) -> Option<u32> {
    field.and_then(|f| f.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_comments_and_bad_numbers() {
        let text = "  root:x:0:0:root:/root:/bin/sh  \n# a comment\n\nshort\nodd:x:-1: 7\n";
        let e: Vec<_> = passwd_entries(text).collect();
        assert_eq!(e.len(), 4);
        assert_eq!(
            (e[0].name, e[0].uid, e[0].comment),
            ("root", Some(0), false)
        );
        assert_eq!(
            (e[1].name, e[1].uid, e[1].comment),
            ("# a comment", None, true)
        );
        assert_eq!((e[2].name, e[2].uid, e[2].gid), ("short", None, None));
        assert_eq!((e[3].uid, e[3].gid), (None, Some(7)));
    }

    #[test]
    fn group_members() {
        let e: Vec<_> = group_entries("root:x:0:\nwheel:x:10:root,app\nbare:x:5\n").collect();
        assert_eq!(e[0].members, [""]);
        assert_eq!(e[1].members, ["root", "app"]);
        assert!(e[2].members.is_empty());
        assert_eq!(e[2].gid, Some(5));
    }
}
