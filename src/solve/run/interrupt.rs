//! Ctrl-C while RUN commands run: [`InterruptGuard`] makes SIGINT, SIGTERM and SIGHUP end
//! the running sandboxes (the step fails and cleans up: unmounts, discards its snapshot)
//! instead of killing the process, and puts the previous dispositions back afterwards.
//!
//! Stages run in parallel, so RUN commands overlap: the guard is counted process-wide. The
//! first guard (0 -> 1) saves the dispositions and installs the handler; the last one to go
//! (1 -> 0) restores what it saved. A RUN that ends while another runs changes nothing.

use std::sync::{Mutex, PoisonError};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

use crate::sandbox;

/// The signals that interrupt a build.
const SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// What the signals did before the first guard (`None`: could not be read; the default).
type Saved = [Option<SigAction>; 3];

/// Guards alive in this process, and what to restore when the last one goes.
static GUARDS: Counted<Saved> = Counted::new();

/// While alive, an interrupting signal ends the running sandboxes (see the module docs).
pub(super) struct InterruptGuard(());

impl InterruptGuard {
    /// Install the handler unless another guard already did.
    pub(super) fn new() -> InterruptGuard {
        GUARDS.acquire(install);
        InterruptGuard(())
    }
}

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        GUARDS.release(restore);
    }
}

/// Save the current dispositions and install the interrupting handler.
fn install() -> Saved {
    // Reading a disposition means replacing it: ignored for the moment until the handler
    // goes in just below.
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    let saved = SIGNALS.map(|sig| {
        // SAFETY: ignoring a signal installs no code.
        unsafe { sigaction(sig, &ignore) }.ok()
    });
    sandbox::interrupt_on_signals();
    saved
}

/// Put back what [`install`] saved.
fn restore(saved: Saved) {
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for (sig, old) in SIGNALS.into_iter().zip(saved) {
        // SAFETY: a disposition this process had before (or the default).
        let _ = unsafe { sigaction(sig, &old.unwrap_or(default)) };
    }
}

/// A process-wide holder count: `acquire` runs its `install` on 0 -> 1 and keeps what it
/// returns; `release` hands that to its `restore` on 1 -> 0. Both run under the lock, so an
/// install never overlaps a restore.
struct Counted<S> {
    state: Mutex<(usize, Option<S>)>,
}

impl<S> Counted<S> {
    const fn new() -> Counted<S> {
        Counted {
            state: Mutex::new((0, None)),
        }
    }

    fn acquire(&self, install: impl FnOnce() -> S) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.0 == 0 {
            state.1 = Some(install());
        }
        state.0 += 1;
    }

    fn release(&self, restore: impl FnOnce(S)) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 = state.0.saturating_sub(1);
        if state.0 == 0 {
            if let Some(saved) = state.1.take() {
                restore(saved);
            }
        }
    }

    #[cfg(test)]
    fn holders(&self) -> usize {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    use super::*;

    #[test]
    fn only_the_first_installs_and_only_the_last_restores() {
        let counted = Counted::new();
        let (installs, restores) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let install = || installs.fetch_add(1, Ordering::SeqCst) + 100;
        let restore = |saved: usize| {
            assert_eq!(saved, 100, "what the first install saved");
            restores.fetch_add(1, Ordering::SeqCst);
        };
        counted.acquire(install);
        counted.acquire(install);
        counted.release(restore);
        // One RUN ended while the other still runs: nothing restored.
        assert_eq!(restores.load(Ordering::SeqCst), 0);
        counted.acquire(install);
        counted.release(restore);
        counted.release(restore);
        assert_eq!(installs.load(Ordering::SeqCst), 1);
        assert_eq!(restores.load(Ordering::SeqCst), 1);
        // A new round installs again, with what it saves now.
        counted.acquire(|| 200);
        counted.release(|saved| assert_eq!(saved, 200));
        assert_eq!(counted.holders(), 0);
    }

    #[test]
    fn overlapping_holders_on_threads_install_once_per_busy_period() {
        let counted = Arc::new(Counted::new());
        let active = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(8));
        std::thread::scope(|s| {
            for _ in 0..8 {
                let (counted, active, start) = (&counted, &active, &start);
                s.spawn(move || {
                    start.wait();
                    for _ in 0..200 {
                        counted.acquire(|| assert_eq!(active.fetch_add(1, Ordering::SeqCst), 0));
                        // While held, the handler is installed exactly once.
                        assert_eq!(active.load(Ordering::SeqCst), 1);
                        counted.release(|()| {
                            assert_eq!(active.fetch_sub(1, Ordering::SeqCst), 1);
                        });
                    }
                });
            }
        });
        assert_eq!(counted.holders(), 0);
        assert_eq!(active.load(Ordering::SeqCst), 0);
    }

    /// Set in the child process of [`real_signals_in_a_child_process`].
    const CHILD: &str = "BUILDER_INTERRUPT_GUARD_CHILD";

    /// Real signals, sent in a child process (this test binary again, running only
    /// [`interrupt_guard_child`]) so the test process keeps its own dispositions.
    #[test]
    #[cfg(target_os = "linux")]
    fn real_signals_in_a_child_process() {
        use std::os::unix::process::ExitStatusExt;
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "solve::run::interrupt::tests::interrupt_guard_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("survived SIGINT"), "{stdout}");
        assert!(stdout.contains("SIGHUP still ignored"), "{stdout}");
        // The last guard gone, SIGINT has its default effect again: the child dies of it.
        assert_eq!(out.status.signal(), Some(nix::libc::SIGINT), "{stdout}");
    }

    /// The child's side of [`real_signals_in_a_child_process`]; does nothing unless run as
    /// that child.
    #[test]
    #[ignore]
    #[cfg(target_os = "linux")]
    fn interrupt_guard_child() {
        if std::env::var_os(CHILD).is_none() {
            return;
        }
        let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        // As under nohup: SIGHUP ignored before any RUN.
        unsafe { sigaction(Signal::SIGHUP, &ignore) }.unwrap();
        let first = InterruptGuard::new();
        let second = InterruptGuard::new();
        drop(first);
        // The other RUN still runs: Ctrl-C interrupts it rather than killing the process.
        nix::sys::signal::raise(Signal::SIGINT).unwrap();
        assert!(sandbox::interrupted());
        println!("survived SIGINT");
        drop(second);
        let hup = unsafe { sigaction(Signal::SIGHUP, &ignore) }.unwrap();
        assert!(matches!(hup.handler(), SigHandler::SigIgn));
        println!("SIGHUP still ignored");
        nix::sys::signal::raise(Signal::SIGINT).unwrap();
        println!("not reached: SIGINT has its default effect");
    }
}
