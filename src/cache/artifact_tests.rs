use oci_spec::image::MediaType;

use super::*;
use crate::cache::exchange::{parse_spec, CacheSpec};
use crate::cache::mount_cache::{MountSelection, UsedMount};
use crate::cache::RecordLayer;
use crate::store::digest::sha256;

fn registry(spec: &str, export: bool) -> Result<RegistryCache, String> {
    match parse_spec(spec, export)? {
        CacheSpec::Registry(r) => Ok(r),
        other => panic!("{spec}: {other:?}"),
    }
}

/// Every key of `type=registry` changes the result, and every other one is refused,
/// naming it.
#[test]
fn every_registry_key_is_used_or_refused() {
    let to = |s: &str| registry(s, true);
    let d = to("type=registry,ref=r/app:c").unwrap();
    assert_eq!(d.reference.to_string(), "docker.io/r/app:c");
    assert_eq!(
        (
            d.mode,
            d.compression,
            d.oci_mediatypes,
            d.image_manifest,
            d.ignore_error
        ),
        (CacheMode::Min, None, true, false, false)
    );
    assert_eq!(
        to("type=registry,ref=r/app").unwrap().reference.tag(),
        Some("latest")
    );
    assert_eq!(
        to("type=registry,ref=r/a,mode=max").unwrap().mode,
        CacheMode::Max
    );
    assert_eq!(
        to("type=registry,ref=r/a,mode=min").unwrap().mode,
        CacheMode::Min
    );
    assert_eq!(
        to("type=registry,ref=r/a,compression=zstd")
            .unwrap()
            .compression,
        Some(Compression::Zstd)
    );
    assert!(
        !to("type=registry,ref=r/a,oci-mediatypes=false")
            .unwrap()
            .oci_mediatypes
    );
    assert!(
        to("type=registry,ref=r/a,image-manifest=true")
            .unwrap()
            .image_manifest
    );
    assert!(
        to("type=registry,ref=r/a,ignore-error=TRUE")
            .unwrap()
            .ignore_error
    );
    assert_eq!(d.mounts, None);
    let m = to("type=registry,ref=r/a,cache-mounts=dl,apt,cache-mounts-max-size=1k")
        .unwrap()
        .mounts
        .unwrap();
    assert_eq!(
        (m.select, m.max_size),
        (MountSelection::Ids(vec!["dl".into(), "apt".into()]), 1024)
    );
    let all = to("type=registry,ref=r/a,cache-mounts=true")
        .unwrap()
        .mounts;
    assert_eq!(all.map(|m| m.select), Some(MountSelection::All));
    let refused: &[(&str, bool, &str)] = &[
        (
            "type=registry,ref=r/a,cache-mounts=true",
            false,
            "unknown key \"cache-mounts\"",
        ),
        (
            "type=registry,ref=r/a,cache-mounts-max-size=1k",
            true,
            "needs cache-mounts=true",
        ),
        (
            "type=registry,ref=r/a,cache-mounts=true,cache-mounts-max-size=x",
            true,
            "expected a size",
        ),
        ("type=registry,ref=r/a,mode=all", true, "expected min or max"),
        (
            "type=registry,ref=r/a,compression=lz4",
            true,
            "expected gzip, zstd",
        ),
        (
            "type=registry,ref=r/a,ignore-error=yes",
            true,
            "expected true or false",
        ),
        (
            "type=registry,ref=r/a,image-manifest=true,oci-mediatypes=false",
            true,
            "needs oci-mediatypes=true",
        ),
        ("type=registry,ref=r/a,src=/x", true, "unknown key \"src\""),
        ("type=registry,ref=r/a,mode=max", false, "it takes: ref"),
        (
            "type=registry,ref=r/a,ignore-error=true",
            false,
            "unknown key \"ignore-error\"",
        ),
        ("type=registry,ref=r/UPPER", false, "must be lowercase"),
        (
            "type=registry,ref=r/a@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            true,
            "not a digest",
        ),
        ("type=registry,ref=", false, "needs ref="),
    ];
    for (spec, export, text) in refused {
        let e = registry(spec, *export).expect_err(spec);
        assert!(e.contains(text), "{spec}: {e}");
    }
}

fn record(n: u8, layer: Option<&Descriptor>) -> Record {
    Record {
        key: sha256(&[n]),
        layer: layer.map(|d| RecordLayer {
            descriptor: d.clone(),
            diff_id: sha256(b"diff"),
            chain_id: sha256(b"chain"),
            uncompressed_stand_in: false,
        }),
        created: "2026-01-01T00:00:00Z".into(),
        description: format!("[{n}/2] RUN true"),
    }
}

