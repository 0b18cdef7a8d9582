//! Ending every process a chroot-isolated command left behind. Without a pid namespace
//! nothing dies with the command, so the helper makes itself a child subreaper before it
//! starts the command: whatever the command starts and orphans (a daemon that double
//! forks, a `sleep &`) becomes the helper's child, and [`kill_descendants`] kills and reaps
//! them all, round after round, until none is left.

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

/// Rounds of killing before giving up on a command that forks faster than it dies.
const ROUNDS: usize = 1000;

/// Make this process the reaper of its orphaned descendants.
pub(super) fn become_subreaper() -> std::io::Result<()> {
    Ok(rustix::process::set_child_subreaper(Some(
        rustix::process::getpid(),
    ))?)
}

/// Kill (SIGKILL) and reap every child of this process, and the children they leave,
/// until there are none; whether none is left.
pub(super) fn kill_descendants() -> bool {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    for _ in 0..ROUNDS {
        let kids = children(me);
        if kids.is_empty() {
            return true;
        }
        for &pid in &kids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        for &pid in &kids {
            // Their own children are ours once they are gone: the next round finds them.
            let _ = waitpid(Pid::from_raw(pid), None);
        }
    }
    children(me).is_empty()
}

/// The pids whose parent is `parent`, from each process's `/proc/PID/stat`.
fn children(parent: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| parent_of(&stat))
                == Some(parent)
        })
        .collect()
}

/// The parent pid field of a `/proc/PID/stat` line (after the command name, which may
/// itself hold spaces and parentheses).
fn parent_of(stat: &str) -> Option<i32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_is_read_past_the_command_name() {
        let stat = "4242 (a (b) c) S 17 4242 4242 0 -1 4194560 100 0";
        assert_eq!(parent_of(stat), Some(17));
        assert_eq!(parent_of("garbage"), None);
    }

    #[test]
    fn children_of_this_process_are_found() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let me = std::process::id() as i32;
        let pid = child.id() as i32;
        assert!(children(me).contains(&pid));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!children(me).contains(&pid));
    }
}
