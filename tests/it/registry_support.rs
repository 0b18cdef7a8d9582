//! Registries for the registry tests, all on 127.0.0.1: Debian's `docker-registry` (the CNCF
//! distribution server) started on a free port with a config written into a temp dir — open,
//! with htpasswd basic auth, or with `auth: token` pointing at [`TokenServer`] — plus a
//! [`Proxy`] that counts requests and injects faults, and the busybox fixture pushed with
//! skopeo. Nothing is installed here (scripts/setup.sh does that); a test whose tools are
//! missing skips loudly. Every process and thread started here stops on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

/// Whether every tool in `tools` is installed; says loudly that `test` skips if not.
pub fn have(tools: &[&str], test: &str) -> bool {
    for tool in tools {
        let found = std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()));
        if !found {
            eprintln!(
                "\n!!! SKIPPED {test}: {tool} is not installed (scripts/setup.sh installs it) !!!\n"
            );
            return false;
        }
    }
    true
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port")
}

/// How a test registry authenticates.
pub enum RegistryAuth {
    /// Anyone may pull and push.
    Open,
    /// HTTP basic auth against one bcrypt htpasswd user.
    Htpasswd { user: String, password: String },
    /// The token flow, tokens from `server`.
    Token { server: Arc<TokenServer> },
}

/// A running `docker-registry serve` on 127.0.0.1; killed on drop.
pub struct Registry {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Start a registry; `None` (skipped loudly) when docker-registry is not installed.
    pub fn start(auth: RegistryAuth, test: &str) -> Option<Registry> {
        if !have(&["docker-registry"], test) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let auth_yaml = match &auth {
            RegistryAuth::Open => String::new(),
            RegistryAuth::Htpasswd { user, password } => {
                if !have(&["htpasswd"], test) {
                    return None;
                }
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, password])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "htpasswd failed");
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, &out.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                    file.display()
                )
            }
            RegistryAuth::Token { server } => format!(
                "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                server.port,
                TokenServer::SERVICE,
                TokenServer::ISSUER,
                server.cert_pem.display()
            ),
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: debug\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: test-secret\n{auth_yaml}",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let registry = Registry { port, child, dir };
        registry.wait_ready();
        Some(registry)
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(status) = http_status(self.port, "GET", "/v2/") {
                if status == 200 || status == 401 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("docker-registry did not come up:\n{}", self.log());
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status of one plain HTTP request to 127.0.0.1:`port`.
pub fn http_status(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))
}

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
fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
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
struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(handle: impl Fn(TcpStream) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
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
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
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
    state: Arc<ProxyState>,
    _server: Server,
}

