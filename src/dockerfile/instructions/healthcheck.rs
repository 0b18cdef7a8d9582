//! HEALTHCHECK: `NONE`, or `CMD` in shell or exec form with `--interval`, `--timeout`,
//! `--start-period`, `--start-interval` and `--retries`, validated as BuildKit's
//! `parseHealthcheck` does (Go durations, at least 1ms unless 0; retries not negative).

use std::time::Duration;

use crate::dockerfile::ast::{Node, Span};
use crate::dockerfile::error::ParseError;

use super::bflag::{FlagId, FlagSet, Flags};
use super::common::{at_least_one, err_at, handle_json_args, values};
use super::duration::parse_go_duration;

/// `HEALTHCHECK [flags] CMD ...` or `HEALTHCHECK NONE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthcheckCommand {
    /// The health config to store in the image.
    pub health: HealthConfig,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

/// Docker's health config. Zero durations and retries mean "not set" (the runtime applies
/// its defaults) and are omitted from the image config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HealthConfig {
    /// `["NONE"]`, `["CMD", exe, args...]` (exec form) or `["CMD-SHELL", text]`.
    pub test: Vec<String>,
    /// `--interval`.
    pub interval: Duration,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--start-period`.
    pub start_period: Duration,
    /// `--start-interval`.
    pub start_interval: Duration,
    /// `--retries`.
    pub retries: u32,
}

/// A duration flag: empty or zero gives zero, otherwise at least 1ms.
fn interval(flags: &Flags, id: FlagId, name: &str) -> Result<Duration, String> {
    let s = flags.string(id);
    if s.is_empty() {
        return Ok(Duration::ZERO);
    }
    let ns = parse_go_duration(s)?;
    if ns == 0 {
        return Ok(Duration::ZERO);
    }
    if ns < 1_000_000 {
        return Err(format!("Interval {name:?} cannot be less than 1ms"));
    }
    Ok(Duration::from_nanos(ns.unsigned_abs()))
}

/// `strconv.ParseInt(s, 10, 32)` with Go's error texts.
fn parse_int32(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.ParseInt: parsing {s:?}: invalid syntax"));
    }
    match s.parse::<i64>() {
        Ok(v) if i32::try_from(v).is_ok() => Ok(v),
        _ => Err(format!(
            "strconv.ParseInt: parsing {s:?}: value out of range"
        )),
    }
}

pub(crate) fn parse_healthcheck(node: &Node) -> Result<HealthcheckCommand, ParseError> {
    let args = values(node);
    let Some((first, rest)) = args.split_first() else {
        return Err(err_at(node, at_least_one("HEALTHCHECK")));
    };
    let kind = first.to_uppercase();
    let health = if kind == "NONE" {
        // BuildKit does not look at the flags of HEALTHCHECK NONE.
        if !rest.is_empty() {
            return Err(err_at(node, "HEALTHCHECK NONE takes no arguments"));
        }
        HealthConfig {
            test: vec![kind],
            ..HealthConfig::default()
        }
    } else {
        parse_cmd(node, kind, rest.to_vec()).map_err(|e| err_at(node, e))?
    };
    Ok(HealthcheckCommand {
        health,
        span: node.span,
        original: node.original.trim().to_string(),
    })
}

fn parse_cmd(node: &Node, kind: String, rest: Vec<String>) -> Result<HealthConfig, String> {
    let mut fs = FlagSet::new(&node.flags);
    let f_interval = fs.string("interval", "");
    let f_timeout = fs.string("timeout", "");
    let f_start_period = fs.string("start-period", "");
    let f_start_interval = fs.string("start-interval", "");
    let f_retries = fs.string("retries", "");
    let flags = fs.parse()?;

    if kind != "CMD" {
        return Err(format!("Unknown type {kind:?} in HEALTHCHECK (try CMD)"));
    }
    let cmd = handle_json_args(rest, node.json);
    if cmd.is_empty() {
        return Err("Missing command after HEALTHCHECK CMD".to_string());
    }
    let head = if node.json { "CMD" } else { "CMD-SHELL" };
    let mut test = vec![head.to_string()];
    test.extend(cmd);

    let mut health = HealthConfig {
        test,
        interval: interval(&flags, f_interval, "interval")?,
        timeout: interval(&flags, f_timeout, "timeout")?,
        start_period: interval(&flags, f_start_period, "start-period")?,
        start_interval: interval(&flags, f_start_interval, "start-interval")?,
        retries: 0,
    };
    let retries = flags.string(f_retries);
    if !retries.is_empty() {
        let n = parse_int32(retries)?;
        if n < 0 {
            return Err(format!("--retries cannot be negative ({n})"));
        }
        health.retries = u32::try_from(n).unwrap_or(0);
    }
    Ok(health)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::instructions::test_support::{json_node, node};

    fn hc(flags: &[&str], args: &[&str]) -> Result<HealthConfig, String> {
        parse_healthcheck(&node("healthcheck", flags, args, 1))
            .map(|h| h.health)
            .map_err(|e| e.message)
    }

    #[test]
    fn none() {
        assert_eq!(hc(&[], &["NONE"]).unwrap().test, ["NONE"]);
        assert_eq!(hc(&[], &["none"]).unwrap().test, ["NONE"]);
        // Flags of NONE are not looked at.
        assert!(hc(&["--bogus=1"], &["NONE"]).is_ok());
        assert_eq!(
            hc(&[], &["NONE", "x"]).unwrap_err(),
            "HEALTHCHECK NONE takes no arguments"
        );
    }

    #[test]
    fn cmd_forms() {
        let h = hc(&[], &["CMD", "curl -f http://localhost/"]).unwrap();
        assert_eq!(h.test, ["CMD-SHELL", "curl -f http://localhost/"]);
        assert_eq!(h.interval, Duration::ZERO);
        assert_eq!(h.retries, 0);
        let h = parse_healthcheck(&json_node("healthcheck", &[], &["cmd", "curl", "-f"], 1))
            .unwrap()
            .health;
        assert_eq!(h.test, ["CMD", "curl", "-f"]);
        assert_eq!(
            hc(&[], &["CMD"]).unwrap_err(),
            "Missing command after HEALTHCHECK CMD"
        );
        assert_eq!(
            hc(&[], &[]).unwrap_err(),
            "HEALTHCHECK requires at least one argument"
        );
        assert_eq!(
            hc(&[], &["CMDX", "x"]).unwrap_err(),
            "Unknown type \"CMDX\" in HEALTHCHECK (try CMD)"
        );
    }

    #[test]
    fn all_flags() {
        let h = hc(
            &[
                "--interval=5m",
                "--timeout=3s",
                "--start-period=1m30s",
                "--start-interval=500ms",
                "--retries=4",
            ],
            &["CMD", "true"],
        )
        .unwrap();
        assert_eq!(h.interval, Duration::from_secs(300));
        assert_eq!(h.timeout, Duration::from_secs(3));
        assert_eq!(h.start_period, Duration::from_secs(90));
        assert_eq!(h.start_interval, Duration::from_millis(500));
        assert_eq!(h.retries, 4);
        let h = hc(&["--interval=0s", "--retries=0"], &["CMD", "true"]).unwrap();
        assert_eq!((h.interval, h.retries), (Duration::ZERO, 0));
    }

    #[test]
    fn flag_errors() {
        assert_eq!(
            hc(&["--interval=1"], &["CMD", "x"]).unwrap_err(),
            "time: missing unit in duration \"1\""
        );
        assert_eq!(
            hc(&["--timeout=500us"], &["CMD", "x"]).unwrap_err(),
            "Interval \"timeout\" cannot be less than 1ms"
        );
        assert_eq!(
            hc(&["--start-period=-5s"], &["CMD", "x"]).unwrap_err(),
            "Interval \"start-period\" cannot be less than 1ms"
        );
        assert_eq!(
            hc(&["--start-interval=x"], &["CMD", "x"]).unwrap_err(),
            "time: invalid duration \"x\""
        );
        assert_eq!(
            hc(&["--retries=-1"], &["CMD", "x"]).unwrap_err(),
            "--retries cannot be negative (-1)"
        );
        assert_eq!(
            hc(&["--retries=abc"], &["CMD", "x"]).unwrap_err(),
            "strconv.ParseInt: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            hc(&["--retries=3000000000"], &["CMD", "x"]).unwrap_err(),
            "strconv.ParseInt: parsing \"3000000000\": value out of range"
        );
        assert_eq!(
            hc(&["--intervall=1s"], &["CMD", "x"]).unwrap_err(),
            "unknown flag: --intervall (did you mean interval?)"
        );
        // Flags are checked before the type, as in BuildKit.
        assert_eq!(
            hc(&["--nope=1"], &["FOO", "x"]).unwrap_err(),
            "unknown flag: --nope"
        );
    }
}
