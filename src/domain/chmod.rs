//! `--chmod` values of COPY and ADD, parsed once (when the plan is made) and applied per
//! file by the copy engine: octal (`755`, replacing the permission bits and keeping the
//! source's set-id and sticky bits, as fsutil does) or symbolic chmod(1) notation (`+x`,
//! `go-w`, `u=rwX,go=rX`, `g=u`), applied with a umask of 0. `X` means "execute if a
//! directory or already executable by someone", for every operator, as on Linux.
//!
//! The accepted forms are BuildKit's Dockerfile frontend's: a value starting with a digit is
//! octal (digits 0-7, at most 07777); anything else must match
//! `[ugoa]*([-+=]([rwxXst]*|[ugo]))+` clauses separated by commas.

use std::fmt;

/// A `--chmod` value that is not a valid mode; the message is BuildKit's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid chmod parameter: '{value}'. it should be octal string and between 0 and 07777")]
pub struct ChmodError {
    /// The value as written (after variable expansion).
    pub value: String,
}

/// A parsed `--chmod` value, with its text as written (plans and cache keys show the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chmod {
    text: String,
    mode: Mode,
}

/// What a `--chmod` value does.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    /// An octal value: replaces the `rwxrwxrwx` bits.
    Octal(u32),
    /// Symbolic clauses, applied in order.
    Symbolic(Vec<Clause>),
}

/// One comma-separated clause of a symbolic mode: who, then one or more operations.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    /// `u`, `g`, `o`, `a` as a bit mask (`None` when no class letter was given).
    who: Option<u32>,
    ops: Vec<Op>,
}

/// One operation: `+`, `-` or `=` with its permission letters (`[rwxXst]*` or one of
/// `u`, `g`, `o`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Op {
    op: char,
    perms: String,
}

const WHO_U: u32 = 0o4700;
const WHO_G: u32 = 0o2070;
const WHO_O: u32 = 0o0007;
const WHO_ALL: u32 = 0o6777;

impl Chmod {
    /// Parses a `--chmod` value the way BuildKit's Dockerfile frontend does: octal up to
    /// 07777 when it starts with a digit, else symbolic notation.
    pub fn parse(value: &str) -> Result<Chmod, ChmodError> {
        let invalid = || ChmodError {
            value: value.to_string(),
        };
        let mode = if value.starts_with(|c: char| c.is_ascii_digit()) {
            if !value.chars().all(|c| ('0'..='7').contains(&c)) {
                return Err(invalid());
            }
            match u32::from_str_radix(value, 8) {
                Ok(v) if v <= 0o7777 => Mode::Octal(v),
                _ => return Err(invalid()),
            }
        } else {
            parse_symbolic(value).ok_or_else(invalid)?
        };
        Ok(Chmod {
            text: value.to_string(),
            mode,
        })
    }

    /// The value as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The bits of an octal value; `None` for a symbolic one.
    pub fn octal(&self) -> Option<u32> {
        match self.mode {
            Mode::Octal(bits) => Some(bits),
            Mode::Symbolic(_) => None,
        }
    }

    /// The mode (permission and set-id/sticky bits) a file with mode `mode` gets.
    pub fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        let mode = mode & 0o7777;
        match &self.mode {
            Mode::Octal(bits) => (mode & !0o777) | (bits & 0o777),
            Mode::Symbolic(clauses) => apply_symbolic(clauses, mode, is_dir),
        }
    }
}

