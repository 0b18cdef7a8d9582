//! Typed instructions (placeholder until the real ones land).
