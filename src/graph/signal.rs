//! STOPSIGNAL validation as moby's `signal.ParseSignal` does it on Linux: a non-zero number,
//! or a signal name with or without `SIG`, in any case.

const NAMES: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
    "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX",
];

/// Ok when `raw` names a signal; the error is moby's `invalid signal: X`.
pub(super) fn parse_signal(raw: &str) -> Result<(), String> {
    let invalid = || format!("invalid signal: {raw}");
    let digits = raw.strip_prefix(['+', '-']).unwrap_or(raw);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match raw.parse::<i64>() {
            Ok(0) | Err(_) => Err(invalid()),
            Ok(_) => Ok(()),
        };
    }
    let upper = raw.to_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if NAMES.contains(&name) || realtime(name) {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// `RTMIN+1` ... `RTMIN+15`, `RTMAX-14` ... `RTMAX-1`.
fn realtime(name: &str) -> bool {
    let n = |s: &str| s.parse::<u32>().ok().filter(|n| (1..=15).contains(n));
    if let Some(rest) = name.strip_prefix("RTMIN+") {
        return n(rest).is_some();
    }
    if let Some(rest) = name.strip_prefix("RTMAX-") {
        return n(rest).is_some_and(|v| v <= 14);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        for ok in ["SIGTERM", "term", "SigKill", "9", "RTMIN+3", "SIGRTMAX-2"] {
            assert!(parse_signal(ok).is_ok(), "{ok}");
        }
        for bad in ["0", "SIGNOPE", "", "RTMIN+16"] {
            assert_eq!(
                parse_signal(bad).unwrap_err(),
                format!("invalid signal: {bad}")
            );
        }
    }
}
