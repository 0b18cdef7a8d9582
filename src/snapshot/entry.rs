//! Reading one untrusted tar entry: its name split into safe components, its metadata with
//! PAX overrides, its xattrs. Nothing here touches the file system.

use std::io::Read;

/// Longest entry name accepted (the kernel's `PATH_MAX`).
const MAX_NAME: usize = 4096;

/// The components of a layer path: leading `/` and `.` components dropped (contained in
/// the root); `..`, NUL bytes and absurd lengths rejected with the reason.
pub(crate) fn components(raw: &[u8]) -> Result<Vec<&[u8]>, &'static str> {
    if raw.len() > MAX_NAME {
        return Err("name is longer than 4096 bytes");
    }
    if raw.contains(&0) {
        return Err("name contains a NUL byte");
    }
    let mut out = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err("name has a \"..\" component, which would leave the root"),
            _ => out.push(part),
        }
    }
    Ok(out)
}

/// `a/b/c` from components.
pub(crate) fn join(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(&b'/')
}

/// Metadata of an entry, PAX records applied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    /// `0o7777` bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds (PAX only).
    pub nanos: u32,
}

/// Mode, owner and time of `entry`; `Err` names the field that does not fit.
pub(crate) fn meta(
    entry: &mut tar::Entry<'_, impl Read>,
) -> std::io::Result<Result<Meta, &'static str>> {
    let h = entry.header();
    // Empty numeric fields read as 0, as Go's archive/tar does. uid and gid already carry
    // the PAX values (the tar crate applies them).
    let mode = h.mode().unwrap_or(0) & 0o7777;
    let (uid, gid) = (h.uid().unwrap_or(0), h.gid().unwrap_or(0));
    let mut mtime = i64::try_from(h.mtime().unwrap_or(0)).unwrap_or(i64::MAX);
    let mut nanos = 0;
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts.flatten() {
            if ext.key() == Ok("mtime") {
                if let Some((s, n)) = std::str::from_utf8(ext.value_bytes())
                    .ok()
                    .and_then(parse_pax_time)
                {
                    (mtime, nanos) = (s, n);
                }
            }
        }
    }
    let id = |v: u64| u32::try_from(v).ok().filter(|&v| v != u32::MAX);
    let (Some(uid), Some(gid)) = (id(uid), id(gid)) else {
        return Ok(Err("owner id does not fit 32 bits"));
    };
    Ok(Ok(Meta {
        mode,
        uid,
        gid,
        mtime,
        nanos,
    }))
}

/// `SCHILY.xattr.*` records of `entry`, as (name, value).
pub(crate) fn xattrs(
    entry: &mut tar::Entry<'_, impl Read>,
) -> std::io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            if let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") {
                if !name.is_empty() {
                    out.push((name.to_vec(), ext.value_bytes().to_vec()));
                }
            }
        }
    }
    Ok(out)
}

/// Overlay bookkeeping xattrs: never taken from a layer (they would change what overlayfs
/// shows: opaque, redirect, metacopy, origin).
pub(crate) fn is_overlay_xattr(name: &[u8]) -> bool {
    name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.")
}

/// `"SECS[.FRACTION]"` (possibly negative) -> seconds and nanoseconds.
fn parse_pax_time(s: &str) -> Option<(i64, u32)> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let nanos = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_contain_or_reject() {
        assert_eq!(
            components(b"/etc//passwd").unwrap(),
            vec![&b"etc"[..], b"passwd"]
        );
        assert_eq!(components(b"./a/./b/").unwrap(), vec![&b"a"[..], b"b"]);
        assert!(components(b"").unwrap().is_empty());
        assert!(components(b"a/../b").is_err());
        assert!(components(b"../x").is_err());
        assert!(components(b"a\0b").is_err());
        assert!(components(&vec![b'a'; 5000]).is_err());
    }

    #[test]
    fn pax_times() {
        assert_eq!(parse_pax_time("12"), Some((12, 0)));
        assert_eq!(parse_pax_time("12.5"), Some((12, 500_000_000)));
        assert_eq!(parse_pax_time("x"), None);
    }
}
