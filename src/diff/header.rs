//! Tar headers for layer entries: USTAR when the fields fit, PAX records when they do not
//! (long or non-ASCII names and link targets, big sizes, ids or times) and for xattrs as
//! `SCHILY.xattr.<name>`. Output depends only on the entry, never on the host (no user
//! names, no access or change times), so layers are reproducible.

use std::io::{self, Write};

/// Extended attributes as (name, value) pairs, sorted by name.
pub(crate) type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

/// Tar block size.
pub(crate) const BLOCK: usize = 512;

/// What an entry is, with the fields only that kind has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file of `size` bytes.
    File {
        /// Content length.
        size: u64,
    },
    /// A directory.
    Dir,
    /// A symbolic link to `target`.
    Symlink(Vec<u8>),
    /// A hard link to an earlier entry named `target` (relative, no trailing slash).
    Link(Vec<u8>),
    /// A character device.
    Char(u32, u32),
    /// A block device.
    Block(u32, u32),
    /// A named pipe.
    Fifo,
}

/// One layer entry's metadata, ready to be encoded.
#[derive(Debug, Clone)]
pub(crate) struct EntryHeader<'a> {
    /// The name inside the tar: relative, `/`-separated, directories ending in `/`.
    pub name: &'a [u8],
    /// The kind and its fields.
    pub kind: &'a Kind,
    /// Permission bits plus setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Modification time, whole seconds since the epoch.
    pub mtime: i64,
    /// Extended attributes, sorted by name.
    pub xattrs: &'a [(Vec<u8>, Vec<u8>)],
}

/// Encode the header block(s) of `e` (a PAX extended header first when needed) into `out`.
pub(crate) fn write_header(out: &mut impl Write, e: &EntryHeader<'_>) -> io::Result<()> {
    let mut pax: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut block = [0u8; BLOCK];

    // Name: plain, split into prefix + name, or PAX.
    match split_ustar(e.name) {
        Some((prefix, name)) => {
            put(&mut block[0..100], name);
            put(&mut block[345..500], prefix);
        }
        None => {
            pax.push((b"path".to_vec(), e.name.to_vec()));
            put(&mut block[0..100], &ascii_stub(e.name, 100));
        }
    }

    let (flag, size) = match e.kind {
        Kind::File { size } => (b'0', *size),
        Kind::Dir => (b'5', 0),
        Kind::Symlink(_) => (b'2', 0),
        Kind::Link(_) => (b'1', 0),
        Kind::Char(..) => (b'3', 0),
        Kind::Block(..) => (b'4', 0),
        Kind::Fifo => (b'6', 0),
    };
    block[156] = flag;
    if let Kind::Symlink(target) | Kind::Link(target) = e.kind {
        if target.len() <= 100 && target.is_ascii() && !target.contains(&0) {
            put(&mut block[157..257], target);
        } else {
            pax.push((b"linkpath".to_vec(), target.clone()));
            put(&mut block[157..257], &ascii_stub(target, 100));
        }
    }

    octal(&mut block[100..108], u64::from(e.mode & 0o7777));
    numeric(&mut block[108..116], e.uid, "uid", &mut pax);
    numeric(&mut block[116..124], e.gid, "gid", &mut pax);
    numeric(&mut block[124..136], size, "size", &mut pax);
    match u64::try_from(e.mtime) {
        Ok(t) => numeric(&mut block[136..148], t, "mtime", &mut pax),
        Err(_) => {
            pax.push((b"mtime".to_vec(), e.mtime.to_string().into_bytes()));
            octal(&mut block[136..148], 0);
        }
    }
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    if let Kind::Char(major, minor) | Kind::Block(major, minor) = e.kind {
        // Linux majors (12 bits) and minors (20 bits) always fit 7 octal digits.
        octal(&mut block[329..337], u64::from(*major));
        octal(&mut block[337..345], u64::from(*minor));
    }

    for (name, value) in e.xattrs {
        let mut key = b"SCHILY.xattr.".to_vec();
        key.extend_from_slice(name);
        pax.push((key, value.clone()));
    }

    if !pax.is_empty() {
        pax.sort();
        write_pax(out, e.name, e.mtime, &pax)?;
    }
    checksum(&mut block);
    out.write_all(&block)
}

/// Zero bytes that pad `size` bytes of content up to a whole block.
pub(crate) fn padding(size: u64) -> usize {
    let rem = (size % BLOCK as u64) as usize;
    if rem == 0 {
        0
    } else {
        BLOCK - rem
    }
}

/// The end-of-archive marker: two zero blocks.
pub(crate) fn write_end(out: &mut impl Write) -> io::Result<()> {
    out.write_all(&[0u8; 2 * BLOCK])
}

fn write_pax(
    out: &mut impl Write,
    name: &[u8],
    mtime: i64,
    records: &[(Vec<u8>, Vec<u8>)],
) -> io::Result<()> {
    let mut data = Vec::new();
    for (key, value) in records {
        pax_record(&mut data, key, value);
    }
    let mut block = [0u8; BLOCK];
    // Like Go's archive/tar: DIR/PaxHeaders.0/BASE, cut to fit.
    let trimmed = name.strip_suffix(b"/").unwrap_or(name);
    let (dir, base) = match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => (
            trimmed.get(..i).unwrap_or(b""),
            trimmed.get(i + 1..).unwrap_or(b""),
        ),
        None => (&b""[..], trimmed),
    };
    let mut pax_name = Vec::new();
    if !dir.is_empty() {
        pax_name.extend_from_slice(dir);
        pax_name.push(b'/');
    }
    pax_name.extend_from_slice(b"PaxHeaders.0/");
    pax_name.extend_from_slice(base);
    put(&mut block[0..100], &ascii_stub(&pax_name, 100));
    octal(&mut block[100..108], 0o644);
    octal(&mut block[108..116], 0);
    octal(&mut block[116..124], 0);
    octal(&mut block[124..136], data.len() as u64);
    octal(
        &mut block[136..148],
        u64::try_from(mtime).unwrap_or(0).min(MAX_12),
    );
    block[156] = b'x';
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    checksum(&mut block);
    out.write_all(&block)?;
    out.write_all(&data)?;
    out.write_all(&[0u8; BLOCK][..padding(data.len() as u64)])
}

