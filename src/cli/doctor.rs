//! `builder doctor`: what this host gives builder, one line per thing, each `ok` or what
//! to do about it: user namespaces (and, without them, the isolation RUN steps get), the
//! id range, overlay mounts, RUN's default network, the seccomp profile, emulators for
//! other platforms, and the store. Exit code 0 when RUN steps can run, 1 when not.
//!
//! It enters the build namespace as `build` does (so the overlay probe sees what a build
//! sees); where that fails it says why and goes on outside.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::Result;
use crate::sandbox::userns::{self, Mapping};
use crate::sandbox::Isolation;

/// Arguments of `builder doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

/// One line of the report.
struct Check {
    level: Level,
    what: &'static str,
    text: String,
}

fn check(level: Level, what: &'static str, text: impl Into<String>) -> Check {
    Check {
        level,
        what,
        text: text.into(),
    }
}

/// Run `builder doctor`; the exit code.
pub fn run(_args: &DoctorArgs, root: Option<&Path>) -> Result<i32> {
    let entered = userns::enter_build_namespace();
    let mut checks = vec![kernel()];
    let can_run = match &entered {
        Ok(info) => {
            checks.push(check(
                Level::Ok,
                "user namespaces",
                "RUN steps get namespaces of their own",
            ));
            checks.push(mapping(info.rootless, info.mapping));
            true
        }
        Err(e) => {
            let why = crate::error::chain(e);
            let fallback = crate::sandbox::isolation::fall_back();
            let chroot = crate::sandbox::isolation::current() == Isolation::Chroot;
            let fix = crate::build::hint(e).unwrap_or_default();
            let level = if chroot { Level::Warn } else { Level::Fail };
            checks.push(check(
                level,
                "user namespaces",
                format!("{why}: {fallback}; {fix}"),
            ));
            chroot
        }
    };
    let store = super::store_root(root)?;
    let chroot = crate::sandbox::isolation::current() == Isolation::Chroot;
    if chroot {
        checks.push(check(
            Level::Warn,
            "overlay",
            "RUN steps copy their root file system (chroot isolation), which is slower",
        ));
        checks.push(check(
            Level::Warn,
            "network",
            "RUN steps share this host's network (chroot isolation)",
        ));
    } else {
        checks.push(overlay(&store, entered.is_ok()));
        checks.push(network());
    }
    checks.push(seccomp());
    checks.push(emulators());
    checks.push(store_check(&store));
    for c in &checks {
        let level = match c.level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        outln!("{level}  {}: {}", c.what, c.text);
    }
    Ok(if can_run { 0 } else { 1 })
}

fn kernel() -> Check {
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy().into_owned();
    check(
        Level::Ok,
        "kernel",
        format!("Linux {release} ({})", std::env::consts::ARCH),
    )
}

/// The id mapping of the build namespace.
fn mapping(rootless: bool, mapping: Mapping) -> Check {
    match (rootless, mapping) {
        (false, _) => check(Level::Ok, "ids", "real root: every id is mapped to itself"),
        (true, Mapping::Range(n)) => check(
            Level::Ok,
            "ids",
            format!("your user is root of the build namespace, with {n} subordinate ids (newuidmap/newgidmap)"),
        ),
        (true, Mapping::Single) => check(
            Level::Warn,
            "ids",
            format!(
                "only your own user is mapped, so files of other owners, USER and chown fail in RUN: {}{}",
                "install uidmap (newuidmap, newgidmap) and give your user a range: ",
                "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER"
            ),
        ),
    }
}

/// Whether RUN steps get overlay mounts (else a copy of their root each).
fn overlay(store: &Path, in_namespace: bool) -> Check {
    let scratch = store.join("run");
    if let Err(e) = std::fs::create_dir_all(&scratch) {
        return check(
            Level::Warn,
            "overlay",
            format!("cannot probe in {}: {e}", scratch.display()),
        );
    }
    if !in_namespace && !rustix::process::geteuid().is_root() {
        return check(
            Level::Warn,
            "overlay",
            "not probed: it needs the build namespace",
        );
    }
    match crate::snapshot::Backend::probe(&scratch) {
        Ok(()) => check(Level::Ok, "overlay", "RUN steps write to an overlay of their parent"),
        Err(why) => check(
            Level::Warn,
            "overlay",
            format!("{why}: RUN steps copy their root file system instead, which is slower (a kernel with overlay in user namespaces, 5.11 or later, fixes it)"),
        ),
    }
}

