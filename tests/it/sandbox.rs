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

const TEST_USER: &str = "buildertest";

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
fn ensure_test_user() -> Result<(u32, u32), String> {
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

#[test]
fn root_inside_can_chown_to_other_ids() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(
            &r,
            &[],
            &[
                "sh",
                "-c",
                "id -u; touch /tmp/f; chown 1000:1000 /tmp/f; stat -c %u:%g /tmp/f",
            ],
        );
        assert_eq!(ok(&out, &r), "0\n1000:1000\n", "as {}", r.name());
        let meta = std::fs::metadata(fx.root().join("tmp/f")).unwrap();
        assert_eq!(meta.uid(), r.host_uid(1000), "as {}", r.name());
    }
}

#[test]
fn user_runs_with_its_ids_and_supplementary_groups() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(
            &r,
            &["--user", "user"],
            &["sh", "-c", "id -u; id -g; id -G"],
        );
        let text = ok(&out, &r);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&"1000"), "as {}: {text}", r.name());
        assert_eq!(lines.get(1), Some(&"1000"), "as {}: {text}", r.name());
        assert!(
            lines
                .get(2)
                .is_some_and(|g| g.split(' ').any(|g| g == "50")),
            "as {}: {text}",
            r.name()
        );
        // uid:gid takes BuildKit's fast path: no supplementary groups.
        let out = fx.run(&r, &["--user", "1000:1000"], &["id", "-G"]);
        assert_eq!(ok(&out, &r).trim(), "1000", "as {}", r.name());
    }
}

#[test]
fn workdir_is_created_owned_by_the_user() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(
            &r,
            &["--user", "user", "--cwd", "/app/src"],
            &["sh", "-c", "pwd; stat -c %u:%g /app/src /app"],
        );
        assert_eq!(
            ok(&out, &r),
            "/app/src\n1000:1000\n1000:1000\n",
            "as {}",
            r.name()
        );
    }
}

#[test]
fn network_none_has_only_loopback_up() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(&r, &["--network", "none"], &["cat", "/proc/net/dev"]);
        let text = ok(&out, &r);
        let interfaces: Vec<&str> = text
            .lines()
            .skip(2)
            .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim()))
            .collect();
        assert_eq!(interfaces, ["lo"], "as {}: {text}", r.name());
        let out = fx.run(&r, &["--network", "none"], &["ip", "-o", "link"]);
        let text = ok(&out, &r);
        assert_eq!(text.lines().count(), 1, "as {}: {text}", r.name());
        assert!(
            text.contains(" lo: ") && text.contains(",UP"),
            "as {}: {text}",
            r.name()
        );
    }
}

#[test]
fn pid_one_hostname_and_a_fresh_proc() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(
            &r,
            &["--hostname", "testbox"],
            &[
                "sh",
                "-c",
                "echo $$; hostname; ls /proc | grep -c '^[0-9]*$'; cat /proc/1/cmdline; echo",
            ],
        );
        let text = ok(&out, &r);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&"1"), "as {}: {text}", r.name());
        assert_eq!(lines.get(1), Some(&"testbox"), "as {}: {text}", r.name());
        let pids: u32 = lines.get(2).and_then(|n| n.parse().ok()).unwrap_or(999);
        assert!(
            pids <= 4,
            "as {}: {pids} processes visible: {text}",
            r.name()
        );
        assert!(lines.get(3).is_some_and(|l| l.starts_with("sh")), "{text}");
    }
}

#[test]
fn resolv_conf_and_hosts_are_stubs_and_recorded() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(
            &r,
            &["--print-stubs"],
            &["sh", "-c", "cat /etc/resolv.conf /etc/hosts; ls /dev"],
        );
        let text = ok(&out, &r);
        assert!(text.contains("nameserver "), "as {}: {text}", r.name());
        assert!(
            text.contains("127.0.0.1\tlocalhost buildkitsandbox"),
            "{text}"
        );
        for dev in [
            "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm",
        ] {
            assert!(
                text.lines().any(|l| l == dev),
                "as {}: no /dev/{dev}: {text}",
                r.name()
            );
        }
        let err = stderr(&out);
        for stub in ["/etc/resolv.conf", "/etc/hosts", "/proc", "/dev", "/sys"] {
            assert!(
                err.lines().any(|l| l == format!("stub {stub}")),
                "as {}: {err}",
                r.name()
            );
        }
        // What stays in the root is empty: the diff drops it.
        let left = std::fs::metadata(fx.root().join("etc/resolv.conf")).unwrap();
        assert_eq!(left.len(), 0);
        assert_eq!(
            std::fs::read_dir(fx.root().join("proc")).unwrap().count(),
            0
        );
    }
}

#[test]
fn exit_code_of_a_failing_command_is_returned() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(&r, &[], &["sh", "-c", "echo partial; exit 7"]);
        assert_eq!(
            out.status.code(),
            Some(7),
            "as {}: {}",
            r.name(),
            stderr(&out)
        );
        assert_eq!(stdout(&out), "partial\n");
    }
}

