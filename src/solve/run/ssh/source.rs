//! `--ssh` values, as `docker buildx build` reads them: `default|ID[=SOCKET|KEY[,KEY...]]`.
//!
//! An id alone (`default`, or any other) forwards the agent of `SSH_AUTH_SOCK`; a path that
//! is a socket is an agent; files are private keys, loaded into a private agent for the
//! build ([`super::SshAgents`]). One socket, or keys, never both (BuildKit's
//! `sshprovider`). A key protected by a passphrase is refused here: nothing may prompt.

use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use base64::Engine;

/// The id of `--ssh default` and of `RUN --mount=type=ssh` without `id=`.
pub const DEFAULT_ID: &str = "default";

/// The most of a key file read (BuildKit's limit too).
const MAX_KEY_BYTES: u64 = 100 * 1024;

/// Where the agent of one `--ssh` id comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SshSource {
    /// A running agent's socket (`SSH_AUTH_SOCK`, or a socket path), made absolute.
    Agent(PathBuf),
    /// Private key files (made absolute), loaded into a private `ssh-agent`.
    Keys(Vec<PathBuf>),
}

impl std::fmt::Debug for SshSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Where the agent and keys live stays out of debug output.
        match self {
            SshSource::Agent(_) => f.write_str("Agent(..)"),
            SshSource::Keys(k) => write!(f, "Keys({} files)", k.len()),
        }
    }
}

/// Parse one `--ssh` value; `auth_sock` is the builder's `SSH_AUTH_SOCK`. Paths are
/// looked at (a socket or a key file), and keys read and checked.
///
/// ```
/// use builder::solve::run::parse_ssh;
/// let err = parse_ssh("default", None).unwrap_err();
/// assert!(err.contains("SSH_AUTH_SOCK is not set"));
/// ```
pub fn parse_ssh(
    spec: &str,
    auth_sock: Option<&std::ffi::OsStr>,
) -> Result<(String, SshSource), String> {
    let (id, paths) = match spec.split_once('=') {
        Some((id, paths)) => (id, Some(paths)),
        None => (spec, None),
    };
    if id.is_empty() {
        return Err(format!(
            "{spec:?} has no id: expected default|ID[=SOCKET|KEY[,KEY...]]"
        ));
    }
    if id.contains(',') {
        return Err(format!(
            "invalid id {id:?}: expected default|ID[=SOCKET|KEY[,KEY...]]"
        ));
    }
    let from_env;
    let paths: Vec<&str> = match paths {
        None | Some("") => {
            // As buildx: the agent of SSH_AUTH_SOCK, looked at like a given path.
            let sock = auth_sock.filter(|s| !s.is_empty()).ok_or_else(|| {
                format!(
                    "{id}: SSH_AUTH_SOCK is not set: start an agent (eval $(ssh-agent) and \
                     ssh-add), or name a socket or key files: --ssh {id}=PATH"
                )
            })?;
            from_env = sock.to_string_lossy();
            vec![from_env.as_ref()]
        }
        Some(p) => p.split(',').collect(),
    };
    if paths.iter().any(|p| p.is_empty()) {
        return Err(format!("{id}: empty path in {spec:?}"));
    }
    let mut socket = None;
    let mut keys = Vec::new();
    for p in paths {
        let path = absolute(Path::new(p));
        let meta = std::fs::metadata(&path).map_err(|e| format!("{id}: {p}: {e}"))?;
        if meta.file_type().is_socket() {
            if socket.replace(path).is_some() {
                return Err(format!("{id}: only one agent socket may be given"));
            }
        } else if meta.is_file() {
            check_key_file(&path).map_err(|e| format!("{id}: {p}: {e}"))?;
            keys.push(path);
        } else {
            return Err(format!("{id}: {p}: not a socket or a private key file"));
        }
    }
    match socket {
        Some(_) if !keys.is_empty() => Err(format!(
            "{id}: an agent socket and key files cannot be mixed"
        )),
        Some(s) => Ok((id.to_string(), SshSource::Agent(s))),
        None => Ok((id.to_string(), SshSource::Keys(keys))),
    }
}

/// Read the key at `path`: a private key (PEM or OpenSSH format) without a passphrase.
pub(super) fn read_key_file(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("open: {e}"))?;
    let mut data = Vec::new();
    file.take(MAX_KEY_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| format!("read: {e}"))?;
    if data.len() as u64 > MAX_KEY_BYTES {
        return Err("too large for a private key".into());
    }
    check_key(&data)?;
    Ok(data)
}

fn check_key_file(path: &Path) -> Result<(), String> {
    read_key_file(path).map(drop)
}

