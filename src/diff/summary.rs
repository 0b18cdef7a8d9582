//! A layer as stable text, one line per entry, for golden tests and debugging:
//!
//! ```text
//! A d /etc 0755 0:0
//! A f /etc/app 0644 0:0 sha256:<content>
//! A l /bin/sh -> busybox
//! A h /bin/ls => /bin/busybox
//! A c /dev/null 0666 0:0 1,3        (b: block device, p: fifo)
//! W /tmp/old                         (whiteout)
//! O /var/cache                       (opaque directory)
//! ```
//!
//! Extended attributes follow as ` xattr:NAME=VALUE` (bytes outside printable ASCII as
//! `\xNN`). Timestamps are left out on purpose.

use std::fmt::Write as _;
use std::io::{self, Read};

use super::error::{DiffError, Result};
use super::walk::{OPAQUE_MARKER, WHITEOUT_PREFIX};
use crate::store::digest::Sha256;

/// Render the layer tar read from `layer` (plain, gzip or zstd) as summary text.
pub fn summarize(layer: impl Read) -> Result<String> {
    let reader = crate::snapshot::decompress(layer).map_err(DiffError::ReadTar)?;
    let mut archive = tar::Archive::new(reader);
    let mut out = String::new();
    for entry in archive.entries().map_err(DiffError::ReadTar)? {
        let mut entry = entry.map_err(DiffError::ReadTar)?;
        line(&mut out, &mut entry).map_err(DiffError::ReadTar)?;
    }
    Ok(out)
}

fn line(out: &mut String, entry: &mut tar::Entry<'_, impl Read>) -> io::Result<()> {
    let raw = entry.path_bytes().into_owned();
    let path = clean(&raw);
    let (dir, base) = match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path.as_str()),
    };
    if base == OPAQUE_MARKER {
        let _ = writeln!(out, "O /{dir}");
        return Ok(());
    }
    if let Some(gone) = base.strip_prefix(WHITEOUT_PREFIX) {
        let sep = if dir.is_empty() { "" } else { "/" };
        let _ = writeln!(out, "W /{dir}{sep}{gone}");
        return Ok(());
    }
    let header = entry.header().clone();
    let link_target = entry
        .link_name_bytes()
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .unwrap_or_default();
    let meta = format!(
        "{:04o} {}:{}",
        header.mode()? & 0o7777,
        header.uid()?,
        header.gid()?
    );
    let dev = || -> io::Result<String> {
        Ok(format!(
            "{},{}",
            header.device_major()?.unwrap_or(0),
            header.device_minor()?.unwrap_or(0)
        ))
    };
    let xattrs = xattrs(entry)?;
    let _ = match header.entry_type() {
        tar::EntryType::Directory => write!(out, "A d /{path} {meta}"),
        tar::EntryType::Regular | tar::EntryType::Continuous => {
            let digest = content_digest(entry)?;
            write!(out, "A f /{path} {meta} {digest}")
        }
        tar::EntryType::Symlink => write!(out, "A l /{path} -> {link_target}"),
        tar::EntryType::Link => write!(out, "A h /{path} => /{}", clean(link_target.as_bytes())),
        tar::EntryType::Char => write!(out, "A c /{path} {meta} {}", dev()?),
        tar::EntryType::Block => write!(out, "A b /{path} {meta} {}", dev()?),
        tar::EntryType::Fifo => write!(out, "A p /{path} {meta}"),
        other => write!(out, "? /{path} type {:?}", other.as_byte() as char),
    };
    for x in xattrs {
        out.push_str(" xattr:");
        out.push_str(&x);
    }
    out.push('\n');
    Ok(())
}

/// Relative, no `./`, no leading or trailing slash.
fn clean(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let s = s.trim_start_matches("./").trim_start_matches('/');
    s.trim_end_matches('/').to_string()
}

fn content_digest(entry: &mut impl Read) -> io::Result<String> {
    let mut ctx = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = entry.read(&mut buf)?;
        if n == 0 {
            return Ok(ctx.finish().to_string());
        }
        ctx.update(buf.get(..n).unwrap_or(&[]));
    }
}

fn xattrs(entry: &mut tar::Entry<'_, impl Read>) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            let Ok(key) = ext.key() else { continue };
            if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                out.push(format!("{name}={}", escape(ext.value_bytes())));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        if b.is_ascii_graphic() && b != b'\\' {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s
}