#[test]
fn bad_commands_users_and_workdirs_are_clear_errors() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(&r, &[], &["nosuchcommand", "x"]);
        assert_eq!(out.status.code(), Some(127), "as {}", r.name());
        assert!(
            stderr(&out).contains("exec \"nosuchcommand\": executable file not found in $PATH"),
            "{}",
            stderr(&out)
        );
        let out = fx.run(&r, &["--cwd", "/etc/passwd"], &["true"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("working directory /etc/passwd is not a directory"),
            "{}",
            stderr(&out)
        );
        let out = fx.run(&r, &["--user", "nobody"], &["true"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("unable to find user nobody: no matching entries in passwd file"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn a_killed_command_reports_the_signal() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let tok = token();
        let child = r
            .command()
            .args(["debug", "run", "--rootfs"])
            .arg(fx.root())
            .args(["--", "sleep", &tok])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for("the command to start", || !sleeping(&tok).is_empty());
        for pid in sleeping(&tok) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(137),
            "as {}: {}",
            r.name(),
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("killed by signal 9 (SIGKILL)"),
            "{}",
            stderr(&out)
        );
        fx.assert_clean();
        assert!(sleeping(&tok).is_empty());
    }
}

#[test]
fn interrupt_leaves_no_process_and_no_mount() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let (a, b) = (token(), token());
        let script = format!("sleep {a} & sleep {b}");
        let child = r
            .command()
            .args(["debug", "run", "--rootfs"])
            .arg(fx.root())
            .args(["--", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for("both sleeps to start", || {
            !sleeping(&a).is_empty() && !sleeping(&b).is_empty()
        });
        // The outermost builder process: root's, or the one runuser started.
        let target = match r {
            Runner::Me => child.id(),
            Runner::Rootless { .. } => children_of(child.id())
                .into_iter()
                .next()
                .expect("the rootless builder process"),
        };
        let _ = Command::new("kill")
            .args(["-INT", &target.to_string()])
            .status();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(130),
            "as {}: {}",
            r.name(),
            stderr(&out)
        );
        assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
        wait_for("no process of the run is left", || {
            sleeping(&a).is_empty() && sleeping(&b).is_empty()
        });
        fx.assert_clean();
    }
}

#[test]
fn overlay_upper_holds_new_modified_deleted_and_opaque() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let base = fx.dir.path();
        let lower = fx.root();
        std::fs::create_dir_all(lower.join("dir/sub")).unwrap();
        std::fs::write(lower.join("dir/sub/a"), "a").unwrap();
        std::fs::write(lower.join("tmp/old"), "old").unwrap();
        for d in ["upper", "work", "merged"] {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        r.own(base);
        let out = r
            .command()
            .args(["debug", "run", "--rootfs"])
            .arg(base.join("merged"))
            .arg("--lower")
            .arg(&lower)
            .arg("--upper")
            .arg(base.join("upper"))
            .arg("--work")
            .arg(base.join("work"))
            .args([
                "--",
                "sh",
                "-c",
                "echo new > /new; echo more >> /etc/passwd; rm /tmp/old; \
                 rm -rf /dir; mkdir /dir; touch /dir/x; ls /dir",
            ])
            .output()
            .unwrap();
        assert_eq!(ok(&out, &r), "x\n", "as {}", r.name());
        fx.assert_clean();
        let upper = base.join("upper");
        assert_eq!(std::fs::read_to_string(upper.join("new")).unwrap(), "new\n");
        assert!(std::fs::read_to_string(upper.join("etc/passwd"))
            .unwrap()
            .ends_with("more\n"));
        let old = std::fs::symlink_metadata(upper.join("tmp/old")).unwrap();
        assert!(
            old.file_type().is_char_device() && old.rdev() == 0,
            "as {}",
            r.name()
        );
        assert_eq!(
            xattr::get(upper.join("dir"), "user.overlay.opaque")
                .unwrap()
                .as_deref(),
            Some(&b"y"[..]),
            "as {}",
            r.name()
        );
        assert!(upper.join("dir/x").exists() && !upper.join("dir/sub").exists());
        // The lower directory is untouched.
        assert!(lower.join("tmp/old").exists() && lower.join("dir/sub/a").exists());
        assert!(
            !upper.join("bin").exists(),
            "only changes reach the upper directory"
        );
    }
}

#[test]
fn without_a_range_only_root_is_mapped_and_said_so() {
    if !is_root() || runners().is_empty() {
        return;
    }
    const SINGLE: &str = "buildertest1";
    if Command::new("id")
        .arg(SINGLE)
        .output()
        .is_ok_and(|o| !o.status.success())
    {
        // No subordinate ids for this one.
        let status = Command::new("useradd")
            .args([
                "-M",
                "-s",
                "/bin/sh",
                "-K",
                "SUB_UID_COUNT=0",
                "-K",
                "SUB_GID_COUNT=0",
            ])
            .arg(SINGLE)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let dir = tempfile::Builder::new()
        .prefix("builder-sandbox-")
        .tempdir()
        .unwrap();
    let root = dir.path().join("root");
    make_rootfs(&root);
    let owner = format!("{SINGLE}:");
    assert!(Command::new("chown")
        .args(["-R", &owner])
        .arg(dir.path())
        .status()
        .unwrap()
        .success());
    let run = |flags: &[&str], cmd: &[&str]| {
        Command::new("runuser")
            .args([
                "-u",
                SINGLE,
                "--",
                env!("CARGO_BIN_EXE_builder"),
                "debug",
                "run",
                "--rootfs",
            ])
            .arg(&root)
            .args(flags)
            .arg("--")
            .args(cmd)
            .current_dir("/")
            .output()
            .unwrap()
    };
    let out = run(
        &[],
        &[
            "sh",
            "-c",
            "id -u; touch /tmp/f; chown 1000 /tmp/f || echo refused",
        ],
    );
    assert_eq!(stdout(&out), "0\nrefused\n", "{}", stderr(&out));
    assert_eq!(
        stderr(&out).matches("only your own user is mapped").count(),
        1,
        "{}",
        stderr(&out)
    );
    let out = run(&["--user", "user"], &["true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot run as uid 1000"),
        "{}",
        stderr(&out)
    );
}
