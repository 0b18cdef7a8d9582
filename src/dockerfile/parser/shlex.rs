//! The slice of BuildKit's shell-word lexer that heredoc detection depends on.
//!
//! BuildKit finds heredocs by running its shell lexer over the whole instruction line (with
//! no variables defined, unset variables kept as written) and looking at the words it
//! produces. The details shape which words come out: quotes group text into one word, a
//! backslash escapes the next character, `$...` and `${...}` references are re-emitted and
//! split at white space, and an unquoted `<<` swallows the spaces, tabs and carriage returns
//! after it, so that `<< EOF` is a single word. A malformed reference or an unterminated
//! quote makes the whole line produce no words.
//!
//! This is deliberately separate from the project's full shell lexer: it never expands
//! anything and exists only to decide where heredocs are.

/// The escape character the heredoc lexer always uses, whatever the escape directive says.
const ESCAPE: char = '\\';

/// Deepest nesting of `${...}` references the lexer follows before giving up on the line
/// (BuildKit has no limit; this keeps hostile input from exhausting the stack).
const MAX_DEPTH: usize = 200;

/// Lexer options.
#[derive(Clone, Copy)]
pub(crate) struct Mode {
    /// Keep quote characters in the output.
    pub(crate) raw_quotes: bool,
    /// Keep escape characters in the output.
    pub(crate) raw_escapes: bool,
}

/// Split `input` into words; `Err` carries the lexer's message.
pub(crate) fn process_words(input: &str, mode: Mode) -> Result<Vec<String>, String> {
    let mut lexer = Lexer {
        chars: input.chars().collect(),
        pos: 0,
        depth: 0,
        raw_quotes: mode.raw_quotes,
        raw_escapes: mode.raw_escapes,
    };
    lexer
        .stop_on(None, mode.raw_escapes)
        .map(|(_, words)| words)
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    raw_quotes: bool,
    raw_escapes: bool,
}

