//! The `-o` keys that shape the layers and the image variants, and the combinations refused.

use super::*;

fn outputs(specs: &[&str]) -> Result<Outputs> {
    let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
    parse(&specs, false)
}

fn usage(specs: &[&str]) -> String {
    outputs(specs).unwrap_err().to_string()
}

#[test]
fn layer_keys_shape_the_layers() {
    let default = outputs(&[]).unwrap().layer_settings(Some(5));
    assert_eq!(default, LayerSettings::default());
    let o = outputs(&["type=oci,dest=a,compression=zstd,compression-level=19"]).unwrap();
    let l = o.layer_settings(None);
    assert_eq!((l.compression, l.level), (Compression::Zstd, Some(19)));
    let o = outputs(&["type=oci,dest=a,compression=uncompressed"]).unwrap();
    assert_eq!(
        o.layer_settings(None).compression,
        Compression::Uncompressed
    );
    // The level of one output and the compression of another.
    let o = outputs(&[
        "type=image,compression=zstd",
        "type=oci,dest=a,compression-level=5",
    ]);
    assert_eq!(o.unwrap().layer_settings(None).level, Some(5));
    let o = outputs(&["type=oci,dest=a,rewrite-timestamp=true"]).unwrap();
    assert_eq!(o.layer_settings(Some(7)).source_date_epoch, Some(7));
    let o = outputs(&["type=oci,dest=a"]).unwrap();
    assert_eq!(o.layer_settings(Some(7)).source_date_epoch, None);
}

#[test]
fn outputs_must_agree_on_what_shapes_the_shared_layers() {
    let e = usage(&[
        "type=oci,dest=a,compression=zstd",
        "type=image,compression=gzip",
    ]);
    assert!(e.contains("different compression="), "{e}");
    let e = usage(&[
        "type=oci,dest=a,compression-level=1",
        "type=image,compression-level=2",
    ]);
    assert!(e.contains("different compression-level="), "{e}");
    let e = usage(&["type=oci,dest=a,rewrite-timestamp=true", "out"]);
    assert!(e.contains("different rewrite-timestamp="), "{e}");
    let e = usage(&[
        "type=image,compression=uncompressed",
        "type=oci,dest=a,compression-level=1",
    ]);
    assert!(e.contains("no effect with compression=uncompressed"), "{e}");
    // A level is checked against the compression the layers get, whichever output says.
    let o = outputs(&[
        "type=image,compression=zstd",
        "type=oci,dest=a,compression-level=15",
    ]);
    assert_eq!(o.unwrap().level, Some(15));
    let e = usage(&[
        "type=image,compression=gzip",
        "type=oci,dest=a,compression-level=15",
    ]);
    assert!(
        e.contains("out of range 0-9 for the layers' compression"),
        "{e}"
    );
    assert!(outputs(&["type=cacheonly", "type=oci,dest=a,rewrite-timestamp=true"]).is_ok());
    let e = usage(&["type=oci,dest=-", "type=tar"]);
    assert!(
        e.contains("only one output can go to standard output"),
        "{e}"
    );
}

#[test]
fn rewrite_timestamp_needs_an_epoch() {
    let o = outputs(&["type=oci,dest=a,rewrite-timestamp=true"]).unwrap();
    let e = check_epoch(&o, None).unwrap_err().to_string();
    assert!(
        e.contains("rewrite-timestamp=true needs SOURCE_DATE_EPOCH"),
        "{e}"
    );
    assert!(check_epoch(&o, Some(0)).is_ok());
    assert!(check_epoch(&outputs(&["type=oci,dest=a"]).unwrap(), None).is_ok());
}

#[test]
fn media_type_and_force_keys_choose_the_image_variant() {
    let v = |specs: &[&str]| outputs(specs).unwrap().store_variant();
    assert_eq!(v(&[]), (ManifestFormat::Oci, false));
    assert_eq!(v(&["type=docker,dest=a"]), (ManifestFormat::Docker, false));
    assert_eq!(
        v(&["type=oci,dest=a,oci-mediatypes=false"]),
        (ManifestFormat::Docker, false)
    );
    assert_eq!(
        v(&["type=oci,dest=a,force-compression=true"]),
        (ManifestFormat::Oci, true)
    );
    // A type=image output decides what the -t names name.
    assert_eq!(
        v(&["type=docker,dest=a", "type=image,force-compression=true"]),
        (ManifestFormat::Oci, true)
    );
    let e = usage(&["type=image", "type=image,oci-mediatypes=false"]);
    assert!(e.contains("give each a name="), "{e}");
    assert!(outputs(&["type=image", "type=image,oci-mediatypes=false,name=d"]).is_ok());
}
