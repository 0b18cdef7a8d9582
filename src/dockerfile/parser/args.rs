//! Per-instruction argument shapes, as BuildKit's line parsers define them.
//!
//! | instructions | shape |
//! | --- | --- |
//! | FROM, EXPOSE | split at runs of `[\t\v\f\r ]` |
//! | RUN, CMD, ENTRYPOINT, SHELL | JSON array of strings, else the whole text as one argument |
//! | ADD, COPY, VOLUME | JSON array of strings, else split at blanks |
//! | HEALTHCHECK | first word, then like CMD |
//! | ENV, LABEL | key, value, separator triples (legacy `k v` or modern `k=v ...`) |
//! | ARG | quote-aware words, kept verbatim |
//! | MAINTAINER, USER, WORKDIR, STOPSIGNAL | the whole text as one argument |
//! | anything else | one empty argument |
//!
//! ONBUILD is handled by the caller, which parses its text as a nested instruction.

use super::super::ast::Arg;
use super::json::{parse_string_array, JsonArray};
use super::text::{head_to, is_space_byte, split_blanks, tail_from};
use crate::dockerfile::dump::go_quote;

/// Arguments of one instruction and whether they came from a JSON array.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Shaped {
    /// The argument values.
    pub(crate) args: Vec<Arg>,
    /// True for the exec (JSON) form.
    pub(crate) json: bool,
}

impl Shaped {
    fn values<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> Self {
        Shaped {
            args: values.into_iter().map(|v| Arg::Value(v.into())).collect(),
            json: false,
        }
    }
}

/// Shape the trimmed argument text `rest` of instruction `keyword` (lower-case, not
/// `onbuild`). `escape` is the escape character in force. Errors are user messages.
pub(crate) fn shape(keyword: &str, rest: &str, escape: char) -> Result<Shaped, String> {
    match keyword {
        "from" | "expose" => Ok(whitespace_delimited(rest)),
        "run" | "cmd" | "entrypoint" | "shell" => maybe_json(rest),
        "add" | "copy" | "volume" => maybe_json_to_list(rest),
        "healthcheck" => health_config(rest),
        "env" => name_val(rest, "ENV", escape),
        "label" => name_val(rest, "LABEL", escape),
        "arg" => Ok(Shaped::values(split_words(rest, escape))),
        "maintainer" | "user" | "workdir" | "stopsignal" => Ok(single(rest)),
        _ => Ok(Shaped::values([""])),
    }
}

/// Message of a JSON array with a non-string element.
const NOT_STRINGS: &str = "when using JSON array syntax, arrays must be comprised of strings only";

fn single(rest: &str) -> Shaped {
    if rest.is_empty() {
        Shaped::default()
    } else {
        Shaped::values([rest])
    }
}

fn whitespace_delimited(rest: &str) -> Shaped {
    if rest.is_empty() {
        return Shaped::default();
    }
    Shaped::values(split_blanks(rest, None))
}

/// The JSON reading of `rest`: `Ok(None)` when it is not a JSON array at all.
fn json(rest: &str) -> Result<Option<Shaped>, String> {
    let text = rest.trim_start();
    if !text.starts_with('[') {
        return Ok(None);
    }
    match parse_string_array(text) {
        JsonArray::Strings(values) => Ok(Some(Shaped {
            json: true,
            ..Shaped::values(values)
        })),
        JsonArray::NotStrings => Err(NOT_STRINGS.to_string()),
        JsonArray::Invalid => Ok(None),
    }
}

fn maybe_json(rest: &str) -> Result<Shaped, String> {
    if rest.is_empty() {
        return Ok(Shaped::default());
    }
    Ok(json(rest)?.unwrap_or_else(|| Shaped::values([rest])))
}

fn maybe_json_to_list(rest: &str) -> Result<Shaped, String> {
    Ok(json(rest)?.unwrap_or_else(|| whitespace_delimited(rest)))
}

