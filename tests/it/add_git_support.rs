//! Git servers on 127.0.0.1 for the `ADD <git URL>` tests: a repository the test makes
//! (`git init`, commits, tags) served by `git daemon` (git://) and by a small dumb-HTTP
//! server, which can require an `Authorization` header and counts the object downloads.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::run;
use crate::registry_support::free_port;

/// A working repository `src/` and its bare copy `srv/repo.git`, which the servers serve.
pub struct GitRepo {
    pub dir: tempfile::TempDir,
}

impl GitRepo {
    /// A repository with one commit of `files` (`(path, content, mode)`) on `main`.
    pub fn new(files: &[(&str, &str, u32)]) -> GitRepo {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = GitRepo { dir };
        repo.git(&["init", "-q", "-b", "main", "src"], None);
        repo.commit(files, "one");
        repo.git(&["clone", "-q", "--bare", "src", "srv/repo.git"], None);
        repo.publish();
        repo
    }

    fn src(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    /// The bare repository the servers serve.
    pub fn served(&self) -> PathBuf {
        self.dir.path().join("srv")
    }

    /// `git ARGS` in `dir` (the working repository by default).
    pub fn git(&self, args: &[&str], dir: Option<&Path>) -> String {
        let dir = dir.map_or_else(|| self.dir.path().to_path_buf(), Path::to_path_buf);
        let cwd = if dir.exists() {
            dir
        } else {
            self.dir.path().to_path_buf()
        };
        run(Command::new("git")
            .args(args)
            .current_dir(cwd)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .env("GIT_AUTHOR_DATE", "@1600000000 +0000")
            .env("GIT_COMMITTER_DATE", "@1600000000 +0000"))
        .trim()
        .to_string()
    }

    /// Commits `files` to the working repository (not yet served); the new commit.
    pub fn commit(&self, files: &[(&str, &str, u32)], message: &str) -> String {
        let src = self.src();
        for (rel, content, mode) in files {
            let p = src.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            if let Some(target) = content.strip_prefix("->") {
                let _ = std::fs::remove_file(&p);
                std::os::unix::fs::symlink(target, &p).unwrap();
            } else {
                std::fs::write(&p, content).unwrap();
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
            }
        }
        self.git(&["add", "-A"], Some(&src));
        self.git(&["commit", "-q", "-m", message], Some(&src));
        self.git(&["rev-parse", "HEAD"], Some(&src))
    }

    /// `git ARGS` in the working repository.
    pub fn in_src(&self, args: &[&str]) -> String {
        self.git(args, Some(&self.src()))
    }

    /// Serves a second repository `srv/NAME.git` with `files` and commits it to the working
    /// repository as the submodule `path`, named by the relative URL `../NAME.git`.
    pub fn add_submodule(&self, name: &str, files: &[(&str, &str, u32)], path: &str) {
        let work = self.dir.path().join(format!("{name}-src"));
        let work_s = work.display().to_string();
        self.git(&["init", "-q", "-b", "main", &work_s], None);
        for (rel, content, _) in files {
            let p = work.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        self.git(&["add", "-A"], Some(&work));
        self.git(&["commit", "-q", "-m", "lib"], Some(&work));
        let bare = format!("srv/{name}.git");
        self.git(&["clone", "-q", "--bare", &work_s, &bare], None);
        self.git(&["update-server-info"], Some(&self.dir.path().join(&bare)));
        let abs = self.dir.path().join(&bare).display().to_string();
        self.in_src(&[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            &abs,
            path,
        ]);
        self.in_src(&[
            "config",
            "-f",
            ".gitmodules",
            &format!("submodule.{path}.url"),
            &format!("../{name}.git"),
        ]);
        self.in_src(&["add", ".gitmodules"]);
        self.in_src(&["commit", "-q", "-m", "submodule"]);
    }

    /// Pushes every branch and tag of the working repository to the served one.
    pub fn publish(&self) {
        let bare = self.served().join("repo.git");
        let bare_s = bare.display().to_string();
        self.in_src(&[
            "push",
            "-q",
            "--force",
            &bare_s,
            "refs/heads/*:refs/heads/*",
        ]);
        self.in_src(&["push", "-q", "--force", &bare_s, "refs/tags/*:refs/tags/*"]);
        self.git(&["update-server-info"], Some(&bare));
    }
}

/// `git daemon` serving `base` on a free port; killed on drop.
pub struct GitDaemon {
    child: Child,
    pub port: u16,
}

impl GitDaemon {
    pub fn start(base: &Path) -> GitDaemon {
        let port = free_port();
        let child = Command::new("git")
            .arg("daemon")
            .arg("--export-all")
            .arg("--reuseaddr")
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start git daemon");
        wait_for_port(port);
        GitDaemon { child, port }
    }

    /// `git://127.0.0.1:PORT/repo.git`.
    pub fn url(&self) -> String {
        format!("git://127.0.0.1:{}/repo.git", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for_port(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "server on {port} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A dumb-HTTP server of `base` on a free port (a thread per connection, alive for the
/// test process), optionally requiring one `Authorization` value.
pub struct HttpGit {
    pub port: u16,
    /// Downloads of objects and packs (a clone or fetch, not a ref listing).
    objects: Arc<AtomicUsize>,
    /// Requests refused for a missing or wrong `Authorization`.
    pub refused: Arc<AtomicUsize>,
}

impl HttpGit {
    pub fn start(base: &Path, authorization: Option<String>) -> HttpGit {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let objects = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let (o, r, base) = (objects.clone(), refused.clone(), base.to_path_buf());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (o, r, base, auth) =
                    (o.clone(), r.clone(), base.clone(), authorization.clone());
                std::thread::spawn(move || serve(conn, &base, auth.as_deref(), &o, &r));
            }
        });
        HttpGit {
            port,
            objects,
            refused,
        }
    }

    /// `http://127.0.0.1:PORT/repo.git`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/repo.git", self.port)
    }

    pub fn object_downloads(&self) -> usize {
        self.objects.load(Ordering::SeqCst)
    }
}

/// Answers the requests of one connection (keep-alive).
fn serve(
    conn: TcpStream,
    base: &Path,
    auth: Option<&str>,
    objects: &AtomicUsize,
    refused: &AtomicUsize,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut out = conn;
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        let mut given = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("authorization") {
                    given = Some(v.trim().to_string());
                }
            }
        }
        let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
        let path = path.split('?').next().unwrap_or("").to_string();
        let (status, body) = if auth.is_some() && given.as_deref() != auth {
            refused.fetch_add(1, Ordering::SeqCst);
            ("401 Unauthorized", Vec::new())
        } else if path.contains("..") {
            ("404 Not Found", Vec::new())
        } else {
            if path.contains("/objects/") {
                objects.fetch_add(1, Ordering::SeqCst);
            }
            match std::fs::read(base.join(path.trim_start_matches('/'))) {
                Ok(b) => ("200 OK", b),
                Err(_) => ("404 Not Found", Vec::new()),
            }
        };
        let extra = if status.starts_with("401") {
            "WWW-Authenticate: Basic realm=\"git\"\r\n"
        } else {
            ""
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}Content-Type: application/octet-stream\r\n\r\n",
            body.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(&body).is_err() {
            return;
        }
    }
}

/// Every file under `root` whose bytes contain `needle`.
pub fn files_containing(root: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() {
                let data = std::fs::read(&p).unwrap_or_default();
                if data.windows(needle.len()).any(|w| w == needle) {
                    found.push(p);
                }
            }
        }
    }
    found
}
