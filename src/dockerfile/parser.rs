//! Structural Dockerfile parser (placeholder until the real one lands).

use super::ast::Ast;
use super::error::ParseError;

/// Parse Dockerfile text into an [`Ast`].
pub fn parse(_text: &str) -> Result<Ast, ParseError> {
    Err(ParseError::at_line(0, "parser not implemented yet"))
}
