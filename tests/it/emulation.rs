//! RUN for a foreign platform (`--platform linux/arm64` on an amd64 host) under QEMU user
//! emulation through binfmt_misc, as root and rootless, on a real arm64 busybox base made
//! locally; and the build that fails before any step when no emulator is registered
//! (simulated with `BUILDER_BINFMT_MISC` naming a directory shaped like binfmt_misc).
//!
//! A two-platform build (`--platform linux/amd64,linux/arm64`) whose arm64 RUN runs under
//! QEMU, pushed to the local registry as an index and pulled back per platform; and a
//! cross-compiling Dockerfile whose `FROM --platform=$BUILDPLATFORM` stage runs natively.
//!
//! The emulators come from `scripts/setup.sh` (qemu-user-static, registered with
//! update-binfmts). A kernel without binfmt_misc skips these tests loudly; a machine whose
//! kernel has it but that has no arm64 emulator registered fails them on CI.

use std::path::Path;
use std::process::Command;

use builder::domain::Platform;
use builder::sandbox::binfmt::{self, Support};

use crate::build_support::{busybox, busybox_for, config_of};
use crate::run_support::{runners, RunWork};

/// Whether this machine runs programs of `linux/ARCH`; when it does not, skip loudly, saying
/// why and what fixes it (on CI a failure, unless the kernel has no binfmt_misc at all).
fn runs(test: &str, arch: &str) -> bool {
    let host = Platform::linux_from_rust_arch(std::env::consts::ARCH);
    let target = Platform::new("linux", arch, "");
    let Support::Missing(why) = binfmt::support(&host, &target, Path::new(binfmt::DEFAULT_DIR))
    else {
        return true;
    };
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    let kernel_has_it = filesystems.contains("binfmt_misc");
    let msg = format!(
        "{test}: this host cannot run {target} programs: {why} (fix: {}){}",
        why.fix(&target),
        if kernel_has_it {
            ""
        } else {
            "; the kernel has no binfmt_misc"
        }
    );
    assert!(!kernel_has_it || std::env::var_os("CI").is_none(), "{msg}");
    eprintln!("\n!!! SKIPPED {msg} !!!\n");
    false
}

#[test]
fn run_for_arm64_runs_under_emulation_as_root_and_rootless() {
    let test = "run_for_arm64_runs_under_emulation";
    let Some(layout) = busybox_for(test, "arm64") else {
        return;
    };
    if !runs(test, "arm64") {
        return;
    }
    for runner in runners(test) {
        let w = RunWork::with_base(runner, &layout, "busybox-arm64");
        w.dockerfile("FROM busybox-arm64\nRUN uname -m > /arch\n");
        let image = w.build_image(&["--platform", "linux/arm64"]);
        let who = runner.name();
        assert_eq!(image.read("arch").as_deref(), Some("aarch64\n"), "as {who}");
        let config = config_of(&format!("oci:{}", w.path("out/img").display()));
        assert_eq!(config["architecture"], "arm64", "as {who}: {config}");
        assert_eq!(config["os"], "linux", "as {who}: {config}");
    }
}

