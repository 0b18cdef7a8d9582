//! Writing images into a store and reading them back.

use super::*;
use crate::store::digest::sha256;
use crate::store::{DirStore, MemStore};

fn layer(store: &dyn BlobStore, content: &[u8]) -> (Descriptor, Digest) {
    let info = store.put_bytes(content).unwrap();
    let desc = info.descriptor(ManifestFormat::Oci.layer_media_type(LayerCompression::Gzip));
    // A stand-in diff_id: tests do not need a real tar.
    (desc, sha256(&[content, b"-tar"].concat()))
}

fn config_with(layers: &[Digest]) -> ImageConfig {
    let mut c = ImageConfig::scratch("linux", "amd64", None);
    c.created = Some("2024-01-02T03:04:05Z".into());
    for d in layers {
        c.push_layer(d.clone(), "COPY . / # buildkit", c.created.clone());
    }
    c
}

#[test]
fn write_then_read_round_trips_in_both_formats() {
    for format in [ManifestFormat::Oci, ManifestFormat::Docker] {
        let store = MemStore::new();
        let (l1, d1) = layer(&store, b"one");
        let (l2, d2) = layer(&store, b"two");
        let config = config_with(&[d1, d2]);
        let desc = write_image(&store, &config, &[l1.clone(), l2.clone()], format).unwrap();
        assert_eq!(desc.manifest.media_type(), &format.manifest_media_type());
        let image = read_image(&store, desc.digest()).unwrap();
        assert_eq!(image.config, config);
        assert_eq!(image.descriptor, desc);
        assert_eq!(image.manifest.layers().len(), 2);
        assert_eq!(image.size(), desc.config.size() + 3 + 3);
        assert_eq!(sha256(&image.manifest_bytes), *desc.digest());
        assert_eq!(sha256(&image.config_bytes), *desc.config.digest());
        let record = desc.record(config.created.clone());
        assert_eq!(record.media_type, format.manifest_media_type().to_string());
    }
}

#[test]
fn writing_is_deterministic() {
    let a = MemStore::new();
    let b = MemStore::new();
    let (la, da) = layer(&a, b"x");
    let (lb, db) = layer(&b, b"x");
    let ia = write_image(&a, &config_with(&[da]), &[la], ManifestFormat::Oci).unwrap();
    let ib = write_image(&b, &config_with(&[db]), &[lb], ManifestFormat::Oci).unwrap();
    assert_eq!(ia, ib);
}

#[test]
fn missing_layer_or_mismatched_diff_ids_are_refused() {
    let store = MemStore::new();
    let (l, d) = layer(&store, b"one");
    let err = write_image(
        &store,
        &config_with(&[]),
        std::slice::from_ref(&l),
        ManifestFormat::Oci,
    )
    .unwrap_err();
    assert!(err.to_string().contains("1 layers but 0 diff_ids"), "{err}");
    store.delete(l.digest()).unwrap();
    let err = write_image(&store, &config_with(&[d]), &[l], ManifestFormat::Oci).unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn select_manifest_picks_the_platform_from_an_index() {
    let store = MemStore::new();
    let config = config_with(&[]);
    let img = write_image(&store, &config, &[], ManifestFormat::Oci).unwrap();
    assert_eq!(
        select_manifest(
            &store,
            img.digest(),
            &Platform::parse_full("linux/amd64").unwrap()
        )
        .unwrap(),
        *img.digest()
    );
    let mut entry = img.manifest.clone();
    let p = oci_spec::image::PlatformBuilder::default()
        .os("linux")
        .architecture("amd64")
        .build()
        .unwrap();
    entry.set_platform(Some(p));
    let idx = index::build_index(vec![entry]);
    let idx_digest = store.put_bytes(&manifest::index_json(&idx)).unwrap().digest;
    let amd64 = Platform::parse_full("linux/amd64").unwrap();
    assert_eq!(
        select_manifest(&store, &idx_digest, &amd64).unwrap(),
        *img.digest()
    );
    let err = select_manifest(
        &store,
        &idx_digest,
        &Platform::parse_full("linux/arm64").unwrap(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("it has: linux/amd64"), "{err}");
    let err = read_image(&store, &idx_digest).unwrap_err();
    assert!(
        err.to_string().contains("index of several platforms"),
        "{err}"
    );
}

#[test]
fn find_image_by_name_prefix_or_unnamed_digest() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::new(dir.path()).unwrap();
    let names = store.images();
    let img = write_image(&store, &config_with(&[]), &[], ManifestFormat::Oci).unwrap();
    let unnamed = find_image(&store, &names, img.digest().as_ref()).unwrap();
    assert!(unnamed.names.is_empty());
    assert_eq!(unnamed.record.digest, *img.digest());
    names.set("app", img.record(None)).unwrap();
    let named = find_image(&store, &names, "app").unwrap();
    assert_eq!(named.names, ["docker.io/library/app:latest"]);
    let err = find_image(&store, &names, "nope").unwrap_err();
    assert_eq!(err.to_string(), "no such image: nope");
}
