//! Base images that lie, made from the busybox fixture by editing a copy of its OCI layout:
//! a layer whose content is not the diff_id its config gives, a layer descriptor with the
//! wrong size, a config with more diff_ids than the manifest has layers.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::run;

/// How the copy lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    /// The layer is busybox plus `/pwned`; the config still gives busybox's diff_id.
    DiffId,
    /// The layer descriptor's size is one more than the blob's.
    Size,
    /// The config lists one diff_id more than the manifest has layers.
    Count,
}

/// What a lying layout is made of.
#[derive(Debug)]
pub struct Hostile {
    /// The layout directory.
    pub dir: PathBuf,
    /// The digest of the (first) layer blob the manifest lists.
    pub layer: String,
    /// The diff_id the config gives that layer.
    pub diff_id: String,
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn sha256(data: &[u8]) -> String {
    builder::store::digest::sha256(data).to_string()
}

/// Store `data` as a blob of `layout`; its digest and size.
fn put(layout: &Path, data: &[u8]) -> (String, u64) {
    let digest = sha256(data);
    std::fs::write(blob(layout, &digest), data).unwrap();
    (digest, data.len() as u64)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The busybox layer with `/pwned` added, as a plain tar.
fn poisoned(layout: &Path, layer: &str) -> Vec<u8> {
    let mut plain = Vec::new();
    let file = std::fs::File::open(blob(layout, layer)).unwrap();
    builder::snapshot::decompress(file)
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    let mut out = tar::Builder::new(Vec::new());
    let mut archive = tar::Archive::new(&plain[..]);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        out.append(&header, &mut entry).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_size(6);
    h.set_mode(0o4755);
    h.set_entry_type(tar::EntryType::Regular);
    out.append_data(&mut h, "pwned", &b"pwned\n"[..]).unwrap();
    out.into_inner().unwrap()
}

/// A copy of the layout `busybox` (one image, one layer) at `dest`, lying as `lie` says.
pub fn hostile_layout(busybox: &Path, dest: &Path, lie: Lie) -> Hostile {
    run(Command::new("cp").arg("-a").arg(busybox).arg(dest));
    let index_path = dest.join("index.json");
    let mut index = read_json(&index_path);
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let mut manifest = read_json(&blob(dest, &manifest_digest));
    let config_digest = manifest["config"]["digest"].as_str().unwrap().to_string();
    let mut config = read_json(&blob(dest, &config_digest));
    let diff_id = config["rootfs"]["diff_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let layer = match lie {
        Lie::DiffId => {
            let (digest, size) = put(dest, &poisoned(dest, &layer));
            manifest["layers"][0] = serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": digest,
                "size": size,
            });
            digest
        }
        Lie::Size => {
            let size = manifest["layers"][0]["size"].as_u64().unwrap();
            manifest["layers"][0]["size"] = (size + 1).into();
            layer
        }
        Lie::Count => {
            let ids = config["rootfs"]["diff_ids"].as_array_mut().unwrap();
            ids.push(sha256(b"a layer the manifest does not list").into());
            let (digest, size) = put(dest, &serde_json::to_vec(&config).unwrap());
            manifest["config"]["digest"] = digest.into();
            manifest["config"]["size"] = size.into();
            layer
        }
    };
    let (digest, size) = put(dest, &serde_json::to_vec(&manifest).unwrap());
    index["manifests"][0]["digest"] = digest.into();
    index["manifests"][0]["size"] = size.into();
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    Hostile {
        dir: dest.to_path_buf(),
        layer,
        diff_id,
    }
}
