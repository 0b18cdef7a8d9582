//! Fixtures for the tests that build or read real images: a workspace (context, store,
//! outputs) per test, the busybox base image made once per test run, real tools (skopeo,
//! umoci) and a file-by-file listing of a root file system to compare against what a
//! Dockerfile says.
//!
//! The tools come from apt (`busybox-static umoci skopeo`, see `scripts/setup.sh`). Without
//! them a test skips loudly; with `CI` set, a missing tool is a failure ([`have`]).

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::common::{builder_cmd, have, is_root, run, text};

/// The busybox base image as an OCI layout tagged `latest`, made once per test run under
/// `target/fixtures/busybox` (a file lock keeps concurrent runs apart). `None`, loudly, when
/// the tools are missing.
pub fn busybox(test: &str) -> Option<PathBuf> {
    static LAYOUT: OnceLock<Option<PathBuf>> = OnceLock::new();
    if !have(test, &["umoci", "skopeo", "busybox"]) {
        return None;
    }
    LAYOUT
        .get_or_init(|| Some(make_busybox(&[], "busybox")))
        .clone()
}

/// `scripts/make-busybox-image.sh ARGS target/fixtures/NAME` under the fixtures' lock (the
/// script keeps a layout it made before); the layout.
fn make_busybox(args: &[&str], name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fixtures");
    std::fs::create_dir_all(&dir).expect("create fixtures dir");
    let _lock = builder::store::lock::FileLock::exclusive(&dir.join("busybox.lock"))
        .expect("lock fixtures");
    let layout = dir.join(name);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-busybox-image.sh");
    run(Command::new("bash").arg(script).args(args).arg(&layout));
    layout
}

/// The busybox base image for the OCI architectures `arches` (`arm64`; `amd64,arm64` makes
/// an image index with one manifest per platform) as an OCI layout tagged `latest` under
/// `target/fixtures/busybox-ARCH[-ARCH...]`. The busybox of an architecture other than
/// amd64 is Debian's `busybox-static` for it, which `scripts/setup.sh` downloads to
/// `target/fixtures/debs/`. `None`, loudly, when the tools or that package are missing
/// (with `CI` set, a failure).
pub fn busybox_for(test: &str, arches: &str) -> Option<PathBuf> {
    if !have(test, &["umoci", "skopeo", "busybox", "jq"]) {
        return None;
    }
    let debs = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fixtures/debs");
    for arch in arches.split(',').filter(|a| *a != "amd64") {
        let deb_arch = match arch {
            "arm" => "armhf",
            "386" => "i386",
            "ppc64le" => "ppc64el",
            other => other,
        };
        let deb = debs.join(format!("busybox-static_{deb_arch}.deb"));
        if !deb.is_file() {
            let msg = format!(
                "{test}: {} is missing (scripts/setup.sh downloads it)",
                deb.display()
            );
            assert!(std::env::var_os("CI").is_none(), "{msg}");
            eprintln!("\n!!! SKIPPED {msg} !!!\n");
            return None;
        }
    }
    let name = format!("busybox-{}", arches.replace(',', "-"));
    Some(make_busybox(&["--arch", arches], &name))
}

