//! A bearer-token service for the registry tests (`auth: token` in the registry's config),
//! on 127.0.0.1 with std::net: ES256 JWTs signed with `ring`, the signing certificate made
//! with the openssl CLI.

#![allow(dead_code)]

use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

use crate::registry_proxy::{read_request, Request, Server};
use crate::registry_support::have;

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
