//! `$name` and `${name...}`: reading the name, looking it up (and recording whether it was
//! found), and the operators `-`, `+`, `?` (each also with `:`), `#`, `##`, `%`, `%%`, `/`, `//`.
//!
//! Names are letters, digits and `_` (Go's Unicode classes); a name starting with a digit is
//! all the digits (`$123abc` is `$123` then `abc`), and `@ * # ? - $ ! 0` are one-character
//! special parameters. None of these is set unless the environment says so. A `$` not followed
//! by a name is a literal `$`.

use super::error::ShellError;
use super::lexer::Processor;
use super::replace::{replace, trim_prefix, trim_suffix, MAX_REPLACE_ALL_BYTES};
use super::unicode::{is_digit, is_letter};

impl Processor<'_> {
    /// Expand the `$...` at the cursor.
    pub(super) fn process_dollar(&mut self) -> Result<String, ShellError> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(match self.lookup(&name) {
                Some(value) => value,
                None if self.lex.skip_unset_env => format!("${name}"),
                None => String::new(),
            });
        }
        self.next();
        match self.peek() {
            None => return Err(ShellError::MissingBrace),
            Some('{' | '}' | ':') => return Err(ShellError::BadSubstitution),
            Some(_) => {}
        }
        let name = self.process_name();
        match self.next() {
            None => Err(ShellError::MissingBrace),
            Some('}') => Ok(match self.lookup(&name) {
                Some(value) => value,
                None if self.lex.skip_unset_env => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some(':') => match self.next() {
                None => Err(ShellError::MissingBrace),
                Some(op) => self.modifier(&name, op, true),
            },
            Some(op @ ('+' | '-' | '?' | '#' | '%')) => self.modifier(&name, op, false),
            Some('/') => self.substitute(&name),
            Some(other) => Err(ShellError::UnsupportedModifier {
                modifier: other.to_string(),
            }),
        }
    }

    /// `${name<op>word}`, or `${name:<op>word}` when `colon` (an empty value counts as unset).
    fn modifier(&mut self, name: &str, op: char, colon: bool) -> Result<String, ShellError> {
        let written = if colon {
            format!(":{op}")
        } else {
            op.to_string()
        };
        let pattern_op = op == '#' || op == '%';
        if colon && pattern_op {
            return Err(ShellError::UnsupportedModifier { modifier: written });
        }
        let word = self.read_operand('}', pattern_op, ShellError::MissingBrace)?;
        let value = self.lookup(name);
        let Some(value) = value else {
            if self.lex.skip_unset_env {
                return Ok(format!("${{{name}{written}{word}}}"));
            }
            return match op {
                '-' => Ok(word),
                '+' => Ok(String::new()),
                '?' => Err(required(name, word, "is not allowed to be unset")),
                '#' | '%' => pattern(op, &word, ""),
                _ => Err(ShellError::UnsupportedModifier { modifier: written }),
            };
        };
        let empty_is_unset = colon && value.is_empty();
        match op {
            '-' if empty_is_unset => Ok(word),
            '-' => Ok(value),
            '+' if empty_is_unset => Ok(String::new()),
            '+' => Ok(word),
            '?' if empty_is_unset => Err(required(name, word, "is not allowed to be empty")),
            '?' => Ok(value),
            '#' | '%' => pattern(op, &word, &value),
            _ => Err(ShellError::UnsupportedModifier { modifier: written }),
        }
    }

    /// `${name/pattern/replacement}` and `${name//pattern/replacement}`; the first `/` is read.
    fn substitute(&mut self, name: &str) -> Result<String, ShellError> {
        let all = self.peek() == Some('/');
        if all {
            self.next();
        }
        let pattern = self.read_operand('/', true, ShellError::MissingSlash)?;
        let replacement = self.read_operand('}', true, ShellError::MissingBrace)?;
        let value = match self.lookup(name) {
            Some(value) => value,
            // BuildKit writes a `//` back as `/` here.
            None if self.lex.skip_unset_env => {
                return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
            }
            None => String::new(),
        };
        let limit = MAX_REPLACE_ALL_BYTES.saturating_sub(self.replaced_bytes);
        let out = replace(&value, &pattern, &replacement, all, limit)?;
        if all {
            self.replaced_bytes += out.len();
        }
        Ok(out)
    }

    /// The word of an operator, up to `stop`; running off the end of the input is reported as
    /// `at_end` (whatever went wrong inside).
    fn read_operand(
        &mut self,
        stop: char,
        raw_escapes: bool,
        at_end: ShellError,
    ) -> Result<String, ShellError> {
        match self.read_until(Some(stop), raw_escapes) {
            Ok(read) => Ok(read.text),
            Err(ShellError::TooDeeplyNested) => Err(ShellError::TooDeeplyNested),
            Err(_) if self.peek().is_none() => Err(at_end),
            Err(e) => Err(e),
        }
    }

    /// A variable or parameter name at the cursor; empty when there is none.
    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && is_digit(c) {
                while let Some(d) = self.peek().filter(|&d| is_digit(d)) {
                    name.push(d);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return c.to_string();
            }
            if !is_letter(c) && !is_digit(c) && c != '_' {
                break;
            }
            name.push(c);
            self.next();
        }
        name
    }

    /// The value of `name`, recording it as matched or unmatched.
    fn lookup(&mut self, name: &str) -> Option<String> {
        match self.env.get(name) {
            Some(value) => {
                self.matched.insert(name.to_string());
                Some(value.to_string())
            }
            None => {
                self.unmatched.insert(name.to_string());
                None
            }
        }
    }
}

/// The error of a failed `?` check: the word, or `default` when the word is empty.
fn required(name: &str, word: String, default: &str) -> ShellError {
    ShellError::Required {
        name: name.to_string(),
        message: if word.is_empty() {
            default.to_string()
        } else {
            word
        },
    }
}

/// `#`/`##` (prefix) or `%`/`%%` (suffix); a doubled operator is the greedy form.
fn pattern(op: char, word: &str, value: &str) -> Result<String, ShellError> {
    let (pattern, greedy) = match word.strip_prefix(op) {
        Some(rest) => (rest, true),
        None => (word, false),
    };
    if op == '%' {
        trim_suffix(pattern, value, greedy)
    } else {
        trim_prefix(pattern, value, greedy)
    }
}
