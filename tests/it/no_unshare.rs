//! builder where a seccomp filter refuses `unshare`, as inside a container started with its
//! runtime's default profile: one warning line names the filter, with a hint on how to run
//! the container (not how to change the host's sysctls). A user other than root gets no
//! RUN (a build without RUN steps still goes through); root, confined as Docker confines a
//! default container (its 14 capabilities, `mount`, `unshare` and `keyctl` refused), runs
//! RUN steps in chroot isolation, said in that one line.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build_support::{busybox, Work};
use crate::common::{is_root, text};
use crate::sandbox::{ensure_test_user, TEST_USER};

/// `no_unshare.c` beside this file, built once into `dir`.
pub(crate) fn wrapper(dir: &Path) -> Option<PathBuf> {
    let out = dir.join("no_unshare");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/no_unshare.c");
    let made = Command::new("cc")
        .arg("-o")
        .arg(&out)
        .arg(&source)
        .output()
        .ok()?;
    made.status.success().then_some(out)
}

#[test]
fn a_seccomp_filter_that_refuses_unshare_is_named() {
    let test = "no_unshare";
    if !is_root() || ensure_test_user().is_err() {
        eprintln!("\n!!! SKIPPED {test}: needs root to switch to {TEST_USER} !!!\n");
        return;
    }
    let w = Work::new();
    let Some(wrap) = wrapper(&w.path("")) else {
        eprintln!("\n!!! SKIPPED {test}: no C compiler (apt-get install gcc) !!!\n");
        return;
    };
    w.file("a", "a\n", 0o644);
    w.dockerfile("FROM scratch\nCOPY a /a\n");
    w.give_to_test_user();
    let out = Command::new("runuser")
        .args(["-u", TEST_USER, "--"])
        .arg(&wrap)
        .arg(env!("CARGO_BIN_EXE_builder"))
        .arg("--root")
        .arg(w.root())
        .args(["build", "--progress", "plain", "-t", "app", "ctx"])
        .current_dir(w.path(""))
        .env_remove("BUILDER_ROOT")
        .output()
        .expect("run runuser");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("refused by this process's seccomp filter"),
        "{err}"
    );
    assert!(err.contains("RUN steps cannot run"), "{err}");
    assert!(err.contains("--security-opt seccomp=unconfined"), "{err}");
    assert!(!err.contains("sysctl -w"), "{err}");
}

/// `builder --root ROOT build --progress plain ARGS... ctx` as root, confined as Docker
/// confines a default container (`no_unshare --docker`).
fn build_in_default_container(w: &Work, wrap: &Path, args: &[&str]) -> std::process::Output {
    Command::new(wrap)
        .arg("--docker")
        .arg(env!("CARGO_BIN_EXE_builder"))
        .arg("--root")
        .arg(w.root())
        .args(["build", "--progress", "plain"])
        .args(args)
        .arg("ctx")
        .current_dir(w.path(""))
        .env_remove("BUILDER_ROOT")
        .output()
        .expect("run the build")
}

/// A workspace, the wrapper and the busybox fixture for a chroot-isolation test; `None`,
/// loudly, where one is missing (the fallback is root's).
fn chroot_setup(test: &str) -> Option<(Work, PathBuf, PathBuf)> {
    if !is_root() {
        eprintln!("\n!!! SKIPPED {test}: needs root (the fallback is root's) !!!\n");
        return None;
    }
    let w = Work::new();
    let Some(wrap) = wrapper(&w.path("")) else {
        eprintln!("\n!!! SKIPPED {test}: no C compiler (apt-get install gcc) !!!\n");
        return None;
    };
    let layout = busybox(test)?;
    Some((w, wrap, layout))
}

