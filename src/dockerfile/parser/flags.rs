//! Splitting an instruction line into keyword, flag words and argument text.
//!
//! After the keyword, words starting with `--` are flags, for every instruction. While a
//! flag word is read, quotes are removed and a backslash makes the next byte literal (the
//! escape directive does not change this). A bare `--` ends the flags and is dropped; the
//! first word not starting with `--` ends them too, and the rest of the line from there on,
//! verbatim, is the argument text.
//!
//! Like BuildKit, flag words are read byte by byte, each byte taken as one Latin-1
//! character: flags holding non-ASCII text come out transcoded, and the bytes 0x85 and
//! 0xA0 end a word. The dump reproduces exactly that.

use super::text::{go_lower, is_ascii_blank, is_space_byte, tail_from};

/// An instruction line taken apart.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CommandParts {
    /// Keyword, lower-cased.
    pub(crate) keyword: String,
    /// Flag words, quotes removed.
    pub(crate) flags: Vec<String>,
    /// The argument text, trimmed.
    pub(crate) args: String,
}

/// Split a joined instruction line into keyword, flags and arguments.
pub(crate) fn split_command(line: &str) -> CommandParts {
    let trimmed = line.trim();
    let (keyword, rest) = match trimmed.find(is_ascii_blank) {
        Some(i) => (
            &trimmed[..i],
            Some(trimmed[i..].trim_start_matches(is_ascii_blank)),
        ),
        None => (trimmed, None),
    };
    let (args, flags) = match rest {
        Some(rest) => extract_flags(rest),
        None => (String::new(), Vec::new()),
    };
    CommandParts {
        keyword: go_lower(keyword),
        flags,
        args: args.trim().to_string(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Spaces,
    Word,
    Quote(u8),
}

/// Take the leading `--flag` words off `line`; returns the remaining text and the flags.
fn extract_flags(line: &str) -> (String, Vec<String>) {
    let bytes = line.as_bytes();
    let len = bytes.len();
    let mut flags = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut phase = Phase::Spaces;
    let mut pos = 0;
    while pos < len {
        let mut ch = bytes[pos];
        match phase {
            Phase::Spaces => {
                if is_space_byte(ch) {
                    pos += 1;
                    continue;
                }
                if ch != b'-' || bytes.get(pos + 1) != Some(&b'-') {
                    return (tail_from(line, pos).into_owned(), flags);
                }
                phase = Phase::Word;
                continue;
            }
            Phase::Word => {
                if is_space_byte(ch) {
                    phase = Phase::Spaces;
                    if word == "--" {
                        return (tail_from(line, pos).into_owned(), flags);
                    }
                    if blank_ok || !word.is_empty() {
                        flags.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    blank_ok = false;
                } else if ch == b'\'' || ch == b'"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                } else if ch == b'\\' {
                    if pos + 1 < len {
                        pos += 1;
                        word.push(char::from(bytes[pos]));
                    }
                } else {
                    word.push(char::from(ch));
                }
            }
            Phase::Quote(quote) => {
                if ch == quote {
                    phase = Phase::Word;
                } else {
                    if ch == b'\\' {
                        if pos + 1 == len {
                            phase = Phase::Word;
                            pos += 1;
                            continue;
                        }
                        pos += 1;
                        ch = bytes[pos];
                    }
                    word.push(char::from(ch));
                }
            }
        }
        pos += 1;
    }
    if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
        flags.push(word);
    }
    (String::new(), flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(line: &str) -> (String, Vec<String>, String) {
        let p = split_command(line);
        (p.keyword, p.flags, p.args)
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn keyword_and_arguments() {
        assert_eq!(
            parts("  RUN   echo hi  "),
            ("run".into(), vec![], "echo hi".into())
        );
        assert_eq!(parts("CMD"), ("cmd".into(), vec![], "".into()));
        assert_eq!(parts("From\tx"), ("from".into(), vec![], "x".into()));
        assert_eq!(parts(""), ("".into(), vec![], "".into()));
    }

    #[test]
    fn flags_are_taken_until_the_first_plain_word() {
        assert_eq!(
            parts("COPY --user=me --doit=true foo /tmp/"),
            (
                "copy".into(),
                s(&["--user=me", "--doit=true"]),
                "foo /tmp/".into()
            )
        );
        assert_eq!(
            parts("COPY -- foo /tmp/"),
            ("copy".into(), vec![], "foo /tmp/".into())
        );
        assert_eq!(
            parts("CMD --doit -- [ ]"),
            ("cmd".into(), s(&["--doit"]), "[ ]".into())
        );
        assert_eq!(
            parts("COPY --link"),
            ("copy".into(), s(&["--link"]), "".into())
        );
        assert_eq!(parts("COPY --"), ("copy".into(), vec![], "".into()));
        assert_eq!(parts("RUN -x y"), ("run".into(), vec![], "-x y".into()));
    }

    #[test]
    fn quotes_and_backslashes_in_flags() {
        assert_eq!(
            parts(r#"RUN --mount="type=cache,target=/a b" --x='' --y=a\ b echo"#).1,
            s(&["--mount=type=cache,target=/a b", "--x=", "--y=a b"])
        );
        assert_eq!(parts(r#"RUN --a="x\"y" z"#).1, s(&["--a=x\"y"]));
        assert_eq!(parts("RUN --a=b\\").1, s(&["--a=b"]));
        assert_eq!(parts("RUN --a=\"b").1, s(&["--a=b"]));
    }

    #[test]
    fn non_ascii_flags_are_read_byte_by_byte() {
        assert_eq!(parts("COPY --from=é x").1, s(&["--from=\u{c3}\u{a9}"]));
        // 0xA0 (the last byte of `à`) ends the word like a space.
        let p = parts("COPY --from=à x");
        assert_eq!(p.1, s(&["--from=\u{c3}"]));
        assert_eq!(p.2, "x");
    }
}
