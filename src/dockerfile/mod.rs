//! The Dockerfile front end, pure: text in, typed instructions out. No IO, no processes.
//!
//! - [`parser`]: the structural layer — lines, continuations, directives, heredocs, flags and
//!   per-instruction argument shapes — producing an [`ast::Ast`] with line spans.
//! - [`dump`]: BuildKit's parser-test dump of an AST, for conformance.
//! - [`shell`]: the shell-word lexer (quotes, escapes, `$VAR` and `${VAR...}` expansion).
//! - [`instructions`]: the semantic layer — typed instructions and stages from AST nodes.

pub mod ast;
pub mod checks;
pub mod dump;
pub mod error;
pub mod instructions;
pub mod parser;
pub mod shell;

pub use ast::{Arg, Ast, Directive, Heredoc, Node, Span, Warning};
pub use error::ParseError;
pub use parser::parse;
