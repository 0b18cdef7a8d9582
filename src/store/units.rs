//! Sizes and durations as Docker's tools read and print them, for `prune`, `du` and the
//! store cap.
//!
//! - [`parse_size`]: go-units `RAMInBytes`, which docker's `--keep-storage` uses: units are
//!   1024-based whatever their spelling (`10GB` = `10GiB` = `10g` = 10 × 1024³), the `b`
//!   and `i` are optional, case does not matter, plain numbers are bytes.
//! - [`parse_duration`]: Go's `time.ParseDuration` (`24h`, `1h30m`, `1.5h`, `300ms`) plus
//!   `d` for days, as `--filter until=` takes it.
//! - [`human_size`]: go-units `HumanSize` (decimal units, four significant digits:
//!   `1.235GB`), as `docker buildx du` and `prune` print sizes.

use std::time::{Duration, SystemTime};

/// A size or duration that cannot be read; the message says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {text:?}: {expected}")]
pub struct SizeError {
    what: &'static str,
    text: String,
    expected: &'static str,
}

fn size_error(text: &str) -> SizeError {
    SizeError {
        what: "size",
        text: text.to_string(),
        expected: "expected a number of bytes with an optional unit, like 512MB, 10GB or 1.5g",
    }
}

fn duration_error(text: &str) -> SizeError {
    SizeError {
        what: "duration",
        text: text.to_string(),
        expected: "expected a duration like 24h, 90m, 1h30m or 7d",
    }
}

/// Bytes in `text`, read as docker reads `--keep-storage` (go-units `RAMInBytes`).
///
/// ```
/// use builder::store::parse_size;
/// assert_eq!(parse_size("10GB").unwrap(), 10 << 30);
/// assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
/// assert_eq!(parse_size("1.5g").unwrap(), 3 << 29);
/// assert_eq!(parse_size("4096").unwrap(), 4096);
/// ```
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    // ^(\d+(\.\d+)*) ?([kmgtp])?i?b?$, case-insensitive.
    let lower = text.to_ascii_lowercase();
    let number_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, mut rest) = lower.split_at(number_end);
    let well_formed = !number.is_empty()
        && number
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if !well_formed {
        return Err(size_error(text));
    }
    rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut multiplier: u64 = 1;
    if let Some(c) = rest.chars().next() {
        let power = match c {
            'k' => Some(1),
            'm' => Some(2),
            'g' => Some(3),
            't' => Some(4),
            'p' => Some(5),
            _ => None,
        };
        if let Some(p) = power {
            multiplier = 1u64 << (10 * p);
            rest = &rest[1..];
        }
    }
    rest = rest.strip_prefix('i').unwrap_or(rest);
    rest = rest.strip_prefix('b').unwrap_or(rest);
    if !rest.is_empty() {
        return Err(size_error(text));
    }
    // `1.2.3` matches go-units' pattern but not ParseFloat: an error there too.
    let value: f64 = number.parse().map_err(|_| size_error(text))?;
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(size_error(text));
    }
    // Go truncates: int64(size).
    Ok(bytes as u64)
}

/// The length of `text`, read as Go's `time.ParseDuration` with `d` (24h) added; negative
/// durations are refused.
///
/// ```
/// use std::time::Duration;
/// use builder::store::parse_duration;
/// assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86_400));
/// assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5_400));
/// assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, SizeError> {
    let mut s = text.strip_prefix('+').unwrap_or(text);
    if s.starts_with('-') {
        return match s.trim_start_matches('-') {
            "0" => Ok(Duration::ZERO),
            _ => Err(SizeError {
                what: "duration",
                text: text.to_string(),
                expected: "a duration cannot be negative",
            }),
        };
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(duration_error(text));
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let int_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (int, rest) = s.split_at(int_end);
        let (frac, rest) = match rest.strip_prefix('.') {
            Some(r) => {
                let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
                r.split_at(end)
            }
            None => ("", rest),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(duration_error(text));
        }
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let (unit, rest) = rest.split_at(unit_end);
        let nanos_per: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            _ => return Err(duration_error(text)),
        };
        let whole: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| duration_error(text))?
        };
        let mut part = whole
            .checked_mul(nanos_per)
            .ok_or_else(|| duration_error(text))?;
        // The fraction, exactly: digits × unit / 10^digits (digits past 30 add nothing).
        let frac = &frac[..frac.len().min(30)];
        if !frac.is_empty() {
            let digits: u128 = frac.parse().map_err(|_| duration_error(text))?;
            let scale = 10u128.pow(frac.len() as u32);
            part += digits.saturating_mul(nanos_per) / scale;
        }
        total = total
            .checked_add(part)
            .filter(|t| *t <= i64::MAX as u128)
            .ok_or_else(|| duration_error(text))?;
        s = rest;
    }
    Ok(Duration::from_nanos(total as u64))
}

