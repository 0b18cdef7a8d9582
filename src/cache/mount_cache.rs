//! Cache-mount contents in an exported build cache. `--cache-to ...,cache-mounts=true`
//! (every cache mount the build used) or `cache-mounts=ID1,ID2` (those ids) exports each
//! chosen `RUN --mount=type=cache` directory as one layer blob beside the cached steps,
//! with a [`MountRecord`] naming its id, its directory under the store's `cache-mounts/`
//! and the owner and mode it was made with; `cache-mounts-max-size=SIZE` skips a bigger
//! one. A `--cache-from` of such a cache fills a cache mount the store does not have yet
//! ([`MountSource`]) before the first step that uses it; one the store has is left alone.
//!
//! This module holds the data and the option parsing; writing and unpacking the blobs is
//! the build's.

use std::path::Path;

use oci_spec::image::{Descriptor, Digest};
use serde::{Deserialize, Serialize};

/// The default `cache-mounts-max-size`: 1 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;

/// Which cache mounts a `--cache-to` exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSelection {
    /// `cache-mounts=true`: every one the build used.
    All,
    /// `cache-mounts=ID1,ID2`: those ids (a mount's `id=`, default its target).
    Ids(Vec<String>),
}

/// The cache-mount part of a `--cache-to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountExport {
    /// Which mounts.
    pub select: MountSelection,
    /// A mount bigger than this (bytes of file content) is skipped with a warning.
    pub max_size: u64,
}

impl MountExport {
    /// Whether the mount with id `id` is exported.
    pub fn wants(&self, id: &str) -> bool {
        match &self.select {
            MountSelection::All => true,
            MountSelection::Ids(ids) => ids.iter().any(|i| i == id),
        }
    }
}

/// A cache mount a build used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsedMount {
    /// Its `id=` (default: its target).
    pub id: String,
    /// Its directory name under `cache-mounts/` (a sha256 hex of its id and seed).
    pub name: String,
    /// The owner it was made with.
    pub uid: u32,
    /// The group it was made with.
    pub gid: u32,
    /// The mode it was made with.
    pub mode: u32,
}

/// One exported cache mount: what it is and its layer blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountRecord {
    /// The mount.
    #[serde(flatten)]
    pub mount: UsedMount,
    /// Its contents as a layer blob.
    pub layer: Descriptor,
    /// The digest of the uncompressed tar.
    pub diff_id: Digest,
}

/// Where a build may find the contents of a cache mount its store does not have.
pub trait MountSource: std::fmt::Debug + Send + Sync {
    /// Fill the empty directory `dest` with the cache mount `name` (its directory name);
    /// whether it did. Trouble is `false` (the caller starts over with an empty cache),
    /// never an error.
    fn restore(&self, name: &str, dest: &Path) -> bool;
}

/// Whether `name` can be a cache mount's directory name: 64 lower-case hex digits, so a
/// hostile cache cannot name a path outside `cache-mounts/`.
pub fn valid_name(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Take the `cache-mounts` and `cache-mounts-max-size` keys out of `keys` (a `--cache-to`
/// value's); the mount export they ask for, if any.
pub fn take_keys(
    flag: &str,
    keys: &mut Vec<(String, String)>,
) -> Result<Option<MountExport>, String> {
    let mut select = None;
    let mut max_size = None;
    let mut rest = Vec::new();
    for (key, value) in keys.drain(..) {
        match key.as_str() {
            "cache-mounts" => select = parse_selection(flag, &value)?,
            "cache-mounts-max-size" => max_size = Some(parse_size(flag, &value)?),
            _ => rest.push((key, value)),
        }
    }
    *keys = rest;
    match (select, max_size) {
        (Some(select), max) => Ok(Some(MountExport {
            select,
            max_size: max.unwrap_or(DEFAULT_MAX_SIZE),
        })),
        (None, Some(_)) => Err(format!(
            "{flag} cache-mounts-max-size needs cache-mounts=true or cache-mounts=ID,..."
        )),
        (None, None) => Ok(None),
    }
}

/// `cache-mounts=`: `true`, `false` (none) or ids separated by `,` or `;`.
fn parse_selection(flag: &str, value: &str) -> Result<Option<MountSelection>, String> {
    match value.trim() {
        "true" => Ok(Some(MountSelection::All)),
        "false" => Ok(None),
        "" => Err(format!(
            "{flag} cache-mounts= is empty: expected true or mount ids"
        )),
        ids => {
            let ids: Vec<String> = ids
                .split([';', ' '])
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .map(str::to_string)
                .collect();
            if ids.iter().any(|i| i == "true" || i == "false") {
                return Err(format!(
                    "{flag} cache-mounts={value:?}: expected true, false or mount ids, not both"
                ));
            }
            Ok(Some(MountSelection::Ids(ids)))
        }
    }
}

/// A size: bytes, or a number with `k`, `m`, `g` (powers of 1024; `KB`/`KiB`/`K` alike).
pub fn parse_size(flag: &str, value: &str) -> Result<u64, String> {
    let v = value.trim().to_ascii_lowercase();
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = v.split_at(digits);
    let scale: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(bad_size(flag, value)),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| bad_size(flag, value))
}

fn bad_size(flag: &str, value: &str) -> String {
    format!("{flag} cache-mounts-max-size={value:?}: expected a size such as 500MiB or 2GiB")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(pairs: &[(&str, &str)]) -> (Result<Option<MountExport>, String>, usize) {
        let mut keys: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let got = take_keys("--cache-to", &mut keys);
        (got, keys.len())
    }

    #[test]
    fn mount_keys_are_taken_and_checked() {
        let all = MountExport {
            select: MountSelection::All,
            max_size: DEFAULT_MAX_SIZE,
        };
        assert_eq!(take(&[("cache-mounts", "true")]), (Ok(Some(all)), 0));
        assert_eq!(take(&[("cache-mounts", "false")]), (Ok(None), 0));
        assert_eq!(take(&[("dest", "/d")]), (Ok(None), 1));
        let (got, _) = take(&[
            ("cache-mounts", "dl;apt"),
            ("cache-mounts-max-size", "2MiB"),
        ]);
        let got = got.unwrap().unwrap();
        assert_eq!(got.max_size, 2 << 20);
        assert!(got.wants("apt") && got.wants("dl") && !got.wants("go"));
        assert!(take(&[("cache-mounts-max-size", "1g")]).0.is_err());
        assert!(take(&[("cache-mounts", "")]).0.is_err());
        assert!(take(&[("cache-mounts", "true;dl")]).0.is_err());
        let (bad, _) = take(&[("cache-mounts", "true"), ("cache-mounts-max-size", "lots")]);
        assert!(bad.unwrap_err().contains("\"lots\""));
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("f", "10"), Ok(10));
        assert_eq!(parse_size("f", "3k"), Ok(3 << 10));
        assert_eq!(parse_size("f", "1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("f", "5 MB"), Ok(5 << 20));
        assert!(parse_size("f", "-1").is_err());
        assert!(parse_size("f", "1t").is_err());
        assert!(parse_size("f", "99999999999999999999g").is_err());
    }

    #[test]
    fn only_hex_names_are_valid() {
        assert!(valid_name(&"a1".repeat(32)));
        assert!(!valid_name("../../etc"));
        assert!(!valid_name(&"A1".repeat(32)));
        assert!(!valid_name(&"a".repeat(63)));
    }
}
