//! Errors of the shell-word lexer. The messages are BuildKit's (`frontend/dockerfile/shell`),
//! without its `failed to process "<word>": ` prefix, which [`ShellError::in_word`] adds.

/// Why a word could not be processed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ShellError {
    /// A `'` was opened and never closed.
    #[error("unexpected end of statement while looking for matching single-quote")]
    UnterminatedSingleQuote,
    /// A `"` was opened and never closed.
    #[error("unexpected end of statement while looking for matching double-quote")]
    UnterminatedDoubleQuote,
    /// The word ended while looking for `expected` (a `}` or the `/` of `${V/p/r}`).
    #[error("unexpected end of statement while looking for matching {expected}")]
    UnexpectedEnd {
        /// The character that was being looked for.
        expected: char,
    },
    /// A `${` was never closed: `${PWD`, `${X:-abc`.
    #[error("syntax error: missing '}}'")]
    MissingBrace,
    /// The `/` between pattern and replacement of `${V/p/r}` is missing.
    #[error("syntax error: missing '/' in ${{}}")]
    MissingSlash,
    /// `${}`, `${:x}`, `${{x}`: no name where one must be.
    #[error("syntax error: bad substitution")]
    BadSubstitution,
    /// An operator BuildKit does not support, such as `${X:=v}` or `${X:YYY}`.
    #[error("unsupported modifier ({modifier}) in substitution")]
    UnsupportedModifier {
        /// The operator as written (`:=`, `:Y`, `=`).
        modifier: String,
    },
    /// `${NAME?msg}` / `${NAME:?msg}` on an unset (or empty) variable.
    #[error("{name}: {message}")]
    Required {
        /// The variable checked.
        name: String,
        /// The word after `?`, or "is not allowed to be unset" / "is not allowed to be empty".
        message: String,
    },
    /// A `#`, `%` or `/` pattern with an escape other than `\*`, `\?`, `\\`, `\}`, `\/`.
    #[error("invalid pattern ({pattern}) in substitution: {reason}")]
    InvalidPattern {
        /// The pattern as BuildKit reports it (reversed for `%` and `%%`, as BuildKit does).
        pattern: String,
        /// What is wrong with it (`invalid escape '\x'`).
        reason: String,
    },
    /// `${...}` nested inside the words of other `${...}` more than
    /// [`MAX_DEPTH`](super::MAX_DEPTH) levels deep (BuildKit has no limit).
    #[error("substitutions nested too deeply")]
    TooDeeplyNested,
    /// `${V//p/r}` produced more than `limit` bytes for one word (BuildKit has no limit).
    #[error("replacement result too large: over {limit} bytes")]
    TooLarge {
        /// The cap, [`MAX_REPLACE_ALL_BYTES`](super::MAX_REPLACE_ALL_BYTES).
        limit: usize,
    },
}

impl ShellError {
    /// The message as BuildKit prints it for `word`: `failed to process "<word>": <message>`.
    pub fn in_word(&self, word: &str) -> String {
        format!("failed to process {word:?}: {self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_buildkit() {
        assert_eq!(
            ShellError::MissingBrace.to_string(),
            "syntax error: missing '}'"
        );
        assert_eq!(
            ShellError::MissingSlash.to_string(),
            "syntax error: missing '/' in ${}"
        );
        let e = ShellError::Required {
            name: "VAR".into(),
            message: "is not allowed to be unset".into(),
        };
        assert_eq!(e.to_string(), "VAR: is not allowed to be unset");
        assert_eq!(
            e.in_word("${VAR?}"),
            "failed to process \"${VAR?}\": VAR: is not allowed to be unset"
        );
        let e = ShellError::UnexpectedEnd { expected: '}' };
        assert_eq!(
            e.to_string(),
            "unexpected end of statement while looking for matching }"
        );
    }
}
