//! Timestamps in image configs: RFC 3339 with nanoseconds, UTC, trailing zeros trimmed —
//! the form Go's `time.RFC3339Nano` gives and BuildKit writes (`2024-01-02T03:04:05.5Z`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 -> (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) -> days since 1970-01-01.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Format seconds (and nanoseconds) since the Unix epoch.
///
/// ```
/// use builder::image::time::format_unix;
/// assert_eq!(format_unix(0, 0), "1970-01-01T00:00:00Z");
/// assert_eq!(format_unix(1_704_164_645, 500_000_000), "2024-01-02T03:04:05.5Z");
/// ```
pub fn format_unix(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if nanos > 0 && nanos < 1_000_000_000 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Format a system time (times before 1970 are clamped to the epoch).
pub fn format_system_time(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    format_unix(
        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        d.subsec_nanos(),
    )
}

/// Now, formatted.
pub fn now() -> String {
    format_system_time(SystemTime::now())
}

/// Parse an RFC 3339 time (`Z` or `±hh:mm` offset, optional fraction) into seconds and
/// nanoseconds since the Unix epoch; `None` if malformed.
pub fn parse_rfc3339(s: &str) -> Option<(i64, u32)> {
    let num = |a: usize, b: usize| -> Option<i64> {
        let t = s.get(a..b)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let sep = |i: usize, c: u8| s.as_bytes().get(i) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    if !matches!(s.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, min, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded = format!("{:0<9}", frac.get(..digits.min(9))?);
        nanos = padded.parse().ok()?;
        rest = frac.get(digits..)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes().get(3) != Some(&b':') {
                return None;
            }
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month as u32, day as u32);
    Some((days * 86_400 + hour * 3600 + min * 60 + sec - offset, nanos))
}

/// How long ago `created` was, in Docker's words (`5 minutes ago`); `""` if unparsable.
pub fn human_age(created: &str, now: SystemTime) -> String {
    let Some((secs, _)) = parse_rfc3339(created) else {
        return String::new();
    };
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let age = Duration::from_secs(u64::try_from(now - secs).unwrap_or(0)).as_secs();
    let (m, h, d) = (60, 3600, 86_400);
    let text = match age {
        0 => "Less than a second".to_string(),
        1 => "1 second".to_string(),
        a if a < m => format!("{a} seconds"),
        a if a < 2 * m => "About a minute".to_string(),
        a if a < h => format!("{} minutes", a / m),
        a if a < 2 * h => "About an hour".to_string(),
        a if a < 2 * d => format!("{} hours", a / h),
        a if a < 7 * 2 * d => format!("{} days", a / d),
        a if a < 30 * 3 * d => format!("{} weeks", a / (7 * d)),
        a if a < 365 * 2 * d => format!("{} months", a / (30 * d)),
        a => format!("{} years", a / (365 * d)),
    };
    format!("{text} ago")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_parse_round_trip() {
        for (secs, nanos, text) in [
            (0, 0, "1970-01-01T00:00:00Z"),
            (951_782_400, 0, "2000-02-29T00:00:00Z"),
            (1_704_164_645, 123_456_789, "2024-01-02T03:04:05.123456789Z"),
            (1_704_164_645, 120_000_000, "2024-01-02T03:04:05.12Z"),
            (4_102_444_799, 0, "2099-12-31T23:59:59Z"),
        ] {
            assert_eq!(format_unix(secs, nanos), text);
            assert_eq!(parse_rfc3339(text), Some((secs, nanos)), "{text}");
        }
    }

    #[test]
    fn parse_offsets_and_rejects_garbage() {
        assert_eq!(
            parse_rfc3339("2024-01-02T05:04:05+02:00"),
            parse_rfc3339("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            parse_rfc3339("2024-01-02T03:04:05.5-00:30").map(|t| t.1),
            Some(500_000_000)
        );
        for bad in [
            "",
            "2024-01-02",
            "2024-13-02T03:04:05Z",
            "2024-01-02T03:04:05",
            "x024-01-02T03:04:05Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn human_ages() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let ago = |s: i64| human_age(&format_unix(1_000_000_000 - s, 0), now);
        assert_eq!(ago(0), "Less than a second ago");
        assert_eq!(ago(30), "30 seconds ago");
        assert_eq!(ago(90), "About a minute ago");
        assert_eq!(ago(600), "10 minutes ago");
        assert_eq!(ago(3 * 3600), "3 hours ago");
        assert_eq!(ago(3 * 86_400), "3 days ago");
        assert_eq!(ago(21 * 86_400), "3 weeks ago");
        assert_eq!(human_age("garbage", now), "");
    }
}
