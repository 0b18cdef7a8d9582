//! Locking shared state the same way everywhere: a mutex whose holder panicked is still
//! usable. Its data was left as the panicking thread left it; every user here keeps data a
//! half-done update cannot make unsafe (progress lines, cache bookkeeping, tokens), and one
//! panicking worker must not stop the others from reporting or cleaning up.

use std::sync::{Mutex, MutexGuard};

/// Lock `m`, taking the guard even when a thread panicked while holding it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_mutex_is_still_locked_and_read() {
        let m = std::sync::Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let mut g = m2.lock().unwrap();
            *g = 2;
            panic!("poison it");
        })
        .join();
        assert!(m.is_poisoned());
        assert_eq!(*lock(&m), 2);
    }
}