/// `size` in go-units `HumanSize` form: decimal units, four significant digits
/// (`0B`, `512B`, `2.048kB`, `1.235GB`).
pub fn human_size(size: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut value = size as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    // Go's %.4g: four significant digits, trailing zeros dropped.
    let exponent = if value == 0.0 {
        0
    } else {
        let sci = format!("{value:.3e}");
        sci.split_once('e')
            .and_then(|(_, e)| e.parse::<i32>().ok())
            .unwrap_or(0)
    };
    let decimals = (3 - exponent).max(0) as usize;
    let mut text = format!("{value:.decimals$}");
    if text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{text}{}", UNITS.get(unit).copied().unwrap_or("B"))
}

/// How long ago `when` was, in Docker's words (`5 minutes ago`).
pub fn human_ago(when: SystemTime, now: SystemTime) -> String {
    let secs = when
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    crate::image::time::human_age(&crate::image::time::format_unix(secs, 0), now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_read_as_docker_reads_keep_storage() {
        let gib = 1u64 << 30;
        for (text, bytes) in [
            ("0", 0),
            ("4096", 4096),
            ("100b", 100),
            ("10GB", 10 * gib),
            ("10gb", 10 * gib),
            ("10G", 10 * gib),
            ("10GiB", 10 * gib),
            ("10 GB", 10 * gib),
            ("10 ", 10),
            ("1.5g", gib + gib / 2),
            ("512MiB", 512 << 20),
            ("100mb", 100 << 20),
            ("2k", 2048),
            ("1tb", 1 << 40),
            ("1P", 1 << 50),
            ("0.5kb", 512),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for bad in [
            "", "GB", "-1", "1.2.3", " 10", "10  GB", "10XB", "1e3", "10GBs", ".5g", "5.g", "1ZB",
        ] {
            let err = parse_size(bad).unwrap_err();
            assert!(err.to_string().starts_with("invalid size"), "{bad}: {err}");
        }
        assert!(parse_size("99999999P").is_err());
    }

    #[test]
    fn durations_are_read_as_go_reads_them_plus_days() {
        let s = Duration::from_secs;
        for (text, d) in [
            ("0", Duration::ZERO),
            ("-0", Duration::ZERO),
            ("24h", s(86_400)),
            ("72h", s(259_200)),
            ("10m", s(600)),
            ("1h30m", s(5_400)),
            ("1.5h", s(5_400)),
            ("+2s", s(2)),
            (".5s", Duration::from_millis(500)),
            ("5.s", s(5)),
            ("300ms", Duration::from_millis(300)),
            ("1us", Duration::from_micros(1)),
            ("1\u{b5}s", Duration::from_micros(1)),
            ("1\u{3bc}s", Duration::from_micros(1)),
            ("7ns", Duration::from_nanos(7)),
            ("2d", s(172_800)),
            ("1d12h", s(129_600)),
            ("0.000000001s", Duration::from_nanos(1)),
        ] {
            assert_eq!(parse_duration(text), Ok(d), "{text}");
        }
        for bad in ["", "24", "h", "1x", "1h 30m", ".s", "-1h", "1.2.3h", "3w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("999999999999h").is_err());
        let err = parse_duration("-5m").unwrap_err().to_string();
        assert!(err.contains("negative"), "{err}");
    }

    #[test]
    fn sizes_print_like_go_units_human_size() {
        for (bytes, text) in [
            (0, "0B"),
            (1, "1B"),
            (999, "999B"),
            (1000, "1kB"),
            (2048, "2.048kB"),
            (123_456, "123.5kB"),
            (1_234_567, "1.235MB"),
            (45_600_000, "45.6MB"),
            (999_960, "1000kB"),
            (1_234_567_890, "1.235GB"),
            (7_000_000_000, "7GB"),
        ] {
            assert_eq!(human_size(bytes), text, "{bytes}");
        }
    }

    #[test]
    fn ages_read_like_docker() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(
            human_ago(now - Duration::from_secs(300), now),
            "5 minutes ago"
        );
        assert_eq!(human_ago(now, now), "Less than a second ago");
    }
}
