//! Shell-word lexer (placeholder until the real one lands).
