//! `RUN --mount=type=ssh` and `builder build --ssh`, over the busybox fixture, built as root
//! and as a non-root user: a test `ssh-agent` holding a throwaway key, and inside the RUN
//! the host's `ssh-add` and `ssh-keygen` (bound in from the context with their libraries,
//! run through the dynamic loader) listing the forwarded key and signing with it. Covers `--ssh default` through
//! `SSH_AUTH_SOCK`, `--ssh ID=KEYFILE` (a private agent, gone after the build), the
//! default target and `SSH_AUTH_SOCK`, a custom target, mode and owner used by a non-root
//! USER, a relay that refuses to remove keys, an optional missing id (the step runs
//! without it), a required one (an error at its line), and a rebuild with another agent
//! (a cache hit). Nothing of the agent — its socket path, the key, the private agent's
//! directory — may be found anywhere in the store or the output.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::build_support::{busybox, Work};
use crate::common::text;
use crate::run_support::{runners, RunWork, Runner, TEST_USER};

/// The comment of the test key, listed by `ssh-add -l` inside the RUN.
const COMMENT: &str = "throwaway-test-key";

/// The program that runs the bound-in `ssh-add` (`/t` is the tools mount).
const SSH_ADD: &str = "/t/ld.so --library-path /t/lib /t/ssh-add";

