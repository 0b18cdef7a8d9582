//! The exec form: reading `["a", "b"]` as a JSON array of strings.
//!
//! BuildKit hands the argument text to Go's `encoding/json` and then checks the element
//! types, so three outcomes matter: a valid array of strings (exec form), a valid array
//! holding something else (an error), and anything that is not valid JSON, including
//! numbers too large for a float and nesting deeper than 10,000 (shell form). This reader
//! reproduces those outcomes without recursion, and decodes strings the way Go does (a lone
//! surrogate escape becomes U+FFFD).

/// What the argument text turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum JsonArray {
    /// A valid JSON array whose elements are all strings.
    Strings(Vec<String>),
    /// A valid JSON array with a non-string element.
    NotStrings,
    /// Not a valid JSON array: the caller falls back to the shell form.
    Invalid,
}

/// Deepest nesting Go's JSON reader accepts.
const MAX_DEPTH: usize = 10_000;

/// Read `text` (which must start with `[`) as a JSON array of strings.
pub(crate) fn parse_string_array(text: &str) -> JsonArray {
    read(text).unwrap_or(JsonArray::Invalid)
}

/// What the reader expects next.
enum Step {
    Value,
    AfterValue,
    /// The top-level array is closed and nothing but white space follows it.
    Done,
}

/// Any `None` means the text is not valid JSON.
fn read(text: &str) -> Option<JsonArray> {
    if text.as_bytes().first() != Some(&b'[') {
        return None;
    }
    let mut r = Reader {
        text,
        i: 0,
        stack: Vec::new(),
        strings: Vec::new(),
        all_strings: true,
    };
    let mut step = Step::Value;
    loop {
        step = match step {
            Step::Value => r.value()?,
            Step::AfterValue => r.after_value()?,
            Step::Done => {
                return Some(if r.all_strings {
                    JsonArray::Strings(r.strings)
                } else {
                    JsonArray::NotStrings
                })
            }
        };
    }
}

/// One read in progress: the position, the open arrays and objects, and what the
/// top-level array held so far.
struct Reader<'t> {
    text: &'t str,
    i: usize,
    /// The opening bracket of every array or object not closed yet.
    stack: Vec<u8>,
    /// The strings of the top-level array.
    strings: Vec<String>,
    /// No element of the top-level array so far was anything but a string.
    all_strings: bool,
}