/// RUN's default network: slirp4netns and /dev/net/tun.
fn network() -> Check {
    let slirp = find_on_path("slirp4netns");
    let tun = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun");
    match (slirp, tun) {
        (Some(p), Ok(_)) => check(
            Level::Ok,
            "network",
            format!("RUN's default network is private, through {}", p.display()),
        ),
        (None, _) => check(
            Level::Warn,
            "network",
            "slirp4netns is not installed: RUN steps share the host's network (apt-get install slirp4netns)",
        ),
        (Some(_), Err(e)) => check(
            Level::Warn,
            "network",
            format!("/dev/net/tun: {e}: RUN steps with the default network fail (chmod 0666 /dev/net/tun, or build with --network host or none)"),
        ),
    }
}

/// The RUN seccomp profile exists for this architecture.
fn seccomp() -> Check {
    match std::env::consts::ARCH {
        "x86_64" | "aarch64" => check(
            Level::Ok,
            "seccomp",
            "Docker's default profile on every RUN",
        ),
        arch => check(
            Level::Fail,
            "seccomp",
            format!("no profile for {arch}: RUN steps need --security=insecure"),
        ),
    }
}

/// Platforms whose emulators are looked for.
const FOREIGN: [&str; 7] = [
    "linux/amd64",
    "linux/arm64",
    "linux/arm/v7",
    "linux/ppc64le",
    "linux/s390x",
    "linux/riscv64",
    "linux/386",
];

/// Which other platforms RUN steps can run for here (binfmt_misc emulators with `F`).
fn emulators() -> Check {
    use crate::sandbox::binfmt::{support, Missing, Support};
    let dir = std::env::var_os("BUILDER_BINFMT_MISC")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::sandbox::binfmt::DEFAULT_DIR.into());
    let host = crate::domain::Platform::linux_from_rust_arch(std::env::consts::ARCH);
    let (mut usable, mut without_f, mut not_mounted) = (Vec::new(), Vec::new(), false);
    for spec in FOREIGN {
        let Ok(target) = crate::domain::Platform::parse(spec, &host) else {
            continue;
        };
        match support(&host, &target, &dir) {
            Support::Native => {}
            Support::Emulated { entry, .. } => usable.push(format!("{spec} ({entry})")),
            Support::Native32 => {
                usable.push(format!("{spec} (natively, with --security=insecure)"))
            }
            Support::Missing(Missing::NoFixBinary { entry, .. }) => without_f.push(entry),
            Support::Missing(Missing::NotMounted(_) | Missing::Disabled(_)) => not_mounted = true,
            Support::Missing(_) => {}
        }
    }
    let install = "apt-get install qemu-user-static binfmt-support";
    if not_mounted {
        return check(
            Level::Warn,
            "emulators",
            format!("binfmt_misc is not mounted or not enabled at {}: RUN runs only for this platform (mount -t binfmt_misc binfmt_misc {0}; {install})", dir.display()),
        );
    }
    if !without_f.is_empty() {
        return check(
            Level::Warn,
            "emulators",
            format!(
                "registered without the F flag, which RUN needs: {} (re-register them with F, as Debian's qemu-user-static does)",
                without_f.join(", ")
            ),
        );
    }
    if usable.is_empty() {
        return check(
            Level::Warn,
            "emulators",
            format!("none registered: RUN runs only for this platform ({install})"),
        );
    }
    check(
        Level::Ok,
        "emulators",
        format!("RUN also runs for {}", usable.join(", ")),
    )
}

/// The store's place and size.
fn store_check(store: &Path) -> Check {
    match crate::store::usage(store) {
        Ok(u) => {
            let total = u.blobs
                + u.snapshots
                + u.trees
                + u.mounts
                + u.downloads
                + u.git_repos
                + u.record_files;
            check(
                Level::Ok,
                "store",
                format!("{} ({})", store.display(), crate::store::human_size(total)),
            )
        }
        Err(e) => check(Level::Fail, "store", format!("{}: {e}", store.display())),
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}
