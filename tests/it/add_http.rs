//! ADD from http(s):// URLs, end to end against servers the tests start on 127.0.0.1 (see
//! `add_http_support.rs`): the download lands 0600 with `Last-Modified` as its mtime, named
//! by the URL in a directory destination; `--checksum` keys the step without a request and
//! a wrong one fails with nothing kept; a rebuild revalidates (a 304 keeps the step cached)
//! and a changed body rebuilds; `--unpack=true` extracts, the default does not;
//! `--chown`/`--chmod` apply; error statuses name the URL, the file and the line; HTTPS
//! trusts `SSL_CERT_FILE`; proxies, URL credentials and the `HTTP_AUTH_TOKEN_<host>` /
//! `HTTP_AUTH_HEADER_<host>` secrets work and the credentials are kept nowhere; a rootless
//! build downloads too.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::Output;

use crate::add_http_support::{FileServer, Served, TlsServer};
use crate::build_support::{listing, unpack, Work};
use crate::common::{builder_cmd, have, is_root, step_number, text};

/// A `Last-Modified` date and its Unix time.
const DATE: &str = "Wed, 21 Oct 2015 07:28:00 GMT";
const DATE_SECS: i64 = 1_445_412_480;

/// Proxy and certificate variables a build in these tests must not inherit.
const PROXY_VARS: [&str; 10] = [
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// `builder build --progress plain ARGS... ctx` with `env` (and no inherited proxy).
fn build(w: &Work, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = builder_cmd(&w.root());
    cmd.args(["build", "--progress", "plain"])
        .args(args)
        .arg("ctx")
        .current_dir(w.path(""))
        .env_remove("SOURCE_DATE_EPOCH");
    for v in PROXY_VARS {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run builder")
}

/// [`build`] that must succeed; its progress.
fn build_ok(w: &Work, env: &[(&str, &str)], args: &[&str]) -> String {
    let out = build(w, env, args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stderr)
}

/// Build to `out/NAME` and unpack it; the rootfs.
fn build_rootfs(w: &Work, name: &str, env: &[(&str, &str)]) -> PathBuf {
    let layout = w.path(&format!("out/{name}"));
    let spec = format!("type=oci,dest={},tar=false", layout.display());
    build_ok(w, env, &["-t", "app", "-o", &spec]);
    unpack(&layout, "latest", &w.path(&format!("out/{name}-bundle")))
}

fn mtime(path: PathBuf) -> i64 {
    std::fs::metadata(path).unwrap().mtime()
}

/// Whether step `name` of `progress` was cached.
fn cached(progress: &str, name: &str) -> bool {
    let num = step_number(progress, name);
    progress.lines().any(|l| l == format!("{num} CACHED"))
}

/// Files under `dir` (recursively).
fn files_under(dir: PathBuf) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return out;
    };
    for e in entries.flatten() {
        if e.path().is_dir() {
            out.extend(files_under(e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

fn sha256_of(data: &[u8]) -> String {
    builder::store::digest::sha256(data).to_string()
}

#[test]
fn add_url_lands_0600_with_last_modified_and_dest_naming() {
    if !have("add_url_lands", &["umoci"]) {
        return;
    }
    let s = FileServer::start();
    s.serve(
        "/files/hello.txt",
        Served::body(b"hello\n").last_modified(DATE),
    );
    s.serve("/plain", Served::body(b"p"));
    s.serve("/", Served::body(b"index"));
    let w = Work::new();
    w.dockerfile(&format!(
        "FROM scratch\nADD {0} /dir/\nADD {0} /file\nADD {1} /d2/\nADD {2} /d3/\n",
        s.url("/files/hello.txt"),
        s.url("/plain"),
        s.url("/"),
    ));
    let rootfs = build_rootfs(&w, "a", &[]);
    let want = r#"d /d2 0755 0:0
f /d2/plain 0600 0:0 "p"
d /d3 0755 0:0
f /d3/__unnamed__ 0600 0:0 "index"
d /dir 0755 0:0
f /dir/hello.txt 0600 0:0 "hello\n"
f /file 0600 0:0 "hello\n"
"#;
    if is_root() {
        assert_eq!(listing(&rootfs), want);
    }
    assert_eq!(mtime(rootfs.join("dir/hello.txt")), DATE_SECS);
    assert_eq!(mtime(rootfs.join("file")), DATE_SECS);
    assert_eq!(
        mtime(rootfs.join("d2/plain")),
        0,
        "no Last-Modified: the epoch"
    );
    let gets = |p: &str| s.requests().iter().filter(|r| r.path == p).count();
    assert_eq!(
        gets("/files/hello.txt"),
        1,
        "one download per URL and build"
    );
}

#[test]
fn add_url_checksum_right_is_cached_without_a_request() {
    let s = FileServer::start();
    s.serve("/f", Served::body(b"checked\n"));
    let w = Work::new();
    let step = format!(
        "ADD --checksum={} {} /f",
        sha256_of(b"checked\n"),
        s.url("/f")
    );
    w.dockerfile(&format!("FROM scratch\n{step}\n"));
    build_ok(&w, &[], &["-t", "app"]);
    assert_eq!(s.requests().len(), 1);
    let again = build_ok(&w, &[], &["-t", "app"]);
    assert!(cached(&again, &format!("[2/2] {step}")), "{again}");
    assert_eq!(
        s.requests().len(),
        1,
        "a checksum keys without asking the server"
    );
}

#[test]
fn add_url_checksum_wrong_fails_and_keeps_nothing() {
    let s = FileServer::start();
    s.serve("/f", Served::body(b"actual"));
    let w = Work::new();
    let wrong = sha256_of(b"expected");
    w.dockerfile(&format!(
        "FROM scratch\nADD --checksum={wrong} {} /f\n",
        s.url("/f")
    ));
    let out = build(&w, &[], &["-t", "app"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Dockerfile:2\n"), "{err}");
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(
        err.contains(&wrong) && err.contains(&sha256_of(b"actual")),
        "{err}"
    );
    let kept = crate::common::dir_names(&w.root().join("remote/http"));
    assert!(kept.is_empty(), "kept after a mismatch: {kept:?}");
    // Only sha256 digests, as BuildKit's HTTP source.
    w.dockerfile(&format!(
        "FROM scratch\nADD --checksum=sha512:abcd {} /f\n",
        s.url("/f")
    ));
    let out = build(&w, &[], &["-t", "app"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("only sha256"), "{err}");
}

#[test]
fn add_url_rebuild_revalidates_and_a_changed_body_rebuilds() {
    if !have("add_url_rebuild", &["umoci"]) {
        return;
    }
    let s = FileServer::start();
    s.serve("/f", Served::body(b"one").etag("\"v1\""));
    s.serve("/g", Served::body(b"gee").last_modified(DATE));
    let w = Work::new();
    let (f, g) = (
        format!("ADD {} /f", s.url("/f")),
        format!("ADD {} /g", s.url("/g")),
    );
    w.dockerfile(&format!("FROM scratch\n{f}\n{g}\n"));
    build_ok(&w, &[], &["-t", "app"]);
    let again = build_ok(&w, &[], &["-t", "app"]);
    assert!(cached(&again, &format!("[2/3] {f}")), "{again}");
    assert!(cached(&again, &format!("[3/3] {g}")), "{again}");
    let reqs = s.requests();
    assert_eq!(reqs.len(), 4, "{reqs:?}");
    let second = |p: &str| reqs.iter().filter(|r| r.path == p).nth(1).cloned().unwrap();
    assert_eq!(second("/f").header("if-none-match"), Some("\"v1\""));
    assert_eq!(second("/g").header("if-modified-since"), Some(DATE));
    // The server changes the file: the step runs again and takes the new body.
    s.serve("/f", Served::body(b"two").etag("\"v2\""));
    let rootfs = build_rootfs(&w, "changed", &[]);
    assert_eq!(std::fs::read(rootfs.join("f")).unwrap(), b"two");
    assert_eq!(std::fs::read(rootfs.join("g")).unwrap(), b"gee");
}

/// A gzipped tar holding `x/y`.
fn tar_gz() -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(7);
    header.set_mode(0o644);
    header.set_mtime(1);
    header.set_cksum();
    tar.append_data(&mut header, "x/y", &b"in tar\n"[..])
        .unwrap();
    tar.into_inner().unwrap().finish().unwrap()
}

/// The reference: "mtime isn't included in the determination of whether or not the file
/// has changed and the cache should be updated".
#[test]
fn add_url_new_last_modified_alone_keeps_the_step_cached() {
    if !have("add_url_new_last_modified", &["umoci"]) {
        return;
    }
    let s = FileServer::start();
    s.serve("/f", Served::body(b"same").last_modified(DATE));
    let w = Work::new();
    let add = format!("ADD {} /f", s.url("/f"));
    w.dockerfile(&format!("FROM scratch\n{add}\n"));
    build_ok(&w, &[], &["-t", "app"]);
    s.serve(
        "/f",
        Served::body(b"same").last_modified("Thu, 22 Oct 2015 07:28:00 GMT"),
    );
    let again = build_ok(&w, &[], &["-t", "app"]);
    assert!(cached(&again, &format!("[2/2] {add}")), "{again}");
    assert_eq!(s.requests().len(), 2);
    let rootfs = build_rootfs(&w, "same", &[]);
    assert_eq!(mtime(rootfs.join("f")), DATE_SECS);
    // New content under the same date is a new step.
    s.serve("/f", Served::body(b"other").last_modified(DATE));
    let rootfs = build_rootfs(&w, "other", &[]);
    assert_eq!(std::fs::read(rootfs.join("f")).unwrap(), b"other");
}

#[test]
fn add_url_unpacks_only_with_unpack_true() {
    if !have("add_url_unpack", &["umoci"]) {
        return;
    }
    let s = FileServer::start();
    let archive = tar_gz();
    s.serve("/a.tar.gz", Served::body(&archive));
    let w = Work::new();
    w.dockerfile(&format!(
        "FROM scratch\nADD {0} /kept/\nADD --unpack=true {0} /out/\n",
        s.url("/a.tar.gz")
    ));
    let rootfs = build_rootfs(&w, "u", &[]);
    assert_eq!(
        std::fs::read(rootfs.join("kept/a.tar.gz")).unwrap(),
        archive
    );
    assert_eq!(std::fs::read(rootfs.join("out/x/y")).unwrap(), b"in tar\n");
    assert!(!rootfs.join("out/a.tar.gz").exists());
}

#[test]
fn add_url_honours_chown_and_chmod() {
    if !is_root() || !have("add_url_chown", &["umoci"]) {
        return;
    }
    let s = FileServer::start();
    s.serve("/f", Served::body(b"x"));
    let w = Work::new();
    w.dockerfile(&format!(
        "FROM scratch\nADD --chown=7:50 --chmod=0755 {0} /f\nADD --chmod=u+x {0} /g\n",
        s.url("/f")
    ));
    let rootfs = build_rootfs(&w, "c", &[]);
    let want = "f /f 0755 7:50 \"x\"\nf /g 0700 0:0 \"x\"\n";
    assert_eq!(listing(&rootfs), want);
}

#[test]
fn add_url_error_statuses_name_the_url_file_and_line() {
    let s = FileServer::start();
    s.serve(
        "/busy",
        Served {
            status: 500,
            ..Served::body(b"down")
        },
    );
    let w = Work::new();
    w.file("a", "a", 0o644);
    let missing = s.url("/missing");
    w.dockerfile(&format!("FROM scratch\nCOPY a /a\nADD {missing} /m\n"));
    let out = build(&w, &[], &["-t", "app"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Dockerfile:3\n"), "{err}");
    assert!(
        err.contains(&format!("   3 | >>> ADD {missing} /m\n")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "download {missing}: the server answered 404 Not Found"
        )),
        "{err}"
    );
    assert_eq!(s.requests().len(), 1, "a 404 is final");
    w.dockerfile(&format!("FROM scratch\nADD {} /b\n", s.url("/busy")));
    let out = build(&w, &[], &["-t", "app"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the server answered 500"), "{err}");
    assert_eq!(s.requests().len(), 1 + 3, "a 5xx is tried three times");
}

#[test]
fn add_url_over_https_trusts_ssl_cert_file() {
    let Some(tls) = TlsServer::start("add_url_https") else {
        return;
    };
    std::fs::write(tls.dir.join("secure.txt"), "over tls\n").unwrap();
    let w = Work::new();
    let url = format!("https://127.0.0.1:{}/secure.txt", tls.port);
    w.dockerfile(&format!("FROM scratch\nADD {url} /s/\n"));
    // With the system's roots only, the server is not trusted.
    let out = build(&w, &[], &["-t", "app"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("download {url}")), "{err}");
    assert!(err.contains("invalid peer certificate"), "{err}");
    let ca = tls.ca.display().to_string();
    if !have("add_url_https", &["umoci"]) {
        return;
    }
    let rootfs = build_rootfs(&w, "tls", &[("SSL_CERT_FILE", &ca)]);
    assert_eq!(
        std::fs::read(rootfs.join("s/secure.txt")).unwrap(),
        b"over tls\n"
    );
}

#[test]
fn add_url_goes_through_http_proxy() {
    let proxy = FileServer::start();
    proxy.serve("/f", Served::body(b"proxied"));
    let w = Work::new();
    w.dockerfile("FROM scratch\nADD http://files.invalid/f /f\n");
    let via = proxy.url("");
    build_ok(&w, &[("HTTP_PROXY", &via)], &["-t", "app"]);
    let reqs = proxy.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].path, "http://files.invalid/f");
}

#[test]
fn add_url_credentials_are_sent_and_kept_nowhere() {
    let s = FileServer::start();
    s.serve("/f", Served::body(b"private").etag("\"p\""));
    s.serve("/g", Served::body(b"other"));
    let w = Work::new();
    let url = s.url("/f").replace("http://", "http://user:s3cr3t-pw@");
    w.dockerfile(&format!("FROM scratch\nADD {url} /f\n"));
    build_ok(&w, &[], &["-t", "app"]);
    let reqs = s.requests();
    let auth = reqs[0].header("authorization").unwrap_or("");
    assert_eq!(auth, "Basic dXNlcjpzM2NyM3QtcHc=");
    // A second build that misses the step keeps what explains the miss.
    w.dockerfile(&format!(
        "FROM scratch\nADD {url} /f\nADD {} /g\n",
        s.url("/g")
    ));
    build_ok(&w, &[], &["-t", "app"]);
    // As in BuildKit the instruction's text (step names, history) is the user's; the
    // downloads and the cache's explanations hold no password.
    for dir in ["remote", "cache/explain"] {
        for file in files_under(w.root().join(dir)) {
            let data = std::fs::read(&file).unwrap();
            assert!(
                !String::from_utf8_lossy(&data).contains("s3cr3t"),
                "{} holds the password",
                file.display()
            );
        }
    }
    // An error shows the URL with its credentials masked.
    let missing = s
        .url("/missing")
        .replace("http://", "http://user:s3cr3t-pw@");
    w.dockerfile(&format!("FROM scratch\nADD {missing} /m\n"));
    let out = build(&w, &[], &["-t", "app"]);
    let err = text(&out.stderr);
    let shown = s.url("/missing").replace("http://", "http://xxxxx:xxxxx@");
    assert!(
        err.contains(&format!("download {shown}: the server answered 404")),
        "{err}"
    );
}

#[test]
fn add_url_auth_secrets_are_sent_and_kept_nowhere() {
    let s = FileServer::start();
    s.serve("/a", Served::body(b"first").etag("\"a\""));
    s.serve("/b", Served::body(b"second"));
    let w = Work::new();
    w.dockerfile(&format!("FROM scratch\nADD {} /a\n", s.url("/a")));
    let token = ["--secret", "id=HTTP_AUTH_TOKEN_127.0.0.1,env=TOK"];
    build_ok(
        &w,
        &[("TOK", "s3cr3t-tok")],
        &[&token[..], &["-t", "app"]].concat(),
    );
    let reqs = s.requests();
    assert_eq!(reqs[0].header("authorization"), Some("Bearer s3cr3t-tok"));
    // A header secret is sent as written, in place of the URL's own credentials; the
    // token of the same host wins over it.
    let with_user = s.url("/b").replace("http://", "http://user:pw@");
    w.dockerfile(&format!("FROM scratch\nADD {with_user} /b\n"));
    let header = ["--secret", "id=HTTP_AUTH_HEADER_127.0.0.1,env=HDR"];
    let env = [("HDR", "Custom s3cr3t-hdr"), ("TOK", "s3cr3t-tok")];
    build_ok(&w, &env, &[&header[..], &["-t", "app"]].concat());
    let req = s.requests().pop().unwrap();
    let auths: Vec<_> = req
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .collect();
    assert_eq!(auths.len(), 1, "{auths:?}");
    assert_eq!(auths[0].1, "Custom s3cr3t-hdr");
    w.dockerfile(&format!("FROM scratch\nADD {} /b2\n", s.url("/b")));
    build_ok(
        &w,
        &env,
        &[&header[..], &token[..], &["-t", "app"]].concat(),
    );
    let req = s.requests().pop().unwrap();
    assert_eq!(req.header("authorization"), Some("Bearer s3cr3t-tok"));
    // Another host's secret is not sent.
    w.dockerfile(&format!("FROM scratch\nADD {} /b3\n", s.url("/b")));
    let other = ["--secret", "id=HTTP_AUTH_TOKEN_localhost,env=TOK"];
    build_ok(&w, &env, &[&other[..], &["-t", "app"]].concat());
    assert_eq!(s.requests().pop().unwrap().header("authorization"), None);
    for file in files_under(w.root()) {
        let data = std::fs::read(&file).unwrap();
        assert!(
            !String::from_utf8_lossy(&data).contains("s3cr3t"),
            "{} holds a secret",
            file.display()
        );
    }
}

#[test]
fn add_url_builds_rootless() {
    let test = "add_url_rootless";
    if !is_root() || !have(test, &["umoci", "runuser"]) {
        eprintln!("\n!!! SKIPPED {test}: needs root to switch to an unprivileged user !!!\n");
        return;
    }
    if let Err(why) = crate::sandbox::ensure_test_user() {
        panic!("{test}: cannot make the test user: {why}");
    }
    let s = FileServer::start();
    s.serve("/tool.sh", Served::body(b"#!/bin/sh\n").last_modified(DATE));
    let w = Work::new();
    w.dockerfile(&format!(
        "FROM scratch\nADD --chown=1000:1000 {} /opt/\n",
        s.url("/tool.sh")
    ));
    w.give_to_test_user();
    let layout = w.path("out/layout");
    let spec = format!("type=oci,dest={},tar=false", layout.display());
    let out = w.builder_as_test_user(&["build", "-t", "app", "-o", &spec, "ctx"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rootfs = unpack(&layout, "latest", &w.path("out/bundle"));
    let want = "d /opt 0755 1000:1000\nf /opt/tool.sh 0600 1000:1000 \"#!/bin/sh\\n\"\n";
    assert_eq!(listing(&rootfs), want);
    assert_eq!(mtime(rootfs.join("opt/tool.sh")), DATE_SECS);
    let again = w.builder_as_test_user(&["build", "--progress", "plain", "-t", "app", "ctx"]);
    let progress = text(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{progress}");
    assert!(progress.contains("CACHED"), "{progress}");
    assert_eq!(s.requests().len(), 2);
    assert_eq!(s.requests()[1].header("if-modified-since"), Some(DATE));
}

#[test]
fn add_url_downloads_are_counted_by_du_and_cleared_by_prune() {
    let s = FileServer::start();
    s.serve("/big", Served::body(&vec![b'z'; 64 * 1024]).etag("\"z\""));
    let w = Work::new();
    w.dockerfile(&format!("FROM scratch\nADD {} /big\n", s.url("/big")));
    build_ok(&w, &[], &["-t", "app"]);
    let du = text(&w.builder(&["du"]).stdout);
    assert!(
        du.lines()
            .any(|l| l.starts_with("Downloads:") && l.contains("kB")),
        "{du}"
    );
    let pruned = w.builder(&["prune", "-f"]);
    let report = text(&pruned.stdout);
    assert_eq!(pruned.status.code(), Some(0), "{}", text(&pruned.stderr));
    assert!(report.contains("1 download"), "{report}");
    assert!(files_under(w.root().join("remote")).is_empty());
    let du = text(&w.builder(&["du"]).stdout);
    assert!(!du.contains("Downloads:"), "{du}");
    // The next build downloads again, unconditionally.
    build_ok(&w, &[], &["-t", "app"]);
    let reqs = s.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].header("if-none-match"), None);
}
