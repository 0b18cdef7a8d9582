//! The domain rules several pipeline layers need, kept once: the default `PATH`, image
//! references, the image config model, platforms, passwd/group reading, `--chmod` modes,
//! network modes, which ADD sources are remote, and the error-chain rendering — the small rules of the image world that
//! the parser, the planner, the solver, the sandbox and the store would otherwise each
//! restate.
//!
//! This module is pure and a leaf: it does no IO (no filesystem, process, environment or
//! network access; callers read files and hand over their bytes) and imports no other module
//! of this crate, only std and external crates. Any layer — `dockerfile/` and `graph/`
//! included — may import it.

mod chain;
pub mod config;
mod chmod;
mod network;
mod passwd;
pub mod platform;
pub mod reference;
pub mod remote_source;
mod sync;

pub use chain::error_chain;
pub use chmod::{Chmod, ChmodError};
pub use network::NetworkMode;
pub use passwd::{group_entries, passwd_entries, GroupEntry, PasswdEntry};
pub use platform::Platform;
pub use sync::lock;

/// `PATH` of a Linux image or RUN step whose environment sets none (BuildKit's and Docker's
/// default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
