//! The agents of a build, one per `--ssh` id: a running agent's socket as given, or a
//! private `ssh-agent` (OpenSSH's) holding the given keys, on a socket in a 0700 temporary
//! directory. A private agent is started without a terminal or prompt, dies with the
//! builder, and is stopped (its directory removed) when [`SshAgents`] is dropped: at the
//! end of the build, whether it succeeded or not.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::source::{read_key_file, SshSource};

/// How long a private agent may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The agent socket of each `--ssh` id, private agents running until dropped.
#[derive(Default)]
pub struct SshAgents {
    sockets: BTreeMap<String, PathBuf>,
    private: Vec<PrivateAgent>,
}

impl std::fmt::Debug for SshAgents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshAgents")
            .field("ids", &self.sockets.keys().collect::<Vec<_>>())
            .field("private", &self.private.len())
            .finish()
    }
}

impl SshAgents {
    /// The agents of `sources`: sockets as given, a private agent started for each set of
    /// keys. Nothing is left running when this fails.
    pub fn start(sources: &BTreeMap<String, SshSource>) -> Result<SshAgents, String> {
        let mut agents = SshAgents::default();
        for (id, source) in sources {
            let socket = match source {
                SshSource::Agent(path) => path.clone(),
                SshSource::Keys(keys) => {
                    let agent =
                        PrivateAgent::start(keys).map_err(|e| format!("--ssh {id}: {e}"))?;
                    let socket = agent.socket.clone();
                    agents.private.push(agent);
                    socket
                }
            };
            agents.sockets.insert(id.clone(), socket);
        }
        Ok(agents)
    }

    /// The agent socket of every id.
    pub fn sockets(&self) -> &BTreeMap<String, PathBuf> {
        &self.sockets
    }

    /// The agent socket of `id`, if it was given.
    pub fn socket(&self, id: &str) -> Option<&Path> {
        self.sockets.get(id).map(PathBuf::as_path)
    }
}

/// A running `ssh-agent -D` of the build.
struct PrivateAgent {
    child: Child,
    socket: PathBuf,
    // Removed after the agent is stopped.
    dir: tempfile::TempDir,
}

impl PrivateAgent {
    fn start(keys: &[PathBuf]) -> Result<PrivateAgent, String> {
        let dir = tempfile::Builder::new()
            .prefix("builder-ssh-")
            .tempdir()
            .map_err(|e| format!("create a directory for ssh-agent: {e}"))?;
        let socket = dir.path().join("agent.sock");
        let log = std::fs::File::create(dir.path().join("agent.log"))
            .map_err(|e| format!("create the log of ssh-agent: {e}"))?;
        let mut cmd = Command::new("ssh-agent");
        cmd.args(["-D", "-a"])
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        detach(&mut cmd);
        let child = cmd.spawn().map_err(|e| {
            format!("start ssh-agent: {e} (it comes with OpenSSH: apt-get install openssh-client)")
        })?;
        let mut agent = PrivateAgent { child, socket, dir };
        agent.wait_listening()?;
        for key in keys {
            agent.add(key)?;
        }
        Ok(agent)
    }

    /// Wait until the agent accepts connections.
    fn wait_listening(&mut self) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if UnixStream::connect(&self.socket).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("ssh-agent exited ({status}): {}", self.log()));
            }
            if start.elapsed() > START_TIMEOUT {
                return Err("ssh-agent did not start listening".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Load the key at `path` with `ssh-add`, reading it from standard input.
    fn add(&self, path: &Path) -> Result<(), String> {
        let shown = path.display();
        let key = read_key_file(path).map_err(|e| format!("{shown}: {e}"))?;
        let mut cmd = Command::new("ssh-add");
        cmd.args(["-q", "-"])
            .env("SSH_AUTH_SOCK", &self.socket)
            // A passphrase is never asked for: the askpass program fails.
            .env("SSH_ASKPASS", "/bin/false")
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env_remove("DISPLAY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        detach(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("start ssh-add: {e} (apt-get install openssh-client)"))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A failed write shows up as ssh-add's failure.
            let _ = stdin.write_all(&key);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("wait for ssh-add: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{shown}: ssh-add failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default();
        text.trim().to_string()
    }
}

impl Drop for PrivateAgent {
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32);
        if let Some(pid) = pid {
            // ssh-agent removes its socket on SIGTERM.
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = self.child.wait();
    }
}

/// Run the command in a session of its own (no terminal to prompt on, and a Ctrl-C meant
/// for the build does not reach it), dying with the builder.
fn detach(cmd: &mut Command) {
    // SAFETY: only async-signal-safe system calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::setsid()?;
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))?;
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_are_used_as_given() {
        let mut sources = BTreeMap::new();
        sources.insert(
            "default".to_string(),
            SshSource::Agent("/run/a.sock".into()),
        );
        let agents = SshAgents::start(&sources).unwrap();
        assert_eq!(agents.socket("default"), Some(Path::new("/run/a.sock")));
        assert_eq!(agents.socket("other"), None);
    }

    #[test]
    fn private_agents_hold_the_keys_and_stop_when_dropped() {
        let t = tempfile::tempdir().unwrap();
        let key = t.path().join("k");
        let made = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "unit-key", "-f"])
            .arg(&key)
            .status()
            .is_ok_and(|s| s.success());
        if !made || Command::new("ssh-agent").arg("-h").output().is_err() {
            return eprintln!("OpenSSH is not installed: private agent test skipped");
        }
        let mut sources = BTreeMap::new();
        sources.insert("k".to_string(), SshSource::Keys(vec![key]));
        let agents = SshAgents::start(&sources).unwrap();
        let socket = agents.socket("k").unwrap().to_path_buf();
        let listed = Command::new("ssh-add")
            .arg("-l")
            .env("SSH_AUTH_SOCK", &socket)
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&listed.stdout).contains("unit-key"));
        drop(agents);
        assert!(!socket.exists(), "the agent's directory is removed");
    }
}