#[test]
fn a_two_platform_base_gives_each_platform_its_own_busybox() {
    let test = "a_two_platform_base_gives_each_platform_its_own_busybox";
    let Some(layout) = busybox_for(test, "amd64,arm64") else {
        return;
    };
    let raw = crate::common::run(
        Command::new("skopeo")
            .args(["inspect", "--raw"])
            .arg(format!("oci:{}:latest", layout.display())),
    );
    let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let platforms: Vec<String> = (index["manifests"].as_array().unwrap().iter())
        .map(|m| m["platform"]["architecture"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(platforms, ["amd64", "arm64"], "{raw}");
    if !runs(test, "arm64") || !runs(test, "amd64") {
        return;
    }
    let Some(runner) = runners(test).first().copied() else {
        return;
    };
    for (platform, machine) in [("linux/arm64", "aarch64\n"), ("linux/amd64", "x86_64\n")] {
        let w = RunWork::with_base(runner, &layout, "busybox-multi");
        w.dockerfile("FROM busybox-multi\nRUN uname -m > /arch\n");
        let image = w.build_image(&["--platform", platform]);
        assert_eq!(image.read("arch").as_deref(), Some(machine), "{platform}");
        let arch = platform.rsplit('/').next().unwrap();
        assert_eq!(image.config["architecture"], arch, "{platform}");
    }
}

/// A directory shaped like binfmt_misc, enabled, with the entries `(name, text)`.
fn fake_binfmt(dir: &Path, entries: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("status"), "enabled\n").unwrap();
    std::fs::write(dir.join("register"), "").unwrap();
    for (name, body) in entries {
        std::fs::write(dir.join(name), body).unwrap();
    }
}

/// Debian's qemu-aarch64 entry, registered without the F flag (as qemu-user-binfmt does).
const AARCH64_WITHOUT_F: &str = "enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: P\n\
    offset 0\nmagic 7f454c460201010000000000000000000200b700\n\
    mask ffffffffffffff00fffffffffffffffffeffffff\n";

#[test]
fn run_for_arm64_without_an_emulator_fails_before_any_step() {
    let test = "run_for_arm64_without_an_emulator_fails_before_any_step";
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("\n!!! SKIPPED {test}: it builds for linux/arm64 on an amd64 host !!!\n");
        return;
    }
    let Some(layout) = busybox_for(test, "arm64") else {
        return;
    };
    for runner in runners(test) {
        let who = runner.name();
        for (entries, cause) in [
            (
                &[][..],
                "no binfmt_misc interpreter is registered for its programs",
            ),
            (
                &[("qemu-aarch64", AARCH64_WITHOUT_F)][..],
                "its binfmt_misc interpreter qemu-aarch64 (/usr/bin/qemu-aarch64) is registered \
                 without the F (fix-binary) flag",
            ),
        ] {
            let w = RunWork::with_base(runner, &layout, "busybox-arm64");
            let fake = w.path("binfmt");
            fake_binfmt(&fake, entries);
            let fake: &'static str = Box::leak(fake.display().to_string().into_boxed_str());
            let w = w.env("BUILDER_BINFMT_MISC", fake);
            w.file("a", "a\n");
            w.dockerfile("FROM busybox-arm64\nCOPY a /a\nRUN touch /ran\n");
            let err = w.build_fails(&["--platform", "linux/arm64"]);
            for want in [
                "Dockerfile:3\n",
                "   3 | >>> RUN touch /ran\n",
                "ERROR: failed to solve: stage stage-0 builds for linux/arm64, whose programs \
                 this linux/amd64 host cannot run: ",
                cause,
                "\nhint: ",
                "apt-get install qemu-user-static binfmt-support; update-binfmts --enable qemu-aarch64",
            ] {
                assert!(err.contains(want), "as {who}: no {want:?} in:\n{err}");
            }
            // Nothing ran: no step started, no layer was unpacked.
            for never in ["[2/3]", "[3/3]", "unpacking layer"] {
                assert!(!err.contains(never), "as {who}: {never:?} in:\n{err}");
            }
        }
    }
}

#[test]
fn run_for_386_on_amd64_needs_the_insecure_mode() {
    let test = "run_for_386_on_amd64_needs_the_insecure_mode";
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("\n!!! SKIPPED {test}: it builds for linux/386 on an amd64 host !!!\n");
        return;
    }
    let Some(layout) = busybox_for(test, "386") else {
        return;
    };
    let Some(runner) = runners(test).first().copied() else {
        return;
    };
    let w = RunWork::with_base(runner, &layout, "busybox-386");
    let fake = w.path("binfmt");
    fake_binfmt(&fake, &[]);
    let fake: &'static str = Box::leak(fake.display().to_string().into_boxed_str());
    let w = w.env("BUILDER_BINFMT_MISC", fake);
    w.dockerfile("FROM busybox-386\nRUN --security=insecure true\nRUN echo 32 > /bits\n");
    let err = w.build_fails(&["--platform", "linux/386", "--allow", "security.insecure"]);
    for want in [
        "   3 | >>> RUN echo 32 > /bits\n",
        "its 32-bit programs would run natively, but the RUN seccomp filter allows the host's \
         64-bit system calls alone",
        "hint: RUN --security=insecure",
    ] {
        assert!(err.contains(want), "no {want:?} in:\n{err}");
    }
    assert!(!err.contains("[2/3]"), "a step ran:\n{err}");
    if !crate::common::is_root() {
        return;
    }
    // As real root, without the filter, the kernel runs them itself.
    w.dockerfile("FROM busybox-386\nRUN --security=insecure echo 32 > /bits\n");
    let image = w.build_image(&["--platform", "linux/386", "--allow", "security.insecure"]);
    assert_eq!(image.read("bits").as_deref(), Some("32\n"));
    assert_eq!(image.config["architecture"], "386");
}

