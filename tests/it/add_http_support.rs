//! Servers for the ADD-from-URL tests, on 127.0.0.1 only: [`FileServer`] (std::net, one
//! thread per connection) serves files set by the test with the headers it chooses, answers
//! `304` to a matching `If-None-Match` / `If-Modified-Since`, and records every request;
//! [`TlsServer`] serves a directory over HTTPS with `openssl s_server -WWW` and a
//! certificate signed by a CA the test makes (trusted through `SSL_CERT_FILE`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::registry_proxy::{read_request, Request, Server};

/// One file a [`FileServer`] serves.
#[derive(Debug, Clone, Default)]
pub struct Served {
    pub status: u16,
    pub body: Vec<u8>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Served {
    /// `200` with `body` and no validators.
    pub fn body(body: &[u8]) -> Served {
        Served {
            status: 200,
            body: body.to_vec(),
            ..Served::default()
        }
    }

    pub fn etag(mut self, etag: &str) -> Served {
        self.etag = Some(etag.to_string());
        self
    }

    pub fn last_modified(mut self, date: &str) -> Served {
        self.last_modified = Some(date.to_string());
        self
    }
}

#[derive(Default)]
struct State {
    files: Mutex<HashMap<String, Served>>,
    requests: Mutex<Vec<Request>>,
}

/// A plain HTTP server whose files the test sets (see the module docs).
pub struct FileServer {
    pub port: u16,
    state: Arc<State>,
    _server: Server,
}

impl FileServer {
    pub fn start() -> FileServer {
        let state = Arc::new(State::default());
        let st = state.clone();
        let server = Server::start(move |conn| {
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let Ok(Some(req)) = read_request(&mut reader) else {
                return;
            };
            st.requests.lock().unwrap().push(req.clone());
            let file = st.files.lock().unwrap().get(&path_of(&req.path)).cloned();
            let _ = answer(conn, &req, file);
        });
        FileServer {
            port: server.port,
            state,
            _server: server,
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Serve `file` at `path` (from now on).
    pub fn serve(&self, path: &str, file: Served) {
        self.state
            .files
            .lock()
            .unwrap()
            .insert(path.to_string(), file);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.requests.lock().unwrap().clone()
    }
}

/// The path of a request target, also in a proxy's absolute form (`http://host/path`).
fn path_of(target: &str) -> String {
    match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]).to_string(),
        None => target.to_string(),
    }
}

fn answer(
    mut conn: std::net::TcpStream,
    req: &Request,
    file: Option<Served>,
) -> std::io::Result<()> {
    let Some(file) = file else {
        return conn.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    let mut headers = String::new();
    if let Some(e) = &file.etag {
        headers.push_str(&format!("ETag: {e}\r\n"));
    }
    if let Some(d) = &file.last_modified {
        headers.push_str(&format!("Last-Modified: {d}\r\n"));
    }
    let fresh_etag = file.etag.is_some() && req.header("if-none-match") == file.etag.as_deref();
    let fresh_date = file.etag.is_none()
        && file.last_modified.is_some()
        && req.header("if-modified-since") == file.last_modified.as_deref();
    if file.status == 200 && (fresh_etag || fresh_date) {
        let head = format!("HTTP/1.1 304 Not Modified\r\n{headers}Connection: close\r\n\r\n");
        return conn.write_all(head.as_bytes());
    }
    let head = format!(
        "HTTP/1.1 {} X\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        file.status,
        file.body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(&file.body)
}

/// An HTTPS server (`openssl s_server -WWW`) over a directory, stopped on drop.
pub struct TlsServer {
    pub port: u16,
    /// The CA certificate that signed the server's (for `SSL_CERT_FILE`).
    pub ca: PathBuf,
    /// The directory served.
    pub dir: PathBuf,
    child: Child,
    _tmp: tempfile::TempDir,
}

impl TlsServer {
    /// Start one; `None` (skipped loudly) without openssl.
    pub fn start(test: &str) -> Option<TlsServer> {
        if !crate::registry_support::have(&["openssl"], test) {
            return None;
        }
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::write(
            d.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        openssl(
            d,
            &[
                &["req", "-x509"],
                &ec[..],
                &["-keyout", "ca.key", "-out", "ca.pem"],
            ],
        );
        openssl(
            d,
            &[
                &["req"],
                &ec[..],
                &[
                    "-keyout",
                    "leaf.key",
                    "-out",
                    "leaf.csr",
                    "-subj",
                    "/CN=127.0.0.1",
                ],
            ],
        );
        openssl(
            d,
            &[&[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "leaf.pem",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ]],
        );
        let dir = d.join("www");
        std::fs::create_dir(&dir).unwrap();
        let mut child = Command::new("openssl")
            .args(["s_server", "-accept", "127.0.0.1:0", "-WWW"])
            .arg("-cert")
            .arg(d.join("leaf.pem"))
            .arg("-key")
            .arg(d.join("leaf.key"))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start openssl s_server");
        let port = accept_port(&mut child);
        Some(TlsServer {
            port,
            ca: d.join("ca.pem"),
            dir,
            child,
            _tmp: tmp,
        })
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port of s_server's `ACCEPT 127.0.0.1:PORT` line.
fn accept_port(child: &mut Child) -> u16 {
    let out = child.stdout.take().expect("s_server stdout");
    let mut lines = BufReader::new(out);
    let mut line = String::new();
    while lines.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(port) = line
            .trim()
            .strip_prefix("ACCEPT 127.0.0.1:")
            .and_then(|p| p.parse().ok())
        {
            // Keep draining its output so the server never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
            return port;
        }
        line.clear();
    }
    panic!("openssl s_server printed no ACCEPT line");
}

/// `openssl` with the concatenated `args` in `dir`, asserting success.
fn openssl(dir: &Path, args: &[&[&str]]) {
    let args: Vec<&str> = args.concat();
    let mut cmd = Command::new("openssl");
    cmd.args(&args).current_dir(dir);
    if args.first() == Some(&"req") && args.contains(&"-x509") {
        cmd.args(["-days", "2", "-subj", "/CN=test-ca"]);
    }
    crate::common::run(&mut cmd);
}