fn have_openssh(test: &str) -> bool {
    let found = ["ssh-agent", "ssh-add", "ssh-keygen"].iter().all(|t| {
        Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !found {
        eprintln!(
            "\n!!! SKIPPED {test}: OpenSSH is not installed (apt-get install openssh-client) !!!\n"
        );
    }
    found
}

/// `cmd` as `runner` (through `runuser` for the rootless one).
fn as_runner(runner: Runner, program: &str) -> Command {
    match runner {
        Runner::Me => Command::new(program),
        Runner::Rootless => {
            let mut c = Command::new("runuser");
            c.args(["-u", TEST_USER, "--", program]);
            c
        }
    }
}

/// A throwaway key pair in `dir` (owned by `runner`): the private key's path.
fn keygen(runner: Runner, dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(name);
    let ok = as_runner(runner, "ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", COMMENT, "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success(), "ssh-keygen");
    key
}

/// A test `ssh-agent` of `runner`, listening at `socket`, holding `key`; killed on drop.
struct TestAgent {
    child: Child,
}

impl TestAgent {
    fn start(runner: Runner, socket: &Path, key: &Path) -> TestAgent {
        let child = as_runner(runner, "ssh-agent")
            .args(["-D", "-a"])
            .arg(socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let agent = TestAgent { child };
        let start = Instant::now();
        while !socket.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "ssh-agent did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let added = as_runner(runner, "ssh-add")
            .arg("-q")
            .arg(key)
            .env("SSH_AUTH_SOCK", socket)
            .output()
            .unwrap();
        assert!(added.status.success(), "ssh-add: {}", text(&added.stderr));
        agent
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        // runuser passes the signal on to the agent.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// Copy the host's `ssh-add` and `ssh-keygen`, their libraries and the dynamic loader into
/// `ctx/tools`.
fn tools(w: &RunWork) {
    let ldd = Command::new("ldd")
        .args(["/usr/bin/ssh-add", "/usr/bin/ssh-keygen"])
        .output()
        .unwrap();
    let tools = w.path("ctx/tools");
    std::fs::create_dir_all(tools.join("lib")).unwrap();
    for tool in ["ssh-add", "ssh-keygen"] {
        std::fs::copy(Path::new("/usr/bin").join(tool), tools.join(tool)).unwrap();
    }
    // With two files, ldd heads each list with `FILE:`.
    for line in text(&ldd.stdout).lines().filter(|l| !l.ends_with(':')) {
        let Some(path) = line.split_whitespace().find(|f| f.starts_with('/')) else {
            continue;
        };
        let name = Path::new(path)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let dest = if name.starts_with("ld-linux") {
            tools.join("ld.so")
        } else {
            tools.join("lib").join(&name)
        };
        std::fs::copy(path, dest).unwrap();
    }
}

/// Every file under `dir` whose bytes hold one of `needles`, with the needle.
fn files_holding(dir: &Path, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(bytes) = std::fs::read(entry.path()) else {
            continue;
        };
        for n in needles {
            if bytes.windows(n.len()).any(|w| w == n.as_bytes()) {
                found.push(format!("{} holds {n:?}", entry.path().display()));
            }
        }
    }
    found
}

/// The secrets a store must not hold: the socket path, the agent's directory, the public
/// key's blob and a line of the private key.
fn secrets_of(socket: &Path, key: &Path) -> Vec<String> {
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let blob = public.split_whitespace().nth(1).unwrap().to_string();
    let private = std::fs::read_to_string(key).unwrap();
    let line = private.lines().nth(2).unwrap().to_string();
    let dir = socket.parent().unwrap().to_string_lossy().to_string();
    vec![socket.to_string_lossy().to_string(), dir, blob, line]
}

fn assert_nothing_of(w: &RunWork, secrets: &[String], who: &str) {
    let needles: Vec<&str> = secrets.iter().map(String::as_str).collect();
    for dir in ["root", "out"] {
        let found = files_holding(&w.path(dir), &needles);
        assert!(found.is_empty(), "as {who}: {found:?}");
    }
}

const DEFAULT_DOCKERFILE: &str = r#"FROM busybox AS env
ENV SSH_AUTH_SOCK=/custom
RUN --mount=type=ssh mkdir /out && echo "$SSH_AUTH_SOCK" > /out/env

FROM busybox
RUN mkdir -m 0777 /out
RUN --mount=type=bind,source=tools,target=/t --mount=type=ssh \
    echo "$SSH_AUTH_SOCK" > /out/sock \
 && test -S /run/buildkit/ssh_agent.0 \
 && stat -c '%a %u:%g' /run/buildkit/ssh_agent.0 > /out/stat \
 && SSH_ADD -l | grep -c COMMENT > /out/listed \
 && if SSH_ADD -D 2>/dev/null; then echo removed; else echo refused; fi > /out/remove \
 && SSH_ADD -l | grep -c COMMENT >> /out/listed \
 && cat /proc/sys/kernel/random/uuid > /out/uuid
RUN --mount=type=bind,source=tools,target=/t --mount=type=tmpfs,target=/w --mount=type=ssh \
    echo data > /w/data \
 && /t/ld.so --library-path /t/lib /t/ssh-keygen -q -Y sign -n file -f /t/id.pub /w/data \
 && test -s /w/data.sig && echo signed > /out/signed
RUN --mount=type=ssh,target=/first --mount=type=ssh,id=default \
    test -S /first && test -S /run/buildkit/ssh_agent.1 && echo "$SSH_AUTH_SOCK" > /out/two
USER 1000:1000
RUN --mount=type=bind,source=tools,target=/t \
    --mount=type=ssh,id=default,target=/sock/agent,mode=0660,uid=1000,gid=1000 \
    stat -c '%a %u:%g' /sock/agent > /out/user-stat \
 && SSH_ADD -l | grep -c COMMENT > /out/user-listed
USER root
RUN --mount=type=ssh,id=absent echo "ran $SSH_AUTH_SOCK" > /out/optional \
 && if test -e /run/buildkit/ssh_agent.0; then echo there; else echo absent; fi >> /out/optional
COPY --from=env /out/env /out/env
"#;

fn default_dockerfile() -> String {
    DEFAULT_DOCKERFILE
        .replace("SSH_ADD", SSH_ADD)
        .replace("COMMENT", COMMENT)
}

#[test]
fn ssh_default_forwards_the_agent_of_ssh_auth_sock() {
    let test = "run_ssh_default";
    let Some(layout) = busybox(test) else { return };
    if !have_openssh(test) {
        return;
    }
    for r in runners(test) {
        let who = r.name();
        let keys = tempfile::Builder::new()
            .prefix("sshkeys-")
            .tempdir()
            .unwrap();
        if r == Runner::Rootless {
            crate::common::run(Command::new("chown").arg(TEST_USER).arg(keys.path()));
        }
        let key = keygen(r, keys.path(), "id");
        let socket = keys.path().join("agent.sock");
        let agent = TestAgent::start(r, &socket, &key);
        let sock: &'static str = Box::leak(socket.to_string_lossy().to_string().into_boxed_str());
        let w = RunWork::new(r, &layout).env("SSH_AUTH_SOCK", sock);
        tools(&w);
        std::fs::copy(key.with_extension("pub"), w.path("ctx/tools/id.pub")).unwrap();
        w.dockerfile(&default_dockerfile());
        let img = w.build_image(&["--ssh", "default"]);
        let read = |p: &str| {
            img.read(p.trim_start_matches('/'))
                .unwrap_or_else(|| panic!("as {who}: no {p}"))
        };
        assert_eq!(read("/out/sock"), "/run/buildkit/ssh_agent.0\n", "as {who}");
        assert_eq!(read("/out/stat"), "600 0:0\n", "as {who}");
        assert_eq!(read("/out/listed"), "1\n1\n", "as {who}");
        assert_eq!(read("/out/remove"), "refused\n", "as {who}");
        assert_eq!(read("/out/signed"), "signed\n", "as {who}: the agent signs");
        assert_eq!(read("/out/two"), "/first\n", "as {who}");
        assert_eq!(read("/out/user-stat"), "660 1000:1000\n", "as {who}");
        assert_eq!(read("/out/user-listed"), "1\n", "as {who}");
        assert_eq!(
            read("/out/optional"),
            "ran /run/buildkit/ssh_agent.0\nabsent\n",
            "as {who}"
        );
        assert_eq!(read("/out/env"), "/custom\n", "as {who}");
        let tree = img.tree(&w.path("out/bundle"));
        for stub in ["/run", "/sock", "/first", "/t"] {
            let named = |l: &str| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|p| p == stub || p.starts_with(&format!("{stub}/")))
            };
            assert!(!tree.lines().any(named), "as {who}: {stub} in\n{tree}");
        }
        assert!(
            !img.env().iter().any(|e| e.starts_with("SSH_AUTH_SOCK")),
            "as {who}: {:?}",
            img.env()
        );
        let mut secrets = secrets_of(&socket, &key);
        assert_nothing_of(&w, &secrets, who);
        let uuid = read("/out/uuid");
        drop(agent);

        // Another agent, same key: every step is taken from the cache.
        let socket2 = keys.path().join("other.sock");
        let _agent2 = TestAgent::start(r, &socket2, &key);
        let sock2: &'static str = Box::leak(socket2.to_string_lossy().to_string().into_boxed_str());
        let w2 = w.env("SSH_AUTH_SOCK", sock2);
        let img = w2.build_image(&["--ssh", "default"]);
        assert_eq!(
            img.read("out/uuid").as_deref(),
            Some(uuid.as_str()),
            "as {who}: a cache hit"
        );
        secrets.extend(secrets_of(&socket2, &key));
        assert_nothing_of(&w2, &secrets, who);
    }
}

#[test]
fn ssh_with_a_key_file_starts_a_private_agent_for_the_build() {
    let test = "run_ssh_key_file";
    let Some(layout) = busybox(test) else { return };
    if !have_openssh(test) {
        return;
    }
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        let tmp = w.path("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let tmp_env: &'static str = Box::leak(tmp.to_string_lossy().to_string().into_boxed_str());
        let w = w.env("TMPDIR", tmp_env);
        tools(&w);
        let keys = w.path("keys");
        std::fs::create_dir(&keys).unwrap();
        let key = keygen(Runner::Me, &keys, "deploy");
        w.dockerfile(&format!(
            "FROM busybox\n\
             RUN --mount=type=bind,source=tools,target=/t --mount=type=ssh,id=mykey \
             mkdir /out && {SSH_ADD} -l | grep -c {COMMENT} > /out/listed\n"
        ));
        let spec = format!("mykey={}", key.display());
        let img = w.build_image(&["--ssh", &spec]);
        assert_eq!(img.read("out/listed").as_deref(), Some("1\n"), "as {who}");
        // The private agent is gone with its directory (RunWork::build saw no process
        // naming the workspace).
        let left: Vec<_> = std::fs::read_dir(&tmp)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "as {who}: left in TMPDIR: {left:?}");
        let mut secrets = Vec::new();
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        secrets.push(public.split_whitespace().nth(1).unwrap().to_string());
        let private = std::fs::read_to_string(&key).unwrap();
        secrets.push(private.lines().nth(2).unwrap().to_string());
        secrets.push("builder-ssh-".to_string());
        assert_nothing_of(&w, &secrets, who);
    }
}

#[test]
fn a_required_ssh_mount_without_its_id_fails_at_its_line() {
    let test = "run_ssh_required";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox\n\
             RUN --mount=type=ssh,id=deploy,required=true true\n",
        );
        let err = w.build_fails(&[]);
        assert!(err.contains("Dockerfile:2\n"), "as {who}: {err}");
        assert!(
            err.contains("no SSH key \"deploy\" forwarded from the client"),
            "as {who}: {err}"
        );
    }
}

#[test]
fn bad_ssh_values_are_usage_errors() {
    let test = "run_ssh_usage";
    if !have_openssh(test) {
        return;
    }
    let w = Work::new();
    w.dockerfile("FROM scratch\n");
    let locked = w.path("locked");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "pass", "-f"])
        .arg(&locked)
        .status()
        .unwrap();
    assert!(made.success());
    let locked_spec = format!("k={}", locked.display());
    let cases: [(&[&str], &str); 5] = [
        (&["--ssh", "default"], "SSH_AUTH_SOCK is not set"),
        (&["--ssh", "=x"], "no id"),
        (&["--ssh", "k=/no/such/key"], "/no/such/key"),
        (&["--ssh", &locked_spec], "passphrase"),
        (&["--ssh", "a=/"], "not a socket"),
    ];
    for (args, want) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_builder"))
            .arg("--root")
            .arg(w.path("root"))
            .arg("build")
            .args(args)
            .arg(w.path("ctx"))
            .env_remove("SSH_AUTH_SOCK")
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("invalid --ssh") && err.contains(want),
            "{args:?}: {err}"
        );
    }
}
