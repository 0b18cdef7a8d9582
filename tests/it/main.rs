//! The one integration-test binary: conformance corpora, golden plans and the CLI.

mod architecture;
mod cli;
mod common;
mod conformance_parser;
mod conformance_shell;
mod instructions_corpus;
mod instructions_expand;
mod plan_golden;
mod sandbox;
mod store_cli;
