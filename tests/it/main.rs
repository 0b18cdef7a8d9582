//! The one integration-test binary: conformance corpora, golden plans and the CLI.

mod architecture;
mod cli;
mod common;
mod store_cli;
