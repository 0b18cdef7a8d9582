//! The contents of the /etc/hosts and /etc/resolv.conf files a RUN sees, as BuildKit makes
//! them (`executor/oci/hosts.go`, `executor/oci/resolvconf.go`). The sandbox bind-mounts
//! them over the image's files for the run only, so they never reach a layer.
//!
//! Pure apart from [`host_resolv_conf`], which reads the host's file.

use std::path::Path;

use super::Network;

/// BuildKit's default host name inside a RUN.
pub const DEFAULT_HOSTNAME: &str = "buildkitsandbox";

/// Public resolvers used when the host lists only local ones (Docker's defaults).
const DEFAULT_NAMESERVERS: [&str; 4] = [
    "nameserver 8.8.8.8",
    "nameserver 8.8.4.4",
    "nameserver 2001:4860:4860::8888",
    "nameserver 2001:4860:4860::8844",
];

/// /etc/hosts for a RUN with `hostname` and `--add-host` entries `extra` (`(host, ip)`).
///
/// ```
/// let text = builder::sandbox::stubs::hosts("buildkitsandbox", &[]);
/// assert_eq!(text, "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n");
/// ```
pub fn hosts(hostname: &str, extra: &[(String, String)]) -> String {
    let name = if hostname.is_empty() {
        DEFAULT_HOSTNAME
    } else {
        hostname
    };
    let mut text =
        format!("127.0.0.1\tlocalhost {name}\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for (host, ip) in extra {
        text.push_str(&format!("{ip}\t{host}\n"));
    }
    text
}

/// /etc/resolv.conf for a RUN, from the host's file `host`: with the host network asked
/// for explicitly, the host's file as is (unless it names no nameserver at all); otherwise
/// without loopback nameservers, which do not answer from another network, and with
/// Google's public resolvers when none is left.
pub fn resolv_conf(host: &str, network: Network) -> String {
    if network == Network::Host && has_nameserver(host) {
        return host.to_string();
    }
    let mut kept = String::new();
    for line in host.split_inclusive('\n') {
        if !is_local_nameserver(line) {
            kept.push_str(line);
        }
    }
    if !has_nameserver(&kept) {
        kept.push('\n');
        kept.push_str(&DEFAULT_NAMESERVERS.join("\n"));
    }
    kept
}

/// /etc/resolv.conf for a RUN on a private network whose user-mode stack forwards DNS
/// at `forwarder`, from the text [`resolv_conf`] made: when the host named only resolvers
/// the RUN cannot reach (loopback ones) and the text fell back to public resolvers, the
/// forwarder takes their place, so the host's own resolvers still answer (as rootless
/// BuildKit and podman do); otherwise the text as is.
///
/// ```
/// use builder::sandbox::{stubs, Network};
/// let text = stubs::resolv_conf("nameserver 127.0.0.53\n", Network::Default);
/// assert_eq!(stubs::through_forwarder(&text, "10.0.2.3"), "\nnameserver 10.0.2.3\n");
/// ```
pub fn through_forwarder(text: &str, forwarder: &str) -> String {
    let all: Vec<&str> = nameservers(text).collect();
    let fallback = DEFAULT_NAMESERVERS.map(|l| l.trim_start_matches("nameserver "));
    if all != fallback {
        return text.to_string();
    }
    let mut kept = String::new();
    for line in text.split_inclusive('\n') {
        if !line.starts_with("nameserver ") {
            kept.push_str(line);
        }
    }
    if !kept.is_empty() && !kept.ends_with('\n') {
        kept.push('\n');
    }
    kept.push_str(&format!("nameserver {forwarder}\n"));
    kept
}

/// The host's resolver configuration as BuildKit picks it: `/etc/resolv.conf`, or, when
/// that only points at systemd-resolved's local stub (and the network is not the host's),
/// `/run/systemd/resolve/resolv.conf`. Empty when neither can be read.
pub fn host_resolv_conf(network: Network) -> String {
    let main = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    if network != Network::Host && only_systemd_stub(&main) {
        let real = Path::new("/run/systemd/resolve/resolv.conf");
        if let Ok(text) = std::fs::read_to_string(real) {
            return text;
        }
    }
    main
}

fn nameservers(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some("nameserver"))
            .then(|| words.next())
            .flatten()
    })
}

fn has_nameserver(text: &str) -> bool {
    nameservers(text).next().is_some()
}

fn only_systemd_stub(text: &str) -> bool {
    let all: Vec<&str> = nameservers(text).collect();
    !all.is_empty() && all.iter().all(|ns| *ns == "127.0.0.53")
}

fn is_local_nameserver(line: &str) -> bool {
    let mut words = line.split_whitespace();
    if words.next() != Some("nameserver") {
        return false;
    }
    let Some(ip) = words.next() else {
        return false;
    };
    if words.next().is_some() {
        return false;
    }
    ip == "::1"
        || ip
            .strip_prefix("127.")
            .is_some_and(|rest| rest.split('.').count() == 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_names_the_sandbox_and_extra_hosts() {
        let text = hosts("", &[("db".into(), "10.0.0.2".into())]);
        assert_eq!(
            text,
            "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n\
             10.0.0.2\tdb\n"
        );
        assert!(hosts("box", &[]).starts_with("127.0.0.1\tlocalhost box\n"));
    }

    #[test]
    fn resolv_conf_drops_loopback_nameservers() {
        let host = "search example.com\nnameserver 127.0.0.53\nnameserver 10.1.1.1\n";
        assert_eq!(
            resolv_conf(host, Network::Default),
            "search example.com\nnameserver 10.1.1.1\n"
        );
        assert_eq!(resolv_conf(host, Network::Host), host);
    }

    #[test]
    fn resolv_conf_falls_back_to_public_resolvers() {
        let out = resolv_conf("nameserver 127.0.0.1\noptions ndots:0\n", Network::None);
        assert_eq!(
            out,
            "options ndots:0\n\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n\
             nameserver 2001:4860:4860::8888\nnameserver 2001:4860:4860::8844"
        );
        assert!(resolv_conf("", Network::Host).contains("nameserver 8.8.8.8"));
    }

    #[test]
    fn the_forwarder_replaces_only_the_public_fallback() {
        let fell_back = resolv_conf("search lan\nnameserver 127.0.0.53\n", Network::Default);
        assert_eq!(
            through_forwarder(&fell_back, "10.0.2.3"),
            "search lan\n\nnameserver 10.0.2.3\n"
        );
        let reachable = resolv_conf("nameserver 10.255.255.53\n", Network::Default);
        assert_eq!(through_forwarder(&reachable, "10.0.2.3"), reachable);
        let one_public = "nameserver 8.8.8.8\n";
        assert_eq!(through_forwarder(one_public, "10.0.2.3"), one_public);
    }

    #[test]
    fn systemd_stub_is_detected() {
        assert!(only_systemd_stub("nameserver 127.0.0.53\noptions edns0\n"));
        assert!(!only_systemd_stub("nameserver 1.1.1.1\n"));
        assert!(!only_systemd_stub(""));
    }
}
