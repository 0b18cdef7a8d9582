//! Go's text formatting, reproduced where BuildKit writes history with `fmt.Sprintf`:
//! `%q` of a string slice (`CMD ["sh" "-c" "x"]`), `%v` of a string slice (`VOLUME [/a /b]`),
//! and `time.Duration.String()` (`1m30s`) inside `HEALTHCHECK {Test:[...] Interval:30s ...}`.

use crate::domain::config::Healthcheck;

/// `strconv.Quote`: the parser's implementation, which the conformance corpus checks.
pub use crate::dockerfile::dump::go_quote as quote;

/// `fmt.Sprintf("%q", []string{...})`: `["a" "b"]`.
pub fn quote_slice(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// `fmt.Sprintf("%v", []string{...})`: `[a b]`.
pub fn slice(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// `fmt.Sprintf("%+v", healthcheck)`: `{Test:[CMD true] Interval:30s Timeout:0s ... Retries:3}`.
pub fn healthcheck(h: &Healthcheck) -> String {
    format!(
        "{{Test:{} Interval:{} Timeout:{} StartPeriod:{} StartInterval:{} Retries:{}}}",
        slice(&h.test),
        duration(nanos(h.interval)),
        duration(nanos(h.timeout)),
        duration(nanos(h.start_period)),
        duration(nanos(h.start_interval)),
        h.retries
    )
}

/// A duration of the image config as the planner reads it (a negative one is 0).
fn nanos(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// `time.Duration(nanos).String()`: `0s`, `500ms`, `1.5s`, `1m30s`, `1h0m0s`.
pub fn duration(nanos: u64) -> String {
    const MICRO: u64 = 1_000;
    const MILLI: u64 = 1_000_000;
    const SECOND: u64 = 1_000_000_000;
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < SECOND {
        let (unit, prec) = if nanos < MICRO {
            ("ns", 0)
        } else if nanos < MILLI {
            ("µs", 3)
        } else {
            ("ms", 6)
        };
        let (int, frac) = split_frac(nanos, prec);
        return format!("{int}{frac}{unit}");
    }
    let (secs, frac) = split_frac(nanos, 9);
    let s = secs % 60;
    let mins = secs / 60;
    if mins == 0 {
        return format!("{s}{frac}s");
    }
    let m = mins % 60;
    let hours = mins / 60;
    if hours == 0 {
        return format!("{m}m{s}{frac}s");
    }
    format!("{hours}h{m}m{s}{frac}s")
}

/// Integer part of `v / 10^prec` and its fraction as `.123` without trailing zeros (empty
/// when zero), as Go's `fmtFrac`.
fn split_frac(v: u64, prec: u32) -> (u64, String) {
    let scale = 10u64.pow(prec);
    let int = v / scale;
    let mut frac = v % scale;
    if frac == 0 {
        return (int, String::new());
    }
    let mut digits = prec as usize;
    while frac % 10 == 0 {
        frac /= 10;
        digits -= 1;
    }
    (int, format!(".{frac:0digits$}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_matches_strconv() {
        assert_eq!(quote("echo hi"), "\"echo hi\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("l1\nl2\t"), "\"l1\\nl2\\t\"");
        assert_eq!(quote("\u{1}"), "\"\\x01\"");
        assert_eq!(quote("héllo"), "\"héllo\"");
        assert_eq!(quote("\u{a0}"), "\"\\u00a0\"");
    }

    #[test]
    fn slices_format_like_fmt() {
        let v = vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            "echo hi".to_string(),
        ];
        assert_eq!(quote_slice(&v), r#"["/bin/sh" "-c" "echo hi"]"#);
        assert_eq!(slice(&v), "[/bin/sh -c echo hi]");
        assert_eq!(quote_slice(&[]), "[]");
    }

    #[test]
    fn durations_format_like_go() {
        let s = 1_000_000_000;
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(30 * s), "30s");
        assert_eq!(duration(90 * s), "1m30s");
        assert_eq!(duration(3600 * s), "1h0m0s");
        assert_eq!(duration(1_500_000_000), "1.5s");
        assert_eq!(duration(500_000_000), "500ms");
        assert_eq!(duration(1_500_000), "1.5ms");
        assert_eq!(duration(2_000), "2µs");
        assert_eq!(duration(7), "7ns");
        assert_eq!(duration(3723 * s + 50_000_000), "1h2m3.05s");
    }
}