/// HEALTHCHECK: the first word (up to a byte that is white space when taken as Latin-1),
/// then the rest like CMD.
fn health_config(rest: &str) -> Result<Shaped, String> {
    let bytes = rest.as_bytes();
    let sep = bytes
        .iter()
        .position(|&b| is_space_byte(b))
        .unwrap_or(bytes.len());
    if sep == 0 {
        return Ok(Shaped::default());
    }
    let next = bytes[sep..]
        .iter()
        .position(|&b| !is_space_byte(b))
        .map_or(bytes.len(), |p| sep + p);
    let command = maybe_json(&tail_from(rest, next))?;
    let mut args = vec![Arg::Value(head_to(rest, sep).into_owned())];
    args.extend(command.args);
    Ok(Shaped {
        args,
        json: command.json,
    })
}

/// ENV and LABEL: legacy `key value...` when the first word has no `=`, otherwise
/// `key=value` words. Each pair becomes key, value and separator (`""` or `"="`).
fn name_val(rest: &str, instruction: &str, escape: char) -> Result<Shaped, String> {
    let words = split_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Shaped::default());
    };
    if !first.contains('=') {
        let parts = split_blanks(rest, Some(2));
        let [key, value] = parts.as_slice() else {
            return Err(format!("{instruction} must have two arguments"));
        };
        return Ok(Shaped::values([*key, *value, ""]));
    }
    let mut values = Vec::with_capacity(words.len() * 3);
    for word in &words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {}. Must be of the form: name=value",
                go_quote(word)
            ));
        };
        values.extend([key, value, "="]);
    }
    Ok(Shaped::values(values))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Spaces,
    Word,
    Quote(char),
}

/// Push an escape and the character after it onto `word` (both are kept); the number of
/// characters consumed. An escape at the very end of the input is dropped.
fn push_escaped(word: &mut String, escape: char, next: Option<&char>) -> usize {
    match next {
        Some(&next) => {
            word.push(escape);
            word.push(next);
            2
        }
        None => 1,
    }
}

