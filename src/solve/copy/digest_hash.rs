//! The hashing half of source digests: regular files the stat cache could not vouch for
//! are read and hashed in parallel (rayon, a large buffer per worker) and entered into the
//! cache; then every selected entry gets its entry digest, and the sorted list its total.
//!
//! Entry encoding (inside the versioned total): kind (`d`, `f`, `l`, `s`), permission
//! bits, owner when kept, then a file's content sha256 and the earlier path it is a hard
//! link of, a symlink's target, or a special file's type and device number.

use std::fs::{Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use oci_spec::image::Digest;
use rayon::prelude::*;

use super::{DigestStats, Selected, SourcesDigest, Walk};
use crate::cache::stat::StatCache;
use crate::solve::copy::dest::host_path;
use crate::solve::copy::error::CopyError;
use crate::store::digest::Sha256;

/// Read buffer per worker.
const BUF: usize = 1 << 20;

/// Hashes what the walk selected: missing contents, entry digests, the total.
pub(super) fn finish(walk: Walk<'_>, mut total: Sha256) -> Result<SourcesDigest, CopyError> {
    let Walk {
        tree,
        stat,
        owners,
        mut selected,
        ..
    } = walk;
    let root = tree.root.as_path();
    let (hashed_files, hashed_bytes) = selected
        .par_iter_mut()
        .filter(|s| s.meta.is_file() && s.content.is_none())
        .map_init(
            || vec![0u8; BUF],
            |buf, s| -> Result<(u64, u64), CopyError> {
                let (content, n) = hash_file(root, s, buf, stat)?;
                s.content = Some(content);
                Ok((1, n))
            },
        )
        .try_reduce(|| (0, 0), |a, b| Ok((a.0 + b.0, a.1 + b.1)))?;
    let mut files: Vec<(String, Digest)> = selected
        .par_iter_mut()
        .map(|s| {
            let d = entry_digest(s, owners);
            (std::mem::take(&mut s.path), d)
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    total.update(&(files.len() as u64).to_le_bytes());
    for (path, d) in &files {
        total.update(&(path.len() as u64).to_le_bytes());
        total.update(path.as_bytes());
        total.update(d.digest().as_bytes());
    }
    Ok(SourcesDigest {
        digest: total.finish(),
        files,
        stats: DigestStats {
            entries: selected.len() as u64,
            hashed_files,
            hashed_bytes,
        },
    })
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Whether two stats of one file show no change in between.
fn unchanged(a: &Metadata, b: &Metadata) -> bool {
    (a.dev(), a.ino(), a.size(), a.mode()) == (b.dev(), b.ino(), b.size(), b.mode())
        && (a.mtime(), a.mtime_nsec(), a.ctime(), a.ctime_nsec())
            == (b.mtime(), b.mtime_nsec(), b.ctime(), b.ctime_nsec())
}

/// Reads and hashes one regular file; enters it into the stat cache unless it changed
/// while being read. Returns the content sha256 and the bytes read.
fn hash_file(
    root: &Path,
    s: &Selected,
    buf: &mut [u8],
    stat: Option<&StatCache>,
) -> Result<([u8; 32], u64), CopyError> {
    let host = host_path(root, &s.rel);
    let started = now_ns();
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&host)
        .map_err(CopyError::io("read source", &host))?;
    let mut h = Sha256::new();
    let mut n = 0u64;
    loop {
        let k = file
            .read(buf)
            .map_err(CopyError::io("read source", &host))?;
        let Some(chunk) = buf.get(..k).filter(|c| !c.is_empty()) else {
            break;
        };
        h.update(chunk);
        n += k as u64;
    }
    let mut content = [0u8; 32];
    hex::decode_to_slice(h.finish().digest(), &mut content).map_err(|e| CopyError::Io {
        action: "hash source",
        path: host.clone(),
        source: std::io::Error::other(e),
    })?;
    if let Some(stat) = stat {
        let after = file
            .metadata()
            .map_err(CopyError::io("read source", &host))?;
        if unchanged(&s.meta, &after) {
            stat.insert_raw(&s.rel, &s.meta, content, started);
        }
    }
    Ok((content, n))
}

/// The digest of one entry (see the module docs for the encoding).
fn entry_digest(s: &Selected, owners: bool) -> Digest {
    let meta = &s.meta;
    let ft = meta.file_type();
    let mut h = Sha256::new();
    let kind = if ft.is_dir() {
        b'd'
    } else if ft.is_symlink() {
        b'l'
    } else if ft.is_file() {
        b'f'
    } else {
        b's'
    };
    h.update(&[kind]);
    h.update(&(meta.mode() & 0o7777).to_le_bytes());
    if owners {
        h.update(&meta.uid().to_le_bytes());
        h.update(&meta.gid().to_le_bytes());
    }
    match kind {
        b'f' => {
            h.update(&s.content.unwrap_or_default());
            match &s.link_of {
                Some(first) => {
                    h.update(&[1]);
                    h.update(&(first.len() as u64).to_le_bytes());
                    h.update(first.as_bytes());
                }
                None => h.update(&[0]),
            }
        }
        b'l' => {
            let target = s.target.as_deref().unwrap_or_default();
            h.update(&(target.len() as u64).to_le_bytes());
            h.update(target);
        }
        b's' => {
            h.update(&(meta.mode() & nix::libc::S_IFMT).to_le_bytes());
            h.update(&meta.rdev().to_le_bytes());
        }
        _ => {}
    }
    h.finish()
}
