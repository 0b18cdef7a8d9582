//! Config JSON: golden files in `testdata/image/`, round trips, and Go's reading rules.

use super::*;
use crate::domain::DEFAULT_PATH;
use crate::store::digest::sha256;

fn golden(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/image")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim_end_matches('\n')
        .to_string()
}

/// The config of `config-full.json`, built field by field.
fn full() -> ImageConfig {
    let mut c = ImageConfig::scratch("linux", "arm", Some("v7"));
    c.author = "Jane Doe <jane@example.com>".into();
    c.created = Some("2024-01-02T03:04:05.123456789Z".into());
    c.os_features = vec!["win32k".into()];
    c.os_version = "10.0.17763.1040".into();
    let e = &mut c.config;
    e.user = "app:app".into();
    e.exposed_ports = ["80/tcp", "443/tcp", "53/udp"].map(String::from).into();
    e.env.push("A=b c".into());
    e.entrypoint = ["/bin/sh", "-c", "exec app \"$@\"", "--"]
        .map(String::from)
        .into();
    e.cmd = vec!["--listen".into(), ":80".into()];
    e.volumes = ["/data", "/cache"].map(String::from).into();
    e.working_dir = "/srv/app".into();
    e.labels = [("z", "last"), ("org.opencontainers.image.title", "app")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    e.stop_signal = "SIGQUIT".into();
    e.args_escaped = true;
    e.healthcheck = Some(Healthcheck {
        test: vec![
            "CMD-SHELL".into(),
            "curl -f http://localhost/ && echo ok".into(),
        ],
        interval: 30_000_000_000,
        timeout: 5_000_000_000,
        start_period: 10_000_000_000,
        start_interval: 2_000_000_000,
        retries: 3,
    });
    e.on_build = vec!["RUN echo onbuild".into()];
    e.shell = ["/bin/bash", "-o", "pipefail", "-c"]
        .map(String::from)
        .into();
    c.push_empty_history(
        "MAINTAINER Jane Doe <jane@example.com>",
        Some("2024-01-02T03:04:05Z".into()),
    );
    c.push_layer(
        sha256(b""),
        "COPY app /srv/app # buildkit",
        Some("2024-01-02T03:04:05.5Z".into()),
    );
    c.push_layer(
        sha256(b"abc"),
        "RUN /bin/bash -o pipefail -c make # buildkit",
        Some("2024-01-02T03:04:05.123456789Z".into()),
    );
    if let Some(h) = c.history.last_mut() {
        h.author = "Jane".into();
    }
    c
}

#[test]
fn every_field_is_written_as_buildkit_writes_it() {
    let want = golden("config-full.json");
    assert_eq!(String::from_utf8(full().to_json()).unwrap(), want);
}

#[test]
fn golden_round_trips_byte_for_byte() {
    let text = golden("config-full.json");
    let parsed = ImageConfig::from_json(text.as_bytes()).unwrap();
    assert_eq!(parsed, full());
    assert_eq!(String::from_utf8(parsed.to_json()).unwrap(), text);
}

#[test]
fn legacy_docker_config_reads_and_normalises() {
    let legacy = golden("config-docker-legacy.json");
    let parsed = ImageConfig::from_json(legacy.as_bytes()).unwrap();
    assert_eq!(parsed.config.cmd, ["sh"]);
    assert!(parsed.config.on_build.is_empty());
    assert!(parsed.config.volumes.is_empty());
    assert_eq!(parsed.history.len(), 2);
    assert!(parsed.history[1].empty_layer);
    assert_eq!(parsed.rootfs.diff_ids.len(), 1);
    assert_eq!(
        String::from_utf8(parsed.to_json()).unwrap(),
        golden("config-docker-legacy.normalized.json")
    );
}

#[test]
fn scratch_config_matches_buildkit_defaults() {
    let c = ImageConfig::scratch("linux", "amd64", None);
    assert_eq!(
        String::from_utf8(c.to_json()).unwrap(),
        format!(
            r#"{{"architecture":"amd64","config":{{"Env":["PATH={DEFAULT_PATH}"],"WorkingDir":"/"}},"os":"linux","rootfs":{{"type":"layers","diff_ids":[]}}}}"#
        )
    );
}

#[test]
fn go_reading_rules() {
    // null and missing collections, an empty healthcheck kept, unknown fields ignored.
    let text = br#"{"architecture":"amd64","os":"linux","config":{"Env":null,"ExposedPorts":{"80/tcp":null},"Healthcheck":{},"Weird":1},"rootfs":{"type":"layers","diff_ids":null},"history":null,"extra":{"a":1}}"#;
    let c = ImageConfig::from_json(text).unwrap();
    assert!(c.config.env.is_empty());
    assert_eq!(c.config.exposed_ports.len(), 1);
    assert_eq!(c.config.healthcheck, Some(Healthcheck::default()));
    assert!(c.rootfs.diff_ids.is_empty());
    let out = String::from_utf8(c.to_json()).unwrap();
    assert!(out.contains(r#""Healthcheck":{}"#), "{out}");
    let minimal = ImageConfig::from_json(b"{}").unwrap();
    assert_eq!(minimal.rootfs.kind, "layers");
    let err = ImageConfig::from_json(b"\"x\"").unwrap_err();
    assert!(err.to_string().starts_with("parse image config"), "{err}");
}

#[test]
fn converts_to_oci_spec_types() {
    let oci = full().to_oci().unwrap();
    assert_eq!(oci.rootfs().diff_ids().len(), 2);
    assert_eq!(
        oci.config()
            .as_ref()
            .and_then(|c| c.user().clone())
            .as_deref(),
        Some("app:app")
    );
}
