//! RUN over a real distribution: a `debootstrap --variant=minbase bookworm` Debian made into
//! an OCI layout with umoci (once, under `target/fixtures/debian-bookworm`), then
//! `apt-get update && apt-get install hello` as root and as a non-root user. apt drops to
//! its `_apt` user to download, so this needs the whole subordinate id range mapped.
//!
//! Needs root (debootstrap), `debootstrap` and Debian's mirror: without any of them the
//! test skips loudly, on CI too (the mirror is outside the project's control).

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::common::{have, is_root, run};
use crate::run_support::{runners, RunWork};

const MIRROR_HOST: &str = "deb.debian.org";
const MIRROR: &str = "http://deb.debian.org/debian";

pub(crate) fn skip(test: &str, why: &str) {
    eprintln!("\n!!! SKIPPED {test}: {why} !!!\n");
}

/// Whether the Debian mirror answers on port 80 within a few seconds.
fn mirror_reachable() -> bool {
    let Ok(addrs) = (MIRROR_HOST, 80).to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(5)).is_ok())
}

/// The Debian layout, made once per checkout; `Err` says why it cannot be made here.
fn debian_layout() -> Result<PathBuf, String> {
    static LAYOUT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    LAYOUT
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fixtures");
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let _lock = builder::store::lock::FileLock::exclusive(&dir.join("debian.lock"))
                .map_err(|e| e.to_string())?;
            let layout = dir.join("debian-bookworm");
            if layout.join("index.json").is_file() {
                return Ok(layout);
            }
            make_layout(&layout)?;
            Ok(layout)
        })
        .clone()
}

fn make_layout(layout: &Path) -> Result<(), String> {
    let work = tempfile::Builder::new()
        .prefix("builder-debian-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let rootfs = work.path().join("rootfs");
    let out = Command::new("debootstrap")
        .args(["--variant=minbase", "bookworm"])
        .arg(&rootfs)
        .arg(MIRROR)
        .output()
        .map_err(|e| format!("debootstrap: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "debootstrap failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let tmp = layout.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let image = format!("{}:latest", tmp.display());
    let bundle = work.path().join("bundle");
    run(Command::new("umoci").arg("init").arg("--layout").arg(&tmp));
    run(Command::new("umoci").args(["new", "--image", &image]));
    run(Command::new("umoci")
        .args(["unpack", "--image", &image])
        .arg(&bundle));
    run(Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", rootfs.display()))
        .arg(bundle.join("rootfs")));
    run(Command::new("umoci")
        .args(["repack", "--image", &image])
        .arg(&bundle));
    run(Command::new("umoci").args([
        "config",
        "--image",
        &image,
        "--os",
        "linux",
        "--architecture",
        "amd64",
        "--config.env",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--config.cmd",
        "bash",
    ]));
    run(Command::new("umoci").arg("gc").arg("--layout").arg(&tmp));
    std::fs::rename(&tmp, layout).map_err(|e| e.to_string())
}

/// The Debian layout for `test`, made once per checkout (`None`, said loudly, when this
/// machine cannot make it: not root, no `umoci` or `debootstrap`, or no Debian mirror).
pub(crate) fn debian_base(test: &str) -> Option<PathBuf> {
    if !is_root() {
        skip(test, "debootstrap needs root");
        return None;
    }
    if !have(test, &["umoci"]) {
        return None;
    }
    if Command::new("debootstrap")
        .arg("--version")
        .output()
        .is_err()
    {
        skip(
            test,
            "debootstrap is not installed (apt-get install debootstrap)",
        );
        return None;
    }
    if !mirror_reachable() {
        skip(test, &format!("{MIRROR_HOST} is not reachable"));
        return None;
    }
    match debian_layout() {
        Ok(l) => Some(l),
        Err(why) => {
            skip(test, &format!("no Debian image: {why}"));
            None
        }
    }
}

#[test]
fn apt_get_installs_a_package_on_debian_minbase() {
    let test = "run_debian_apt_get";
    let Some(layout) = debian_base(test) else {
        return;
    };
    for r in runners(test) {
        let w = RunWork::with_base(r, &layout, "debian").time_limit(Duration::from_secs(600));
        w.dockerfile(
            "FROM debian\n\
             RUN apt-get update && apt-get install -y --no-install-recommends hello \
             && rm -rf /var/lib/apt/lists/*\n\
             RUN hello > /tmp/hello.out\n",
        );
        let img = w.build_image(&[]);
        assert!(
            img.read("usr/bin/hello").is_some(),
            "as {}: /usr/bin/hello is missing",
            r.name()
        );
        assert_eq!(
            img.read("tmp/hello.out").as_deref(),
            Some("Hello, world!\n"),
            "as {}",
            r.name()
        );
    }
}
