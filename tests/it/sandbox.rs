//! The RUN sandbox and the overlay, for real: `builder debug run` over a busybox root
//! directory, as root and (when the tests run as root) as a non-root user `buildertest`
//! with a subordinate id range. Every test checks afterwards that no mount of its
//! directories is left in `/proc/mounts` and that no process it started is left.
//!
//! Skips loudly when the host has no user namespaces or no static busybox; with
//! `BUILDER_REQUIRE_SANDBOX=1` (CI) a skip is a failure.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub(crate) const TEST_USER: &str = "buildertest";

/// Who runs `builder`.
#[derive(Debug, Clone)]
enum Runner {
    /// This process's own user (root when the tests run as root).
    Me,
    /// `runuser -u buildertest --`.
    Rootless { uid: u32, subuid_start: u32 },
}

impl Runner {
    fn name(&self) -> &'static str {
        match self {
            Runner::Me if is_root() => "root",
            Runner::Me => "me",
            Runner::Rootless { .. } => TEST_USER,
        }
    }

    fn command(&self) -> Command {
        let exe = env!("CARGO_BIN_EXE_builder");
        let mut cmd = match self {
            Runner::Me => Command::new(exe),
            Runner::Rootless { .. } => {
                let mut c = Command::new("runuser");
                c.args(["-u", TEST_USER, "--", exe]);
                c
            }
        };
        cmd.current_dir("/").env_remove("BUILDER_ROOT");
        cmd
    }

    /// Give the directory to the runner (the root of a rootless build must be its own).
    fn own(&self, path: &Path) {
        if let Runner::Rootless { .. } = self {
            let status = Command::new("chown")
                .args(["-R", &format!("{TEST_USER}:")])
                .arg(path)
                .status()
                .unwrap();
            assert!(status.success());
        }
    }

    /// The host uid that id `inside` of the build namespace maps to.
    fn host_uid(&self, inside: u32) -> u32 {
        match self {
            Runner::Me if is_root() => inside,
            Runner::Me => unreachable!("only used with a known mapping"),
            Runner::Rootless { uid, subuid_start } => {
                if inside == 0 {
                    *uid
                } else {
                    subuid_start + inside - 1
                }
            }
        }
    }
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn required() -> bool {
    std::env::var("BUILDER_REQUIRE_SANDBOX").is_ok_and(|v| v == "1")
}

/// Skip (or, with BUILDER_REQUIRE_SANDBOX=1, fail) with a loud message.
fn skip(why: &str) -> Vec<Runner> {
    assert!(!required(), "sandbox test cannot run: {why}");
    eprintln!("\n!!! SKIPPED sandbox test: {why} !!!\n");
    Vec::new()
}

fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Make `buildertest` with a subordinate id range if missing; its uid and range start.
pub(crate) fn ensure_test_user() -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, TEST_USER]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    if id("-u").is_none() {
        let status = Command::new("useradd")
            .args(["-M", "-s", "/bin/sh", TEST_USER])
            .status()
            .map_err(|e| format!("useradd: {e}"))?;
        if !status.success() {
            return Err("useradd failed".into());
        }
    }
    let uid = id("-u").ok_or("no uid for buildertest")?;
    let mut start = None;
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let found = text.lines().find_map(|l| {
            let mut f = l.split(':');
            (f.next() == Some(TEST_USER)).then(|| f.next()?.parse::<u32>().ok())?
        });
        let found = match found {
            Some(s) => s,
            None => {
                let line = format!("{TEST_USER}:300000:65536\n");
                let mut all = text.clone();
                if !all.is_empty() && !all.ends_with('\n') {
                    all.push('\n');
                }
                all.push_str(&line);
                std::fs::write(file, all).map_err(|e| format!("write {file}: {e}"))?;
                300000
            }
        };
        if file == "/etc/subuid" {
            start = Some(found);
        }
    }
    if Command::new("newuidmap").arg("--help").output().is_err()
        && !Path::new("/usr/bin/newuidmap").exists()
    {
        return Err("newuidmap is missing (install the uidmap package)".into());
    }
    Ok((uid, start.unwrap_or(300000)))
}

/// The runners available here, checked once: root plus buildertest when running as root,
/// else this user.
fn runners() -> Vec<Runner> {
    static RUNNERS: OnceLock<Result<Vec<Runner>, String>> = OnceLock::new();
    let found = RUNNERS.get_or_init(|| {
        if busybox().is_none() {
            return Err("no busybox (apt-get install busybox-static)".into());
        }
        let mut list = vec![Runner::Me];
        if is_root() {
            let (uid, subuid_start) = ensure_test_user()?;
            list.push(Runner::Rootless { uid, subuid_start });
        }
        for r in &list {
            let root = Fixture::new(r);
            let out = root.run(r, &[], &["true"]);
            if !out.status.success() {
                return Err(format!(
                    "builder debug run fails as {}: {}",
                    r.name(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        Ok(list)
    });
    match found {
        Ok(list) => list.clone(),
        Err(why) => skip(why),
    }
}

/// A busybox root directory in a fresh temporary directory.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(runner: &Runner) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("builder-sandbox-")
            .tempdir()
            .unwrap();
        make_rootfs(&dir.path().join("root"));
        runner.own(dir.path());
        Fixture { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn run(&self, runner: &Runner, flags: &[&str], command: &[&str]) -> Output {
        let out = runner
            .command()
            .args(["debug", "run", "--rootfs"])
            .arg(self.root())
            .args(flags)
            .arg("--")
            .args(command)
            .output()
            .unwrap();
        self.assert_clean();
        out
    }

    /// No mount under this fixture is left on the host.
    fn assert_clean(&self) {
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        let dir = self.dir.path().to_string_lossy().into_owned();
        let left: Vec<&str> = mounts.lines().filter(|l| l.contains(&dir)).collect();
        assert!(left.is_empty(), "mounts left on the host: {left:?}");
    }
}

fn make_rootfs(root: &Path) {
    let bb = busybox().unwrap();
    for d in ["bin", "etc", "tmp", "home/user", "root"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(&bb, root.join("bin/busybox")).unwrap();
    let list = Command::new(&bb).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" && !applet.contains('/') {
            let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
        }
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/group"),
        "root:x:0:\nstaff:x:50:user\nuser:x:1000:\n",
    )
    .unwrap();
    std::fs::set_permissions(
        root.join("tmp"),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(out: &Output, runner: &Runner) -> String {
    assert!(
        out.status.success(),
        "as {}: {:?}\nstdout: {}\nstderr: {}",
        runner.name(),
        out.status,
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// A number unique to this test process and call, for finding processes by argv.
fn token() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}{:03}",
        100_000 + std::process::id() % 100_000,
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// Pids of processes running exactly `sleep TOKEN`.
fn sleeping(token: &str) -> Vec<u32> {
    let wanted = format!("sleep\0{token}\0");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline == wanted.as_bytes() {
            found.push(pid);
        }
    }
    found
}

/// Pids whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: the comm may hold spaces, so start after the ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            found.push(pid);
        }
    }
    found
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

mod failures;
mod hardening;
mod isolation;
mod overlay;
