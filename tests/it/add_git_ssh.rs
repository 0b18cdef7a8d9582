//! Git sources over SSH, for real: a throwaway `sshd` on 127.0.0.1 that accepts one key,
//! held by a test `ssh-agent`. The fetcher is given the agent's socket (what `--ssh default`
//! passes it) and uses nothing else: without the socket the same source fails at once,
//! without prompting. A Dockerfile's `ADD ssh://...` takes the agent of `--ssh default=SOCKET`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use builder::remote::{Fetched, Fetcher, Remote, RemoteRequest, RemoteSettings};

use crate::add_git_support::GitRepo;
use crate::common::{have, is_root, run};
use crate::registry_support::free_port;

/// A process killed on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `sshd` on a free port accepting `dir/user.pub` for the current user (root), and an agent
/// holding that key; the port, the agent's socket and both processes.
fn ssh_fixture(dir: &Path) -> (u16, PathBuf, Vec<Killed>) {
    for key in ["host", "user"] {
        let path = dir.join(key);
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", ""])
            .arg("-f")
            .arg(&path));
    }
    std::fs::create_dir_all("/run/sshd").unwrap();
    let port = free_port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {keys}\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
         StrictModes no\nPidFile none\n",
        host = dir.join("host").display(),
        keys = dir.join("user.pub").display(),
    );
    std::fs::write(dir.join("sshd_config"), config).unwrap();
    let sshd = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(dir.join("sshd_config"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sshd");
    let sock = dir.join("agent.sock");
    let agent = Command::new("ssh-agent")
        .args(["-D", "-a"])
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ssh-agent");
    let procs = vec![Killed(sshd), Killed(agent)];
    let start = Instant::now();
    while !sock.exists() || std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "sshd or ssh-agent did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    run(Command::new("ssh-add")
        .arg("-q")
        .arg(dir.join("user"))
        .env("SSH_AUTH_SOCK", &sock));
    (port, sock, procs)
}

/// Whether `tool` is a file in a `PATH` directory (the OpenSSH tools have no `--version`).
fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|d| d.join(tool).is_file())
}

#[test]
fn add_git_over_ssh_uses_only_the_given_agent() {
    let test = "add_git_ssh";
    let ssh_tools = ["ssh-agent", "ssh-keygen", "ssh-add"];
    if !is_root() || !Path::new("/usr/sbin/sshd").exists() || !ssh_tools.iter().all(|t| on_path(t))
    {
        eprintln!("\n!!! SKIPPED {test}: needs root, sshd and ssh (openssh-server) !!!\n");
        return;
    }
    if !have(test, &["git"]) {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let (port, sock, _procs) = ssh_fixture(keys.path());
    let repo = GitRepo::new(&[("a.txt", "one\n", 0o644), ("sub/f", "deep\n", 0o644)]);
    repo.in_src(&["tag", "v1"]);
    repo.publish();
    let url = format!(
        "ssh://root@127.0.0.1:{port}{}/repo.git#v1:sub",
        repo.served().display()
    );
    let store = tempfile::tempdir().unwrap();
    let settings = RemoteSettings {
        dir: store.path().to_path_buf(),
        timeout: Duration::from_secs(20),
        ssh_auth_sock: Some(sock),
        ..RemoteSettings::default()
    };
    let req = RemoteRequest {
        url: &url,
        checksum: None,
        keep_git_dir: false,
    };
    let commit = repo.in_src(&["rev-parse", "v1"]);
    let remote = Remote::new(settings.clone());
    assert_eq!(remote.key(&req).unwrap(), format!("git:{commit}:sub"));
    let Fetched::Dir { path } = remote.fetch(&req).unwrap() else {
        panic!("a checkout is a directory");
    };
    assert_eq!(std::fs::read_to_string(path.join("f")).unwrap(), "deep\n");

    // Without the agent: no key at all (not the user's files, not SSH_AUTH_SOCK), no prompt.
    let without = Remote::new(RemoteSettings {
        ssh_auth_sock: None,
        ..settings
    });
    // As in BuildKit, the source fails before any connection, naming the missing key.
    let started = Instant::now();
    let err = without.key(&req).unwrap_err().to_string();
    assert!(
        err.contains("cannot resolve Git repository ssh://xxxxx@127.0.0.1"),
        "{err}"
    );
    assert!(
        err.contains("no SSH key \"default\" forwarded from the client"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));

    // The same source in a Dockerfile, the agent given with `--ssh default=SOCKET`.
    let w = crate::build_support::Work::new();
    w.dockerfile(&format!("FROM scratch\nADD {url} /src/\n"));
    let agent = format!("default={}", keys.path().join("agent.sock").display());
    let got = w.build_and_unpack("ssh", &["--ssh", &agent]);
    assert!(got.contains("f /src/f 0644 0:0 \"deep\\n\""), "{got}");
    // Without --ssh the build fails at the ADD, naming the repository and the flag.
    let out = w.build(&["-t", "app2"]);
    assert_ne!(out.status.code(), Some(0));
    let err = crate::common::text(&out.stderr);
    assert!(
        err.contains("cannot resolve Git repository ssh://"),
        "{err}"
    );
    assert!(err.contains("pass --ssh default"), "{err}");
}

/// As BuildKit, an SSH source without `--ssh` fails before any connection, naming the
/// missing key: `git@host:path` and `ssh://` alike, public or private.
#[test]
fn add_git_over_ssh_without_ssh_flag_names_the_missing_key() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let w = crate::build_support::Work::new();
    for src in [
        format!("ssh://git@127.0.0.1:{port}/foo/bar.git"),
        "git@git.example.invalid:foo/bar.git".to_string(),
    ] {
        w.dockerfile(&format!("FROM scratch\nADD {src} /bar\n"));
        let out = w.build(&["-t", "app"]);
        assert_ne!(out.status.code(), Some(0));
        let err = crate::common::text(&out.stderr);
        assert!(
            err.contains("no SSH key \"default\" forwarded from the client"),
            "{err}"
        );
        assert!(err.contains("pass --ssh default"), "{err}");
    }
    assert!(listener.accept().is_err(), "the build connected");
}
