//! ADD: local archives extracted (safely), other files copied, remote sources refused.

use std::io::Write;

use super::*;
use crate::remote::RemoteRequest;

/// A tar entry to build, with names written raw (the tar crate refuses `..`).
enum E<'a> {
    File(&'a str, &'a str, u32),
    Dir(&'a str, u32),
    Sym(&'a str, &'a str),
    Hard(&'a str, &'a str),
}

fn tar_of(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let (name, kind, data, mode, link): (&str, tar::EntryType, &[u8], u32, &str) = match e {
            E::File(n, c, m) => (n, tar::EntryType::Regular, c.as_bytes(), *m, ""),
            E::Dir(n, m) => (n, tar::EntryType::Directory, b"", *m, ""),
            E::Sym(n, t) => (n, tar::EntryType::Symlink, b"", 0o777, t),
            E::Hard(n, t) => (n, tar::EntryType::Link, b"", 0o755, t),
        };
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_600_000_000);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gz(raw: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(raw).unwrap();
    e.finish().unwrap()
}

fn bz2(raw: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    e.write_all(raw).unwrap();
    e.finish().unwrap()
}

fn xz(raw: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
    e.write_all(raw).unwrap();
    e.finish().unwrap()
}

fn add(r: &mut CopyRequest<'_>) {
    r.is_add = true;
}

fn sample() -> Vec<u8> {
    tar_of(&[
        E::Dir("app/", 0o750),
        E::File("app/run.sh", "#!/bin/sh\n", 0o755),
        E::Sym("app/link", "run.sh"),
        E::Hard("app/hard", "app/run.sh"),
    ])
}

#[test]
fn add_extracts_every_archive_format_by_content() {
    let raw = sample();
    // File names say nothing: formats are told by their bytes.
    for (name, bytes) in [
        ("plain.bin", raw.clone()),
        ("a.tar.gz", gz(&raw)),
        ("b.data", bz2(&raw)),
        ("c.tar.xz", xz(&raw)),
    ] {
        let f = Fixture::new();
        fs::write(f.ctx().join(name), &bytes).unwrap();
        let stats = f.copy_with(&[name], "/dest", add).unwrap();
        assert_eq!(stats.archives, 1, "{name}");
        let l = f.layer();
        assert!(l["/dest/app"].starts_with("d 750 "), "{name}: {l:?}");
        assert!(l["/dest/app/run.sh"].starts_with("f 755 "), "{name}");
        assert_eq!(l["/dest/app/link"], "l -> run.sh", "{name}");
        let a = fs::metadata(f.out().join("dest/app/run.sh")).unwrap();
        let b = fs::metadata(f.out().join("dest/app/hard")).unwrap();
        assert_eq!(a.ino(), b.ino(), "{name}: hard link kept");
        assert_eq!(a.mtime(), 1_600_000_000);
        assert_eq!(
            fs::metadata(f.out().join("dest/app")).unwrap().mtime(),
            1_600_000_000
        );
    }
}

#[test]
fn copy_never_extracts_and_unpack_false_keeps_archives() {
    let raw = gz(&sample());
    let f = Fixture::new();
    fs::write(f.ctx().join("a.tar.gz"), &raw).unwrap();
    f.copy(&["a.tar.gz"], "/d/").unwrap();
    assert_eq!(paths(f.out()), ["/d", "/d/a.tar.gz"]);
    let g = Fixture::new();
    fs::write(g.ctx().join("a.tar.gz"), &raw).unwrap();
    g.copy_with(&["a.tar.gz"], "/d/", |r| {
        r.is_add = true;
        r.unpack = Some(false);
    })
    .unwrap();
    assert_eq!(paths(g.out()), ["/d", "/d/a.tar.gz"]);
}

#[test]
fn add_of_a_non_archive_copies_it() {
    let f = Fixture::new();
    file(f.ctx(), "notes.tar.gz", "not really an archive", 0o640);
    file(f.ctx(), "empty.tar", "", 0o644);
    f.copy_with(&["notes.tar.gz", "empty.tar"], "/d/", add)
        .unwrap();
    let l = f.layer();
    assert_eq!(paths(f.out()), ["/d", "/d/empty.tar", "/d/notes.tar.gz"]);
    assert!(l["/d/notes.tar.gz"].starts_with("f 640 "));
    // Directories given to ADD are copied like COPY, archives inside are left alone.
    let g = Fixture::new();
    fs::create_dir(g.ctx().join("dir")).unwrap();
    fs::write(g.ctx().join("dir/inner.tar"), sample()).unwrap();
    g.copy_with(&["dir"], "/d", add).unwrap();
    assert_eq!(paths(g.out()), ["/d", "/d/inner.tar"]);
}

