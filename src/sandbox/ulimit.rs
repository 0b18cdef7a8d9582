//! `--ulimit NAME=SOFT[:HARD]` for RUN steps, with Docker's names and syntax (go-units'
//! `ParseUlimit`): the resource limits a command starts with.

use serde::{Deserialize, Serialize};

/// Docker's ulimit names (go-units), each with its `RLIMIT_*` number.
const NAMES: [(&str, i32); 15] = [
    ("core", nix::libc::RLIMIT_CORE as i32),
    ("cpu", nix::libc::RLIMIT_CPU as i32),
    ("data", nix::libc::RLIMIT_DATA as i32),
    ("fsize", nix::libc::RLIMIT_FSIZE as i32),
    ("locks", nix::libc::RLIMIT_LOCKS as i32),
    ("memlock", nix::libc::RLIMIT_MEMLOCK as i32),
    ("msgqueue", nix::libc::RLIMIT_MSGQUEUE as i32),
    ("nice", nix::libc::RLIMIT_NICE as i32),
    ("nofile", nix::libc::RLIMIT_NOFILE as i32),
    ("nproc", nix::libc::RLIMIT_NPROC as i32),
    ("rss", nix::libc::RLIMIT_RSS as i32),
    ("rtprio", nix::libc::RLIMIT_RTPRIO as i32),
    ("rttime", nix::libc::RLIMIT_RTTIME as i32),
    ("sigpending", nix::libc::RLIMIT_SIGPENDING as i32),
    ("stack", nix::libc::RLIMIT_STACK as i32),
];

/// One resource limit: `soft` and `hard`, `None` for unlimited (`-1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// Docker's name (`nofile`).
    pub name: String,
    /// The soft limit.
    pub soft: Option<u64>,
    /// The hard limit.
    pub hard: Option<u64>,
}

impl Ulimit {
    /// Parse `NAME=SOFT[:HARD]` (a missing hard limit is the soft one; `-1` is unlimited).
    ///
    /// ```
    /// use builder::sandbox::Ulimit;
    /// let u = Ulimit::parse("nofile=1024:2048").unwrap();
    /// assert_eq!((u.soft, u.hard), (Some(1024), Some(2048)));
    /// assert!(Ulimit::parse("nofile=10:5").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Ulimit, String> {
        let (name, values) = text
            .split_once('=')
            .ok_or_else(|| format!("invalid ulimit {text:?}: expected NAME=SOFT[:HARD]"))?;
        if !NAMES.iter().any(|(n, _)| *n == name) {
            let known: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "invalid ulimit type {name:?}: one of {}",
                known.join(", ")
            ));
        }
        let (soft, hard) = values.split_once(':').unwrap_or((values, values));
        let limit = |v: &str| -> Result<Option<u64>, String> {
            match v.parse::<i64>() {
                Ok(-1) => Ok(None),
                Ok(n) => u64::try_from(n)
                    .map(Some)
                    .map_err(|_| format!("invalid ulimit {text:?}: {v} is below -1")),
                Err(_) => Err(format!("invalid ulimit {text:?}: {v:?} is not a number")),
            }
        };
        let (soft, hard) = (limit(soft)?, limit(hard)?);
        let above = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (None, Some(_)) => true,
            (Some(a), Some(b)) => a > b,
            _ => false,
        };
        if above(soft, hard) {
            return Err(format!(
                "invalid ulimit {text:?}: the soft limit must be less than or equal to the hard limit"
            ));
        }
        Ok(Ulimit {
            name: name.to_string(),
            soft,
            hard,
        })
    }

    /// The `RLIMIT_*` number of the name (every parsed limit has one).
    pub fn resource(&self) -> Option<i32> {
        NAMES.iter().find(|(n, _)| *n == self.name).map(|(_, r)| *r)
    }
}

impl std::fmt::Display for Ulimit {
    /// `NAME=SOFT:HARD`, as Docker prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = |l: Option<u64>| l.map_or("-1".to_string(), |n| n.to_string());
        write!(f, "{}={}:{}", self.name, v(self.soft), v(self.hard))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_syntax_is_parsed() {
        let u = Ulimit::parse("nproc=512").unwrap();
        assert_eq!((u.soft, u.hard), (Some(512), Some(512)));
        let u = Ulimit::parse("core=-1").unwrap();
        assert_eq!((u.soft, u.hard), (None, None));
        assert_eq!(u.to_string(), "core=-1:-1");
        assert!(Ulimit::parse("core=-1:100").is_err());
        assert!(Ulimit::parse("bogus=1").unwrap_err().contains("nofile"));
        assert!(Ulimit::parse("nofile").is_err());
        assert!(Ulimit::parse("nofile=x").is_err());
        assert!(Ulimit::parse("nofile=-2").is_err());
        assert_eq!(
            Ulimit::parse("stack=8192").unwrap().resource(),
            Some(nix::libc::RLIMIT_STACK as i32)
        );
    }
}
