//! SSH agent forwarding for `RUN --mount=type=ssh` (`builder build --ssh`), as BuildKit's
//! `session/sshforward` does it.
//!
//! - [`source`]: the `--ssh` values ([`SshSource`]: an agent socket, or key files).
//! - [`agent`]: the build's agents by id ([`SshAgents`]): sockets as given, a private
//!   `ssh-agent` for keys, stopped when the build ends.
//! - [`forward`]: one step's socket ([`Forwarder`]), made in the step's scratch directory
//!   and relayed read-only to the build's agent while the step runs.
//!
//! Nothing of an agent reaches the image: the socket is a mount (its stub removed from the
//! layer), the step's key holds only the mount's id, target and options, and
//! `SSH_AUTH_SOCK` is set in the command's environment only, never in the image config.

pub mod agent;
pub mod forward;
pub mod source;

pub use agent::SshAgents;
pub use forward::Forwarder;
pub use source::{parse_ssh, SshSource, DEFAULT_ID};