#[test]
fn chmod_leaves_archives_and_their_destination_alone() {
    // BuildKit unpacks with its own 0755 destination and the archive's modes; a file that
    // is not an archive is copied, its new parents given the octal mode.
    let f = Fixture::new();
    fs::write(f.ctx().join("a.tar"), sample()).unwrap();
    file(f.ctx(), "plain.txt", "p", 0o644);
    f.copy_with(&["a.tar"], "/x/y/", |r| {
        r.is_add = true;
        r.chmod = Some(Chmod::parse("700").unwrap());
    })
    .unwrap();
    let l = f.layer();
    assert!(l["/x"].starts_with("d 755 "), "{l:?}");
    assert!(l["/x/y"].starts_with("d 755 "), "{l:?}");
    assert!(l["/x/y/app"].starts_with("d 750 "), "{l:?}");
    assert!(l["/x/y/app/run.sh"].starts_with("f 755 "), "{l:?}");
    let g = Fixture::new();
    file(g.ctx(), "plain.txt", "p", 0o644);
    g.copy_with(&["plain.txt"], "/x/y/", |r| {
        r.is_add = true;
        r.chmod = Some(Chmod::parse("700").unwrap());
    })
    .unwrap();
    let l = g.layer();
    assert!(l["/x/y"].starts_with("d 700 "), "{l:?}");
    assert!(l["/x/y/plain.txt"].starts_with("f 700 "), "{l:?}");
}

#[test]
fn archive_merges_into_existing_directories() {
    let f = Fixture::new();
    fs::write(
        f.ctx().join("a.tar"),
        tar_of(&[E::File("etc/new.conf", "n", 0o644)]),
    )
    .unwrap();
    dir(f.image(), "etc", 0o755);
    file(f.image(), "etc/old.conf", "o", 0o644);
    f.copy_with(&["a.tar"], "/", add).unwrap();
    assert_eq!(paths(f.out()), ["/etc", "/etc/new.conf"]);
}

#[test]
fn archive_entries_cannot_escape() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dotdot", tar_of(&[E::File("../evil", "x", 0o644)])),
        (
            "nested dotdot",
            tar_of(&[E::File("a/../../evil", "x", 0o644)]),
        ),
        (
            "symlink then write",
            tar_of(&[E::Sym("link", "../../.."), E::File("link/evil", "x", 0o644)]),
        ),
        (
            "hard link outside",
            tar_of(&[E::Hard("h", "../../etc/passwd")]),
        ),
    ];
    for (what, bytes) in cases {
        let outer = tempfile::tempdir().unwrap();
        let ctx = outer.path().join("ctx");
        let out = outer.path().join("layer/out");
        fs::create_dir_all(&ctx).unwrap();
        fs::create_dir_all(&out).unwrap();
        fs::write(ctx.join("evil.tar"), &bytes).unwrap();
        let image = EmptyDest;
        let root = SourceRoot {
            dir: &ctx,
            ignore: None,
            kind: SourceKind::Context,
        };
        let mut req = request(
            vec![CopySource::Path("evil.tar".into())],
            root,
            "/x/y",
            &image,
        );
        req.is_add = true;
        let err = copy(&req, &out).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("outside the extraction directory"),
            "{what}: {text}"
        );
        assert!(text.starts_with("archive \"evil.tar\""), "{what}: {text}");
        for stray in [
            "evil",
            "layer/evil",
            "layer/out/evil",
            "layer/out/x/evil",
            "ctx/evil",
        ] {
            assert!(!outer.path().join(stray).exists(), "{what}: wrote {stray}");
        }
    }
}

#[test]
fn archive_absolute_names_and_links_stay_inside_the_destination() {
    let f = Fixture::new();
    let bytes = tar_of(&[
        E::File("/etc/passwd", "inside", 0o644),
        E::Sym("abs", "/etc"),
        E::File("abs/shadow", "also inside", 0o600),
        E::Sym("dir/up", "../etc"),
        E::File("dir/up/group", "g", 0o644),
    ]);
    fs::write(f.ctx().join("a.tar"), bytes).unwrap();
    f.copy_with(&["a.tar"], "/opt/x", add).unwrap();
    let l = f.layer();
    assert!(l["/opt/x/etc/passwd"].ends_with("inside"));
    assert!(l["/opt/x/etc/shadow"].ends_with("also inside"));
    assert!(l["/opt/x/etc/group"].ends_with(" g"));
    assert_eq!(l["/opt/x/abs"], "l -> /etc");
    assert!(!l.contains_key("/etc/passwd"));
    f.assert_contained();
}

