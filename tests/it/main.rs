//! The one integration-test binary: conformance corpora, golden plans and the CLI.

mod architecture;
mod cli;
mod common;
mod conformance_parser;
mod conformance_shell;
mod export_cli;
mod instructions_corpus;
mod instructions_expand;
mod plan_golden;
mod sandbox;
mod store_cli;
mod build_copy;
mod build_support;
mod build_base;
mod build_config;
mod build_outputs;
mod build_errors;
mod build_rootless;
mod build_run;
mod build_context;
mod run_support;
mod run_image;
mod run_files;
mod run_process;
mod run_errors;
mod run_debian;
