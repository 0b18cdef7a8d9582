//! Base layers become snapshots and flattened trees only as what their image says they are:
//! a layer whose content is not its diff_id, or whose blob is not its descriptor's size,
//! leaves nothing behind, and the honest layer with that diff_id is unpacked afterwards.

use oci_spec::image::Digest;

use super::*;
use crate::image::{LayerCompression, ManifestFormat};
use crate::progress::Quiet;
use crate::snapshot::DirSnapshotter;
use crate::snapshot::SnapshotError;
use crate::store::digest::sha256;
use crate::store::DirStore;

/// A one-file layer tar.
fn tar_of(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, content).unwrap();
    b.into_inner().unwrap()
}

/// A base layer whose blob is `tar` (stored), described with `size`, claiming `diff_id`.
fn layer(store: &DirStore, tar: &[u8], size: Option<u64>, diff_id: &Digest) -> Layer {
    let info = store.put_bytes(tar).unwrap();
    let media = ManifestFormat::Oci.layer_media_type(LayerCompression::Uncompressed);
    let desc = Descriptor::new(media, size.unwrap_or(info.size), info.digest);
    let mut l = Layer::new(desc, diff_id.clone());
    l.image = Some("image busybox (manifest sha256:feed)".into());
    l
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: DirStore,
    snapshots: DirSnapshotter,
    flat: PathBuf,
    snaps_dir: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let snaps_dir = dir.path().join("snapshotter");
        Fixture {
            store: DirStore::new(dir.path().join("store")).unwrap(),
            snapshots: DirSnapshotter::new(&snaps_dir).unwrap(),
            flat: dir.path().join("rootfs"),
            snaps_dir,
            _dir: dir,
        }
    }

    fn rootfs(&self) -> LayerTrees<'_> {
        LayerTrees {
            store: &self.store,
            snapshots: &self.snapshots,
            flat_dir: self.flat.clone(),
            owners: Owners::Ignore,
        }
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn image_layer_error(e: StepError) -> ImageLayerError {
    match e {
        StepError::ImageLayer(e) => *e,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_layer_lying_about_its_diff_id_leaves_no_snapshot_and_the_honest_one_is_unpacked() {
    let f = Fixture::new();
    let honest = tar_of("bin/sh", b"the real shell");
    let diff_id = sha256(&honest);
    let lie = tar_of("bin/sh", b"a trojan");
    let rootfs = f.rootfs();

    let mut hostile = [layer(&f.store, &lie, None, &diff_id)];
    let err = rootfs
        .materialize(&mut hostile, &Quiet::default())
        .unwrap_err();
    let e = image_layer_error(err);
    assert_eq!((e.index, e.count), (1, 1));
    assert_eq!(e.digest, sha256(&lie));
    assert_eq!(e.image, "image busybox (manifest sha256:feed)");
    assert!(
        matches!(&e.source, LayerError::Unpack(SnapshotError::DiffIdMismatch { expected, .. }) if **expected == diff_id),
        "{:?}",
        e.source
    );
    assert_eq!(
        crate::progress::chain(&StepError::ImageLayer(Box::new(e))),
        format!(
            "unpack layer 1/1 ({}) of image busybox (manifest sha256:feed): the uncompressed \
             layer is {}, but the image config's diff_id is {diff_id}",
            sha256(&lie),
            sha256(&lie)
        )
    );
    assert_eq!(f.snapshots.get(diff_id.as_ref()).unwrap(), None);
    assert!(entries(&f.snaps_dir.join("active")).is_empty());
    assert!(hostile[0].snapshot.is_none());

    let mut real = [layer(&f.store, &honest, None, &diff_id)];
    let top = rootfs
        .materialize(&mut real, &Quiet::default())
        .unwrap()
        .unwrap();
    assert_eq!(top.as_str(), diff_id.as_ref());
    let lowers = f.snapshots.view(&top).unwrap();
    assert_eq!(
        std::fs::read(lowers[0].join("bin/sh")).unwrap(),
        b"the real shell"
    );
}

#[test]
fn a_second_layer_lying_names_its_position_and_keeps_the_first() {
    let f = Fixture::new();
    let first = tar_of("a", b"a");
    let second = tar_of("b", b"b");
    let bottom = layer(&f.store, &first, None, &sha256(&first));
    let top = layer(&f.store, &second, None, &sha256(b"something else"));
    let mut layers = [top.on(std::slice::from_ref(&bottom)), bottom];
    layers.swap(0, 1);
    let e = image_layer_error(
        f.rootfs()
            .materialize(&mut layers, &Quiet::default())
            .unwrap_err(),
    );
    assert_eq!((e.index, e.count), (2, 2));
    // The first layer is what it says: its snapshot stays, and only it.
    let names: Vec<String> = f
        .snapshots
        .list()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, [sha256(&first).to_string()]);
    assert!(entries(&f.snaps_dir.join("active")).is_empty());
}

#[test]
fn a_blob_of_another_size_than_its_descriptor_is_refused() {
    let f = Fixture::new();
    let tar = tar_of("f", b"x");
    let mut layers = [layer(&f.store, &tar, Some(100), &sha256(&tar))];
    let e = image_layer_error(
        f.rootfs()
            .materialize(&mut layers, &Quiet::default())
            .unwrap_err(),
    );
    match e.source {
        LayerError::Size { expected, actual } => {
            assert_eq!((expected, actual), (100, tar.len() as u64));
        }
        other => panic!("{other:?}"),
    }
    assert!(f.snapshots.list().unwrap().is_empty());
    assert!(entries(&f.snaps_dir.join("active")).is_empty());
    assert!(f
        .rootfs()
        .flatten(&layers, &Quiet::default())
        .is_err_and(|e| matches!(image_layer_error(e).source, LayerError::Size { .. })));
}

#[test]
fn flattening_a_lying_layer_leaves_no_tree() {
    let f = Fixture::new();
    let honest = tar_of("etc/passwd", b"root:x:0:0");
    let diff_id = sha256(&honest);
    let lie = tar_of("etc/passwd", b"root::0:0");
    let hostile = [layer(&f.store, &lie, None, &diff_id)];
    let e = image_layer_error(f.rootfs().flatten(&hostile, &Quiet::default()).unwrap_err());
    assert!(matches!(
        e.source,
        LayerError::Unpack(SnapshotError::DiffIdMismatch { .. })
    ));
    assert!(entries(&f.flat).is_empty(), "{:?}", entries(&f.flat));

    let real = [layer(&f.store, &honest, None, &diff_id)];
    let tree = f.rootfs().flatten(&real, &Quiet::default()).unwrap();
    assert_eq!(
        std::fs::read(tree.join("etc/passwd")).unwrap(),
        b"root:x:0:0"
    );
}