#[test]
fn archive_entries_replace_what_is_there() {
    let f = Fixture::new();
    let bytes = tar_of(&[
        E::Dir("thing/", 0o755),
        E::File("thing/inner", "i", 0o644),
        E::File("thing", "now a file", 0o644),
    ]);
    fs::write(f.ctx().join("a.tar"), bytes).unwrap();
    f.copy_with(&["a.tar"], "/", add).unwrap();
    assert_eq!(paths(f.out()), ["/thing"]);
    assert!(f.layer()["/thing"].ends_with("now a file"));
}

#[test]
fn chown_applies_to_extracted_entries() {
    if !is_root() {
        eprintln!("skipping: owners can only be checked as root");
        return;
    }
    let f = Fixture::new();
    fs::write(f.ctx().join("a.tar"), tar_of(&[E::File("x", "x", 0o644)])).unwrap();
    f.copy_with(&["a.tar"], "/d", |r| {
        r.is_add = true;
        r.chown = Some((5, 6));
    })
    .unwrap();
    let l = f.layer();
    assert_eq!(l["/d/x"], "f 644 5:6 x");
    assert_eq!(l["/d"], "d 755 5:6");
}

#[test]
fn remote_sources() {
    let f = Fixture::new();
    let err = f.copy(&["https://example.com/a.tgz"], "/d/").unwrap_err();
    assert_eq!(
        err.to_string(),
        "source can't be a URL for COPY: https://example.com/a.tgz"
    );
    let err = f
        .copy_with(&["https://example.com/a.tgz"], "/d/", add)
        .unwrap_err();
    assert!(err.to_string().contains("not supported here"), "{err}");
    let err = f
        .copy_with(
            &["https://github.com/moby/buildkit.git#v0.10.1"],
            "/d/",
            add,
        )
        .unwrap_err();
    assert!(err.to_string().contains("not supported here"), "{err}");
}

#[test]
fn add_fetches_through_the_fetcher() {
    #[derive(Debug)]
    struct Local(std::path::PathBuf);
    impl Fetcher for Local {
        fn key(&self, _req: &RemoteRequest<'_>) -> Result<String, FetchError> {
            Ok("sha256:abc".into())
        }
        fn fetch(&self, req: &RemoteRequest<'_>) -> Result<Fetched, FetchError> {
            assert_eq!(req.checksum, Some("sha256:abc"));
            Ok(Fetched::File {
                path: self.0.clone(),
                filename: "foobar".into(),
                mtime: Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_234_567)),
            })
        }
    }
    let f = Fixture::new();
    file(f.image(), "dl", "", 0o644);
    let downloaded = f.image().join("dl");
    fs::write(&downloaded, "payload").unwrap();
    let fetcher = Local(downloaded);
    let image = EmptyDest;
    let root = SourceRoot {
        dir: f.ctx(),
        ignore: None,
        kind: SourceKind::Context,
    };
    let url = CopySource::Path("http://example.com/foobar".into());
    let mut req = request(vec![url], root, "/", &image);
    req.is_add = true;
    req.checksum = Some("sha256:abc".into());
    req.fetcher = &fetcher;
    copy(&req, f.out()).unwrap();
    assert!(f.layer()["/foobar"].starts_with("f 600 "));
    assert_eq!(
        fs::metadata(f.out().join("foobar")).unwrap().mtime(),
        1_234_567
    );
}

#[test]
fn checksum_rules() {
    let f = Fixture::new();
    file(f.ctx(), "local", "l", 0o644);
    let err = f
        .copy_with(&["local"], "/", |r| r.checksum = Some("sha256:x".into()))
        .unwrap_err();
    assert_eq!(err.to_string(), "checksum can't be specified for COPY");
    let err = f
        .copy_with(&["local"], "/", |r| {
            r.is_add = true;
            r.checksum = Some("sha256:x".into());
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "checksum requires HTTP(S) or Git sources");
    let err = f
        .copy_with(&["http://a/x", "http://a/y"], "/d/", |r| {
            r.is_add = true;
            r.checksum = Some("sha256:x".into());
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "checksum can't be specified for multiple sources"
    );
}
