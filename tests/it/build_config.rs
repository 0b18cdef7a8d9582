//! Every config instruction, read back with `skopeo inspect --config` from OCI and docker
//! outputs: Env, User, WorkingDir, Entrypoint, Cmd, Labels (and `--label`), ExposedPorts,
//! Volumes, StopSignal, author (MAINTAINER), and Docker's Healthcheck, Shell and OnBuild kept
//! in OCI images too; history entries as BuildKit writes them; times from SOURCE_DATE_EPOCH;
//! `--platform` in the config.

use serde_json::json;

use crate::build_support::{config_of, Work};
use crate::common::have;

const DOCKERFILE: &str = r#"FROM scratch
MAINTAINER someone <s@example.com>
ENV A=1 B="two words"
LABEL version="1.0" description="x y"
EXPOSE 80 443/udp
VOLUME ["/data", "/logs"]
USER 1000:1000
WORKDIR /app
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/bin/check"]
SHELL ["/bin/sh", "-ec"]
ONBUILD COPY . /onbuild
ARG V=1
ENTRYPOINT ["/bin/app"]
CMD ["--help"]
"#;

#[test]
fn every_config_instruction_reaches_the_image_config() {
    if !have("every_config_instruction", &["skopeo"]) {
        return;
    }
    let w = Work::new();
    w.dockerfile(DOCKERFILE);
    let oci = w.path("out/oci");
    let docker = w.path("out/docker.tar");
    w.build_ok(&[
        "-t",
        "cfg:1",
        "--label",
        "extra=yes",
        "--build-arg",
        "SOURCE_DATE_EPOCH=1700000000",
        "-o",
        &format!("type=oci,dest={},tar=false", oci.display()),
        "-o",
        &format!("type=docker,dest={}", docker.display()),
    ]);
    for reference in [
        format!("oci:{}:1", oci.display()),
        format!("docker-archive:{}", docker.display()),
    ] {
        let c = config_of(&reference);
        let cfg = &c["config"];
        assert_eq!(cfg["User"], "1000:1000", "{reference}");
        assert_eq!(
            cfg["Env"],
            json!([
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "A=1",
                "B=two words"
            ])
        );
        assert_eq!(cfg["Entrypoint"], json!(["/bin/app"]));
        assert_eq!(cfg["Cmd"], json!(["--help"]));
        assert_eq!(cfg["WorkingDir"], "/app");
        assert_eq!(
            cfg["Labels"],
            json!({"description": "x y", "extra": "yes", "version": "1.0"})
        );
        assert_eq!(cfg["ExposedPorts"], json!({"443/udp": {}, "80/tcp": {}}));
        assert_eq!(cfg["Volumes"], json!({"/data": {}, "/logs": {}}));
        assert_eq!(cfg["StopSignal"], "SIGTERM");
        assert_eq!(
            cfg["Healthcheck"],
            json!({
                "Test": ["CMD", "/bin/check"],
                "Interval": 30_000_000_000_i64,
                "Timeout": 5_000_000_000_i64,
                "StartPeriod": 10_000_000_000_i64,
                "Retries": 3
            })
        );
        assert_eq!(cfg["Shell"], json!(["/bin/sh", "-ec"]));
        assert_eq!(cfg["OnBuild"], json!(["COPY . /onbuild"]));
        assert_eq!(c["author"], "someone <s@example.com>");
        assert_eq!(c["os"], "linux");
        assert_eq!(c["created"], "2023-11-14T22:13:20Z");
        let history = c["history"].as_array().unwrap();
        let created_by: Vec<&str> = history
            .iter()
            .map(|h| h["created_by"].as_str().unwrap())
            .collect();
        // ONBUILD only records its trigger (no history entry), as in BuildKit.
        assert_eq!(
            created_by,
            [
                "MAINTAINER someone <s@example.com>",
                "ENV A=1 B=two words",
                "LABEL version=1.0 description=x y",
                "EXPOSE [443/udp 80/tcp]",
                "VOLUME [/data /logs]",
                "USER 1000:1000",
                "WORKDIR /app",
                "STOPSIGNAL SIGTERM",
                "HEALTHCHECK {Test:[CMD /bin/check] Interval:30s Timeout:5s StartPeriod:10s StartInterval:0s Retries:3}",
                "SHELL [/bin/sh -ec]",
                "ARG V=1",
                "ENTRYPOINT [\"/bin/app\"]",
                "CMD [\"--help\"]",
            ]
        );
        for h in history {
            assert_eq!(h["created"], "2023-11-14T22:13:20Z");
            assert_eq!(h["comment"], "buildkit.dockerfile.v0");
        }
        // Only WORKDIR made a layer (the directory); everything else is config.
        let layers: Vec<bool> = history
            .iter()
            .map(|h| !h["empty_layer"].as_bool().unwrap_or(false))
            .collect();
        assert_eq!(layers.iter().filter(|l| **l).count(), 1);
        assert!(layers[6]);
        assert_eq!(c["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);
    }
}

#[test]
fn platform_flag_sets_the_config_platform() {
    if !have("platform_flag", &["skopeo"]) {
        return;
    }
    let w = Work::new();
    w.file("a", "a", 0o644)
        .dockerfile("FROM scratch\nARG TARGETARCH\nCOPY a /a-$TARGETARCH\n");
    let oci = w.path("out/arm.tar");
    w.build_ok(&[
        "--platform",
        "linux/arm/v7",
        "-o",
        &format!("type=oci,dest={}", oci.display()),
    ]);
    let c = config_of(&format!("oci-archive:{}", oci.display()));
    assert_eq!(c["architecture"], "arm");
    assert_eq!(c["variant"], "v7");
    assert_eq!(c["history"][1]["created_by"], "COPY a /a-arm # buildkit");
}
