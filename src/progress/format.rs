//! Text shared by the displays: times and sizes as BuildKit writes them, timestamps for
//! machine-read output, and terminal-safe copies of process output.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since a vertex started, as BuildKit prefixes a log line: three decimals under
/// 10 s, two under 100 s, one above (`0.132`, `12.05`, `153.2`).
///
/// ```
/// use std::time::Duration;
/// use builder::progress::log_time;
/// assert_eq!(log_time(Duration::from_millis(132)), "0.132");
/// assert_eq!(log_time(Duration::from_millis(12_050)), "12.05");
/// assert_eq!(log_time(Duration::from_millis(153_240)), "153.2");
/// ```
pub fn log_time(at: Duration) -> String {
    let secs = at.as_secs_f64();
    if secs < 10.0 {
        format!("{secs:.3}")
    } else if secs < 100.0 {
        format!("{secs:.2}")
    } else {
        format!("{secs:.1}")
    }
}

/// A byte count as BuildKit prints transfers: decimal units with two decimals, plain bytes
/// below 1 kB (`512B`, `1.21kB`, `45.60MB`).
///
/// ```
/// use builder::progress::bytes;
/// assert_eq!(bytes(512), "512B");
/// assert_eq!(bytes(1_210), "1.21kB");
/// assert_eq!(bytes(45_600_000), "45.60MB");
/// ```
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 1000 {
        return format!("{n}B");
    }
    let mut unit = 0;
    let mut base = 1u64;
    while unit + 1 < UNITS.len() && n / base >= 1000 {
        base *= 1000;
        unit += 1;
    }
    let value = n as f64 / base as f64;
    format!("{value:.2}{}", UNITS.get(unit).copied().unwrap_or("B"))
}

/// A duration in seconds with one decimal (`1.2s`), as `DONE 1.2s` shows it.
pub fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// `t` in UTC as RFC 3339 with microseconds (`2026-11-22T18:30:24.123456Z`): fixed width,
/// so lines sort and align.
pub fn utc_micros(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    let base = crate::image::time::format_unix(secs, 0);
    let stem = base.strip_suffix('Z').unwrap_or(&base);
    format!("{stem}.{:06}Z", d.subsec_micros())
}

/// `text` made safe to draw on a terminal line: tabs become spaces, other control
/// characters (escape sequences, carriage returns, bells) are dropped, so a process's
/// output cannot move the cursor or recolour the display.
pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\t' => out.push_str("    "),
            '\x1b' => skip_escape(&mut chars),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Skip the rest of an escape sequence (CSI `ESC [ ... final`, OSC `ESC ] ... BEL|ST`, or
/// a two-character one).
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => {
            for c in chars.by_ref() {
                if ('\x40'..='\x7e').contains(&c) {
                    break;
                }
            }
        }
        Some(']') => {
            while let Some(c) = chars.next() {
                if c == '\x07' {
                    break;
                }
                if c == '\x1b' {
                    if chars.peek() == Some(&'\\') {
                        chars.next();
                    }
                    break;
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_buildkit_units() {
        assert_eq!(bytes(0), "0B");
        assert_eq!(bytes(999), "999B");
        assert_eq!(bytes(1000), "1.00kB");
        assert_eq!(bytes(12_345_678), "12.35MB");
        assert_eq!(bytes(u64::MAX), "18.45EB");
    }

    #[test]
    fn log_times_narrow_as_they_grow() {
        assert_eq!(log_time(Duration::ZERO), "0.000");
        assert_eq!(log_time(Duration::from_secs(99)), "99.00");
        assert_eq!(secs(Duration::from_millis(1250)), "1.2s");
    }

    #[test]
    fn utc_times_have_microseconds() {
        let t = UNIX_EPOCH + Duration::new(1_795_372_224, 123_456_789);
        assert_eq!(utc_micros(t), "2026-11-22T18:30:24.123456Z");
        assert_eq!(utc_micros(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        assert_eq!(
            terminal_safe("a\tb\x1b[31mred\x1b[0m\r\x07c\x1b]0;title\x07d\x1b]8;;x\x1b\\e"),
            "a    bredcde"
        );
        assert_eq!(terminal_safe("trailing \x1b"), "trailing ");
    }
}
