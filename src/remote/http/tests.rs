use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use super::*;

/// A one-file HTTP server on 127.0.0.1: answers each request from `reply` (given the
/// request's header lines, lower-cased) and remembers those lines.
struct Server {
    base: String,
    seen: Arc<Mutex<Vec<String>>>,
}

type Reply = dyn Fn(&str) -> (u16, Vec<(String, String)>, Vec<u8>) + Send + Sync;

impl Server {
    fn start(reply: Arc<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut head = String::new();
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line.to_ascii_lowercase());
                }
                log.lock().unwrap().push(head.clone());
                let (status, headers, body) = reply(&head);
                let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
                for (k, v) in headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                let _ = conn.write_all(out.as_bytes());
                let _ = conn.write_all(&body);
            }
        });
        Server { base, seen }
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn sources(dir: &std::path::Path) -> HttpSources {
    HttpSources::new(&RemoteSettings {
        dir: dir.to_path_buf(),
        timeout: Duration::from_secs(5),
        ..RemoteSettings::default()
    })
}

fn req(url: &str, checksum: Option<&'static str>) -> RemoteRequest<'static> {
    RemoteRequest {
        url: Box::leak(url.to_string().into_boxed_str()),
        checksum,
        keep_git_dir: false,
    }
}

const LAST_MODIFIED: &str = "Wed, 21 Oct 2015 07:28:00 GMT";

/// Serves `body` with an ETag and Last-Modified; 304 when revalidated with that ETag.
fn etag_server(body: &'static [u8]) -> Server {
    Server::start(Arc::new(move |head: &str| {
        if head.contains("if-none-match: \"v1\"") {
            return (304, vec![], vec![]);
        }
        let headers = vec![
            ("ETag".to_string(), "\"v1\"".to_string()),
            ("Last-Modified".to_string(), LAST_MODIFIED.to_string()),
        ];
        (200, headers, body.to_vec())
    }))
}

#[test]
fn url_file_names() {
    assert_eq!(url_filename("http://example.com/foobar"), "foobar");
    assert_eq!(url_filename("https://example.com/a/b.tgz?x=1"), "b.tgz");
    assert_eq!(url_filename("https://example.com/a/dir/"), "dir");
    assert_eq!(url_filename("https://example.com/a%20b"), "a b");
    assert_eq!(url_filename("https://example.com/a%2Fb"), "b");
    assert_eq!(url_filename("https://example.com"), "__unnamed__");
    assert_eq!(url_filename("https://example.com/"), "__unnamed__");
    assert_eq!(url_filename("https://example.com/.."), "download");
    assert_eq!(url_filename("https://example.com/a%0Ab"), "download");
}

#[test]
fn credentials_are_masked() {
    assert_eq!(
        redact("https://user:pw@host/p@x?q=a@b"),
        "https://xxxxx:xxxxx@host/p@x?q=a@b"
    );
    assert_eq!(redact("https://user@host/x"), "https://xxxxx@host/x");
    assert_eq!(redact("https://host/x@y"), "https://host/x@y");
}

#[test]
fn checksums_are_sha256_digests() {
    let ok = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    assert!(check_checksum(ok).is_ok());
    for bad in [
        "sha256:abc",
        "abc",
        "sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
    ] {
        let err = check_checksum(bad).unwrap_err().to_string();
        assert!(err.contains(bad), "{err}");
    }
}

#[test]
fn key_then_fetch_downloads_once_and_a_rebuild_revalidates() {
    let server = etag_server(b"hello\n");
    let dir = tempfile::tempdir().unwrap();
    let r = req(&format!("{}/files/hello.txt", server.base), None);
    let http = sources(dir.path());
    let key = http.key(&r).unwrap();
    let digest = crate::store::digest::sha256(b"hello\n").to_string();
    assert_eq!(key, format!("{digest} hello.txt"));
    let Fetched::File {
        path,
        filename,
        mtime,
    } = http.fetch(&r).unwrap()
    else {
        panic!("not a file")
    };
    assert_eq!(std::fs::read(path).unwrap(), b"hello\n");
    assert_eq!(filename, "hello.txt");
    assert_eq!(mtime, Some(UNIX_EPOCH + Duration::from_secs(1_445_412_480)));
    assert_eq!(server.requests().len(), 1);
    // The next build asks again, conditionally, and gets a 304.
    let again = sources(dir.path());
    assert_eq!(again.key(&r).unwrap(), key);
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert!(seen[1].contains("if-none-match: \"v1\""), "{}", seen[1]);
    assert!(
        seen[1].contains(&format!(
            "if-modified-since: {}",
            LAST_MODIFIED.to_lowercase()
        )),
        "{}",
        seen[1]
    );
}

#[test]
fn a_checksum_keys_without_a_request_and_a_kept_match_is_fetched_without_one() {
    let server = etag_server(b"data");
    let dir = tempfile::tempdir().unwrap();
    let sum: &'static str = Box::leak(
        crate::store::digest::sha256(b"data")
            .to_string()
            .into_boxed_str(),
    );
    let r = req(&format!("{}/d", server.base), Some(sum));
    assert_eq!(sources(dir.path()).key(&r).unwrap(), sum);
    assert!(server.requests().is_empty());
    assert!(sources(dir.path()).fetch(&r).is_ok());
    assert_eq!(server.requests().len(), 1);
    assert!(sources(dir.path()).fetch(&r).is_ok());
    assert_eq!(
        server.requests().len(),
        1,
        "kept content matching the checksum"
    );
}

#[test]
fn a_wrong_checksum_fails_and_keeps_nothing() {
    let server = etag_server(b"data");
    let dir = tempfile::tempdir().unwrap();
    let wrong = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let r = req(&format!("{}/d", server.base), Some(wrong));
    let err = sources(dir.path()).fetch(&r).unwrap_err().to_string();
    assert!(
        err.contains("checksum mismatch") && err.contains(wrong),
        "{err}"
    );
    let kept = Kept::of(&dir.path().join("http"), r.url);
    assert!(kept.load().is_none());
    let left: Vec<_> = walk(dir.path());
    assert_eq!(left, [dir.path().join("http")]);
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        out.push(e.path());
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        }
    }
    out
}

#[test]
fn error_statuses_name_the_url_and_server_errors_are_retried() {
    let server = Server::start(Arc::new(|head: &str| {
        let status = if head.starts_with("get /missing") {
            404
        } else {
            503
        };
        (status, vec![], b"no".to_vec())
    }));
    let dir = tempfile::tempdir().unwrap();
    let url = server.base.replace("http://", "http://user:secret@");
    let err = sources(dir.path())
        .key(&req(&format!("{url}/missing"), None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("404") && err.contains("/missing"), "{err}");
    assert!(!err.contains("secret") && err.contains("xxxxx"), "{err}");
    assert_eq!(server.requests().len(), 1, "a 404 is not retried");
    let err = sources(dir.path())
        .key(&req(&format!("{}/busy", server.base), None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("503"), "{err}");
    assert_eq!(server.requests().len(), 1 + download_attempts());
    // The credentials went to the server as Basic auth.
    assert!(server.requests()[0].contains("authorization: basic"));
}

fn download_attempts() -> usize {
    3
}

#[test]
fn a_refused_connection_is_a_clear_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/x");
    let err = sources(dir.path())
        .key(&req(&url, None))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(&format!("download {url}:")), "{err}");
    assert_eq!(err.matches(&url).count(), 1, "{err}");
}

#[test]
fn errors_stay_small() {
    // Errors travel up through every solve result: no bigger than the other fetch errors.
    assert!(std::mem::size_of::<HttpError>() <= 56);
}
