//! Fixtures for the RUN tests: who runs `builder build` (this process's user, and the
//! non-root user `buildertest` with a subordinate id range when the tests run as root), a
//! workspace that user owns (context, store, a private copy of the busybox fixture,
//! outputs), the image an OCI-layout output holds with its layers as stable text, and the
//! checks that a build left no mount and no process behind.
//!
//! A missing prerequisite (user namespaces, `newuidmap`, a subordinate id range) skips
//! loudly; with `BUILDER_REQUIRE_SANDBOX=1` (CI) it fails instead.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::{is_root, run, text};
use crate::run_image::Image;

/// The non-root user the tests create (as in the sandbox tests).
pub const TEST_USER: &str = "buildertest";

/// The first subordinate id given to [`TEST_USER`] when it has none (the sandbox tests use
/// the same range, so a race between them writes the same line).
const SUBID_START: u32 = 300_000;

/// How long one build may take, by default, before the test kills it and fails.
const BUILD_TIMEOUT: Duration = Duration::from_secs(120);

/// Who runs `builder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// This process's own user (root when the tests run as root).
    Me,
    /// `runuser -u buildertest --`.
    Rootless,
}

impl Runner {
    /// A name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Runner::Me if is_root() => "root",
            Runner::Me => "the test user",
            Runner::Rootless => TEST_USER,
        }
    }
}

fn required() -> bool {
    std::env::var("BUILDER_REQUIRE_SANDBOX").is_ok_and(|v| v == "1")
}

/// Skip loudly, or fail with `BUILDER_REQUIRE_SANDBOX=1`.
fn skip(test: &str, why: &str) {
    assert!(!required(), "{test}: RUN test cannot run: {why}");
    eprintln!("\n!!! SKIPPED {test}: {why} !!!\n");
}

fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/usr/sbin".into(), "/sbin".into()])
        .any(|d| d.join(tool).is_file())
}

fn read_number(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The start of `user`'s range in `file` (/etc/subuid or /etc/subgid).
fn subid_start(file: &str, user: &str) -> Option<u32> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next() == Some(user)).then(|| f.next()?.parse::<u32>().ok())?
    })
}

/// Why this process's user cannot run rootless builds with an id range, if it cannot.
fn host_blocks_user_namespaces() -> Option<String> {
    if read_number("/proc/sys/user/max_user_namespaces") == Some(0) {
        return Some("user namespaces are disabled (user.max_user_namespaces = 0)".into());
    }
    if read_number("/proc/sys/kernel/unprivileged_userns_clone") == Some(0) {
        return Some("unprivileged user namespaces are disabled".into());
    }
    if read_number("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == Some(1) {
        return Some("AppArmor restricts unprivileged user namespaces".into());
    }
    None
}

/// Create [`TEST_USER`] (with a home) and its subordinate id ranges if missing.
fn ensure_test_user() -> Result<(), String> {
    let exists = || {
        Command::new("id")
            .args(["-u", TEST_USER])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !exists() {
        let made = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", TEST_USER])
            .status()
            .map_err(|e| format!("useradd: {e}"))?;
        // Another test may have made it meanwhile.
        if !made.success() && !exists() {
            return Err(format!("useradd {TEST_USER} failed"));
        }
    }
    for file in ["/etc/subuid", "/etc/subgid"] {
        if subid_start(file, TEST_USER).is_none() {
            let mut all = std::fs::read_to_string(file).unwrap_or_default();
            if !all.is_empty() && !all.ends_with('\n') {
                all.push('\n');
            }
            all.push_str(&format!("{TEST_USER}:{SUBID_START}:65536\n"));
            std::fs::write(file, all).map_err(|e| format!("write {file}: {e}"))?;
        }
    }
    Ok(())
}

/// The runners for `test`, checked once per process: root and `buildertest` when the tests
/// run as root, else this user (the root variant then skips loudly).
pub fn runners(test: &str) -> Vec<Runner> {
    static FOUND: OnceLock<(Vec<Runner>, Vec<String>)> = OnceLock::new();
    let (list, skipped) = FOUND.get_or_init(|| {
        let mut skipped = Vec::new();
        if let Some(why) = host_blocks_user_namespaces() {
            return (Vec::new(), vec![why]);
        }
        let idmaps = on_path("newuidmap") && on_path("newgidmap");
        if is_root() {
            let mut list = vec![Runner::Me];
            match ensure_test_user() {
                Ok(()) if idmaps => list.push(Runner::Rootless),
                Ok(()) => skipped.push(format!(
                    "the {TEST_USER} variant: newuidmap/newgidmap are missing (apt-get install uidmap)"
                )),
                Err(e) => skipped.push(format!("the {TEST_USER} variant: {e}")),
            }
            (list, skipped)
        } else {
            skipped.push("the root variant: the tests do not run as root".into());
            let me = Command::new("id")
                .arg("-un")
                .output()
                .map(|o| text(&o.stdout).trim().to_string())
                .unwrap_or_default();
            if !idmaps {
                skipped.push("newuidmap/newgidmap are missing (apt-get install uidmap)".into());
                return (Vec::new(), skipped);
            }
            if subid_start("/etc/subuid", &me).is_none() {
                skipped.push(format!("{me} has no range in /etc/subuid"));
                return (Vec::new(), skipped);
            }
            (vec![Runner::Me], skipped)
        }
    });
    for why in skipped {
        // Not running as root is how a developer runs the tests, not a missing sandbox.
        if why.starts_with("the root variant") {
            eprintln!("\n!!! SKIPPED {test}: {why} !!!\n");
        } else {
            skip(test, why);
        }
    }
    list.clone()
}

/// A number unique to this process and call, for finding a test's processes by argv (it
/// starts with 9, the sandbox tests' with 1, so the two never match each other's).
pub fn token() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "9{:05}{:03}",
        std::process::id() % 100_000,
        NEXT.fetch_add(1, Ordering::SeqCst) % 1000
    )
}

