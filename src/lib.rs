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
//! - [`store`]: the local store: sha256, content-addressed blobs, atomic writes, locks, image
//!   names.
//! - [`image`]: OCI/Docker image config, manifests and indexes, written to and read from the
//!   store.
//! - [`export`]: outputs (OCI layout, docker archive, rootfs) and imports (`load`,
//!   `oci-layout://`).
#![warn(missing_docs)]

pub mod build;
pub mod cli;
pub mod dockerfile;
pub mod error;
pub mod export;
pub mod graph;
pub mod image;
pub mod store;

pub use error::{Error, Result};