#[test]
fn a_build_platform_stage_runs_natively_and_needs_no_emulator() {
    let test = "a_build_platform_stage_runs_natively_and_needs_no_emulator";
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("\n!!! SKIPPED {test}: it builds for linux/arm64 on an amd64 host !!!\n");
        return;
    }
    let (Some(amd64), Some(arm64)) = (busybox(test), busybox_for(test, "arm64")) else {
        return;
    };
    for runner in runners(test) {
        let w = RunWork::with_base(runner, &arm64, "busybox-arm64");
        crate::common::run(
            Command::new("cp")
                .arg("-a")
                .arg(&amd64)
                .arg(w.path("amd64")),
        );
        // No emulator at all: the only RUN is in the build platform's stage.
        let fake = w.path("binfmt");
        fake_binfmt(&fake, &[]);
        let fake: &'static str = Box::leak(fake.display().to_string().into_boxed_str());
        let w = w.env("BUILDER_BINFMT_MISC", fake);
        w.dockerfile(
            "FROM --platform=$BUILDPLATFORM busybox AS build\n\
             ARG TARGETARCH\n\
             RUN echo \"$(uname -m) for $TARGETARCH\" > /out\n\
             FROM busybox-arm64\n\
             COPY --from=build /out /out\n",
        );
        let amd64_context = format!("busybox=oci-layout://{}", w.path("amd64").display());
        let image = w.build_image(&[
            "--platform",
            "linux/arm64",
            "--build-context",
            &amd64_context,
        ]);
        let who = runner.name();
        assert_eq!(
            image.read("out").as_deref(),
            Some("x86_64 for arm64\n"),
            "as {who}"
        );
        assert_eq!(image.config["architecture"], "arm64", "as {who}");
    }
}

/// `skopeo copy --override-arch ARCH SRC` into an OCI layout under `dir`, unpacked: its
/// root file system.
fn pulled(dir: &Path, src: &str, arch: &str) -> std::path::PathBuf {
    let layout = dir.join(format!("pulled-{arch}"));
    crate::registry_support::skopeo_copy(
        &["--override-arch", arch],
        src,
        &format!("oci:{}:latest", layout.display()),
    );
    let bundle = dir.join(format!("pulled-{arch}-bundle"));
    crate::build_support::unpack(&layout, "latest", &bundle)
}

#[test]
fn a_two_platform_build_runs_arm64_under_emulation_and_pushes_an_index() {
    use crate::registry_support::{Registry, RegistryAuth};
    let test = "two_platform_build_under_emulation";
    let Some(layout) = busybox_for(test, "amd64,arm64") else {
        return;
    };
    if !runs(test, "arm64") {
        return;
    }
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    let w = crate::build_support::Work::new();
    // The build stage runs natively (the host's platform) once per target; the final
    // stage runs on each platform's own busybox, under QEMU for arm64.
    w.dockerfile(
        "FROM --platform=$BUILDPLATFORM busybox AS build\n\
         ARG TARGETARCH\n\
         RUN echo \"$(uname -m) for $TARGETARCH\" > /built\n\
         FROM busybox\n\
         COPY --from=build /built /built\n\
         RUN uname -m > /arch\n",
    );
    let context = format!("busybox=oci-layout://{}", layout.display());
    let pushed = format!("{}/emulated:latest", reg.host());
    let err = w.build_ok(&[
        "--platform",
        "linux/amd64,linux/arm64",
        "--build-context",
        &context,
        "-t",
        &pushed,
        "--push",
    ]);
    assert!(err.contains("exporting manifest list sha256:"), "{err}");
    let raw = crate::common::run(
        Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{pushed}")),
    );
    let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let platforms: Vec<String> = (index["manifests"].as_array().unwrap().iter())
        .map(|m| m["platform"]["architecture"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(platforms, ["amd64", "arm64"], "{raw}");
    let src = format!("docker://{pushed}");
    let host_arch = std::env::consts::ARCH;
    for (arch, uname) in [("amd64", "x86_64"), ("arm64", "aarch64")] {
        let rootfs = pulled(&w.path("out"), &src, arch);
        let read = |p: &str| std::fs::read_to_string(rootfs.join(p)).unwrap_or_default();
        assert_eq!(read("arch"), format!("{uname}\n"), "{arch}");
        // The build stage ran on the host, for this target.
        assert_eq!(read("built"), format!("{host_arch} for {arch}\n"), "{arch}");
    }
}
