//! builder: a daemonless, rootless tool that turns a Dockerfile and a build context into an
//! OCI image.
//!
//! The pipeline, top to bottom (imports flow downstream only):
//!
//! ```text
//! cli -> build -> context -> dockerfile -> graph -> solve -> snapshot/diff -> store -> image -> export
//! ```
//!
//! - [`cli`]: the commands of the CLI contract; [`build`]: orchestration.
//! - [`context`]: the build context — directory or tar, `.dockerignore`.
//! - [`dockerfile`]: text -> AST with spans -> typed instructions (pure).
//! - [`graph`]: instructions -> stages and expanded steps, pruned to the target (pure).
//! - [`solve`]: executing every step of the plan (RUN, COPY, ADD and the config-only
//!   instructions), each a cache hit or a new layer.
//! - [`sandbox`]: running a RUN command in fresh namespaces, rootless (the build's user
//!   namespace is entered once at start).
//! - [`snapshot`]: snapshots (prepare / commit / view) and safe layer unpacking.
//! - [`diff`]: a change set on disk -> a deterministic layer blob, digests in one pass.
//! - [`store`]: the local store: sha256, content-addressed blobs, atomic writes, locks, image
//!   names.
//! - [`image`]: OCI/Docker image config, manifests and indexes, written to and read from the
//!   store.
//! - [`registry`]: pulling base images, pushing results, credentials and transport.
//! - [`export`]: outputs (OCI layout, docker archive, rootfs) and imports (`load`,
//!   `oci-layout://`).
//! - [`progress`]: what the build reports while it runs (plain lines, quiet).
//! - [`domain`]: the domain rules several layers share (pure leaf; any layer may import it).
//! - [`rooted`]: opening paths below a root someone else may change (no symlink, no `..`
//!   can lead out).
#![warn(missing_docs)]

pub mod cli;
pub mod build;
pub mod context;
pub mod dockerfile;
pub mod graph;
pub mod solve;
pub mod sandbox;
pub mod snapshot;
pub mod diff;
pub mod cache;
pub mod store;
pub mod image;
pub mod registry;
pub mod remote;
pub mod export;
pub mod progress;
pub mod rooted;
pub mod error;
pub mod domain;

pub use error::{Error, Result};