fn read(w: &Work, rel: &str) -> String {
    std::fs::read_to_string(w.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

#[test]
fn root_in_a_default_container_runs_run_steps_in_chroot_isolation() {
    let test = "chroot_isolation";
    let Some((w, wrap, layout)) = chroot_setup(test) else {
        return;
    };
    let marker = format!("builder-chroot-test-{}", std::process::id());
    w.dockerfile(&format!(
        "FROM busybox\n\
         RUN echo hi > /hello && id -u > /uid && cat /etc/hosts > /hosts-seen && ls /dev > /dev-seen\n\
         RUN (setsid sleep 300 {marker} < /dev/null > /dev/null 2>&1 &); echo started\n\
         RUN mkdir -p /jail && (chroot /jail /bin/true 2> /chroot-err; echo $? > /chroot-rc)\n\
         RUN --network=none sh -c 'nc 127.0.0.1 9 < /dev/null 2>&1; true' > /net-none\n\
         RUN mv /etc /etc.old && ln -s / /etc\n"
    ));
    let ctx = Work::busybox_context(&layout);
    let dest = format!("type=local,dest={}", w.path("out/fs").display());
    let out = build_in_default_container(&w, &wrap, &["--build-context", &ctx, "-o", &dest]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    // One line says what RUN steps get; no second one about overlay.
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("refused by this process's seccomp filter"),
        "{err}"
    );
    assert!(
        warnings[0].contains("RUN steps run with chroot isolation"),
        "{err}"
    );
    assert_eq!(read(&w, "out/fs/hello"), "hi\n");
    assert_eq!(read(&w, "out/fs/uid"), "0\n");
    assert!(read(&w, "out/fs/hosts-seen").contains("buildkitsandbox"));
    assert!(read(&w, "out/fs/dev-seen").contains("null"));
    // Without CAP_SYS_CHROOT the command cannot chroot again (the way out of a chroot).
    assert_ne!(read(&w, "out/fs/chroot-rc").trim(), "0");
    assert!(read(&w, "out/fs/chroot-err").contains("not permitted"));
    // --network=none: no socket of the internet families.
    assert!(
        read(&w, "out/fs/net-none").contains("not supported"),
        "{}",
        read(&w, "out/fs/net-none")
    );
    // What the sandbox put in the root never reaches the image.
    assert!(
        !w.path("out/fs/dev").exists(),
        "the /dev stub went with its nodes"
    );
    assert!(!w.path("out/fs/etc.old/hosts").exists());
    assert!(!w.path("out/fs/etc.old/resolv.conf").exists());
    assert_eq!(
        std::fs::read_link(w.path("out/fs/etc")).unwrap(),
        Path::new("/")
    );
    // The last step's /etc -> / symlink did not send the stubs' clean-up to the host's /.
    for host in ["/hosts", "/resolv.conf"] {
        assert!(!Path::new(host).exists(), "{host} written on the host");
    }
    // The daemon the second step left was killed with it.
    let left = Command::new("pgrep")
        .args(["-f", &marker])
        .output()
        .expect("pgrep");
    assert!(
        left.stdout.is_empty(),
        "left running: {}",
        text(&left.stdout)
    );
}

#[test]
fn run_mounts_work_in_chroot_isolation_and_never_reach_the_image() {
    let test = "chroot_isolation_mounts";
    let Some((w, wrap, layout)) = chroot_setup(test) else {
        return;
    };
    w.file("src/app.txt", "from the context\n", 0o644);
    w.file("token", "s3cr3t-value\n", 0o600);
    w.dockerfile(
        "FROM busybox\n\
         ARG N\n\
         RUN --mount=type=cache,target=/var/cache/app \\\n             --mount=type=bind,source=src,target=/src \\\n             --mount=type=secret,id=token,target=/run/token \\\n             --mount=type=tmpfs,target=/scratch \\\n             sh -c 'echo run-$N >> /var/cache/app/log; cat /var/cache/app/log > /cache-seen; \\\n                    cat /src/app.txt > /bind-seen; echo x > /src/app.txt; \\\n                    wc -c < /run/token > /secret-size; touch /scratch/t; ls /scratch > /tmpfs-seen'\n\
         RUN <<EOF\n\
         #!/bin/sh\n\
         echo from a heredoc script > /heredoc-seen\n\
         EOF\n",
    );
    let ctx = Work::busybox_context(&layout);
    for n in ["1", "2"] {
        let dest = format!(
            "type=local,dest={}",
            w.path(&format!("out/fs{n}")).display()
        );
        let arg = format!("N={n}");
        let out = build_in_default_container(
            &w,
            &wrap,
            &[
                "--build-context",
                &ctx,
                "--secret",
                "id=token,src=ctx/token",
                "--build-arg",
                &arg,
                "-o",
                &dest,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    // The cache kept the first build's line for the second.
    assert_eq!(read(&w, "out/fs2/cache-seen"), "run-1\nrun-2\n");
    assert_eq!(read(&w, "out/fs2/bind-seen"), "from the context\n");
    assert_eq!(read(&w, "out/fs2/secret-size").trim(), "13");
    assert_eq!(read(&w, "out/fs2/tmpfs-seen"), "t\n");
    assert_eq!(read(&w, "out/fs2/heredoc-seen"), "from a heredoc script\n");
    // The write to the read-only bind reached neither the context nor the image.
    assert_eq!(read(&w, "ctx/src/app.txt"), "from the context\n");
    for gone in ["src", "run/token", "scratch", "var/cache/app", "dev/pipes"] {
        assert!(
            !w.path(&format!("out/fs2/{gone}")).exists(),
            "{gone} in the image"
        );
    }
    let secret = Command::new("grep")
        .args(["-rl", "s3cr3t-value"])
        .arg(w.root())
        .arg(w.path("out/fs2"))
        .output()
        .expect("grep");
    assert!(
        secret.stdout.is_empty(),
        "the secret is in {}",
        text(&secret.stdout)
    );
}

/// `ptrace_probe.c` beside this file, built static into `dir`.
fn ptrace_probe(dir: &Path) -> Option<PathBuf> {
    let out = dir.join("ptrace_probe");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/ptrace_probe.c");
    let made = Command::new("cc")
        .args(["-static", "-o"])
        .arg(&out)
        .arg(&source)
        .output()
        .ok()?;
    made.status.success().then_some(out)
}

#[test]
fn a_chroot_isolated_command_cannot_reach_other_processes() {
    let test = "chroot_isolation_ptrace";
    let Some((w, wrap, layout)) = chroot_setup(test) else {
        return;
    };
    let Some(probe) = ptrace_probe(&w.path("ctx")) else {
        eprintln!("\n!!! SKIPPED {test}: no static C library (apt-get install libc6-dev) !!!\n");
        return;
    };
    assert!(probe.exists());
    // A process of the same user beside the build, as a CI job's shell would be, with no
    // capabilities (so that the kernel's own rule, a tracer needs every capability of its
    // target, does not already refuse the attach).
    let mut other = Command::new("setpriv")
        .args(["--bounding-set=-all", "--inh-caps=-all", "sleep", "120"])
        .spawn()
        .expect("start sleep");
    let pid = other.id().to_string();
    w.dockerfile("FROM busybox\nCOPY ptrace_probe /probe\nARG PID\nRUN /probe $PID > /seen\n");
    let ctx = Work::busybox_context(&layout);
    let dest = format!("type=local,dest={}", w.path("out/fs").display());
    let arg = format!("PID={pid}");
    let out = build_in_default_container(
        &w,
        &wrap,
        &["--build-context", &ctx, "--build-arg", &arg, "-o", &dest],
    );
    let _ = other.kill();
    let _ = other.wait();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let seen = read(&w, "out/fs/seen");
    assert_eq!(
        seen,
        "ptrace other: Operation not permitted\n\
         ptrace parent: Operation not permitted\n\
         process_vm_readv: Operation not permitted\n",
    );
}
