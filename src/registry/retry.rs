//! When and how often a registry request is tried again: connection failures, dropped
//! bodies, `5xx` and `429` answers are retried with exponential backoff; everything else
//! fails at once.

use std::time::Duration;

/// How many times one request is tried in all.
pub const ATTEMPTS: u32 = 5;

/// The first wait; each later wait doubles, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The wait before attempt `attempt` (1 = the first retry).
pub fn backoff(attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(8);
    FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Sleep before retry `attempt`.
pub fn pause(attempt: u32) {
    std::thread::sleep(backoff(attempt));
}

/// Whether an answer with `status` is worth trying again.
pub fn retryable_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status) && status != 501 && status != 505
}

/// Whether a transport error is worth trying again (the connection, not the request, was at
/// fault).
pub fn retryable_error(e: &reqwest::Error) -> bool {
    !e.is_builder() && !e.is_redirect() && !e.is_decode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(2), Duration::from_millis(400));
        assert_eq!(backoff(4), Duration::from_millis(1600));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }

    #[test]
    fn which_statuses_are_retried() {
        for s in [500, 502, 503, 504, 429] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 501, 505] {
            assert!(!retryable_status(s), "{s}");
        }
    }
}
