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
fn tarball_outputs_without_dest_go_to_stdout_and_docker_s_is_loaded() {
    assert_eq!(parse("type=docker").dest, Destination::Load);
    assert_eq!(parse("type=docker,dest=-").dest, Destination::Stdout);
    for s in ["type=oci", "type=tar", "type=oci,dest=-", "type=tar,dest="] {
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
    assert!(
        error("type=oci,dest=x,compression=gzip,compression-level=10").contains("out of range 0-9")
    );
    assert!(error("type=oci,dest=x,compression-level=23").contains("out of range 0-22"));
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

/// What a row expects: the parsed spec passes the check, or the error names the problem.
#[derive(Clone, Copy)]
enum Expect {
    Ok(fn(&OutputSpec) -> bool),
    Err(&'static str),
}

/// Each row is one key of one type: accepted keys must change the parsed spec (the check
/// fails on the default), every other key is refused with an error naming it.
fn check_rows(rows: &[(&str, Expect)]) {
    for (spec, want) in rows {
        match (OutputSpec::parse(spec), want) {
            (Ok(s), Expect::Ok(check)) => assert!(check(&s), "{spec}: {s:?}"),
            (Err(e), Expect::Err(text)) => {
                let e = e.to_string();
                assert!(e.contains(text), "{spec}: {e}");
            }
            (got, _) => panic!("{spec}: unexpected {got:?}"),
        }
    }
}

#[test]
fn every_local_and_tar_key_is_used_or_refused() {
    use Expect::{Err, Ok};
    for kind in ["local", "tar"] {
        let rows: Vec<(String, Expect)> = vec![
            (
                format!("type={kind},dest=d"),
                Ok(|s| s.dest == Destination::Path("d".into())),
            ),
            (
                format!("type={kind},dest=d,rewrite-timestamp=true"),
                Ok(|s| s.rewrite_timestamp),
            ),
            (
                format!("type={kind},dest=d,rewrite-timestamp=false"),
                Ok(|s| !s.rewrite_timestamp),
            ),
            (
                format!("type={kind},dest=d,tar=false"),
                Err("unknown key \"tar\""),
            ),
            (
                format!("type={kind},dest=d,name=a"),
                Err("unknown key \"name\""),
            ),
            (
                format!("type={kind},dest=d,push=true"),
                Err("unknown key \"push\""),
            ),
            (
                format!("type={kind},dest=d,compression=zstd"),
                Err("unknown key \"compression\""),
            ),
            (
                format!("type={kind},dest=d,compression-level=1"),
                Err("unknown key \"compression-level\""),
            ),
            (
                format!("type={kind},dest=d,force-compression=true"),
                Err("unknown key \"force-compression\""),
            ),
            (
                format!("type={kind},dest=d,oci-mediatypes=true"),
                Err("unknown key \"oci-mediatypes\""),
            ),
            (
                format!("type={kind},dest=d,registry.insecure=true"),
                Err("unknown key \"registry.insecure\""),
            ),
            (
                format!("type={kind},dest=d,platform-split=true"),
                Err("unknown key"),
            ),
        ];
        let rows: Vec<(&str, Expect)> = rows.iter().map(|(s, e)| (s.as_str(), *e)).collect();
        check_rows(&rows);
    }
}

/// The rows of the keys every image output takes (`compression`, ...), for type `kind`
/// with `base` (the keys it needs) first.
fn image_key_rows(base: &str) -> Vec<(String, Expect)> {
    use Expect::{Err, Ok};
    vec![
        (
            format!("{base},compression=zstd"),
            Ok(|s| s.compression == Some(LayerCompression::Zstd)),
        ),
        (
            format!("{base},compression=uncompressed"),
            Ok(|s| s.compression == Some(LayerCompression::Uncompressed)),
        ),
        (format!("{base},compression=estargz"), Err("not supported")),
        (
            format!("{base},compression-level=3"),
            Ok(|s| s.compression_level == Some(3)),
        ),
        (
            format!("{base},compression=uncompressed,compression-level=3"),
            Err("no effect with compression=uncompressed"),
        ),
        (
            format!("{base},force-compression=true"),
            Ok(|s| s.force_compression),
        ),
        (
            format!("{base},oci-mediatypes=false"),
            Ok(|s| s.manifest_format() == ManifestFormat::Docker),
        ),
        (
            format!("{base},oci-mediatypes=true"),
            Ok(|s| s.manifest_format() == ManifestFormat::Oci),
        ),
        (
            format!("{base},rewrite-timestamp=true"),
            Ok(|s| s.rewrite_timestamp),
        ),
        (
            format!("{base},name=a:1,name=b:2"),
            Ok(|s| s.names == ["a:1", "b:2"]),
        ),
        (
            format!("{base},name=Not A Name"),
            Err("name=\"Not A Name\""),
        ),
        (
            format!("{base},annotation.k=v"),
            Err("unknown key \"annotation.k\""),
        ),
        (format!("{base},store=false"), Err("unknown key \"store\"")),
        (format!("{base},unpack=true"), Err("unknown key \"unpack\"")),
        (
            format!("{base},buildinfo=false"),
            Err("unknown key \"buildinfo\""),
        ),
    ]
}

#[test]
fn every_oci_and_docker_key_is_used_or_refused() {
    use Expect::{Err, Ok};
    for kind in ["oci", "docker"] {
        let base = format!("type={kind},dest=d");
        let mut rows = image_key_rows(&base);
        rows.extend([
            (
                format!("type={kind},dest=d"),
                Ok(|s| s.dest == Destination::Path("d".into())),
            ),
            (
                format!("type={kind}"),
                match kind {
                    "docker" => Ok(|s| s.dest == Destination::Load),
                    _ => Ok(|s| s.dest == Destination::Stdout),
                },
            ),
            (format!("{base},tar=false"), Ok(|s| !s.tar)),
            (format!("{base},tar=true"), Ok(|s| s.tar)),
            (format!("type={kind},tar=false"), Err("needs dest=DIR")),
            (format!("{base},push=true"), Err("unknown key \"push\"")),
            (
                format!("{base},registry.insecure=true"),
                Err("unknown key \"registry.insecure\""),
            ),
            (
                format!("{base},dest=e"),
                Err("dest is given more than once"),
            ),
        ]);
        let rows: Vec<(&str, Expect)> = rows.iter().map(|(s, e)| (s.as_str(), *e)).collect();
        check_rows(&rows);
    }
    // The default media types differ by type; oci-mediatypes= overrides them.
    assert_eq!(
        parse("type=docker,dest=d").manifest_format(),
        ManifestFormat::Docker
    );
    assert_eq!(
        parse("type=oci,dest=d").manifest_format(),
        ManifestFormat::Oci
    );
}

#[test]
fn every_registry_and_image_key_is_used_or_refused() {
    use Expect::{Err, Ok};
    let mut rows = image_key_rows("type=registry");
    rows.extend(image_key_rows("type=image"));
    rows.extend([
        ("type=registry".to_string(), Ok(|s: &OutputSpec| s.push)),
        (
            "type=registry,push=true".to_string(),
            Ok(|s: &OutputSpec| s.push),
        ),
        (
            "type=registry,push=false".to_string(),
            Err("type=registry always pushes"),
        ),
        (
            "type=registry,registry.insecure=true".to_string(),
            Ok(|s: &OutputSpec| s.registry_insecure),
        ),
        ("type=image".to_string(), Ok(|s: &OutputSpec| !s.push)),
        (
            "type=image,push=true".to_string(),
            Ok(|s: &OutputSpec| s.push),
        ),
        (
            "type=image,push=true,registry.insecure=true".to_string(),
            Ok(|s: &OutputSpec| s.registry_insecure),
        ),
        (
            "type=image,registry.insecure=true".to_string(),
            Err("pushes only with push=true"),
        ),
        (
            format!("type=image,name=a@sha256:{}", "0".repeat(64)),
            Err("not by digest"),
        ),
        (
            "type=registry,dest=d".to_string(),
            Err("unknown key \"dest\""),
        ),
        (
            "type=image,tar=false".to_string(),
            Err("unknown key \"tar\""),
        ),
        (
            "type=image,push-by-digest=true".to_string(),
            Err("unknown key \"push-by-digest\""),
        ),
        (
            "type=image,name-canonical=true".to_string(),
            Err("unknown key \"name-canonical\""),
        ),
        (
            "type=registry,unknown=1".to_string(),
            Err("unknown key \"unknown\""),
        ),
    ]);
    let rows: Vec<(&str, Expect)> = rows.iter().map(|(s, e)| (s.as_str(), *e)).collect();
    check_rows(&rows);
}

#[test]
fn cacheonly_takes_no_key() {
    check_rows(&[
        (
            "type=cacheonly",
            Expect::Ok(|s| s.kind == OutputType::Cacheonly),
        ),
        (
            "type=cacheonly,dest=d",
            Expect::Err("type=cacheonly takes no keys"),
        ),
        ("type=cacheonly,name=a", Expect::Err("takes no keys")),
    ]);
}
