//! What a command may not reach, as with runc and Docker's default spec: host kernel
//! settings and cgroups through /proc and /sys, the caller's terminal, descriptors and
//! session keyring, and the system calls Docker's seccomp profile denies. Every check
//! runs as root and as `buildertest`; each failed on the sandbox before it was hardened.
//!
//! `probe.c` beside this file is built static once (`cc -static`) and copied into each
//! fixture; without a C compiler and a static libc the tests that need it skip loudly.

use std::os::unix::process::CommandExt;
use std::sync::OnceLock;

use super::*;

/// The static probe program, built once.
fn probe() -> Option<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("builder-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let out = dir.join("probe");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/sandbox/probe.c");
        let made = Command::new("cc")
            .args(["-static", "-O1", "-o"])
            .arg(&out)
            .arg(&source)
            .output()
            .map_err(|e| format!("cc: {e} (apt-get install gcc)"))?;
        if !made.status.success() {
            return Err(format!("cc -static probe.c: {}", stderr(&made)));
        }
        Ok(out)
    });
    match built {
        Ok(p) => Some(p.clone()),
        Err(why) => {
            skip(why);
            None
        }
    }
}

/// A fixture with the probe at /bin/probe.
fn probed(r: &Runner, probe: &Path) -> Fixture {
    let fx = Fixture::new(r);
    std::fs::copy(probe, fx.root().join("bin/probe")).unwrap();
    r.own(&fx.root().join("bin/probe"));
    fx
}

/// Docker's read-only paths, and its masked paths, that this kernel has.
fn host_paths() -> (Vec<&'static str>, Vec<&'static str>) {
    let readonly = [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ];
    let masked = [
        "/proc/acpi",
        "/proc/asound",
        "/proc/interrupts",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ];
    let here = |p: &&str| Path::new(p).exists();
    (
        readonly.into_iter().filter(here).collect(),
        masked.into_iter().filter(here).collect(),
    )
}

#[test]
fn proc_sys_is_read_only_and_kernel_files_are_masked() {
    let (readonly, masked) = host_paths();
    // Each read-only path with its mount's first option; each masked one with the size of
    // what can be read there (a file's bytes, a directory's entries).
    let script = format!(
        "echo x > /proc/sys/kernel/hostname 2>/dev/null && echo sysctl-written; \
         for p in {}; do awk -v p=$p '$5 == p {{ split($6, o, \",\"); print p, o[1] }}' \
           /proc/self/mountinfo; done; \
         for p in {}; do if [ -d $p ]; then n=$(ls -A $p | wc -l); \
           else n=$(cat $p 2>/dev/null | wc -c); fi; echo $p $n; done",
        readonly.join(" "),
        masked.join(" ")
    );
    let mut want = String::new();
    for p in &readonly {
        want.push_str(&format!("{p} ro\n"));
    }
    for p in &masked {
        want.push_str(&format!("{p} 0\n"));
    }
    for r in runners() {
        let fx = Fixture::new(&r);
        for network in ["host", "none"] {
            let out = fx.run(&r, &["--network", network], &["sh", "-c", &script]);
            assert_eq!(
                ok(&out, &r),
                want,
                "as {} with --network {network}",
                r.name()
            );
        }
    }
}

#[test]
fn sys_and_every_cgroup_mount_below_it_are_read_only() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let name = format!("builder-test-{}", token());
        for network in ["host", "none"] {
            let script = format!(
                "mkdir /sys/fs/cgroup/pids/{name} 2>/dev/null && echo cgroup-made; \
                 awk '$5 ~ \"^/sys(/|$)\" {{ split($6, o, \",\"); print $5, o[1] }}' \
                   /proc/self/mountinfo | grep -v ' ro$'; echo done"
            );
            let out = fx.run(&r, &["--network", network], &["sh", "-c", &script]);
            let host = Path::new("/sys/fs/cgroup/pids").join(&name);
            let made = host.exists();
            if made {
                let _ = std::fs::remove_dir(&host);
            }
            assert!(
                !made,
                "as {}: a RUN made the host cgroup {}",
                r.name(),
                host.display()
            );
            assert_eq!(
                ok(&out, &r),
                "done\n",
                "as {} with --network {network}: writable mounts under /sys",
                r.name()
            );
        }
    }
}

