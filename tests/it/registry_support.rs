//! Registries for the registry tests, all on 127.0.0.1: Debian's `docker-registry` (the CNCF
//! distribution server) started on a free port with a config written into a temp dir — open,
//! with htpasswd basic auth, or with `auth: token` pointing at [`TokenServer`] — plus a
//! [`Proxy`] that counts requests and injects faults, and the busybox fixture pushed with
//! skopeo. Nothing is installed here (scripts/setup.sh does that); a test whose tools are
//! missing skips loudly. Every process and thread started here stops on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::registry_proxy::{FaultKind, Proxy};
pub use crate::registry_token::TokenServer;

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
