//! HTTP dates (`Last-Modified`): the three forms HTTP/1.1 accepts and Go's
//! `http.ParseTime` reads — IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850
//! (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
//! Anything else is `None`: the download then gets BuildKit's mtime for an unknown date.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The time `value` names, if it is an HTTP date at or after the Unix epoch.
pub(super) fn parse_http_date(value: &str) -> Option<SystemTime> {
    let v = value.trim();
    let (day, month, year, clock) = if let Some((_, rest)) = v.split_once(", ") {
        let parts: Vec<&str> = rest.split(' ').collect();
        match parts.as_slice() {
            // IMF-fixdate: `06 Nov 1994 08:49:37 GMT`.
            [d, m, y, t, "GMT"] if y.len() == 4 => (*d, *m, year_of(y)?, *t),
            // RFC 850: `06-Nov-94 08:49:37 GMT`.
            [dmy, t, "GMT"] => {
                let mut it = dmy.split('-');
                let (d, m, y) = (it.next()?, it.next()?, it.next()?);
                if it.next().is_some() || y.len() != 2 {
                    return None;
                }
                let yy = year_of(y)?;
                (d, m, if yy < 69 { 2000 + yy } else { 1900 + yy }, *t)
            }
            _ => return None,
        }
    } else {
        // asctime: `Sun Nov  6 08:49:37 1994` (the day padded with a space).
        let parts: Vec<&str> = v.split(' ').filter(|p| !p.is_empty()).collect();
        match parts.as_slice() {
            [_, m, d, t, y] if y.len() == 4 => (*d, *m, year_of(y)?, *t),
            _ => return None,
        }
    };
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let day: i64 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let secs = seconds_of_day(clock)?;
    let total = days_from_civil(year, month, day) * 86_400 + secs;
    u64::try_from(total)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// A year of digits only.
fn year_of(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `hh:mm:ss` as seconds since midnight.
fn seconds_of_day(clock: &str) -> Option<i64> {
    let mut it = clock.split(':');
    let mut field = |max: i64| -> Option<i64> {
        let f = it.next()?;
        if f.len() != 2 {
            return None;
        }
        f.parse::<i64>().ok().filter(|n| (0..=max).contains(n))
    };
    let (h, m, s) = (field(23)?, field(59)?, field(60)?);
    if it.next().is_some() {
        return None;
    }
    Some(h * 3600 + m * 60 + s)
}

/// Days from 1970-01-01 to (`year`, `month`, `day`), proleptic Gregorian.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(v: &str) -> Option<u64> {
        parse_http_date(v).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs())
    }

    #[test]
    fn reads_the_three_forms() {
        assert_eq!(secs("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(secs("Sunday, 06-Nov-94 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(secs("Sun Nov  6 08:49:37 1994"), Some(784_111_777));
        assert_eq!(secs("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(secs("Wed, 21 Oct 2015 07:28:00 GMT"), Some(1_445_412_480));
        assert_eq!(secs("Tuesday, 29-Feb-00 12:00:00 GMT"), Some(951_825_600));
    }

    #[test]
    fn refuses_other_text() {
        for bad in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Wed, 31 Dec 1969 23:59:59 GMT",
            "1994-11-06T08:49:37Z",
        ] {
            assert_eq!(secs(bad), None, "{bad}");
        }
    }
}
