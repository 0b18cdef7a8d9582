//! The image a RUN test built, read straight from its OCI layout directory: layers as
//! stable text (whiteouts and opaque markers as named in the tar), a file's content through
//! the layer stack, the config, and the tree umoci unpacks.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::build_support::{listing, unpack};
use crate::common::is_root;

/// The only image of an OCI layout directory.
pub struct Image {
    dir: PathBuf,
    /// The manifest.
    pub manifest: serde_json::Value,
    /// The image config.
    pub config: serde_json::Value,
}

impl Image {
    /// Read the layout at `dir`.
    pub fn open(dir: &Path) -> Image {
        let blob = |d: &str| std::fs::read(dir.join("blobs/sha256").join(&d[7..])).unwrap();
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
        let manifest: serde_json::Value =
            serde_json::from_slice(&blob(index["manifests"][0]["digest"].as_str().unwrap()))
                .unwrap();
        let config =
            serde_json::from_slice(&blob(manifest["config"]["digest"].as_str().unwrap())).unwrap();
        Image {
            dir: dir.to_path_buf(),
            manifest,
            config,
        }
    }

    /// How many layers the image has.
    pub fn layer_count(&self) -> usize {
        self.manifest["layers"].as_array().unwrap().len()
    }

    /// Layer `i` (0 is the base's) as [`layer_text`].
    pub fn layer(&self, i: usize) -> String {
        let digest = self.manifest["layers"][i]["digest"].as_str().unwrap();
        let blob = std::fs::read(self.dir.join("blobs/sha256").join(&digest[7..])).unwrap();
        layer_text(&blob)
    }

    /// The last layer as [`layer_text`].
    pub fn last_layer(&self) -> String {
        self.layer(self.layer_count() - 1)
    }

    /// The content of the regular file at `path` (no leading `/`) in the image: the top
    /// layer that has it, unless a layer above hides it with a whiteout or an opaque
    /// directory; `None` when absent. Reads layers top down and stops at the first answer
    /// (a big base layer is rarely read).
    pub fn read(&self, path: &str) -> Option<String> {
        for i in (0..self.layer_count()).rev() {
            let digest = self.manifest["layers"][i]["digest"].as_str().unwrap();
            let blob = std::fs::read(self.dir.join("blobs/sha256").join(&digest[7..])).unwrap();
            let reader = builder::snapshot::decompress(&blob[..]).unwrap();
            let mut archive = tar::Archive::new(reader);
            // A layer's whiteouts hide what is below it, never its own files.
            let mut hidden = false;
            for entry in archive.entries().unwrap() {
                let mut entry = entry.unwrap();
                let name = clean(&entry.path_bytes());
                let (dir, base) = name.rsplit_once('/').unwrap_or(("", &name));
                let under = |p: &str| path == p || path.starts_with(&format!("{p}/"));
                if base == ".wh..wh..opq" {
                    hidden |= dir.is_empty() || path.starts_with(&format!("{dir}/"));
                } else if let Some(gone) = base.strip_prefix(".wh.") {
                    hidden |= under(&if dir.is_empty() {
                        gone.to_string()
                    } else {
                        format!("{dir}/{gone}")
                    });
                } else if name == path {
                    let mut data = Vec::new();
                    entry.read_to_end(&mut data).unwrap();
                    return Some(String::from_utf8_lossy(&data).into_owned());
                }
            }
            if hidden {
                return None;
            }
        }
        None
    }

