//! The one integration-test binary: conformance corpora, golden plans and the CLI.

mod common;
mod instructions_corpus;
