//! Variable expansion hooks: which fields of which instruction BuildKit expands at dispatch,
//! through an [`Expander`] the caller supplies (the graph layer, which knows the stage's
//! ARG and ENV values and owns the shell-word lexer).
//!
//! The instruction layer never expands anything on its own: it only knows *where*
//! expansion applies. The list mirrors BuildKit (`Expand` methods in
//! `frontend/dockerfile/instructions/commands.go` and the dispatch code in
//! `dockerfile2llb`):
//!
//! | instruction | expanded with `word` | with `words` / `raw` |
//! |---|---|---|
//! | ENV, LABEL | keys and values | |
//! | ARG | default values (never names; see [`super::ArgCommand::expand`]) | |
//! | WORKDIR, USER, STOPSIGNAL | the argument | |
//! | VOLUME | each path | |
//! | EXPOSE | | each word with `words`, results flattened |
//! | COPY, ADD | sources, destination, `--chown`, `--chmod`; ADD `--checksum` | heredoc bodies whose delimiter was unquoted, with `raw` |
//! | RUN | every `--mount` value (then the mount is parsed, see [`super::MountSpec`]) | |
//! | FROM | base name and `--platform`, against global ARGs only ([`super::Stage::expanded_base`]) | |
//!
//! Never expanded: RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK commands, MAINTAINER, ONBUILD,
//! `--exclude`, `--network`, `--security`, `--device`. COPY `--from` is left to the stage
//! graph, which expands it against global ARGs only (see [`super::CopyCommand::from`]);
//! RUN `--mount` `from=` may not contain variables at all.

use crate::dockerfile::ast::Span;
use crate::dockerfile::error::ParseError;

use super::Instruction;

/// Variable expansion as the caller's shell-word lexer performs it.
///
/// Errors are plain messages (`FOO: is not allowed to be unset`); the instruction wraps them
/// into a [`ParseError`] at its own span. Methods take `&mut self` so an implementation can
/// record which variables were used or missing (BuildKit's `UndefinedVar` check).
pub trait Expander {
    /// One word in, one word out: variables substituted, quotes and escapes removed
    /// (BuildKit's `ProcessWord`).
    fn word(&mut self, word: &str) -> Result<String, String>;

    /// One text in, several words out: expanded, then split on unquoted whitespace
    /// (BuildKit's `ProcessWords`; used by EXPOSE).
    fn words(&mut self, text: &str) -> Result<Vec<String>, String>;

    /// Heredoc body: variables substituted, quotes kept as written (BuildKit's raw-quotes
    /// expansion, `SupportsSingleWordExpansionRaw`).
    fn raw(&mut self, text: &str) -> Result<String, String>;
}

/// Expands nothing: words are returned as written, `words` splits on whitespace.
///
/// Useful to read an instruction's literal values (tests, tools, Dockerfiles without
/// variables).
#[derive(Debug, Clone, Copy, Default)]
pub struct LiteralExpander;

impl Expander for LiteralExpander {
    fn word(&mut self, word: &str) -> Result<String, String> {
        Ok(word.to_string())
    }

    fn words(&mut self, text: &str) -> Result<Vec<String>, String> {
        Ok(text.split_whitespace().map(str::to_string).collect())
    }

    fn raw(&mut self, text: &str) -> Result<String, String> {
        Ok(text.to_string())
    }
}

/// Expand one word, wrapping the message into an error at `span`.
pub(crate) fn word(ex: &mut dyn Expander, span: Span, value: &str) -> Result<String, ParseError> {
    ex.word(value).map_err(|m| ParseError::new(span, m))
}

/// Expand a word in place.
pub(crate) fn word_in_place(
    ex: &mut dyn Expander,
    span: Span,
    value: &mut String,
) -> Result<(), ParseError> {
    *value = word(ex, span, value)?;
    Ok(())
}

/// Expand every word of a list in place.
pub(crate) fn words_in_place(
    ex: &mut dyn Expander,
    span: Span,
    values: &mut [String],
) -> Result<(), ParseError> {
    for v in values.iter_mut() {
        word_in_place(ex, span, v)?;
    }
    Ok(())
}

/// Expand an optional flag value in place; an empty result means "not given".
pub(crate) fn option_in_place(
    ex: &mut dyn Expander,
    span: Span,
    value: &mut Option<String>,
) -> Result<(), ParseError> {
    if let Some(v) = value.as_deref() {
        let expanded = word(ex, span, v)?;
        *value = (!expanded.is_empty()).then_some(expanded);
    }
    Ok(())
}

impl Instruction {
    /// True when BuildKit expands variables in some field of this instruction at dispatch.
    pub fn supports_expansion(&self) -> bool {
        !matches!(
            self,
            Instruction::From(_)
                | Instruction::Cmd(_)
                | Instruction::Entrypoint(_)
                | Instruction::Shell(_)
                | Instruction::Healthcheck(_)
                | Instruction::Maintainer(_)
                | Instruction::Onbuild(_)
        )
    }

    /// Expand the instruction's expandable fields in place (see the module table).
    ///
    /// FROM is not expanded here: its base name is expanded against global ARGs only, with
    /// [`super::Stage::expanded_base`]. Instructions without expandable fields are unchanged.
    pub fn expand(&mut self, ex: &mut dyn Expander) -> Result<(), ParseError> {
        match self {
            Instruction::Run(c) => c.expand(ex),
            Instruction::Copy(c) => c.expand(ex),
            Instruction::Add(c) => c.expand(ex),
            Instruction::Env(c) => c.expand(ex),
            Instruction::Arg(c) => c.expand(ex),
            Instruction::Label(c) => c.expand(ex),
            Instruction::User(c) => c.expand(ex),
            Instruction::Workdir(c) => c.expand(ex),
            Instruction::Expose(c) => c.expand(ex),
            Instruction::Volume(c) => c.expand(ex),
            Instruction::StopSignal(c) => c.expand(ex),
            Instruction::From(_)
            | Instruction::Cmd(_)
            | Instruction::Entrypoint(_)
            | Instruction::Shell(_)
            | Instruction::Healthcheck(_)
            | Instruction::Maintainer(_)
            | Instruction::Onbuild(_) => Ok(()),
        }
    }
}