impl Proxy {
    /// A proxy to 127.0.0.1:`upstream`.
    pub fn start(upstream: u16) -> Proxy {
        let state = Arc::new(ProxyState::default());
        let st = state.clone();
        let up: SocketAddr = ([127, 0, 0, 1], upstream).into();
        let server = Server::start(move |conn| {
            let _ = proxy_one(conn, up, &st);
        });
        Proxy {
            port: server.port,
            state,
            _server: server,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
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

/// A bearer-token service for `auth: token` registries: ES256 JWTs signed with a key whose
/// self-signed certificate (made with the openssl CLI) is the registry's root bundle. With
/// `user`/`password` given, those credentials get every action asked for, anonymous callers
/// get `pull` only, and wrong credentials get `401`.
pub struct TokenServer {
    pub port: u16,
    pub cert_pem: PathBuf,
    requests: Arc<Mutex<Vec<Request>>>,
    _dir: tempfile::TempDir,
    _server: Server,
}

impl TokenServer {
    pub const SERVICE: &'static str = "test-registry";
    pub const ISSUER: &'static str = "test-issuer";

    /// Start a token service; `None` (skipped loudly) without openssl.
    pub fn start(user: &str, password: &str, test: &str) -> Option<Arc<TokenServer>> {
        if !have(&["openssl"], test) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "key.pem",
        ]);
        run(&[
            "pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-outform", "DER", "-out", "key.p8",
        ]);
        run(&[
            "req",
            "-new",
            "-x509",
            "-key",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=test-token-issuer",
        ]);
        run(&[
            "x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der",
        ]);
        let pkcs8 = std::fs::read(d.join("key.p8")).unwrap();
        let cert_der = std::fs::read(d.join("cert.der")).unwrap();
        let rng = ring::rand::SystemRandom::new();
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &pkcs8,
            &rng,
        )
        .expect("parse the token signing key");
        let header = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&cert_der)]})
                .to_string(),
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let reqs = requests.clone();
        let expected = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
        let counter = AtomicUsize::new(0);
        let server = Server::start(move |conn| {
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let Ok(Some(req)) = read_request(&mut reader) else {
                return;
            };
            reqs.lock().unwrap().push(req.clone());
            let auth = req.header("authorization");
            let authenticated = auth == Some(expected.as_str());
            let mut out = conn;
            if auth.is_some() && !authenticated {
                let _ = out.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 27\r\nConnection: close\r\n\r\n{\"details\":\"bad password\"}\n",
                );
                return;
            }
            let query = req.path.split_once('?').map(|(_, q)| q).unwrap_or("");
            let mut access = Vec::new();
            for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
                if k != "scope" {
                    continue;
                }
                for scope in percent_decode(v).split(' ') {
                    let mut it = scope.splitn(3, ':');
                    if let (Some(kind), Some(name), Some(actions)) =
                        (it.next(), it.next(), it.next())
                    {
                        let granted: Vec<&str> = actions
                            .split(',')
                            .filter(|a| authenticated || *a == "pull")
                            .collect();
                        access.push(
                            serde_json::json!({"type": kind, "name": name, "actions": granted}),
                        );
                    }
                }
            }
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let claims = serde_json::json!({
                "iss": TokenServer::ISSUER,
                "sub": if authenticated { user_name(&expected) } else { String::new() },
                "aud": TokenServer::SERVICE,
                "exp": now + 300,
                "nbf": now - 10,
                "iat": now,
                "jti": format!("t{}", counter.fetch_add(1, Ordering::SeqCst)),
                "access": access,
            });
            let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
            let sig = key
                .sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes())
                .unwrap();
            let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()));
            let body = serde_json::json!({"token": token, "expires_in": 300}).to_string();
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        });
        Some(Arc::new(TokenServer {
            port: server.port,
            cert_pem: d.join("cert.pem"),
            requests,
            _dir: dir,
            _server: server,
        }))
    }

    /// The token requests served so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn user_name(basic: &str) -> String {
    basic
        .strip_prefix("Basic ")
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(u, _)| u.to_string()))
        .unwrap_or_default()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Run the builder binary with store `root`, the docker config dir `docker_config`, and
/// `env`; the developer's own BUILDER_* settings and credentials are never seen.
pub fn builder(root: &Path, docker_config: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_builder"));
    cmd.arg("--root")
        .arg(root)
        .args(args)
        .env_remove("BUILDER_ROOT")
        .env_remove("BUILDER_INSECURE_REGISTRIES")
        .env("DOCKER_CONFIG", docker_config)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run builder")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Assert `out` succeeded; its stdout.
pub fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The busybox fixture (scripts/make-busybox-image.sh, umoci) as an OCI layout in `dir`.
pub fn busybox_layout(dir: &Path, test: &str) -> Option<PathBuf> {
    if !have(&["umoci", "busybox", "skopeo"], test) {
        return None;
    }
    let layout = dir.join("busybox");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-busybox-image.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(&layout)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "make-busybox-image.sh: {}",
        text(&out.stderr)
    );
    Some(layout)
}

/// `skopeo copy` with TLS checks off; extra arguments (credentials) before the refs.
pub fn skopeo_copy(extra: &[&str], src: &str, dest: &str) {
    let out = Command::new("skopeo")
        .args([
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ])
        .args(extra)
        .args([src, dest])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo copy {src} {dest}: {}",
        text(&out.stderr)
    );
}

/// `skopeo inspect` (raw manifest with `--raw`) of a registry image, as JSON.
pub fn skopeo_inspect(extra: &[&str], image: &str) -> serde_json::Value {
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .args(extra)
        .arg(format!("docker://{image}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect {image}: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