impl fmt::Display for Chmod {
    /// The value as written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `[ugoa]*([-+=]([rwxXst]*|[ugo]))+` clauses separated by commas.
fn parse_symbolic(value: &str) -> Option<Mode> {
    if value.is_empty() {
        return None;
    }
    let mut clauses = Vec::new();
    for text in value.split(',') {
        let mut chars = text.chars().peekable();
        let mut who = 0u32;
        let mut any_who = false;
        while let Some(&c) = chars.peek() {
            let bits = match c {
                'u' => WHO_U,
                'g' => WHO_G,
                'o' => WHO_O,
                'a' => WHO_ALL,
                _ => break,
            };
            who |= bits;
            any_who = true;
            chars.next();
        }
        let mut ops = Vec::new();
        while let Some(op) = chars.next() {
            if !matches!(op, '+' | '-' | '=') {
                return None;
            }
            let mut perms = String::new();
            if let Some(&c @ ('u' | 'g' | 'o')) = chars.peek() {
                perms.push(c);
                chars.next();
            } else {
                while let Some(&c @ ('r' | 'w' | 'x' | 'X' | 's' | 't')) = chars.peek() {
                    perms.push(c);
                    chars.next();
                }
            }
            ops.push(Op { op, perms });
        }
        if ops.is_empty() {
            return None;
        }
        clauses.push(Clause {
            who: any_who.then_some(who),
            ops,
        });
    }
    Some(Mode::Symbolic(clauses))
}

fn apply_symbolic(clauses: &[Clause], orig: u32, is_dir: bool) -> u32 {
    let mut mode = orig;
    let executable = is_dir || orig & 0o111 != 0;
    for clause in clauses {
        let mask = clause.who.unwrap_or(WHO_ALL);
        // Set-id and sticky letters are ignored when only "other" is named.
        let special_ok = match clause.who {
            None => true,
            Some(w) => w & !WHO_O != 0,
        };
        for op in &clause.ops {
            let mut bits = 0u32;
            let mut sticky = false;
            for c in op.perms.chars() {
                bits |= match c {
                    'r' => 0o444,
                    'w' => 0o222,
                    'x' => 0o111,
                    'X' if executable => 0o111,
                    's' if special_ok => 0o6000,
                    't' if special_ok => {
                        sticky = true;
                        0
                    }
                    'u' => ((mode >> 6) & 7) * 0o111,
                    'g' => ((mode >> 3) & 7) * 0o111,
                    'o' => (mode & 7) * 0o111,
                    _ => 0,
                };
            }
            bits &= mask;
            if sticky {
                bits |= 0o1000;
            }
            match op.op {
                '+' => mode |= bits,
                '-' => mode &= !bits,
                _ => {
                    let clear = mask | if sticky { 0o1000 } else { 0 };
                    mode = (mode & !clear) | bits;
                }
            }
        }
    }
    mode & 0o7777
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(s: &str, mode: u32) -> u32 {
        Chmod::parse(s).unwrap().apply(mode, false)
    }

    #[test]
    fn octal_replaces_permission_bits_only() {
        assert_eq!(Chmod::parse("755").unwrap().octal(), Some(0o755));
        assert_eq!(Chmod::parse("0644").unwrap().apply(0o4777, false), 0o4644);
        assert_eq!(Chmod::parse("7777").unwrap().apply(0o644, false), 0o777);
        assert_eq!(Chmod::parse("0").unwrap().apply(0o755, true), 0);
        for bad in ["8", "999", "17777", "0x755"] {
            let err = Chmod::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid chmod parameter"), "{bad}: {err}");
        }
        assert_eq!(
            Chmod::parse("17777").unwrap_err().to_string(),
            "invalid chmod parameter: '17777'. it should be octal string and between 0 and 07777"
        );
    }

    // tonistiigi/dchapes-mode's TestApply table (umask 0), less the copy-from-two-classes
    // forms (`u+go`) that the Dockerfile frontend rejects before the mode library sees them.
    #[test]
    fn symbolic_table() {
        let cases: &[(u32, u32, &str)] = &[
            (0o777, 0o000, "="),
            (0o777, 0o777, "+"),
            (0o421, 0o421, "-"),
            (0o421, 0o1421, "+t"),
            (0o1421, 0o421, "-t"),
            (0o000, 0o400, "u+r"),
            (0o000, 0o200, "u+w"),
            (0o000, 0o100, "u+x"),
            (0o000, 0o000, "u+X"),
            (0o001, 0o101, "u+X"),
            (0o000, 0o4000, "u+s"),
            (0o100, 0o110, "g+X"),
            (0o000, 0o2000, "g+s"),
            (0o000, 0o001, "o+x"),
            (0o000, 0o000, "o+s"),
            (0o000, 0o444, "+r"),
            (0o000, 0o222, "+w"),
            (0o000, 0o111, "+x"),
            (0o000, 0o000, "+X"),
            (0o010, 0o111, "+X"),
            (0o000, 0o6000, "+s"),
            (0o777, 0o333, "-r"),
            (0o777, 0o555, "-w"),
            (0o777, 0o666, "-x"),
            (0o6777, 0o777, "-s"),
            (0o777, 0o377, "u-r"),
            (0o4777, 0o777, "u-s"),
            (0o000, 0o600, "u=rw"),
            (0o777, 0o677, "u=rw"),
            (0o777, 0o077, "u="),
            (0o000, 0o666, "=rw"),
            (0o777, 0o666, "=rw"),
            (0o042, 0o442, "u=g"),
            (0o742, 0o442, "u=g"),
            (0o722, 0o022, "u=g-w"),
            (0o772, 0o572, "u=g-w"),
            (0o021, 0o121, "u+o"),
            (0o021, 0o221, "u+g"),
            (0o000, 0o764, "a=r,ug=rw,u+x"),
            (0o777, 0o764, "a=r,ug=rw,u+x"),
            (0o777, 0o644, "644"),
            (0o777, 0o755, "go-w"),
            (0o666, 0o666, "=rw,+X"),
            (0o766, 0o777, "=rw,+X"),
            (0o000, 0o755, "u=rwx,go=rx"),
            (0o000, 0o755, "u=rwx,go=u-w"),
            (0o777, 0o700, "go="),
            (0o770, 0o755, "go=u-w"),
            (0o670, 0o644, "go=u-w"),
            (0o570, 0o555, "go=u-w"),
            (0o370, 0o311, "go=u-w"),
        ];
        for &(from, to, s) in cases {
            assert_eq!(sym(s, from), to, "{s:?} applied to {from:o}");
        }
    }

    #[test]
    fn capital_x_on_linux_applies_to_every_operator() {
        let m = Chmod::parse("u=rwX,go=rX").unwrap();
        assert_eq!(m.apply(0o600, true), 0o755, "directories get search bits");
        assert_eq!(m.apply(0o600, false), 0o644, "plain files do not");
        assert_eq!(m.apply(0o700, false), 0o755, "executables keep x");
        assert_eq!(Chmod::parse("-X").unwrap().apply(0o777, false), 0o666);
        assert_eq!(Chmod::parse("g=u").unwrap().apply(0o750, false), 0o770);
    }

    #[test]
    fn invalid_symbolic() {
        for bad in ["", ",", "q+r", "u", "g", "go", "u+q", "u+x,", "+z", "a*x"] {
            assert!(Chmod::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    // The forms BuildKit's Dockerfile frontend accepts and rejects, with its message.
    #[test]
    fn dockerfile_values() {
        assert_eq!(Chmod::parse("0644").unwrap().octal(), Some(0o644));
        assert_eq!(Chmod::parse("7777").unwrap().octal(), Some(0o7777));
        assert_eq!(Chmod::parse("0").unwrap().octal(), Some(0));
        for ok in [
            "u+x",
            "u=rwx,go=rx",
            "a-w",
            "+x",
            "g=u",
            "u+rw-x",
            "o=",
            "ug+s,+t",
        ] {
            let c = Chmod::parse(ok).unwrap();
            assert_eq!((c.octal(), c.as_str()), (None, ok), "{ok}");
            assert_eq!(c.to_string(), ok);
        }
        for bad in [
            "64a",
            "10000",
            "8",
            "u",
            "u+q",
            "x",
            "",
            "u+x,",
            "rwx",
            "u=gr",
            "u+xu",
            "u+go",
            "o+r,g+w,a+t,g-s,u+og",
        ] {
            assert_eq!(
                Chmod::parse(bad).unwrap_err().to_string(),
                format!(
                    "invalid chmod parameter: '{bad}'. it should be octal string and between 0 and 07777"
                ),
                "{bad}"
            );
        }
    }
}
