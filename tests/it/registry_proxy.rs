//! HTTP plumbing for the registry tests, std::net only, on 127.0.0.1: reading one request,
//! a listener that serves each connection on a thread (stopped on drop), and [`Proxy`], which
//! sits in front of a registry, records every request and injects faults (a `500`, a
//! connection dropped mid-body, a corrupted body, a body that stalls).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One HTTP/1.1 request read off a connection.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Read a request (head and body, chunked or sized); `None` at end of stream.
pub fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let mut first = String::new();
    if reader.read_line(&mut first)? == 0 {
        return Ok(None);
    }
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut req = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if n == 0 {
                let mut end = String::new();
                reader.read_line(&mut end)?;
                break;
            }
            let start = req.body.len();
            req.body.resize(start + n, 0);
            reader.read_exact(&mut req.body[start..])?;
            let mut crlf = String::new();
            reader.read_line(&mut crlf)?;
        }
    } else if let Some(n) = req.header("content-length").and_then(|v| v.parse().ok()) {
        req.body.resize(n, 0);
        reader.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}

/// A listener thread serving each connection with `handle` on its own thread; stops on drop.
pub struct Server {
    pub port: u16,
    ip: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(handle: impl Fn(TcpStream) + Send + Sync + 'static) -> Server {
        Server::start_on("127.0.0.1", handle)
    }

    /// The same on another loopback address (`127.0.0.2`).
    pub fn start_on(ip: &str, handle: impl Fn(TcpStream) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let handle = Arc::new(handle);
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let h = handle.clone();
                std::thread::spawn(move || h(conn));
            }
        });
        Server {
            port,
            ip: ip.to_string(),
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect((self.ip.as_str(), self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the proxy does to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer `500 Internal Server Error` without asking the registry.
    Status500,
    /// Pass the headers and half the body on, then drop the connection.
    DropMidBody,
    /// Flip one byte in the middle of the body.
    CorruptBody,
    /// Pass the headers and half the body on, then send nothing more (for at most a
    /// minute, or until the client hangs up).
    StallMidBody,
    /// Answer a manifest PUT of an image index (OCI or Docker list) with `400
    /// MANIFEST_INVALID`, as a registry without index support does; pass anything else on.
    RefuseIndex,
}

/// Whether a request's `content-type` is an image index (OCI or Docker manifest list).
fn is_index_type(req: &Request) -> bool {
    req.header("content-type").is_some_and(|t| {
        t.contains("application/vnd.oci.image.index.v1+json")
            || t.contains("application/vnd.docker.distribution.manifest.list.v2+json")
    })
}

#[derive(Debug, Clone)]
struct Fault {
    method: String,
    path_contains: String,
    kind: FaultKind,
    times: usize,
}

#[derive(Default)]
struct ProxyState {
    requests: Mutex<Vec<Request>>,
    faults: Mutex<Vec<Fault>>,
    injected: AtomicUsize,
}

/// An HTTP proxy on 127.0.0.1 in front of a registry: counts requests and injects faults.
/// Every connection is closed after one exchange.
pub struct Proxy {
    pub port: u16,
    ip: String,
    state: Arc<ProxyState>,
    _server: Server,
}

impl Proxy {
    /// A proxy to 127.0.0.1:`upstream`.
    pub fn start(upstream: u16) -> Proxy {
        Proxy::start_on("127.0.0.1", upstream)
    }

    /// A proxy listening on another loopback address (`127.0.0.2`), to play a registry that
    /// is not plain HTTP by default.
    pub fn start_on(ip: &str, upstream: u16) -> Proxy {
        let state = Arc::new(ProxyState::default());
        let st = state.clone();
        let up: SocketAddr = ([127, 0, 0, 1], upstream).into();
        let server = Server::start_on(ip, move |conn| {
            let _ = proxy_one(conn, up, &st);
        });
        Proxy {
            ip: ip.to_string(),
            port: server.port,
            state,
            _server: server,
        }
    }

    /// `IP:PORT`.
    pub fn host(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    /// Inject `kind` into the next `times` requests with `method` whose path contains
    /// `path_contains`.
    pub fn fault(&self, method: &str, path_contains: &str, kind: FaultKind, times: usize) {
        self.state.faults.lock().unwrap().push(Fault {
            method: method.into(),
            path_contains: path_contains.into(),
            kind,
            times,
        });
    }

    /// How many faults were injected.
    pub fn injected(&self) -> usize {
        self.state.injected.load(Ordering::SeqCst)
    }

    /// Every request seen so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.requests.lock().unwrap().clone()
    }

    /// How many requests matched `method` and contain `path_contains`.
    pub fn count(&self, method: &str, path_contains: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path.contains(path_contains))
            .count()
    }

    /// Forget the requests seen.
    pub fn reset(&self) {
        self.state.requests.lock().unwrap().clear();
    }
}

/// Keep `conn` open and silent until its peer closes it or `limit` passes.
fn hold_until_hung_up(conn: &mut TcpStream, limit: Duration) {
    let started = std::time::Instant::now();
    let _ = conn.set_read_timeout(Some(Duration::from_millis(100)));
    let mut byte = [0u8; 1];
    while started.elapsed() < limit {
        match conn.read(&mut byte) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return,
        }
    }
}

