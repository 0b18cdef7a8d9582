//! `oci-layout://` references and imports: tags, digests, indexes of several platforms,
//! missing and corrupt blobs.

use super::*;
use crate::export::{write_oci_dir, ExportImage};
use crate::image::index::build_index;
use crate::image::manifest::{descriptor_of, index_json};
use crate::image::{write_image, ImageConfig, LayerCompression, ManifestFormat, PlatformExt};
use crate::store::digest::sha256;
use crate::store::MemStore;

fn image(store: &MemStore, label: &str) -> Digest {
    let layer = store
        .put_bytes(format!("layer {label}").as_bytes())
        .unwrap()
        .descriptor(ManifestFormat::Oci.layer_media_type(LayerCompression::Gzip));
    let mut config = ImageConfig::scratch("linux", "amd64", None);
    config.push_layer(sha256(label.as_bytes()), "COPY", None);
    write_image(store, &config, &[layer], ManifestFormat::Oci)
        .unwrap()
        .manifest
        .digest()
        .clone()
}

fn amd64() -> Platform {
    Platform::parse_full("linux/amd64").unwrap()
}

#[test]
fn references_parse_as_buildx_reads_them() {
    let d = sha256(b"x");
    let r = LayoutRef::parse(&format!("oci-layout:///a/b:v1@{d}")).unwrap();
    assert_eq!(
        r,
        LayoutRef {
            path: "/a/b".into(),
            tag: "v1".into(),
            digest: Some(d.clone())
        }
    );
    let r = LayoutRef::parse(&format!("rel@{d}")).unwrap();
    assert_eq!((r.tag.as_str(), r.digest), ("latest", Some(d)));
    assert!(LayoutRef::parse("oci-layout://:v1").is_err());
    assert!(LayoutRef::parse("oci-layout://x@sha256:zz").is_err());
}

#[test]
fn import_by_tag_copies_every_blob() {
    let src_store = MemStore::new();
    let digest = image(&src_store, "one");
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let img = ExportImage::new(digest.clone(), &["app:v1".into(), "app:v2".into()]).unwrap();
    write_oci_dir(&src_store, &[img], &layout).unwrap();
    let store = MemStore::new();
    assert_eq!(
        import_layout_path(&layout, "v2", &amd64(), &store).unwrap(),
        digest
    );
    // The full name works as well (io.containerd.image.name).
    assert_eq!(
        import_layout_path(&layout, "docker.io/library/app:v1", &amd64(), &store).unwrap(),
        digest
    );
    let mut a = src_store.list().unwrap();
    let mut b = store.list().unwrap();
    a.sort_by(|x, y| x.as_ref().cmp(y.as_ref()));
    b.sort_by(|x, y| x.as_ref().cmp(y.as_ref()));
    assert_eq!(a, b);
    let err = import_layout_path(&layout, "v3", &amd64(), &store).unwrap_err();
    assert!(err.to_string().contains("it has: v1, v2"), "{err}");
}

#[test]
fn an_index_selects_the_platform_and_missing_or_corrupt_blobs_fail() {
    let src_store = MemStore::new();
    let digest = image(&src_store, "amd");
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    write_oci_dir(
        &src_store,
        &[ExportImage::new(digest.clone(), &[]).unwrap()],
        &layout,
    )
    .unwrap();
    // Wrap the manifest in an index with an arm64 entry whose blobs are absent.
    let platform = |arch: &str| {
        oci_spec::image::PlatformBuilder::default()
            .os("linux")
            .architecture(arch)
            .build()
            .unwrap()
    };
    let mut amd = Descriptor::new(
        ManifestFormat::Oci.manifest_media_type(),
        src_store.size(&digest).unwrap(),
        digest.clone(),
    );
    amd.set_platform(Some(platform("amd64")));
    let mut arm = descriptor_of(ManifestFormat::Oci.manifest_media_type(), b"absent");
    arm.set_platform(Some(platform("arm64")));
    let index = index_json(&build_index(vec![arm, amd]));
    let index_digest = sha256(&index);
    std::fs::write(
        layout.join("blobs/sha256").join(index_digest.digest()),
        &index,
    )
    .unwrap();
    let top = descriptor_of(ManifestFormat::Oci.index_media_type(), &index);
    std::fs::write(
        layout.join("index.json"),
        index_json(&build_index(vec![top])),
    )
    .unwrap();

    let store = MemStore::new();
    assert_eq!(
        import_layout_path(&layout, "latest", &amd64(), &store).unwrap(),
        digest
    );
    let arm64 = Platform::parse_full("linux/arm64").unwrap();
    let err = import_layout_path(&layout, "latest", &arm64, &store).unwrap_err();
    assert!(err.to_string().contains("is missing"), "{err}");
    let riscv = Platform::parse_full("linux/riscv64").unwrap();
    let err = import_layout_path(&layout, "latest", &riscv, &store).unwrap_err();
    assert!(
        err.to_string().contains("linux/arm64, linux/amd64"),
        "{err}"
    );

    // A blob whose content does not match its name is refused, and not stored.
    let image = crate::image::read_image(&src_store, &digest).unwrap();
    let layer = image.manifest.layers()[0].digest().clone();
    let path = layout.join("blobs/sha256").join(layer.digest());
    let mut tampered = std::fs::read(&path).unwrap();
    tampered[0] ^= 1;
    std::fs::write(&path, &tampered).unwrap();
    let fresh = MemStore::new();
    let err = import_layout_path(&layout, index_digest.as_ref(), &amd64(), &fresh).unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    assert!(!fresh.has(&layer).unwrap());
    assert!(!fresh.has(&digest).unwrap());

    // A blob that is not the size its descriptor gives is refused before it is read.
    tampered.push(b'!');
    std::fs::write(&path, &tampered).unwrap();
    let err = import_layout_path(&layout, index_digest.as_ref(), &amd64(), &fresh).unwrap_err();
    let want = format!("the layer blob {layer} is 10 bytes, but its descriptor says 9");
    assert!(err.to_string().contains(&want), "{err}");
    assert!(!fresh.has(&layer).unwrap());
    assert!(!fresh.has(&digest).unwrap());
}

#[test]
fn a_directory_that_is_not_a_layout_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let err = import_layout_path(dir.path(), "latest", &amd64(), &MemStore::new()).unwrap_err();
    assert!(err.to_string().contains("no oci-layout file"), "{err}");
    std::fs::write(
        dir.path().join("oci-layout"),
        br#"{"imageLayoutVersion":"2.0"}"#,
    )
    .unwrap();
    let err = import_layout_path(dir.path(), "latest", &amd64(), &MemStore::new()).unwrap_err();
    assert!(
        err.to_string().contains("unsupported oci-layout version"),
        "{err}"
    );
}