/// Split `rest` into words at white space outside quotes, keeping quotes and escapes in the
/// words (BuildKit's `parseWords`). An escape character at the very end is dropped; a word
/// that came from quotes is kept even when empty.
pub(crate) fn split_words(rest: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut phase = Phase::Spaces;
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        match phase {
            Phase::Spaces => {
                if ch.is_whitespace() {
                    i += 1;
                    continue;
                }
                phase = Phase::Word;
                continue;
            }
            Phase::Word => {
                if ch.is_whitespace() {
                    phase = Phase::Spaces;
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                    i += 1;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                }
                if ch == escape {
                    i += push_escaped(&mut word, ch, chars.get(i + 1));
                    continue;
                }
                word.push(ch);
            }
            Phase::Quote(quote) => {
                if ch == quote {
                    phase = Phase::Word;
                }
                if ch == escape && quote != '\'' {
                    i += push_escaped(&mut word, ch, chars.get(i + 1));
                    continue;
                }
                word.push(ch);
            }
        }
        i += 1;
    }
    if phase != Phase::Spaces && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(s: &Shaped) -> Vec<&str> {
        s.args.iter().filter_map(Arg::as_str).collect()
    }

    fn ok(keyword: &str, rest: &str) -> (Vec<String>, bool) {
        let s = shape(keyword, rest, '\\').unwrap();
        (vals(&s).into_iter().map(String::from).collect(), s.json)
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn whitespace_lists() {
        assert_eq!(ok("from", "a  AS\tb"), (v(&["a", "AS", "b"]), false));
        assert_eq!(ok("expose", ""), (v(&[]), false));
        assert_eq!(ok("copy", "\"a b\" c"), (v(&["\"a", "b\"", "c"]), false));
    }

    #[test]
    fn json_with_shell_fallback() {
        assert_eq!(ok("cmd", "[\"a\", \"b\"]"), (v(&["a", "b"]), true));
        assert_eq!(ok("cmd", "[]"), (v(&[]), true));
        assert_eq!(ok("run", "['a']"), (v(&["['a']"]), false));
        assert_eq!(ok("run", "[\"a\"] && b"), (v(&["[\"a\"] && b"]), false));
        assert_eq!(ok("copy", "[\"a\", \"/b\"]"), (v(&["a", "/b"]), true));
        assert_eq!(ok("volume", "[\"/a\" /b"), (v(&["[\"/a\"", "/b"]), false));
        assert_eq!(ok("cmd", ""), (v(&[]), false));
    }

    #[test]
    fn json_with_non_string_element_is_an_error() {
        let err = shape("cmd", "[ \"echo\", [ \"nested json\" ] ]", '\\').unwrap_err();
        assert_eq!(err, NOT_STRINGS);
        assert!(shape("copy", "[1, \"/b\"]", '\\').is_err());
        assert!(shape("healthcheck", "CMD [null]", '\\').is_err());
    }

    #[test]
    fn healthcheck_shapes() {
        assert_eq!(ok("healthcheck", ""), (v(&[]), false));
        assert_eq!(ok("healthcheck", "CMD"), (v(&["CMD"]), false));
        assert_eq!(ok("healthcheck", "CMD   a b"), (v(&["CMD", "a b"]), false));
        assert_eq!(
            ok("healthcheck", "CMD [\"foo\"]"),
            (v(&["CMD", "foo"]), true)
        );
        assert_eq!(ok("healthcheck", "NONE"), (v(&["NONE"]), false));
    }

    #[test]
    fn env_and_label_forms() {
        assert_eq!(
            ok("env", "SCUBA 1 DUBA 3"),
            (v(&["SCUBA", "1 DUBA 3", ""]), false)
        );
        assert_eq!(
            ok("label", "a=b c=\"d e\""),
            (v(&["a", "b", "=", "c", "\"d e\"", "="]), false)
        );
        assert_eq!(ok("env", "a=b\\ c"), (v(&["a", "b\\ c", "="]), false));
        assert_eq!(ok("env", "a="), (v(&["a", "", "="]), false));
        assert_eq!(ok("env", ""), (v(&[]), false));
    }

    #[test]
    fn env_errors_name_the_instruction() {
        assert_eq!(
            shape("env", "PATH", '\\').unwrap_err(),
            "ENV must have two arguments"
        );
        assert_eq!(
            shape("label", "x", '\\').unwrap_err(),
            "LABEL must have two arguments"
        );
        assert_eq!(
            shape("env", "a=b c", '\\').unwrap_err(),
            "Syntax error - can't find = in \"c\". Must be of the form: name=value"
        );
    }

    #[test]
    fn arg_words_and_plain_strings() {
        assert_eq!(ok("arg", "foo bar=baz"), (v(&["foo", "bar=baz"]), false));
        assert_eq!(
            ok("arg", "abc=\"123 456\" def"),
            (v(&["abc=\"123 456\"", "def"]), false)
        );
        assert_eq!(ok("arg", ""), (v(&[]), false));
        assert_eq!(ok("user", "docker:root"), (v(&["docker:root"]), false));
        assert_eq!(ok("workdir", ""), (v(&[]), false));
        assert_eq!(ok("bogus", "x y"), (v(&[""]), false));
        assert_eq!(ok("bogus", ""), (v(&[""]), false));
    }

    #[test]
    fn word_splitting_keeps_quotes_and_escapes() {
        assert_eq!(
            split_words("a 'b c' \"d\\\" e\"", '\\'),
            v(&["a", "'b c'", "\"d\\\" e\""])
        );
        assert_eq!(split_words("'a\\'b'", '\\'), v(&["'a\\'b'"]));
        assert_eq!(split_words("a\\ b", '\\'), v(&["a\\ b"]));
        assert_eq!(split_words("a\\", '\\'), v(&["a"]));
        assert_eq!(split_words("\"\" ''", '\\'), v(&["\"\"", "''"]));
        assert_eq!(split_words("a` b", '`'), v(&["a` b"]));
        assert_eq!(split_words("\"a\\", '\\'), v(&["\"a"]));
    }
}