/// Pids of processes whose argv holds `needle`.
pub fn processes_with(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if pid != me && String::from_utf8_lossy(&cmdline).contains(needle) {
            found.push(pid);
        }
    }
    found
}

/// Wait up to 10 s for `cond`.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Run `cmd` to the end, killing it after `limit`.
pub fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start builder");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish in {limit:?}; stderr so far is lost with the kill");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// One build's workspace, owned by the runner: `ctx/`, `root/` (the store), `base/` (a copy
/// of the base image's layout, readable by the runner; `FROM busybox` names it), `out/`.
pub struct RunWork {
    dir: tempfile::TempDir,
    runner: Runner,
    base_name: &'static str,
    limit: Duration,
    env: Vec<(&'static str, &'static str)>,
}

impl RunWork {
    /// A fresh workspace for `runner` with a copy of the busybox layout at `layout`.
    pub fn new(runner: Runner, layout: &Path) -> RunWork {
        RunWork::with_base(runner, layout, "busybox")
    }

    /// A fresh workspace for `runner` where `FROM NAME` is the OCI layout at `layout`.
    pub fn with_base(runner: Runner, layout: &Path, name: &'static str) -> RunWork {
        let dir = tempfile::Builder::new()
            .prefix("builder-run-")
            .tempdir()
            .expect("tempdir");
        for d in ["ctx", "root", "out"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        run(Command::new("cp")
            .arg("-a")
            .arg(layout)
            .arg(dir.path().join("base")));
        let w = RunWork {
            dir,
            runner,
            base_name: name,
            limit: BUILD_TIMEOUT,
            env: Vec::new(),
        };
        w.chmod(w.dir.path(), 0o755);
        w
    }

    /// Let each build take up to `limit` (default 120 s).
    pub fn time_limit(mut self, limit: Duration) -> RunWork {
        self.limit = limit;
        self
    }

    /// Run every build with `key=value` in its environment.
    pub fn env(mut self, key: &'static str, value: &'static str) -> RunWork {
        self.env.push((key, value));
        self
    }

    fn chmod(&self, p: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A path in the workspace.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Write `ctx/REL` with `content`, creating parents.
    pub fn file(&self, rel: &str, content: &str) -> &Self {
        let p = self.path("ctx").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        self
    }

    /// The Dockerfile of the context.
    pub fn dockerfile(&self, text: &str) -> &Self {
        self.file("Dockerfile", text)
    }

    /// The command that runs `builder --root ROOT` as the runner in the workspace.
    fn command(&self) -> Command {
        let exe = env!("CARGO_BIN_EXE_builder");
        let mut cmd = match self.runner {
            Runner::Me => Command::new(exe),
            Runner::Rootless => {
                // The runner must own everything it builds from and into.
                run(Command::new("chown")
                    .args(["-R", &format!("{TEST_USER}:")])
                    .arg(self.dir.path()));
                // runuser resets part of the environment: `env` sets what the build needs.
                let mut c = Command::new("runuser");
                c.args(["-u", TEST_USER, "--", "env"])
                    .arg(format!("HOME={}", self.dir.path().display()))
                    .args(self.env.iter().map(|(k, v)| format!("{k}={v}")))
                    .arg(exe);
                c
            }
        };
        cmd.arg("--root")
            .arg(self.path("root"))
            .current_dir(self.dir.path())
            .env_remove("BUILDER_ROOT")
            .env_remove("SOURCE_DATE_EPOCH")
            .env("HOME", self.dir.path())
            .envs(self.env.iter().copied());
        cmd
    }

    /// The `builder build` command of [`RunWork::build`].
    fn build_command(&self, args: &[&str]) -> Command {
        let base = format!(
            "{}=oci-layout://{}",
            self.base_name,
            self.path("base").display()
        );
        let mut cmd = self.command();
        cmd.arg("build");
        if !args
            .iter()
            .any(|a| a.starts_with("--progress") || *a == "-q")
        {
            cmd.args(["--progress", "plain"]);
        }
        cmd.args(["--build-context", &base]).args(args).arg("ctx");
        cmd
    }

    /// `builder build [--progress plain] --build-context busybox=... ARGS... ctx`, whatever
    /// the outcome. Afterwards no mount of the workspace and no process naming it may be
    /// left.
    pub fn build(&self, args: &[&str]) -> Output {
        let out = output_within(&mut self.build_command(args), self.limit);
        self.assert_nothing_left(&[]);
        out
    }

    /// Start [`RunWork::build`] to `out/img` without waiting: the child (builder itself, or
    /// runuser for [`Runner::Rootless`]) and the pid of the builder process.
    pub fn spawn_build(&self, args: &[&str]) -> (std::process::Child, u32) {
        self.spawn_build_inheriting(args, None)
    }

    /// [`RunWork::spawn_build`], with `inherit` (when given) open as descriptor 8 in the
    /// builder, without close-on-exec, as `builder build ... 8<DIR` leaves it.
    pub fn spawn_build_inheriting(
        &self,
        args: &[&str],
        inherit: Option<std::os::fd::RawFd>,
    ) -> (std::process::Child, u32) {
        let dest = self.path("out/img");
        let spec = format!("type=oci,dest={},tar=false", dest.display());
        let mut all = vec!["-t", "app", "-o", &spec];
        all.extend_from_slice(args);
        let mut cmd = self.build_command(&all);
        if let Some(fd) = inherit {
            use std::os::unix::process::CommandExt;
            // SAFETY: dup2 only, between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    if nix::libc::dup2(fd, 8) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start builder");
        let builder = match self.runner {
            Runner::Me => child.id(),
            Runner::Rootless => {
                let mut found = None;
                wait_for("runuser to start builder", || {
                    found = children_of(child.id()).into_iter().next();
                    found.is_some()
                });
                found.unwrap()
            }
        };
        (child, builder)
    }

    /// Build to the OCI layout `out/img` (tagged `app`), which must succeed.
    pub fn build_image(&self, args: &[&str]) -> Image {
        let dest = self.path("out/img");
        let spec = format!("type=oci,dest={},tar=false", dest.display());
        let mut all = vec!["-t", "app", "-o", &spec];
        all.extend_from_slice(args);
        let out = self.build(&all);
        assert_eq!(
            out.status.code(),
            Some(0),
            "build as {} failed:\n{}",
            self.runner.name(),
            text(&out.stderr)
        );
        Image::open(&dest)
    }

    /// Build to `out/img`, which must fail with exit status 1 and write nothing there; the
    /// build's stderr.
    pub fn build_fails(&self, args: &[&str]) -> String {
        let dest = self.path("out/img");
        let spec = format!("type=oci,dest={},tar=false", dest.display());
        let mut all = vec!["-t", "app", "-o", &spec];
        all.extend_from_slice(args);
        let out = self.build(&all);
        let err = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "as {}: the build should fail with status 1:\n{err}",
            self.runner.name()
        );
        assert!(
            !dest.exists(),
            "as {}: a failed build wrote {}",
            self.runner.name(),
            dest.display()
        );
        err
    }

    /// No mount under the workspace is left in this process's mount table, and no process
    /// whose argv names the workspace or one of `tokens` is left (after a short grace for
    /// the kernel to reap them).
    pub fn assert_nothing_left(&self, tokens: &[&str]) {
        let dir = self.dir.path().to_string_lossy().into_owned();
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        let left: Vec<&str> = mounts.lines().filter(|l| l.contains(&dir)).collect();
        assert!(
            left.is_empty(),
            "as {}: mounts left on the host: {left:?}",
            self.runner.name()
        );
        let mut needles = vec![dir.as_str()];
        needles.extend_from_slice(tokens);
        let start = Instant::now();
        for needle in needles {
            loop {
                let pids = processes_with(needle);
                if pids.is_empty() {
                    break;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(2),
                    "as {}: processes left behind naming {needle}: {pids:?} ({})",
                    self.runner.name(),
                    describe(&pids)
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Pids whose parent is `parent`.
pub fn children_of(parent: u32) -> Vec<u32> {
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

fn describe(pids: &[u32]) -> String {
    pids.iter()
        .map(|p| {
            let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            format!("{p}: {}", String::from_utf8_lossy(&cmd).replace('\0', " "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}