    /// The config's `config.Env`.
    pub fn env(&self) -> Vec<String> {
        self.config["config"]["Env"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }

    /// `created_by` of every history entry.
    pub fn history(&self) -> Vec<String> {
        self.config["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["created_by"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// `umoci unpack` the image into `bundle` and list its root file system
    /// ([`listing`], owners blanked when the tests do not run as root).
    pub fn tree(&self, bundle: &Path) -> String {
        owners_when_root(&listing(&unpack(&self.dir, "latest", bundle)))
    }
}

/// `text` as is when the tests run as root; else with every `UID:GID` blanked to `-:-`
/// (a rootless umoci unpack gives every file to the caller).
pub fn owners_when_root(text: &str) -> String {
    if is_root() {
        return text.to_string();
    }
    let re = regex::Regex::new(r" \d+:\d+( |$)").unwrap();
    text.lines()
        .map(|l| format!("{}\n", re.replace(l, " -:-$1")))
        .collect()
}

/// The busybox fixture unpacked by umoci and listed, once per process.
pub fn base_tree(layout: &Path) -> String {
    static TREE: OnceLock<String> = OnceLock::new();
    TREE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        owners_when_root(&listing(&unpack(layout, "latest", &dir.path().join("b"))))
    })
    .clone()
}

/// The lines of `tree` for paths under `prefix` (`/data` keeps `/data` and `/data/...`).
pub fn under(tree: &str, prefix: &str) -> String {
    let sub = format!("{prefix}/");
    tree.lines()
        .filter(|l| {
            let path = l.split(' ').nth(1).unwrap_or_default();
            path == prefix || path.starts_with(&sub)
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The lines of `tree` for paths not under `prefix`.
pub fn outside(tree: &str, prefix: &str) -> String {
    let inside = under(tree, prefix);
    let inside: std::collections::BTreeSet<&str> = inside.lines().collect();
    tree.lines()
        .filter(|l| !inside.contains(l))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A layer tar (plain, gzip or zstd) as one line per entry, sorted by path, paths without
/// a leading `/` or `./` as in the tar:
///
/// ```text
/// d etc 0755 0:0
/// f etc/app 0644 0:0 "content"     (content in quotes when short text, else its size)
/// l etc/link -> app
/// h etc/second => etc/app          (the path sorting first carries the content)
/// wh etc/.wh.gone                  (a whiteout or opaque marker, as named in the tar)
/// ```
pub fn layer_text(blob: &[u8]) -> String {
    let reader = builder::snapshot::decompress(blob).unwrap();
    let mut archive = tar::Archive::new(reader);
    let mut lines: BTreeMap<String, String> = BTreeMap::new();
    let mut links: Vec<(String, String)> = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = clean(&entry.path_bytes());
        let header = entry.header().clone();
        let base = name.rsplit('/').next().unwrap_or_default();
        let meta = format!(
            "{:04o} {}:{}",
            header.mode().unwrap() & 0o7777,
            header.uid().unwrap(),
            header.gid().unwrap()
        );
        let line = if base.starts_with(".wh.") {
            format!("wh {name}")
        } else {
            match header.entry_type() {
                tar::EntryType::Directory => format!("d {name} {meta}"),
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let mut data = Vec::new();
                    entry.read_to_end(&mut data).unwrap();
                    let content = match std::str::from_utf8(&data) {
                        Ok(s) if data.len() <= 40 => format!("{s:?}"),
                        _ => format!("{} bytes", data.len()),
                    };
                    format!("f {name} {meta} {content}")
                }
                tar::EntryType::Symlink => {
                    let target = entry.link_name_bytes().unwrap_or_default();
                    format!("l {name} -> {}", String::from_utf8_lossy(&target))
                }
                tar::EntryType::Link => {
                    let target = clean(&entry.link_name_bytes().unwrap_or_default());
                    links.push((name.clone(), target.clone()));
                    format!("h {name} => {target}")
                }
                other => format!("? {name} {other:?} {meta}"),
            }
        };
        assert!(
            lines.insert(name.clone(), line).is_none(),
            "{name} twice in one layer"
        );
    }
    // Which path of a hard-linked file carries the content is the writer's choice: show
    // the one that sorts first as the file.
    for (link, target) in links {
        if link < target {
            if let Some(file) = lines.get(&target).cloned() {
                let moved = file.replacen(&format!(" {target} "), &format!(" {link} "), 1);
                lines.insert(link.clone(), moved);
                lines.insert(target.clone(), format!("h {target} => {link}"));
            }
        }
    }
    lines.values().map(|l| format!("{l}\n")).collect()
}

fn clean(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let s = s.trim_start_matches("./").trim_start_matches('/');
    s.trim_end_matches('/').to_string()
}
