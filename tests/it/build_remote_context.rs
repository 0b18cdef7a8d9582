//! Remote build contexts, as buildx takes them (`PATH | URL | -`): a Git repository at a
//! ref, `#ref:subdir` as the context root, its Dockerfile or one on stdin with `-f -`,
//! files 0644/0755 as BuildKit checks them out, and no `.git`; an HTTP(S) tarball (its
//! Dockerfile, `-f` inside it, or `-f -`) and an HTTP(S) Dockerfile with an empty context.

use std::io::Write;
use std::process::Stdio;

use crate::add_git_support::{GitDaemon, GitRepo};
use crate::add_http_support::{FileServer, Served};
use crate::build_support::{listing, unpack, Work};
use crate::common::{builder_cmd, have, text};

/// `builder build ARGS...` in `w` with `input` on stdin; (exit code, stderr).
fn build_with_stdin(w: &Work, args: &[&str], input: &[u8]) -> (Option<i32>, String) {
    let mut child = builder_cmd(&w.root())
        .arg("build")
        .args(args)
        .current_dir(w.path(""))
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run builder");
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(input);
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (out.status.code(), text(&out.stderr))
}

/// A gzip tar of `files` (name, content).
fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(content.len() as u64);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, content.as_bytes()).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

/// Build `context` to `out/NAME` with `args` and `stdin`; the image's listing.
fn build_listing(w: &Work, name: &str, args: &[&str], context: &str, stdin: &[u8]) -> String {
    let layout = w.path(&format!("out/{name}"));
    let spec = format!("type=oci,dest={},tar=false", layout.display());
    let mut all = vec!["-t", "app", "-o", spec.as_str()];
    all.extend_from_slice(args);
    all.push(context);
    let (code, err) = build_with_stdin(w, &all, stdin);
    assert_eq!(code, Some(0), "{err}");
    listing(&unpack(
        &layout,
        "latest",
        &w.path(&format!("out/{name}-b")),
    ))
}

#[test]
fn an_http_tarball_or_dockerfile_is_a_build_context() {
    if !have("http_context", &["umoci"]) {
        return;
    }
    let s = FileServer::start();
    s.serve(
        "/ctx.tar.gz",
        Served::body(&tar_gz(&[
            ("Dockerfile", "FROM scratch\nCOPY a.txt /a\n"),
            ("sub/Other", "FROM scratch\nCOPY b.txt /b\n"),
            ("a.txt", "a\n"),
            ("b.txt", "b\n"),
        ])),
    );
    s.serve("/Dockerfile", Served::body(b"FROM scratch\nLABEL x=y\n"));
    let w = Work::new();
    let tarball = s.url("/ctx.tar.gz");
    let got = build_listing(&w, "tar", &[], &tarball, b"");
    assert_eq!(got, "f /a 0644 0:0 \"a\\n\"\n");
    let got = build_listing(&w, "other", &["-f", "sub/Other"], &tarball, b"");
    assert_eq!(got, "f /b 0644 0:0 \"b\\n\"\n");
    let df = b"FROM scratch\nCOPY a.txt b.txt /\n";
    let got = build_listing(&w, "stdin", &["-f", "-"], &tarball, df);
    assert_eq!(
        got,
        "f /a.txt 0644 0:0 \"a\\n\"\nf /b.txt 0644 0:0 \"b\\n\"\n"
    );
    // A plain-text download is the Dockerfile, with an empty context.
    let got = build_listing(&w, "plain", &[], &s.url("/Dockerfile"), b"");
    assert_eq!(got, "");
    let (code, err) = build_with_stdin(&w, &["-t", "app", &s.url("/missing.tar")], b"");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("failed to read the build context") && err.contains("404"),
        "{err}"
    );
}

#[test]
fn a_git_repository_is_a_build_context() {
    if !have("git_context", &["git", "umoci"]) {
        return;
    }
    let repo = GitRepo::new(&[
        ("Dockerfile", "FROM scratch\nCOPY . /ctx/\n", 0o644),
        (".dockerignore", "skip.txt\n", 0o644),
        ("a.txt", "one\n", 0o600),
        ("skip.txt", "no\n", 0o644),
        ("run.sh", "#!/bin/sh\n", 0o775),
        ("sub/Dockerfile", "FROM scratch\nCOPY f /sub-f\n", 0o644),
        ("sub/f", "deep\n", 0o644),
    ]);
    repo.in_src(&["tag", "v1"]);
    repo.publish();
    let daemon = GitDaemon::start(&repo.served());
    let u = daemon.url();
    let w = Work::new();
    let build = |name: &str, args: &[&str], context: &str, stdin: &[u8]| {
        let layout = w.path(&format!("out/{name}"));
        let spec = format!("type=oci,dest={},tar=false", layout.display());
        let mut all = vec!["-t", "app", "-o", spec.as_str()];
        all.extend_from_slice(args);
        all.push(context);
        let (code, err) = build_with_stdin(&w, &all, stdin);
        assert_eq!(code, Some(0), "{err}");
        listing(&unpack(
            &layout,
            "latest",
            &w.path(&format!("out/{name}-b")),
        ))
    };
    // The repository's own Dockerfile and .dockerignore; no .git.
    let got = build("root", &[], &u, b"");
    assert!(got.contains("f /ctx/a.txt 0644 0:0 \"one\\n\""), "{got}");
    assert!(got.contains("f /ctx/run.sh 0755 0:0"), "{got}");
    assert!(got.contains("f /ctx/sub/f 0644 0:0"), "{got}");
    assert!(
        !got.contains("/ctx/skip.txt") && !got.contains("/ctx/.git"),
        "{got}"
    );
    // `#ref:subdir`: the subdirectory at the ref is the context, with its Dockerfile.
    let got = build("sub", &[], &format!("{u}#v1:sub"), b"");
    assert_eq!(got, "f /sub-f 0644 0:0 \"deep\\n\"\n");
    // `-f -`: the Dockerfile comes on stdin, the files from the repository.
    let df = b"FROM scratch\nCOPY run.sh /x\n";
    let got = build("stdin", &["-f", "-"], &u, df);
    assert_eq!(got, "f /x 0755 0:0 \"#!/bin/sh\\n\"\n");
    // A repository that cannot be read fails the build, naming it.
    let (code, err) = build_with_stdin(&w, &["-t", "app", &format!("{u}-nope")], b"");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("failed to read the build context"), "{err}");
}