fn proxy_one(client: TcpStream, upstream: SocketAddr, state: &ProxyState) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let Some(req) = read_request(&mut reader)? else {
        return Ok(());
    };
    state.requests.lock().unwrap().push(Request {
        body: Vec::new(),
        ..req.clone()
    });
    let fault = {
        let mut faults = state.faults.lock().unwrap();
        let hit = faults
            .iter_mut()
            .find(|f| f.times > 0 && f.method == req.method && req.path.contains(&f.path_contains));
        hit.map(|f| {
            f.times -= 1;
            f.kind
        })
    };
    let mut out = client;
    if fault == Some(FaultKind::RefuseIndex) && is_index_type(&req) {
        state.injected.fetch_add(1, Ordering::SeqCst);
        let body = br#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"index media types are not supported"}]}"#;
        out.write_all(
            format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )?;
        out.write_all(body)?;
        return out.shutdown(Shutdown::Both);
    }
    if fault == Some(FaultKind::Status500) {
        state.injected.fetch_add(1, Ordering::SeqCst);
        out.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return out.shutdown(Shutdown::Both);
    }
    let mut up = TcpStream::connect(upstream)?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.path);
    for (k, v) in &req.headers {
        let k_low = k.to_ascii_lowercase();
        if k_low == "connection" || k_low == "transfer-encoding" || k_low == "content-length" {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !req.body.is_empty() || req.header("content-length").is_some() {
        head.push_str(&format!("Content-Length: {}\r\n", req.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes())?;
    up.write_all(&req.body)?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp)?;
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(resp.len());
    let (head, body) = resp.split_at(split);
    let mut body = body.to_vec();
    match fault {
        Some(FaultKind::DropMidBody) if body.len() > 1 => {
            state.injected.fetch_add(1, Ordering::SeqCst);
            out.write_all(head)?;
            out.write_all(&body[..body.len() / 2])?;
            out.flush()?;
            return out.shutdown(Shutdown::Both);
        }
        Some(FaultKind::StallMidBody) if body.len() > 1 => {
            state.injected.fetch_add(1, Ordering::SeqCst);
            out.write_all(head)?;
            out.write_all(&body[..body.len() / 2])?;
            out.flush()?;
            hold_until_hung_up(&mut out, Duration::from_secs(60));
            return out.shutdown(Shutdown::Both);
        }
        Some(FaultKind::CorruptBody) if !body.is_empty() => {
            state.injected.fetch_add(1, Ordering::SeqCst);
            let mid = body.len() / 2;
            body[mid] ^= 0xff;
        }
        _ => {}
    }
    out.write_all(head)?;
    out.write_all(&body)?;
    out.flush()?;
    out.shutdown(Shutdown::Both)
}