/// One `"<len> <key>=<value>\n"` record, where `<len>` counts the whole record.
fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let body = key.len() + value.len() + 3; // space, '=', newline
    let mut len = body + 1;
    while body + len.to_string().len() > len {
        len += 1;
    }
    let len = body + len.to_string().len();
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Split a name into the USTAR prefix and name fields, as Go's archive/tar does; `None`
/// when it needs a PAX `path` record (too long or not ASCII).
fn split_ustar(name: &[u8]) -> Option<(&[u8], &[u8])> {
    if !name.is_ascii() || name.contains(&0) {
        return None;
    }
    if name.len() <= 100 {
        return Some((b"", name));
    }
    let mut limit = name.len().min(156);
    if limit == name.len() && name.ends_with(b"/") {
        limit -= 1;
    }
    let i = name.get(..limit)?.iter().rposition(|&b| b == b'/')?;
    let (prefix, rest) = (name.get(..i)?, name.get(i + 1..)?);
    if i == 0 || rest.is_empty() || rest.len() > 100 || prefix.len() > 155 {
        return None;
    }
    Some((prefix, rest))
}

const MAX_12: u64 = 0o77777777777;

/// An octal field, or 0 plus a PAX record when the value does not fit.
fn numeric(field: &mut [u8], value: u64, key: &str, pax: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    let max = (1u64 << (3 * (field.len() as u32 - 1))) - 1;
    if value <= max {
        octal(field, value);
    } else {
        octal(field, 0);
        pax.push((key.as_bytes().to_vec(), value.to_string().into_bytes()));
    }
}

/// Zero-padded octal digits followed by a NUL, filling `field`.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    let bytes = text.as_bytes();
    let start = bytes.len().saturating_sub(digits);
    put(field, bytes.get(start..).unwrap_or(bytes));
    if let Some(last) = field.last_mut() {
        *last = 0;
    }
}

fn checksum(block: &mut [u8; BLOCK]) {
    block[148..156].copy_from_slice(b"        ");
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    block[148..156].copy_from_slice(text.as_bytes());
}

fn put(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// A printable stand-in for a field whose real value lives in a PAX record.
fn ascii_stub(value: &[u8], max: usize) -> Vec<u8> {
    value
        .iter()
        .map(|&b| if b.is_ascii() && b != 0 { b } else { b'_' })
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        let mut out = Vec::new();
        pax_record(&mut out, b"path", b"a");
        assert_eq!(out, b"9 path=a\n");
        let mut out = Vec::new();
        let value = vec![b'x'; 95];
        pax_record(&mut out, b"path", &value);
        assert_eq!(out.len(), 105);
        assert!(out.starts_with(b"105 path="));
    }

    #[test]
    fn ustar_split_follows_go() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(90));
        let (p, n) = split_ustar(long.as_bytes()).unwrap();
        assert_eq!(p.len(), 120);
        assert_eq!(n.len(), 90);
        assert!(split_ustar("x".repeat(101).as_bytes()).is_none());
        assert!(split_ustar("é".as_bytes()).is_none());
    }

    #[test]
    fn header_reads_back_with_the_tar_crate() {
        let long = format!("{}/file", "a".repeat(200));
        let kind = Kind::File { size: 3 };
        let xattrs = vec![(b"user.k".to_vec(), b"v".to_vec())];
        let e = EntryHeader {
            name: long.as_bytes(),
            kind: &kind,
            mode: 0o4755,
            uid: 3_000_000,
            gid: 7,
            mtime: 1_700_000_000,
            xattrs: &xattrs,
        };
        let mut buf = Vec::new();
        write_header(&mut buf, &e).unwrap();
        buf.extend_from_slice(b"abc");
        buf.extend(std::iter::repeat(0).take(padding(3)));
        write_end(&mut buf).unwrap();
        let mut ar = tar::Archive::new(&buf[..]);
        let mut entries = ar.entries().unwrap();
        let mut ent = entries.next().unwrap().unwrap();
        assert_eq!(ent.path_bytes().as_ref(), long.as_bytes());
        assert_eq!(ent.header().mode().unwrap(), 0o4755);
        assert_eq!(ent.header().mtime().unwrap(), 1_700_000_000);
        let pax: Vec<_> = ent
            .pax_extensions()
            .unwrap()
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                (r.key().unwrap().to_string(), r.value_bytes().to_vec())
            })
            .collect();
        assert!(pax.contains(&("uid".into(), b"3000000".to_vec())));
        assert!(pax.contains(&("SCHILY.xattr.user.k".into(), b"v".to_vec())));
        let mut data = String::new();
        std::io::Read::read_to_string(&mut ent, &mut data).unwrap();
        assert_eq!(data, "abc");
        assert!(entries.next().is_none());
    }
}