#[test]
fn an_artifact_round_trips_and_its_bytes_are_stable() {
    let layer = Descriptor::new(MediaType::ImageLayerGzip, 11, sha256(b"layer bytes"));
    let records = [record(2, Some(&layer)), record(1, None)];
    let config = config_bytes(&records).unwrap();
    assert_eq!(
        config,
        config_bytes(&[records[1].clone(), records[0].clone()]).unwrap()
    );
    let config_desc = Descriptor::new(
        MediaType::Other(CONFIG_MEDIA_TYPE.into()),
        config.len() as u64,
        sha256(&config),
    );
    let (mt, manifest) = manifest_bytes(&config_desc, std::slice::from_ref(&layer), true).unwrap();
    assert_eq!(mt, OCI_MANIFEST);
    let (got_config, got_layers) = parse_manifest(&manifest).unwrap();
    assert_eq!(got_config.digest(), config_desc.digest());
    let parsed = parse_config(&config, &got_layers).unwrap();
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed.get(records[0].key.as_ref()), Some(&records[0]));
    let (it, index) = index_bytes(mt, &sha256(&manifest), manifest.len() as u64, true).unwrap();
    assert!(is_index(it));
    assert_eq!(index_entry(&index).unwrap().digest(), &sha256(&manifest));
    // Docker media types rename the layers, never the blobs.
    let (dt, docker) = manifest_bytes(&config_desc, std::slice::from_ref(&layer), false).unwrap();
    assert_eq!(dt, DOCKER_MANIFEST);
    let text = String::from_utf8(docker).unwrap();
    assert!(text.contains("application/vnd.docker.image.rootfs.diff.tar.gzip"));
    assert!(text.contains(layer.digest().as_ref()));
}

#[test]
fn foreign_or_tampered_artifacts_are_refused_with_the_reason() {
    let layer = Descriptor::new(MediaType::ImageLayerGzip, 11, sha256(b"layer bytes"));
    let image_config = Descriptor::new(MediaType::ImageConfig, 2, sha256(b"{}"));
    let (_, image) = manifest_bytes(&image_config, std::slice::from_ref(&layer), true).unwrap();
    // An image manifest written as an image is not a cache.
    let foreign = String::from_utf8(image).unwrap().replace(
        CONFIG_MEDIA_TYPE,
        "application/vnd.oci.image.config.v1+json",
    );
    let e = parse_manifest(foreign.as_bytes()).unwrap_err();
    assert!(e.contains("not a builder cache"), "{e}");
    assert!(parse_manifest(b"[]")
        .unwrap_err()
        .contains("does not parse"));
    let e = parse_config(b"{\"schemaVersion\":1,\"records\":[{\"key\":1}]}", &[]).unwrap_err();
    assert!(e.contains("do not parse"), "{e}");
    let e = parse_config(b"{\"schemaVersion\":9,\"records\":[]}", &[]).unwrap_err();
    assert!(e.contains("version 9"), "{e}");
    // A record naming a layer the manifest does not list.
    let config = config_bytes(&[record(1, Some(&layer))]).unwrap();
    let e = parse_config(&config, &[]).unwrap_err();
    assert!(e.contains("does not list"), "{e}");
    let e = index_entry(b"{\"manifests\":[]}").unwrap_err();
    assert!(e.contains("exactly one"), "{e}");
}

#[test]
fn cache_mounts_ride_in_the_config_and_a_bad_one_is_refused() {
    let layer = Descriptor::new(MediaType::ImageLayerGzip, 11, sha256(b"mount bytes"));
    let mount = |name: &str| MountRecord {
        mount: UsedMount {
            id: "dl".into(),
            name: name.into(),
            uid: 0,
            gid: 0,
            mode: 0o755,
        },
        layer: layer.clone(),
        diff_id: sha256(b"diff"),
    };
    let good = mount(&"c".repeat(64));
    let config = config_bytes_with_mounts(&[], std::slice::from_ref(&good)).unwrap();
    assert!(parse_config(&config, std::slice::from_ref(&layer)).is_ok());
    let got = parse_mounts(&config, std::slice::from_ref(&layer)).unwrap();
    assert_eq!(got, vec![good]);
    // Without mounts the config is as before.
    assert_eq!(
        config_bytes_with_mounts(&[], &[]).unwrap(),
        config_bytes(&[]).unwrap()
    );
    // A blob the manifest does not list, or a name that is a path, is refused.
    let e = parse_mounts(&config, &[]).unwrap_err();
    assert!(e.contains("cannot hold"), "{e}");
    let bad = config_bytes_with_mounts(&[], &[mount("../../etc")]).unwrap();
    let e = parse_mounts(&bad, std::slice::from_ref(&layer)).unwrap_err();
    assert!(e.contains("../../etc"), "{e}");
}

#[test]
fn compression_is_read_from_the_media_type() {
    assert_eq!(
        Compression::of("application/vnd.oci.image.layer.v1.tar+gzip"),
        Compression::Gzip
    );
    assert_eq!(
        Compression::of("application/vnd.oci.image.layer.v1.tar+zstd"),
        Compression::Zstd
    );
    assert_eq!(
        Compression::of("application/vnd.oci.image.layer.v1.tar"),
        Compression::Uncompressed
    );
    assert_eq!(Compression::Zstd.name(), "zstd");
}

#[test]
fn an_image_config_label_holds_inline_records() {
    let layer = Descriptor::new(MediaType::ImageLayerGzip, 11, sha256(b"layer bytes"));
    let text = String::from_utf8(config_bytes(&[record(1, Some(&layer))]).unwrap()).unwrap();
    let image = serde_json::json!({"config": {"Labels": {INLINE_LABEL: text}}});
    let bytes = serde_json::to_vec(&image).unwrap();
    let records = inline_records(&bytes, std::slice::from_ref(&layer)).unwrap();
    assert_eq!(records.len(), 1);
    // The label may only name the image's own layers.
    assert!(inline_records(&bytes, &[])
        .unwrap_err()
        .contains("does not list"));
    let e = inline_records(br#"{"config":{"Labels":{}}}"#, &[]).unwrap_err();
    assert!(e.contains("not a builder cache"), "{e}");
    assert!(is_image_config("application/vnd.oci.image.config.v1+json"));
    assert!(!is_image_config(CONFIG_MEDIA_TYPE));
}
