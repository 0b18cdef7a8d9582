//! Fixtures shared by the integration tests: the shared corpora and `testdata/`, running the
//! `builder` binary against a private store, running and probing external tools, and a
//! one-layer image written straight into a store.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use builder::image::{write_image, ImageConfig, ImageDescriptor, LayerCompression, ManifestFormat};
use builder::store::{BlobStore, DirStore};
use oci_spec::image::Digest;

/// `../shared` beside the checkout (or `$BUILDER_SHARED_DIR`), where the conformance corpora
/// live. `None`, with a loud message, when it is absent: the caller skips.
pub fn shared_dir(what: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os("BUILDER_SHARED_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "\n!!! SKIPPED {what}: {} not found (set BUILDER_SHARED_DIR to the shared folder) !!!\n",
            dir.display()
        );
        None
    }
}

/// The crate's own `testdata/` folder.
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Text of a byte buffer.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A finished command's stdout as text.
pub fn stdout(out: &Output) -> String {
    text(&out.stdout)
}

/// A finished command's stderr as text.
pub fn stderr(out: &Output) -> String {
    text(&out.stderr)
}

/// The `builder` binary with `--root ROOT` (a private store; `$BUILDER_ROOT` removed).
pub fn builder_cmd(root: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_builder"));
    cmd.arg("--root").arg(root).env_remove("BUILDER_ROOT");
    cmd
}

/// `builder --root ROOT ARGS...`, whatever the outcome.
pub fn builder(root: &Path, args: &[&str]) -> Output {
    builder_cmd(root).args(args).output().expect("run builder")
}

/// The number `#N` plain progress gives the step (vertex) named exactly `name`.
pub fn step_number(plain: &str, name: &str) -> String {
    plain
        .lines()
        .find_map(|l| {
            let (num, rest) = l.split_once(' ')?;
            (rest == name && num.starts_with('#')).then(|| num.to_string())
        })
        .unwrap_or_else(|| panic!("no step {name:?} in:\n{plain}"))
}

/// Run a tool, asserting success; its stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Whether `tool` is installed and runs (`busybox` has no `--version`; `busybox true` proves
/// it runs).
fn runs(tool: &str) -> bool {
    let arg = if tool == "busybox" {
        "true"
    } else {
        "--version"
    };
    Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether every tool in `tools` is installed; skips loudly when one is not, and fails with
/// `CI` set (`scripts/setup.sh` installs them all).
pub fn have(test: &str, tools: &[&str]) -> bool {
    for tool in tools {
        if !runs(tool) {
            let msg = format!("{test}: {tool} is not installed (scripts/setup.sh installs it)");
            assert!(std::env::var_os("CI").is_none(), "{msg}");
            eprintln!("\n!!! SKIPPED {msg} !!!\n");
            return false;
        }
    }
    true
}

/// Whether an optional tool that `scripts/setup.sh` does not install (podman) is there;
/// skips loudly when it is not, on CI too.
pub fn have_optional(test: &str, tool: &str) -> bool {
    let ok = runs(tool);
    if !ok {
        eprintln!("\n!!! SKIPPED {test}: {tool} is not installed (apt-get install {tool}) !!!\n");
    }
    ok
}

/// Whether the tests run as root (owners can be set and checked).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The entry names of `dir`, sorted.
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Write a one-layer linux/amd64 image into the store at `root` and name it `names`: `blob`
/// is the layer blob, `diff_id` its uncompressed digest, and `edit` sets what the test needs
/// in the config (created 2024-01-02T03:04:05Z, one `COPY` history entry).
pub fn store_image(
    root: &Path,
    blob: &[u8],
    diff_id: Digest,
    names: &[&str],
    edit: impl FnOnce(&mut ImageConfig),
) -> ImageDescriptor {
    let store = DirStore::new(root).unwrap();
    let layer = store
        .put_bytes(blob)
        .unwrap()
        .descriptor(ManifestFormat::Oci.layer_media_type(LayerCompression::Gzip));
    let mut config = ImageConfig::scratch("linux", "amd64", None);
    config.created = Some("2024-01-02T03:04:05Z".into());
    edit(&mut config);
    config.push_layer(diff_id, "COPY . / # buildkit", config.created.clone());
    let img = write_image(&store, &config, &[layer], ManifestFormat::Oci).unwrap();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    store
        .images()
        .set_all(&names, &img.record(config.created.clone()))
        .unwrap();
    img
}

/// [`store_image`] of an uncompressed layer tar: gzipped here, its digest the diff_id, the
/// config left as it is.
pub fn store_tar_image(root: &Path, tar: &[u8], names: &[&str]) -> ImageDescriptor {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(tar).unwrap();
    let blob = gz.finish().unwrap();
    store_image(
        root,
        &blob,
        builder::store::digest::sha256(tar),
        names,
        |_| {},
    )
}

/// The Dockerfile lines an error names (`Dockerfile:N`), each once, in order.
pub fn lines_named(err: &str) -> Vec<u32> {
    let re = regex::Regex::new(r"Dockerfile:(\d+)").unwrap();
    let named: std::collections::BTreeSet<u32> = re
        .captures_iter(err)
        .filter_map(|c| c[1].parse().ok())
        .collect();
    named.into_iter().collect()
}
