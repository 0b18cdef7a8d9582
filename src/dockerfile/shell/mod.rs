//! The shell-word lexer: BuildKit's `frontend/dockerfile/shell` (`Lex`), which expands the words
//! of Dockerfile instructions — ARG/ENV/LABEL values, FROM/COPY/ADD/WORKDIR/USER/EXPOSE/
//! STOPSIGNAL arguments, flag values and heredoc bodies. Pure: text and variables in, text out.
//!
//! What it does to a word, exactly as BuildKit does:
//!
//! - `'...'` is literal; `"..."` expands `$` and lets the escape character escape only `"`, `$`
//!   and itself. Quotes are removed (unless [`Lexer::raw_quotes`]).
//! - Outside quotes the escape character (`\`, or `` ` `` after `# escape=``) makes the next
//!   character literal and is removed (unless [`Lexer::raw_escapes`]); a lone one at the end
//!   disappears.
//! - `$name`, `${name}` and the operators `${V:-w}` `${V-w}` `${V:+w}` `${V+w}` `${V:?msg}`
//!   `${V?msg}` `${V#p}` `${V##p}` `${V%p}` `${V%%p}` `${V/p/r}` `${V//p/r}`; the words nest
//!   (`${A:-${B:-b}}`). Unset names expand to nothing (unless [`Lexer::skip_unset_env`]).
//!   Positional and special parameters (`$1`, `$@`, `$#`, ...) are looked up like any name,
//!   so they are normally unset. A `$` with no name after it stays `$`.
//! - [`Lexer::process_words`] also splits the result into words on unquoted whitespace,
//!   including whitespace that comes out of an unquoted expansion.
//!
//! Module map: `lexer` reads characters, quotes and escapes and splits words;
//! `expand` handles `$`; `pattern` compiles and matches the `#`/`%`/`/` patterns; `replace`
//! applies them to a value; `env` is the variable lookup; `unicode` holds Go's character
//! classes, which decide what a name is.
//!
//! Deviations from BuildKit: nesting of `${...}` is limited to [`MAX_DEPTH`] levels and the
//! output of `${V//p/r}` to [`MAX_REPLACE_ALL_BYTES`] per word (BuildKit would exhaust its
//! stack or memory); an
//! unterminated `${NAME` is reported as "missing '}'" (BuildKit prints a garbled
//! "unsupported modifier"); and [`Lexer::process_words`] keeps the text before a nested
//! operator word (`a${X:-b}` is the word `ab`; recent BuildKit reuses one buffer across nesting
//! levels and would give `b`).

mod env;
mod error;
mod expand;
mod lexer;
mod pattern;
mod replace;
mod unicode;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

pub use env::{Env, NoEnv};
pub use error::ShellError;
pub use lexer::MAX_DEPTH;
pub use replace::MAX_REPLACE_ALL_BYTES;

use lexer::{Processor, Read};

/// Expands Dockerfile words. Cheap to copy; holds only the escape character and options.
///
/// ```
/// use std::collections::HashMap;
/// use builder::dockerfile::shell::Lexer;
///
/// let env = HashMap::from([("V".to_string(), "1.2 beta".to_string())]);
/// let lex = Lexer::new('\\');
/// assert_eq!(lex.process_word("app-${V%% *}.tar", &env).unwrap(), "app-1.2.tar");
/// assert_eq!(lex.process_words("x $V \"$V\"", &env).unwrap(), ["x", "1.2", "beta", "1.2 beta"]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lexer {
    escape: char,
    raw_quotes: bool,
    raw_escapes: bool,
    skip_unset_env: bool,
    skip_process_quotes: bool,
}

/// The variable names a word referred to (BuildKit's `ProcessWordResult.Matched/Unmatched`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matches {
    /// Names referenced and set (possibly to the empty string).
    pub matched: BTreeSet<String>,
    /// Names referenced but unset.
    pub unmatched: BTreeSet<String>,
}

impl Default for Lexer {
    /// A lexer with the default escape character `\`.
    fn default() -> Self {
        Lexer::new('\\')
    }
}

impl Lexer {
    /// A lexer whose escape character is `escape` (`\`, or `` ` `` from the `escape` directive).
    pub fn new(escape: char) -> Lexer {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset_env: false,
            skip_process_quotes: false,
        }
    }

    /// The escape character.
    pub fn escape(&self) -> char {
        self.escape
    }

    /// Keep quote characters in the output (BuildKit `RawQuotes`).
    pub fn raw_quotes(mut self, on: bool) -> Self {
        self.raw_quotes = on;
        self
    }

    /// Keep escape characters in the output (BuildKit `RawEscapes`). The words of `${V-w}`,
    /// `${V+w}` and `${V?w}` are still read with escapes removed, as in BuildKit.
    pub fn raw_escapes(mut self, on: bool) -> Self {
        self.raw_escapes = on;
        self
    }

    /// Leave references to unset variables as written, `$X`, `${X}`, `${X:-w}` (BuildKit
    /// `SkipUnsetEnv`); the operator's word is the processed one.
    pub fn skip_unset_env(mut self, on: bool) -> Self {
        self.skip_unset_env = on;
        self
    }

    /// Treat `'` and `"` as ordinary characters (BuildKit `SkipProcessQuotes`).
    pub fn skip_process_quotes(mut self, on: bool) -> Self {
        self.skip_process_quotes = on;
        self
    }

    /// Expand `word` as one word: quotes removed, escapes applied, variables from `env`
    /// expanded; whitespace is kept (BuildKit `ProcessWord`).
    pub fn process_word(&self, word: &str, env: &dyn Env) -> Result<String, ShellError> {
        Ok(self.run(word, env)?.0.text)
    }

    /// Expand `word` and split it into words on unquoted whitespace, including whitespace
    /// produced by unquoted expansions; empty words are dropped (BuildKit `ProcessWords`).
    pub fn process_words(&self, word: &str, env: &dyn Env) -> Result<Vec<String>, ShellError> {
        Ok(self.run(word, env)?.0.words)
    }

    /// Like [`Lexer::process_word`], also reporting which variable names were referenced and
    /// found, and which were referenced but unset (BuildKit `ProcessWordWithMatches`). A name
    /// counts once it is looked up, even in a default word that ends up unused.
    pub fn process_word_with_matches(
        &self,
        word: &str,
        env: &dyn Env,
    ) -> Result<(String, Matches), ShellError> {
        let (read, matches) = self.run(word, env)?;
        Ok((read.text, matches))
    }

    fn run(&self, word: &str, env: &dyn Env) -> Result<(Read, Matches), ShellError> {
        let mut p = Processor::new(self, env, word);
        let read = p.read_until(None, self.raw_escapes)?;
        let matches = Matches {
            matched: p.matched,
            unmatched: p.unmatched,
        };
        Ok((read, matches))
    }
}
