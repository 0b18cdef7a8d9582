//! `builder build` with a registry: `FROM 127.0.0.1:PORT/busybox` pulls the base image when
//! the store lacks it (and uses the store offline afterwards), `--push` sends the result,
//! whose digest in the registry equals `--iidfile`, and `skopeo copy` back gives the layers.

use crate::registry_support::{
    builder, busybox_layout, ok, skopeo_copy, skopeo_inspect, text, Registry, RegistryAuth,
};

#[test]
fn build_from_registry_base_and_push_the_result() {
    let test = "build_from_registry_base_and_push_the_result";
    let dir = tempfile::tempdir().unwrap();
    let Some(layout) = busybox_layout(dir.path(), test) else {
        return;
    };
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    let host = reg.host();
    skopeo_copy(
        &[],
        &format!("oci:{}:latest", layout.display()),
        &format!("docker://{host}/busybox:latest"),
    );
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("hello.txt"), "hello\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {host}/busybox\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt > /copy.txt\n"),
    )
    .unwrap();
    let root = dir.path().join("root");
    let cfg = dir.path().join("docker");
    let iid = dir.path().join("iid");
    let name = format!("{host}/app:1");
    let out = builder(
        &root,
        &cfg,
        &[
            "build",
            "--progress",
            "plain",
            "-t",
            &name,
            "--push",
            "--iidfile",
            iid.to_str().unwrap(),
            ctx.to_str().unwrap(),
        ],
        &[],
    );
    ok(&out, "build with push");
    let log = text(&out.stderr);
    assert!(
        log.contains(&format!("load metadata for {host}/busybox:latest")),
        "the base is pulled: {log}"
    );
    let digest = std::fs::read_to_string(&iid).unwrap();
    let remote = skopeo_inspect(&[], &name);
    assert_eq!(remote["Digest"].as_str(), Some(digest.trim()), "{remote}");
    let base = skopeo_inspect(&[], &format!("{host}/busybox:latest"));
    let base_layers = base["Layers"].as_array().unwrap().len();
    assert_eq!(
        remote["Layers"].as_array().unwrap().len(),
        base_layers + 2,
        "base layers + COPY + RUN: {remote}"
    );

    // The copy back through skopeo holds the RUN's file.
    let back = dir.path().join("back");
    skopeo_copy(
        &[],
        &format!("docker://{name}"),
        &format!("oci:{}:app", back.display()),
    );
    let bundle = dir.path().join("bundle");
    let status = std::process::Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:app", back.display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", text(&status.stderr));
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/copy.txt")).unwrap(),
        "hello\n"
    );

    // A second build finds the base in the store: no pull, even with the registry gone.
    drop(reg);
    let out = builder(
        &root,
        &cfg,
        &[
            "build",
            "--progress",
            "plain",
            "-t",
            "again",
            ctx.to_str().unwrap(),
        ],
        &[],
    );
    ok(&out, "offline rebuild");
    let log = text(&out.stderr);
    assert!(!log.contains("load metadata"), "no registry contact: {log}");
}

#[test]
fn missing_base_with_no_registry_says_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    // Nothing listens on port 1 of the loopback address.
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM 127.0.0.1:1/nothing\nRUN true\n",
    )
    .unwrap();
    let out = builder(
        &dir.path().join("root"),
        &dir.path().join("docker"),
        &["build", ctx.to_str().unwrap()],
        &[],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("127.0.0.1:1/nothing"), "{err}");
    assert!(err.contains("builder load"), "{err}");
}

#[test]
fn docker_image_build_context_is_pulled_when_missing() {
    let test = "docker_image_build_context_is_pulled_when_missing";
    let dir = tempfile::tempdir().unwrap();
    let Some(layout) = busybox_layout(dir.path(), test) else {
        return;
    };
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    let host = reg.host();
    skopeo_copy(
        &[],
        &format!("oci:{}:latest", layout.display()),
        &format!("docker://{host}/busybox:1.0"),
    );
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM base\nRUN test -x /bin/busybox\n",
    )
    .unwrap();
    let root = dir.path().join("root");
    let cfg = dir.path().join("docker");
    let value = format!("base=docker-image://{host}/busybox:1.0");
    let args = [
        "build",
        "--progress",
        "plain",
        "--build-context",
        value.as_str(),
        ctx.to_str().unwrap(),
    ];
    ok(
        &builder(&root, &cfg, &args, &[]),
        "build with a pulled named context",
    );
    // A registry that is gone: the failure names the flag and says what to do.
    drop(reg);
    let fresh = dir.path().join("root2");
    let out = builder(&fresh, &cfg, &args, &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("--build-context {value}: image")),
        "{err}"
    );
    assert!(err.contains("hint: fetch it with `builder pull"), "{err}");
}
