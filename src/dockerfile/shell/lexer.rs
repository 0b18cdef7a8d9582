//! Reading a word: plain characters, the escape character, single and double quotes, and the
//! split into words on unquoted whitespace. `$` is handed to [`super::expand`].
//!
//! One [`Processor`] reads one word, left to right, one character at a time, like BuildKit's
//! `text/scanner` based reader (which also drops a leading U+FEFF). Reading is recursive:
//! the word inside `${V:-word}` is read by the same loop, stopping at `}`.

use std::collections::BTreeSet;

use super::env::Env;
use super::error::ShellError;
use super::unicode::is_space;
use super::Lexer;

/// How deeply `${...}` may nest inside the words of other `${...}`. BuildKit has no limit (Go
/// stacks grow); this keeps hostile input from overflowing ours (a level costs a few KiB of
/// stack in a debug build). Real Dockerfiles nest two or three levels.
pub const MAX_DEPTH: usize = 100;

/// The state of processing one word.
pub(super) struct Processor<'a> {
    pub(super) lex: &'a Lexer,
    pub(super) env: &'a dyn Env,
    chars: Vec<char>,
    pos: usize,
    /// Whether escape characters are kept in the output; the words of `${V#p}`, `${V%p}` and
    /// `${V/p/r}` keep them so the pattern sees `\*`.
    pub(super) raw_escapes: bool,
    depth: usize,
    /// Bytes produced so far by `${V//p/r}`, against [`super::MAX_REPLACE_ALL_BYTES`].
    pub(super) replaced_bytes: usize,
    /// Names looked up and found.
    pub(super) matched: BTreeSet<String>,
    /// Names looked up and not set.
    pub(super) unmatched: BTreeSet<String>,
}

/// The output of one read: the text, and the same text split into words.
pub(super) struct Read {
    pub(super) text: String,
    pub(super) words: Vec<String>,
}

impl<'a> Processor<'a> {
    pub(super) fn new(lex: &'a Lexer, env: &'a dyn Env, word: &str) -> Processor<'a> {
        let word = word.strip_prefix('\u{feff}').unwrap_or(word);
        Processor {
            lex,
            env,
            chars: word.chars().collect(),
            pos: 0,
            raw_escapes: lex.raw_escapes,
            depth: 0,
            replaced_bytes: 0,
            matched: BTreeSet::new(),
            unmatched: BTreeSet::new(),
        }
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(super) fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Read until the unquoted, unescaped `stop` (consumed), or to the end when `stop` is
    /// `None`; `raw_escapes` applies to this read and the quotes in it.
    pub(super) fn read_until(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<Read, ShellError> {
        if self.depth >= MAX_DEPTH {
            return Err(ShellError::TooDeeplyNested);
        }
        self.depth += 1;
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let read = self.read_loop(stop);
        self.raw_escapes = saved;
        self.depth -= 1;
        read
    }

    fn read_loop(&mut self, stop: Option<char>) -> Result<Read, ShellError> {
        let mut text = String::new();
        let mut words = Words::default();
        while let Some(c) = self.peek() {
            if stop == Some(c) {
                self.next();
                return Ok(Read {
                    text,
                    words: words.finish(),
                });
            }
            if c == '$' {
                let value = self.process_dollar()?;
                text.push_str(&value);
                // Whitespace from an unquoted expansion splits words.
                words.add_str(&value);
                continue;
            }
            if !self.lex.skip_process_quotes && (c == '\'' || c == '"') {
                let quoted = if c == '\'' {
                    self.single_quote()?
                } else {
                    self.double_quote()?
                };
                text.push_str(&quoted);
                words.add_raw_str(&quoted);
                continue;
            }
            self.next();
            if c == self.lex.escape {
                if self.raw_escapes {
                    words.add_raw_char(c);
                    text.push(c);
                }
                // A lone escape at the very end disappears.
                let Some(escaped) = self.next() else {
                    break;
                };
                words.add_raw_char(escaped);
                text.push(escaped);
            } else {
                words.add_char(c);
                text.push(c);
            }
        }
        if let Some(expected) = stop {
            return Err(ShellError::UnexpectedEnd { expected });
        }
        Ok(Read {
            text,
            words: words.finish(),
        })
    }

    /// `'...'`: everything up to the next `'` as written; there is no escape.
    fn single_quote(&mut self) -> Result<String, ShellError> {
        let mut out = String::new();
        self.next();
        if self.lex.raw_quotes {
            out.push('\'');
        }
        loop {
            match self.next() {
                None => return Err(ShellError::UnterminatedSingleQuote),
                Some('\'') => {
                    if self.lex.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    /// `"..."`: `$` expands, and the escape character escapes only `"`, `$` and itself;
    /// before anything else it is kept.
    fn double_quote(&mut self) -> Result<String, ShellError> {
        let mut out = String::new();
        self.next();
        if self.lex.raw_quotes {
            out.push('"');
        }
        loop {
            match self.peek() {
                None => return Err(ShellError::UnterminatedDoubleQuote),
                Some('"') => {
                    self.next();
                    if self.lex.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => {
                    let value = self.process_dollar()?;
                    out.push_str(&value);
                }
                Some(c) => {
                    self.next();
                    let mut ch = c;
                    if c == self.lex.escape {
                        if self.raw_escapes {
                            out.push(c);
                        }
                        match self.peek() {
                            // At the end: nothing to escape, and the quote is unterminated.
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.lex.escape => {
                                self.next();
                                ch = n;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }
}

/// The word list being built: unquoted whitespace ends a word, and an empty word is no word.
#[derive(Default)]
struct Words {
    words: Vec<String>,
    current: String,
}

impl Words {
    /// An unquoted character: whitespace ends the current word.
    fn add_char(&mut self, c: char) {
        if is_space(c) {
            if !self.current.is_empty() {
                self.words.push(std::mem::take(&mut self.current));
            }
        } else {
            self.current.push(c);
        }
    }

    /// A character that is part of the word whatever it is (escaped).
    fn add_raw_char(&mut self, c: char) {
        self.current.push(c);
    }

    /// Unquoted expanded text.
    fn add_str(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    /// Quoted text.
    fn add_raw_str(&mut self, s: &str) {
        self.current.push_str(s);
    }

    fn finish(mut self) -> Vec<String> {
        if !self.current.is_empty() {
            self.words.push(self.current);
        }
        self.words
    }
}
