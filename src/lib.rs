//! builder: a daemonless, rootless tool that turns a Dockerfile and a build context into an
//! OCI image.
//!
//! The pipeline, top to bottom (imports flow downstream only):
//!
//! ```text
//! cli -> build -> context -> dockerfile -> graph -> solve -> image -> export
//! ```
//!
//! - [`dockerfile`]: text -> AST with spans -> typed instructions (pure).
//! - [`graph`]: instructions -> stages and expanded steps, pruned to the target (pure).
//! - [`snapshot`]: snapshots (prepare / commit / view) and safe layer unpacking.
//! - [`diff`]: a change set on disk -> a deterministic layer blob, digests in one pass.
#![warn(missing_docs)]

pub mod build;
pub mod cli;
pub mod diff;
pub mod dockerfile;
pub mod error;
pub mod graph;
pub mod snapshot;

pub use error::{Error, Result};
