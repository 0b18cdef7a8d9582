//! BuildKit's parser-test dump of an AST (placeholder until the real one lands).

use super::ast::Ast;

/// Render `ast` as BuildKit's `Node.Dump()` would, without the final newline.
pub fn dump(_ast: &Ast) -> String {
    String::new()
}
