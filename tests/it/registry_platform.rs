//! A base image of another platform than the build's: a single-platform image in a local
//! registry is used as it is, with BuildKit's `InvalidBaseImagePlatform` warning naming
//! the FROM line, and the image config records the platform as BuildKit does (the base's
//! own without `--platform`, the one asked for with it); a base that matches gives no
//! warning.

use std::path::Path;
use std::process::Command;

use crate::registry_support::{
    builder, busybox_layout, ok, skopeo_copy, text, Registry, RegistryAuth,
};
use crate::run_image::Image;

/// The busybox layout at `layout`, relabelled `arch` in its config, in the registry as
/// `host/name:latest` (one manifest, no index).
fn push_as(layout: &Path, arch: &str, host: &str, name: &str) {
    let copy = layout.with_file_name(format!("busybox-{arch}"));
    let out = Command::new("cp")
        .arg("-a")
        .arg(layout)
        .arg(&copy)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = Command::new("umoci")
        .args(["config", "--architecture", arch, "--image"])
        .arg(format!("{}:latest", copy.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "umoci config: {}", text(&out.stderr));
    skopeo_copy(
        &[],
        &format!("oci:{}:latest", copy.display()),
        &format!("docker://{host}/{name}:latest"),
    );
}

/// Build `FROM base` plus an ENV (nothing runs) with `args`; stderr and the image.
fn build(dir: &Path, base: &str, args: &[&str]) -> (String, Image) {
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {base}\nENV foo=bar\n"),
    )
    .unwrap();
    let dest = dir.join("out");
    let _ = std::fs::remove_dir_all(&dest);
    let spec = format!("type=oci,dest={},tar=false", dest.display());
    let mut all = vec!["build", "--progress", "plain", "-o", &spec];
    all.extend_from_slice(args);
    let ctx_arg = ctx.display().to_string();
    all.push(&ctx_arg);
    let out = builder(&dir.join("root"), &dir.join("docker"), &all, &[]);
    ok(&out, &format!("build FROM {base} {args:?}"));
    (text(&out.stderr), Image::open(&dest))
}

fn warning(base: &str, actual: &str, expected: &str) -> String {
    format!(
        "WARN: InvalidBaseImagePlatform: Base image {base} was pulled with platform \
         \"{actual}\", expected \"{expected}\" for current build (line 1)"
    )
}

#[test]
fn a_base_of_another_platform_is_used_with_a_warning() {
    let test = "registry_base_platform";
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("\n!!! SKIPPED {test}: the fixture's binaries are amd64 !!!\n");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(layout) = busybox_layout(dir.path(), test) else {
        return;
    };
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    let host = reg.host();
    push_as(&layout, "amd64", &host, "amd");
    push_as(&layout, "arm64", &host, "arm");
    let (amd, arm) = (format!("{host}/amd"), format!("{host}/arm"));

    // --platform linux/arm64, an amd64-only base: warned about; the image records amd64,
    // the platform of the files it holds, not the one asked for.
    let (err, image) = build(dir.path(), &amd, &["--platform", "linux/arm64"]);
    assert!(
        err.contains(&warning(&amd, "linux/amd64", "linux/arm64")),
        "{err}"
    );
    assert_eq!(image.config["architecture"], "amd64", "{}", image.config);
    assert_eq!(image.config["os"], "linux");
    // Again, with the base in the store (no pull): still warned about.
    let (err, _) = build(dir.path(), &amd, &["--platform", "linux/arm64"]);
    assert!(
        err.contains(&warning(&amd, "linux/amd64", "linux/arm64")),
        "{err}"
    );
    assert!(!err.contains("load metadata"), "{err}");
    // The summary after the build lists it too; `check=skip=` silences it.
    assert!(err.contains("\n 1 warning found ("), "{err}");
    let skip = "BUILDKIT_DOCKERFILE_CHECK=skip=InvalidBaseImagePlatform";
    let (err, _) = build(
        dir.path(),
        &amd,
        &["--platform", "linux/arm64", "--build-arg", skip],
    );
    assert!(!err.contains("InvalidBaseImagePlatform"), "{err}");
    // With check=error=true it fails the build, and nothing is written.
    let dest = dir.path().join("strict");
    let spec = format!("type=oci,dest={},tar=false", dest.display());
    let ctx = dir.path().join("ctx").display().to_string();
    let strict = "BUILDKIT_DOCKERFILE_CHECK=error=true";
    let out = builder(
        &dir.path().join("root"),
        &dir.path().join("docker"),
        &[
            "build",
            "--progress",
            "plain",
            "-o",
            &spec,
            "--platform",
            "linux/arm64",
            "--build-arg",
            strict,
            &ctx,
        ],
        &[],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("lint violation found for rules: InvalidBaseImagePlatform"),
        "{err}"
    );
    assert!(!dest.exists(), "{err}");

    // No --platform on an amd64 host, an arm64-only base: warned about; the image keeps
    // the base's own platform.
    let (err, image) = build(dir.path(), &arm, &[]);
    assert!(
        err.contains(&warning(&arm, "linux/arm64", "linux/amd64")),
        "{err}"
    );
    assert_eq!(image.config["architecture"], "arm64", "{}", image.config);

    // Matching platforms: no warning.
    for args in [&[][..], &["--platform", "linux/amd64"][..]] {
        let (err, image) = build(dir.path(), &amd, args);
        assert!(!err.contains("InvalidBaseImagePlatform"), "{args:?}: {err}");
        assert_eq!(image.config["architecture"], "amd64", "{}", image.config);
    }
    let (err, _) = build(dir.path(), &arm, &["--platform", "linux/arm64"]);
    assert!(!err.contains("InvalidBaseImagePlatform"), "{err}");
}