/// Whether `data` is a private key that loads without a passphrase.
fn check_key(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    let passphrase = || {
        Err(
            "the key is protected by a passphrase, and builder does not prompt: add it to \
             an agent (ssh-add) and forward that one (--ssh ID=$SSH_AUTH_SOCK)"
                .to_string(),
        )
    };
    if let Some(body) = pem_body(&text, "OPENSSH PRIVATE KEY") {
        return match openssh_cipher(&body) {
            Some(cipher) if cipher == b"none" => Ok(()),
            Some(_) => passphrase(),
            None => Err("not a valid OpenSSH private key".into()),
        };
    }
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") || text.contains("4,ENCRYPTED") {
        return passphrase();
    }
    if text.contains("-----BEGIN ") && text.contains(" PRIVATE KEY-----") {
        return Ok(());
    }
    Err("not a private key (PEM or OpenSSH format)".into())
}

/// The base64 text between `-----BEGIN LABEL-----` and `-----END LABEL-----`.
fn pem_body(text: &str, label: &str) -> Option<String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    Some(
        text[start..stop]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect(),
    )
}

/// The cipher name of an `openssh-key-v1` key (`none` when it has no passphrase).
fn openssh_cipher(body: &str) -> Option<Vec<u8>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    let rest = bytes.strip_prefix(b"openssh-key-v1\0")?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    rest.get(4..4usize.checked_add(len)?).map(<[u8]>::to_vec)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keygen(dir: &Path, name: &str, pass: &str) -> Option<PathBuf> {
        let path = dir.join(name);
        let ok = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", pass, "-C", "t", "-f"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(path)
    }

    #[test]
    fn ids_alone_take_ssh_auth_sock() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("agent.sock");
        let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let sock = path.as_os_str();
        let (id, src) = parse_ssh("default", Some(sock)).unwrap();
        assert_eq!(
            (id.as_str(), src),
            ("default", SshSource::Agent(path.clone()))
        );
        let (id, _) = parse_ssh("other=", Some(sock)).unwrap();
        assert_eq!(id, "other");
        let err = parse_ssh("default", None).unwrap_err();
        assert!(err.contains("SSH_AUTH_SOCK is not set"), "{err}");
        assert!(parse_ssh("default", Some("".as_ref())).is_err());
        let gone = t.path().join("gone.sock");
        let err = parse_ssh("default", Some(gone.as_os_str())).unwrap_err();
        assert!(err.contains("gone.sock"), "{err}");
    }

    #[test]
    fn bad_values_are_refused() {
        let sock = Some(std::ffi::OsStr::new("/run/agent.sock"));
        assert!(parse_ssh("", sock).unwrap_err().contains("no id"));
        assert!(parse_ssh("=/x", sock).unwrap_err().contains("no id"));
        assert!(parse_ssh("a,raw=true", sock).is_err());
        assert!(parse_ssh("a=/no/such/key", sock)
            .unwrap_err()
            .contains("/no/such/key"));
        assert!(parse_ssh("a=/", sock).unwrap_err().contains("not a socket"));
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("notakey");
        std::fs::write(&f, "hello").unwrap();
        let spec = format!("a={}", f.display());
        assert!(parse_ssh(&spec, sock)
            .unwrap_err()
            .contains("not a private key"));
        let spec = format!("a={},", f.display());
        assert!(parse_ssh(&spec, sock).unwrap_err().contains("empty path"));
    }

    #[test]
    fn sockets_and_keys_are_told_apart() {
        let t = tempfile::tempdir().unwrap();
        let sock = t.path().join("s");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let (_, src) = parse_ssh(&format!("a={}", sock.display()), None).unwrap();
        assert_eq!(src, SshSource::Agent(sock.clone()));
        let Some(key) = keygen(t.path(), "k", "") else {
            return eprintln!("ssh-keygen is not installed: key checks skipped");
        };
        let (_, src) = parse_ssh(&format!("a={}", key.display()), None).unwrap();
        assert_eq!(src, SshSource::Keys(vec![key.clone()]));
        let both = format!("a={},{}", sock.display(), key.display());
        assert!(parse_ssh(&both, None)
            .unwrap_err()
            .contains("cannot be mixed"));
        let locked = keygen(t.path(), "p", "passphrase").unwrap();
        let err = parse_ssh(&format!("a={}", locked.display()), None).unwrap_err();
        assert!(err.contains("passphrase"), "{err}");
    }

    #[test]
    fn pem_keys_with_a_passphrase_are_refused() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert!(check_key(pem.as_bytes())
            .unwrap_err()
            .contains("passphrase"));
        let plain = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert!(check_key(plain.as_bytes()).is_ok());
        let bad = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        assert!(check_key(bad.as_bytes()).is_err());
    }

    #[test]
    fn debug_shows_no_paths() {
        let src = SshSource::Agent("/tmp/agent.sock".into());
        assert!(!format!("{src:?}").contains("agent.sock"));
    }
}
