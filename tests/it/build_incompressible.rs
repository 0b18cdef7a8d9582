//! Layers holding data deflate cannot shrink (random bytes, as in compressed or encrypted
//! files), which the gzip writer stores rather than deflates: the blob passes `gzip -t`,
//! decompresses with `gzip -dc` to the tar its diff_id names, and umoci (Go's
//! `compress/flate`) unpacks the files byte for byte.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build_support::{unpack, Work};
use crate::common::have;

/// Pseudo-random bytes (xorshift64), the same for the same seed.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// The one layer blob of the image tagged `latest` in an OCI layout.
fn layer_blob(layout: &Path) -> (PathBuf, String) {
    let json = |p: PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let blob = |digest: &serde_json::Value| {
        let d = digest.as_str().unwrap().strip_prefix("sha256:").unwrap();
        layout.join("blobs/sha256").join(d)
    };
    let index = json(layout.join("index.json"));
    let manifest = json(blob(&index["manifests"][0]["digest"]));
    let config = json(blob(&manifest["config"]["digest"]));
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
    let diff_id = config["rootfs"]["diff_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    (blob(&manifest["layers"][0]["digest"]), diff_id)
}

#[test]
fn random_and_text_files_in_one_gzip_layer_unpack_everywhere() {
    if !have("incompressible_layer", &["umoci", "gzip", "sha256sum"]) {
        return;
    }
    let w = Work::new();
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("big.bin".into(), noise(5 << 20, 1)),
        ("small.bin".into(), noise(20_000, 2)),
        (
            "mixed.bin".into(),
            [
                noise(300_000, 3),
                b"text ".repeat(50_000),
                noise(100_000, 4),
            ]
            .concat(),
        ),
    ];
    for i in 0..200 {
        let line = format!("file {i}: a line of text in a small file\n");
        files.push((format!("text/{i:03}.txt"), line.repeat(i + 1).into_bytes()));
    }
    for (name, data) in &files {
        let p = w.path("ctx/data").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    w.dockerfile("FROM scratch\nCOPY data/ /data/\n");
    let layout = w.path("out/img");
    let spec = format!("type=oci,dest={},tar=false", layout.display());
    w.build_ok(&["-t", "img", "-o", &spec]);

    let (blob, diff_id) = layer_blob(&layout);
    let bytes = std::fs::read(&blob).unwrap();
    // The random bytes are stored (5 bytes of framing per 64 KiB), the text deflated.
    let random = (5 << 20) + 20_000 + 400_000;
    assert!(
        bytes.len() > random && bytes.len() < random + 100_000,
        "blob of {} bytes",
        bytes.len()
    );
    // Stored blocks of 64 KiB hold the bytes as they are (deflate's own blocks are
    // shorter).
    let window = &files[0].1[1 << 20..(1 << 20) + 40_000];
    assert!(bytes.windows(window.len()).any(|w| w == window));
    let ok = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok(Command::new("gzip").arg("-t").arg(&blob));
    let sum = ok(Command::new("sh")
        .arg("-c")
        .arg("gzip -dc \"$1\" | sha256sum")
        .arg("sh")
        .arg(&blob));
    assert_eq!(format!("sha256:{}", &sum[..64]), diff_id);

    let rootfs = unpack(&layout, "latest", &w.path("out/bundle"));
    for (name, data) in &files {
        let got = std::fs::read(rootfs.join("data").join(name)).unwrap();
        assert!(got == *data, "{name} differs after umoci unpack");
    }
}