#[test]
fn run_has_its_own_session_and_no_controlling_terminal() {
    let Some(probe) = probe() else { return };
    for r in runners() {
        let fx = probed(&r, &probe);
        // Under a pseudo-terminal, as in an interactive shell: `script` gives builder one
        // as its controlling terminal.
        let cmd = r.command();
        let mut line: Vec<String> = vec![cmd.get_program().to_string_lossy().into_owned()];
        line.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
        line.extend(
            [
                "debug",
                "run",
                "--rootfs",
                &fx.root().to_string_lossy(),
                "--",
                "sh",
                "-c",
                "cut -d' ' -f6,7 /proc/self/stat; probe tty",
            ]
            .map(String::from),
        );
        let quoted: Vec<String> = line
            .iter()
            .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
            .collect();
        let out = Command::new("script")
            .args(["-qec", &quoted.join(" "), "/dev/null"])
            .current_dir("/")
            .env_remove("BUILDER_ROOT")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        fx.assert_clean();
        let text = stdout(&out).replace('\r', "");
        // Field 6 is the session (pid 1 leads its own), field 7 the terminal (none).
        assert!(
            text.contains("1 0\nopen /dev/tty: ENXIO\n"),
            "as {}: {text}\n{}",
            r.name(),
            stderr(&out)
        );
        assert!(!text.contains("TIOCSTI"), "as {}: {text}", r.name());
    }
}

#[test]
fn inherited_descriptors_do_not_reach_the_command() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let dir = std::fs::File::open(fx.dir.path()).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&dir);
        let mut cmd = r.command();
        cmd.args(["debug", "run", "--rootfs"]).arg(fx.root()).args([
            "--",
            "sh",
            "-c",
            "ls /proc/self/fd/8/ 2>/dev/null; echo; ls /proc/self/fd",
        ]);
        // SAFETY: dup2 only, between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if nix::libc::dup2(fd, 8) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = cmd.output().unwrap();
        fx.assert_clean();
        drop(dir);
        // `ls /proc/self/fd` shows stdio and its own directory descriptor.
        assert_eq!(ok(&out, &r), "\n0\n1\n2\n3\n", "as {}", r.name());
    }
}

#[test]
fn the_callers_session_keyring_is_out_of_reach() {
    let Some(probe) = probe() else { return };
    for r in runners() {
        let fx = probed(&r, &probe);
        let key = format!("builder-test-{}", token());
        let runs = [&[][..], &["--security", "insecure"][..]];
        for flags in runs {
            if !flags.is_empty() && !matches!(r, Runner::Me if is_root()) {
                continue;
            }
            // The probe adds the key to the caller's session keyring, then runs builder.
            let mut cmd = match r {
                Runner::Me => Command::new(&probe),
                Runner::Rootless { .. } => {
                    let mut c = Command::new("runuser");
                    c.args(["-u", TEST_USER, "--"])
                        .arg(fx.root().join("bin/probe"));
                    c
                }
            };
            cmd.args(["keyadd", &key])
                .arg(env!("CARGO_BIN_EXE_builder"))
                .args(["debug", "run", "--rootfs"])
                .arg(fx.root())
                .args(flags)
                .args(["--", "probe", "keyfind", &key])
                .current_dir("/")
                .env_remove("BUILDER_ROOT");
            let out = cmd.output().unwrap();
            fx.assert_clean();
            // Denied by the seccomp filter; with none (insecure), not in the RUN's own
            // fresh keyring.
            let want = if flags.is_empty() {
                "keyfind: EPERM\n"
            } else {
                "keyfind: ENOKEY\n"
            };
            assert_eq!(ok(&out, &r), want, "as {} {flags:?}", r.name());
        }
    }
}

#[test]
fn seccomp_and_no_new_privs_confine_the_command() {
    let Some(probe) = probe() else { return };
    for r in runners() {
        let fx = probed(&r, &probe);
        let out = fx.run(
            &r,
            &[],
            &[
                "sh",
                "-c",
                "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; \
                 unshare -Urm true 2>/dev/null && echo unshared; probe syscalls",
            ],
        );
        assert_eq!(
            ok(&out, &r),
            "NoNewPrivs:\t1\nSeccomp:\t2\n\
             mount: EPERM\nunshare: EPERM\nclone3: ENOSYS\nsocket AF_VSOCK: EPERM\n\
             personality query: ok\npersonality ADDR_NO_RANDOMIZE: EPERM\nkeyctl: EPERM\n",
            "as {}",
            r.name()
        );
    }
}

#[test]
fn insecure_mode_is_for_real_root_only_and_unconfined() {
    for r in runners() {
        let fx = Fixture::new(&r);
        let out = fx.run(
            &r,
            &["--security", "insecure"],
            &[
                "sh",
                "-c",
                "grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status",
            ],
        );
        if matches!(r, Runner::Rootless { .. }) {
            assert!(!out.status.success(), "as {}: {}", r.name(), stdout(&out));
            assert!(stderr(&out).contains("real root"), "{}", stderr(&out));
            continue;
        }
        let text = ok(&out, &r);
        assert!(text.contains("NoNewPrivs:\t0\n"), "{text}");
        assert!(text.contains("Seccomp:\t0\n"), "{text}");
        // CAP_SYS_ADMIN (21) is among the effective capabilities.
        let caps = text
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:\t"))
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .unwrap_or(0);
        assert_ne!(caps & (1 << 21), 0, "{text}");
    }
}