/// One test's workspace: `ctx/` (the build context), `root/` (the store), `out/`.
pub struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    /// A fresh workspace with an empty context.
    pub fn new() -> Work {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in ["ctx", "root", "out"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        Work { dir }
    }

    /// A path in the workspace.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The store root.
    pub fn root(&self) -> PathBuf {
        self.path("root")
    }

    /// Write `ctx/REL` with `content` and `mode`, creating parents.
    pub fn file(&self, rel: &str, content: &str, mode: u32) -> &Self {
        let p = self.path("ctx").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    /// Make `ctx/REL` a directory with `mode`.
    pub fn dir(&self, rel: &str, mode: u32) -> &Self {
        let p = self.path("ctx").join(rel);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    /// Make `ctx/REL` a symlink to `target`.
    pub fn symlink(&self, rel: &str, target: &str) -> &Self {
        let p = self.path("ctx").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
        self
    }

    /// The Dockerfile of the context.
    pub fn dockerfile(&self, text: &str) -> &Self {
        std::fs::write(self.path("ctx/Dockerfile"), text).unwrap();
        self
    }

    /// `builder --root ROOT ARGS...` in the workspace directory.
    pub fn builder(&self, args: &[&str]) -> Output {
        builder_cmd(&self.root())
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("SOURCE_DATE_EPOCH")
            .output()
            .expect("run builder")
    }

    /// `builder ARGS...` as the unprivileged user `nobody` (65534), through `setpriv`, with
    /// the workspace opened up to it; `None` (loudly) when the tests do not run as root.
    pub fn builder_as_nobody(&self, test: &str, args: &[&str]) -> Option<Output> {
        if !is_root() || !have(test, &["setpriv"]) {
            eprintln!("\n!!! SKIPPED {test}: needs root to switch to an unprivileged user !!!\n");
            return None;
        }
        let open = |p: &Path, mode: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        open(self.dir.path(), 0o755);
        open(&self.path("ctx"), 0o755);
        open(&self.root(), 0o777);
        open(&self.path("out"), 0o777);
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_builder"))
            .arg("--root")
            .arg(self.root())
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("BUILDER_ROOT")
            .env("HOME", self.path("out"))
            .output()
            .expect("run setpriv");
        Some(out)
    }

    /// Give the whole workspace to the unprivileged test user (`crate::sandbox::TEST_USER`).
    pub fn give_to_test_user(&self) {
        let status = Command::new("chown")
            .args(["-R", &format!("{}:", crate::sandbox::TEST_USER)])
            .arg(self.dir.path())
            .status()
            .expect("run chown");
        assert!(status.success());
    }

    /// A copy of the busybox fixture inside the workspace (umoci writes some files 0600, so
    /// the test user reads a copy it is given).
    pub fn busybox_copy(&self, layout: &Path) -> PathBuf {
        let base = self.path("busybox");
        let copied = Command::new("cp").arg("-a").arg(layout).arg(&base).status();
        assert!(copied.expect("run cp").success());
        base
    }

    /// `builder --root ROOT ARGS...` as the test user (with its subordinate id range),
    /// through `runuser`, in the workspace (see [`Work::give_to_test_user`]).
    pub fn builder_as_test_user(&self, args: &[&str]) -> Output {
        Command::new("runuser")
            .args(["-u", crate::sandbox::TEST_USER, "--"])
            .arg(env!("CARGO_BIN_EXE_builder"))
            .arg("--root")
            .arg(self.root())
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("BUILDER_ROOT")
            .output()
            .expect("run runuser")
    }

    /// `builder build ARGS... ctx`, whatever the outcome.
    pub fn build(&self, args: &[&str]) -> Output {
        let mut all = vec!["build", "--progress", "plain"];
        all.extend_from_slice(args);
        all.push("ctx");
        self.builder(&all)
    }

    /// `builder build ARGS... ctx`, which must succeed; its stderr (the progress).
    pub fn build_ok(&self, args: &[&str]) -> String {
        let out = self.build(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "build failed:\n{}",
            text(&out.stderr)
        );
        text(&out.stderr)
    }

    /// Build to an OCI layout directory `out/NAME` tagged `latest`, unpack it with umoci
    /// and return the listing of its root file system.
    pub fn build_and_unpack(&self, name: &str, args: &[&str]) -> String {
        let layout = self.path(&format!("out/{name}"));
        let spec = format!("type=oci,dest={},tar=false", layout.display());
        let mut all = vec!["-t", "app", "-o", spec.as_str()];
        all.extend_from_slice(args);
        self.build_ok(&all);
        listing(&unpack(
            &layout,
            "latest",
            &self.path(&format!("out/{name}-bundle")),
        ))
    }

    /// `--build-context busybox=oci-layout://...` for the busybox fixture.
    pub fn busybox_context(layout: &Path) -> String {
        format!("busybox=oci-layout://{}", layout.display())
    }
}

/// `umoci unpack --image LAYOUT:TAG BUNDLE`; the rootfs.
pub fn unpack(layout: &Path, tag: &str, bundle: &Path) -> PathBuf {
    let mut cmd = Command::new("umoci");
    cmd.arg("unpack");
    if !is_root() {
        cmd.arg("--rootless");
    }
    run(cmd
        .arg("--image")
        .arg(format!("{}:{tag}", layout.display()))
        .arg(bundle));
    bundle.join("rootfs")
}

/// `skopeo inspect --config --raw REF` as JSON (raw: skopeo's parsed form drops Docker's
/// extension fields from OCI configs).
pub fn config_of(reference: &str) -> serde_json::Value {
    let out = run(Command::new("skopeo")
        .arg("inspect")
        .arg("--config")
        .arg("--raw")
        .arg(reference));
    serde_json::from_str(&out).expect("config JSON")
}

/// `skopeo inspect REF` as JSON.
pub fn inspect(reference: &str) -> serde_json::Value {
    let out = run(Command::new("skopeo").arg("inspect").arg(reference));
    serde_json::from_str(&out).expect("inspect JSON")
}

/// Every entry under `root`, one line each, sorted, for exact comparison:
///
/// ```text
/// d /etc 0755 0:0
/// f /etc/app 0644 0:0 "content"        (content in quotes when short text, else its size)
/// l /bin/sh -> busybox
/// h /b => /a                          (a second path of the same file)
/// ```
pub fn listing(root: &Path) -> String {
    let mut lines = BTreeMap::new();
    let mut seen: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = format!("/{}", p.strip_prefix(root).unwrap().display());
            let m = std::fs::symlink_metadata(&p).unwrap();
            let meta = format!("{:04o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid());
            let line = if m.file_type().is_symlink() {
                format!("l {rel} -> {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                stack.push(p.clone());
                format!("d {rel} {meta}")
            } else if m.is_file() {
                let key = (m.dev(), m.ino());
                if m.nlink() > 1 {
                    if let Some(first) = seen.get(&key) {
                        lines.insert(rel.clone(), format!("h {rel} => {first}"));
                        continue;
                    }
                    seen.insert(key, rel.clone());
                }
                let data = std::fs::read(&p).unwrap();
                let content = match std::str::from_utf8(&data) {
                    Ok(s) if data.len() <= 40 => format!("{s:?}"),
                    _ => format!("{} bytes", data.len()),
                };
                format!("f {rel} {meta} {content}")
            } else {
                format!("? {rel} {meta}")
            };
            lines.insert(rel, line);
        }
    }
    let mut out = String::new();
    for line in lines.values() {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Compare `actual` with `testdata/layers/NAME`; `BUILDER_BLESS=1` rewrites the file.
pub fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/layers")
        .join(name);
    if std::env::var_os("BUILDER_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden {}; run with BUILDER_BLESS=1",
            path.display()
        )
    });
    assert_eq!(
        actual, expected,
        "golden {name} differs (BUILDER_BLESS=1 rewrites it)"
    );
}
