//! `--output` specs parsed as buildx parses them, and the errors for everything else.

use super::*;

fn parse(s: &str) -> OutputSpec {
    OutputSpec::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn error(s: &str) -> String {
    OutputSpec::parse(s).unwrap_err().to_string()
}

#[test]
fn every_type_of_the_contract() {
    let oci = parse("type=oci,dest=out.tar");
    assert_eq!(oci.kind, OutputType::Oci);
    assert_eq!(oci.dest, Destination::Path("out.tar".into()));
    assert!(oci.tar);
    assert_eq!(oci.manifest_format(), ManifestFormat::Oci);

    let dir = parse("type=oci,dest=layout,tar=false");
    assert!(!dir.tar);
    assert_eq!(dir.dest, Destination::Path("layout".into()));

    let docker = parse("type=docker,dest=img.tar");
    assert_eq!(docker.kind, OutputType::Docker);
    assert_eq!(docker.manifest_format(), ManifestFormat::Docker);
    assert_eq!(
        parse("type=docker,dest=x,oci-mediatypes=true").manifest_format(),
        ManifestFormat::Oci
    );
    assert_eq!(
        parse("type=oci,dest=x,oci-mediatypes=false").manifest_format(),
        ManifestFormat::Docker
    );

    let reg = parse("type=registry");
    assert_eq!(reg.kind, OutputType::Registry);
    assert!(reg.push);
    assert_eq!(reg.dest, Destination::None);
    assert!(parse("type=registry,registry.insecure=true").registry_insecure);
    assert!(parse("type=image,push=true").push);
    assert!(!parse("type=image").push);

    let local = parse("type=local,dest=out");
    assert_eq!(local.kind, OutputType::Local);
    assert_eq!(local.dest, Destination::Path("out".into()));
    let tar = parse("type=tar,dest=rootfs.tar");
    assert_eq!(tar.kind, OutputType::Tar);
    assert_eq!(parse("type=cacheonly").kind, OutputType::Cacheonly);
}

#[test]
fn shorthands() {
    assert_eq!(
        parse("out/dir"),
        OutputSpec::empty(OutputType::Local, Destination::Path("out/dir".into()))
    );
    let stdout = parse("-");
    assert_eq!(stdout.kind, OutputType::Tar);
    assert_eq!(stdout.dest, Destination::Stdout);
    // A quoted single field is not the shorthand (the field differs from the spec).
    assert!(error("\"dir\"").contains("expected key=value"));
}

#[test]
fn tarball_outputs_without_dest_go_to_stdout() {
    for s in [
        "type=oci",
        "type=docker",
        "type=tar",
        "type=oci,dest=-",
        "type=tar,dest=",
    ] {
        assert_eq!(parse(s).dest, Destination::Stdout, "{s}");
    }
}

#[test]
fn common_keys() {
    let s = parse(
        "type=oci,dest=o.tar,compression=zstd,compression-level=19,force-compression=true,rewrite-timestamp=1,\"name=a:1,b:2\"",
    );
    assert_eq!(s.compression, Some(LayerCompression::Zstd));
    assert_eq!(s.compression_level, Some(19));
    assert!(s.force_compression);
    assert!(s.rewrite_timestamp);
    assert_eq!(s.names, ["a:1", "b:2"]);
    assert_eq!(s.names_or(&["t".to_string()]), ["a:1", "b:2"]);
    let plain = parse("type=oci,dest=o.tar,compression=uncompressed");
    assert_eq!(plain.compression, Some(LayerCompression::Uncompressed));
    assert_eq!(plain.names_or(&["t".to_string()]), ["t"]);
    // Keys are case-insensitive and trimmed, values are kept as written.
    let s = parse("TYPE=oci, Dest=A B.tar");
    assert_eq!(s.dest, Destination::Path("A B.tar".into()));
}

#[test]
fn errors_name_the_problem() {
    assert!(error("dest=x,tar=true").contains("type is required"));
    // As in buildx, a single field without `type=` is the shorthand, even with a `=`.
    assert_eq!(parse("dest=x").dest, Destination::Path("dest=x".into()));
    assert!(error("").contains("type is required"));
    assert!(error("type=zip,dest=x").contains("unknown output type \"zip\""));
    let e = error("type=oci,dest=x,colour=red");
    assert!(
        e.contains("unknown key \"colour\" for type=oci; it takes: dest, tar"),
        "{e}"
    );
    assert!(error("type=local,dest=x,tar=false").contains("unknown key \"tar\""));
    assert!(error("type=registry,dest=x").contains("unknown key \"dest\""));
    assert!(error("type=cacheonly,name=x").contains("takes no keys"));
    assert!(error("type=local").contains("needs dest=DIR"));
    assert!(error("type=local,dest=-").contains("type=tar,dest=-"));
    assert!(error("type=oci,tar=false").contains("needs dest=DIR"));
    assert!(error("type=oci,dest=x,tar=maybe").contains("tar=\"maybe\": expected true or false"));
    assert!(error("type=oci,dest=x,compression=lz4").contains("unknown compression \"lz4\""));
    assert!(error("type=oci,dest=x,compression=estargz").contains("not supported"));
    assert!(error("type=oci,dest=x,compression-level=fast").contains("expected a number"));
    assert!(error("type=oci,dest=x,compression-level=10").contains("out of range 0-9"));
    assert_eq!(
        parse("type=oci,dest=x,compression=zstd,compression-level=22").compression_level,
        Some(22)
    );
    assert!(error("type=oci,novalue").contains("invalid value novalue"));
    assert!(error("type=oci,\"dest=x").contains("quoted field"));
    assert!(error("type=oci,de\"st=x").contains("bare \""));
    assert!(error("type=zip").starts_with("invalid output \"type=zip\": "));
}

#[test]
fn push_adds_a_registry_output_once() {
    let outs = parse_outputs(&["type=oci,dest=a".into(), String::new()], true).unwrap();
    assert_eq!(outs.len(), 2);
    assert_eq!(outs[1].kind, OutputType::Registry);
    let outs = parse_outputs(&["type=registry".into()], true).unwrap();
    assert_eq!(outs.len(), 1);
    assert!(parse_outputs(&[], false).unwrap().is_empty());
}

#[test]
fn csv_like_go() {
    assert_eq!(csv_fields("a,b").unwrap(), ["a", "b"]);
    assert_eq!(csv_fields("\"a,b\",c").unwrap(), ["a,b", "c"]);
    assert_eq!(csv_fields("\"say \"\"hi\"\"\"").unwrap(), ["say \"hi\""]);
    assert_eq!(csv_fields("a,").unwrap(), ["a", ""]);
    assert_eq!(csv_fields("\"a\",").unwrap(), ["a", ""]);
    assert!(csv_fields("\"a\"b").is_err());
}

#[test]
fn names_as_buildx_lists_them() {
    for s in [
        "type=image,name=a:1,name=b:2",
        "type=image,\"name=a:1,b:2\"",
        "type=image,\"name=a:1, b:2,\"",
    ] {
        assert_eq!(parse(s).names, ["a:1", "b:2"], "{s}");
    }
    let docker = parse("type=docker,dest=x,name=a,\"name=b,c\"");
    assert_eq!(docker.names, ["a", "b", "c"]);
    assert_eq!(
        parse("type=registry,name=r.example/a").names,
        ["r.example/a"]
    );
    // Any other key given twice is refused, naming it.
    let e = error("type=oci,dest=x,compression=gzip,compression=zstd");
    assert!(e.contains("compression is given more than once"), "{e}");
    assert!(error("type=oci,dest=a,dest=b").contains("dest is given more than once"));
    // A name must be an image reference; the store takes tags only.
    let e = error("type=image,name=Bad Name");
    assert!(e.contains("name=\"Bad Name\""), "{e}");
    let digest = format!("a@sha256:{}", "0".repeat(64));
    let e = error(&format!("type=image,name={digest}"));
    assert!(e.contains("by tag, not by digest"), "{e}");
    assert_eq!(
        parse(&format!("type=oci,dest=x,name={digest}")).names,
        [digest]
    );
}