/// Accumulates words the way BuildKit does: white space ends a non-empty word, text from
/// quotes and references joins the current one.
#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(self.word);
        }
        self.words
    }
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Process up to `stop` (or the end); returns the processed text and its words.
    fn stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), String> {
        if self.depth >= MAX_DEPTH {
            return Err("references nested too deeply".into());
        }
        self.depth += 1;
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let result = self.stop_on_inner(stop);
        self.raw_escapes = saved;
        self.depth -= 1;
        result
    }

    fn stop_on_inner(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), String> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.pos += 1;
                return Ok((result, words.finish()));
            }
            match ch {
                '$' => {
                    let text = self.dollar()?;
                    result.push_str(&text);
                    words.add_string(&text);
                }
                '<' | '\'' | '"' => {
                    let text = match ch {
                        '<' => self.possible_heredoc(),
                        '\'' => self.single_quote()?,
                        _ => self.double_quote()?,
                    };
                    result.push_str(&text);
                    words.add_raw_string(&text);
                }
                _ => {
                    self.pos += 1;
                    let mut ch = ch;
                    if ch == ESCAPE {
                        if self.raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        match self.next() {
                            None => break,
                            Some(escaped) => {
                                ch = escaped;
                                words.add_raw_char(ch);
                            }
                        }
                    } else {
                        words.add_char(ch);
                    }
                    result.push(ch);
                }
            }
        }
        if let Some(stop) = stop {
            return Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            ));
        }
        Ok((result, words.finish()))
    }

    fn single_quote(&mut self) -> Result<String, String> {
        let mut result = String::new();
        let open = self.next();
        if self.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => {
                    if self.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, String> {
        let mut result = String::new();
        let open = self.next();
        if self.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => {
                    self.pos += 1;
                    if self.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => result.push_str(&self.dollar()?),
                Some(mut ch) => {
                    self.pos += 1;
                    if ch == ESCAPE {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(next @ ('"' | '$' | ESCAPE)) => {
                                self.pos += 1;
                                ch = next;
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    /// A `$` reference, re-emitted as written (nothing is ever defined).
    fn dollar(&mut self) -> Result<String, String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            return Ok(format!("${name}"));
        }
        self.pos += 1;
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let mut modifier = self.next();
        let mut written = String::from_iter(modifier);
        match modifier {
            Some('}') => return Ok(format!("${{{name}}}")),
            Some(':') => {
                modifier = self.next();
                written.push(modifier.unwrap_or('\u{fffd}'));
            }
            Some('+' | '-' | '?' | '#' | '%') => {}
            Some('/') => return self.replacement(&name),
            _ => {
                let shown = modifier.unwrap_or('\u{fffd}');
                return Err(format!("unsupported modifier ({shown}) in substitution"));
            }
        }
        let raw = matches!(modifier, Some('#' | '%'));
        let word = self.until_brace('}', raw, "syntax error: missing '}'")?;
        Ok(format!("${{{name}{written}{word}}}"))
    }

    /// `${name/pattern/replacement}` (the cursor is after the first `/`).
    fn replacement(&mut self, name: &str) -> Result<String, String> {
        if self.peek() == Some('/') {
            self.pos += 1;
        }
        let pattern = self.until_brace('/', true, "syntax error: missing '/' in ${}")?;
        let replacement = self.until_brace('}', true, "syntax error: missing '}'")?;
        Ok(format!("${{{name}/{pattern}/{replacement}}}"))
    }

    fn until_brace(
        &mut self,
        stop: char,
        raw_escapes: bool,
        missing: &str,
    ) -> Result<String, String> {
        match self.stop_on(Some(stop), raw_escapes) {
            Ok((text, _)) => Ok(text),
            Err(_) if self.peek().is_none() => Err(missing.to_string()),
            Err(e) => Err(e),
        }
    }

    /// A variable name: letters, digits and `_`; or a run of digits; or one special
    /// parameter character.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_numeric() {
                while let Some(d) = self.peek().filter(|c| c.is_numeric()) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.pos += 1;
                return ch.to_string();
            }
            if !ch.is_alphabetic() && !ch.is_numeric() && ch != '_' {
                break;
            }
            name.push(ch);
            self.pos += 1;
        }
        name
    }

    /// `<` alone, or `<<` followed by the spaces, tabs and carriage returns after it.
    fn possible_heredoc(&mut self) -> String {
        self.pos += 1;
        if self.peek() != Some('<') {
            return "<".into();
        }
        self.pos += 1;
        let mut out = String::from("<<");
        while let Some(c @ (' ' | '\t' | '\r')) = self.peek() {
            out.push(c);
            self.pos += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: Mode = Mode {
        raw_quotes: true,
        raw_escapes: true,
    };
    const PLAIN: Mode = Mode {
        raw_quotes: false,
        raw_escapes: false,
    };

    fn words(input: &str, mode: Mode) -> Vec<String> {
        process_words(input, mode).unwrap()
    }

    #[test]
    fn line_words_keep_quotes_and_escapes() {
        assert_eq!(
            words("RUN <<'one two' x", LINE),
            vec!["RUN", "<<'one two'", "x"]
        );
        assert_eq!(words("RUN <<eo\\'f", LINE), vec!["RUN", "<<eo\\'f"]);
        assert_eq!(words("ADD << /no-here", LINE), vec!["ADD", "<< /no-here"]);
        assert_eq!(
            words("RUN <<$EOF ${A:-x y}", LINE),
            vec!["RUN", "<<$EOF", "${A:-x", "y}"]
        );
        assert_eq!(words("RUN a<b", LINE), vec!["RUN", "a<b"]);
    }

    #[test]
    fn plain_words_remove_quotes() {
        assert_eq!(words("'one two'", PLAIN), vec!["one two"]);
        assert_eq!(words("eo\\'f", PLAIN), vec!["eo'f"]);
        assert_eq!(words("e'o'f", PLAIN), vec!["eof"]);
        assert!(words("''", PLAIN).is_empty());
        assert_eq!(words("\"a\\\"b\\c\"", PLAIN), vec!["a\"b\\c"]);
    }

    #[test]
    fn malformed_input_is_an_error() {
        for input in [
            "'abc", "\"abc", "${", "${}", "${a", "${a:-b", "${a!}", "${a/b",
        ] {
            assert!(process_words(input, LINE).is_err(), "{input}");
        }
        assert_eq!(words("${a//b/c}", LINE), vec!["${a/b/c}"]);
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("<<{}x", "${a:-\"".repeat(100_000));
        assert!(process_words(&deep, LINE).is_err());
        let shallow = format!("{}x{}", "${a:-".repeat(10), "}".repeat(10));
        assert_eq!(words(&shallow, LINE), vec![shallow.clone()]);
    }
}