impl Reader<'_> {
    /// Reads one value; `None` when it is not valid JSON.
    fn value(&mut self) -> Option<Step> {
        let b = self.text.as_bytes();
        self.i = skip_ws(b, self.i);
        let c = *b.get(self.i)?;
        match c {
            b'[' | b'{' => return self.open(c),
            b'"' => {
                let (s, next) = read_string(self.text, self.i)?;
                self.i = next;
                if self.stack.len() == 1 {
                    self.strings.push(s);
                }
            }
            b't' | b'f' | b'n' => {
                let word: &[u8] = match c {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                if !b[self.i..].starts_with(word) {
                    return None;
                }
                self.i += word.len();
                self.not_string();
            }
            b'-' | b'0'..=b'9' => {
                self.i = read_number(self.text, self.i)?;
                self.not_string();
            }
            _ => return None,
        }
        Some(Step::AfterValue)
    }

    /// Opens the array or object whose bracket `c` is at the position: either it closes
    /// right away or its first value (after the key, for an object) comes next.
    fn open(&mut self, c: u8) -> Option<Step> {
        let b = self.text.as_bytes();
        self.stack.push(c);
        if self.stack.len() > MAX_DEPTH {
            return None;
        }
        self.i = skip_ws(b, self.i + 1);
        let close = if c == b'[' { b']' } else { b'}' };
        if b.get(self.i) == Some(&close) {
            self.i += 1;
            self.close();
            return Some(Step::AfterValue);
        }
        if c == b'{' {
            self.i = read_key(self.text, self.i)?;
        }
        Some(Step::Value)
    }

    /// After a value: a comma (and the next key, in an object), the closing bracket of
    /// the innermost container, or the end of the text after the top-level array.
    fn after_value(&mut self) -> Option<Step> {
        let b = self.text.as_bytes();
        self.i = skip_ws(b, self.i);
        let Some(&top) = self.stack.last() else {
            return (self.i == b.len()).then_some(Step::Done);
        };
        match (top, *b.get(self.i)?) {
            (_, b',') => {
                self.i += 1;
                if top == b'{' {
                    self.i = read_key(self.text, skip_ws(b, self.i))?;
                }
                Some(Step::Value)
            }
            (b'[', b']') | (b'{', b'}') => {
                self.i += 1;
                self.close();
                Some(Step::AfterValue)
            }
            _ => None,
        }
    }

    /// Closes the innermost container (an element itself, when inside the top level).
    fn close(&mut self) {
        self.stack.pop();
        self.not_string();
    }

    /// A value just read that is not a string: noted when it is a top-level element.
    fn not_string(&mut self) {
        self.all_strings &= self.stack.len() != 1;
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// An object key and its colon; returns the position after the colon.
fn read_key(text: &str, i: usize) -> Option<usize> {
    if text.as_bytes().get(i) != Some(&b'"') {
        return None;
    }
    let (_, next) = read_string(text, i)?;
    let next = skip_ws(text.as_bytes(), next);
    (text.as_bytes().get(next) == Some(&b':')).then_some(next + 1)
}

/// A number; returns the position after it. Numbers too large for a float are invalid.
fn read_number(text: &str, start: usize) -> Option<usize> {
    let b = text.as_bytes();
    let digits = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = start;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(i),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let after = digits(i + 1);
        if after == i + 1 {
            return None;
        }
        i = after;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let after = digits(i);
        if after == i {
            return None;
        }
        i = after;
    }
    let value: f64 = text.get(start..i)?.parse().ok()?;
    value.is_finite().then_some(i)
}

/// A string starting at the quote at `start`; returns its decoded text and the position
/// after the closing quote.
fn read_string(text: &str, start: usize) -> Option<(String, usize)> {
    let b = text.as_bytes();
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        match *b.get(i)? {
            b'"' => return Some((out, i + 1)),
            b'\\' => {
                let esc = *b.get(i + 1)?;
                i += 2;
                let c = match esc {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{08}',
                    b'f' => '\u{0c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        let unit = hex4(b, i)?;
                        i += 4;
                        decode_unit(b, &mut i, unit)
                    }
                    _ => return None,
                };
                out.push(c);
            }
            c if c < 0x20 => return None,
            _ => {
                let c = text.get(i..)?.chars().next()?;
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
}

/// Turn a `\u` code unit into a character, taking a following low surrogate escape along
/// when `unit` is a high surrogate; an unpaired surrogate becomes U+FFFD.
fn decode_unit(b: &[u8], i: &mut usize, unit: u32) -> char {
    if !(0xd800..=0xdfff).contains(&unit) {
        return char::from_u32(unit).unwrap_or('\u{fffd}');
    }
    if (0xd800..0xdc00).contains(&unit) && b.get(*i) == Some(&b'\\') && b.get(*i + 1) == Some(&b'u')
    {
        if let Some(low) = hex4(b, *i + 2) {
            if (0xdc00..=0xdfff).contains(&low) {
                *i += 6;
                let c = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                return char::from_u32(c).unwrap_or('\u{fffd}');
            }
        }
    }
    '\u{fffd}'
}

fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let digits = b.get(i..i + 4)?;
    digits
        .iter()
        .try_fold(0u32, |acc, &d| Some(acc * 16 + char::from(d).to_digit(16)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> JsonArray {
        JsonArray::Strings(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn arrays_of_strings() {
        assert_eq!(parse_string_array("[]"), strings(&[]));
        assert_eq!(parse_string_array("[\"\"]"), strings(&[""]));
        assert_eq!(
            parse_string_array("[ \"a\" ,\t\"b\" ]\n"),
            strings(&["a", "b"])
        );
        assert_eq!(
            parse_string_array(r#"["\" \\ \/ \b \f \n \r \t \u0000 \u2665"]"#),
            strings(&["\" \\ / \u{8} \u{c} \n \r \t \u{0} ♥"])
        );
        assert_eq!(parse_string_array(r#"["\ud83d\ude00"]"#), strings(&["😀"]));
        assert_eq!(
            parse_string_array(r#"["\ud800x"]"#),
            strings(&["\u{fffd}x"])
        );
        assert_eq!(
            parse_string_array(r#"["\udc00\ud800\udc00"]"#),
            strings(&["\u{fffd}𐀀"])
        );
    }

    #[test]
    fn valid_json_with_other_elements() {
        for text in [
            "[1]",
            "[null]",
            "[\"a\", [\"b\"]]",
            "[{}]",
            "[{\"a\": [1, {\"b\": null}]}]",
            "[[]]",
            "[true, false]",
            "[-0.5e+3]",
        ] {
            assert_eq!(parse_string_array(text), JsonArray::NotStrings, "{text}");
        }
    }

    #[test]
    fn invalid_json_falls_back() {
        for text in [
            "['a']",
            "[\"a\"",
            "[\"a\",]",
            "[,\"a\"]",
            "[\"a\"] x",
            "[\u{0b}\"a\"]",
            "[\"a\tb\"]",
            "[01]",
            "[1.]",
            "[1e]",
            "[1e999]",
            "[\"\\x\"]",
            "[\"\\u12\"]",
            "[{1:2}]",
            "[{\"a\" 1}]",
            "[tru]",
            "[\"a\"]]",
            "",
            "x",
        ] {
            assert_eq!(parse_string_array(text), JsonArray::Invalid, "{text:?}");
        }
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(parse_string_array(&ok), JsonArray::NotStrings);
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse_string_array(&deep), JsonArray::Invalid);
    }
}
