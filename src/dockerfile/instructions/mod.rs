//! Typed instructions (placeholder until the real ones land).

use super::ast::Ast;
use super::error::ParseError;

/// Typed stages.
#[derive(Debug)]
pub struct Dockerfile;

/// Typed stages from an AST.
pub fn parse_dockerfile(_ast: &Ast) -> Result<Dockerfile, ParseError> {
    Ok(Dockerfile)
}
