//! The network modes of a RUN command: the one set `RUN --network`, `build --network`,
//! `debug run --network` and the sandbox share, their names, and the rule that a RUN's
//! `default` means the build's choice.

use serde::{Deserialize, Serialize};

/// The network a command sees (`RUN --network=`, `--network` of the CLI, the sandbox's
/// `Network`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum NetworkMode {
    /// The default: the build's private network namespace, with outbound access through
    /// a user-mode stack (slirp4netns) and no way to the host's loopback services or
    /// abstract sockets, as rootless BuildKit gives; the host's network when no stack is
    /// installed (said once per build). In a Dockerfile: the build's network.
    #[default]
    Default,
    /// A new network namespace with only `lo`, up.
    None,
    /// The host's network namespace, asked for explicitly (needs the `network.host`
    /// entitlement in a Dockerfile).
    Host,
}

impl NetworkMode {
    /// The name used in Dockerfiles and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::Default => "default",
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
        }
    }

    /// The mode named `name` (`default`, `none`, `host`), or `None` for any other name.
    pub fn parse(name: &str) -> Option<NetworkMode> {
        match name {
            "default" => Some(NetworkMode::Default),
            "none" => Some(NetworkMode::None),
            "host" => Some(NetworkMode::Host),
            _ => None,
        }
    }

    /// The network a RUN step with this mode gets in a build whose network is `build`: its
    /// own, unless it asks for the default.
    pub fn for_run(self, build: NetworkMode) -> NetworkMode {
        match self {
            NetworkMode::Default => build,
            explicit => explicit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for mode in [NetworkMode::Default, NetworkMode::None, NetworkMode::Host] {
            assert_eq!(NetworkMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(NetworkMode::parse("bridge"), None);
        assert_eq!(NetworkMode::parse("Host"), None);
    }

    #[test]
    fn a_run_default_takes_the_build_network() {
        assert_eq!(
            NetworkMode::Default.for_run(NetworkMode::Host),
            NetworkMode::Host
        );
        assert_eq!(
            NetworkMode::None.for_run(NetworkMode::Host),
            NetworkMode::None
        );
        assert_eq!(
            NetworkMode::Host.for_run(NetworkMode::None),
            NetworkMode::Host
        );
    }
}
