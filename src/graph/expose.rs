//! EXPOSE port specs as BuildKit reads them (`convert_expose.go`): `[ip:][hostPort:]port[/proto]`
//! with ranges (`8000-8002`), expanded to one `port/proto` per port; the protocol defaults
//! to `tcp` and must be `tcp`, `udp` or `sctp`.

use core::net::IpAddr;

/// Each spec's ports as `port/proto`, in order.
pub(super) fn parse_port_specs(specs: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for s in specs {
        out.extend(parse_port_spec(s)?);
    }
    Ok(out)
}

fn split_parts(raw: &str) -> (String, String, String) {
    let parts: Vec<&str> = raw.split(':').collect();
    match parts.as_slice() {
        [c] => (String::new(), String::new(), c.to_string()),
        [h, c] => (String::new(), h.to_string(), c.to_string()),
        [ip, h, c] => (ip.to_string(), h.to_string(), c.to_string()),
        _ => {
            let n = parts.len();
            (
                parts[..n - 2].join(":"),
                parts[n - 2].to_string(),
                parts[n - 1].to_string(),
            )
        }
    }
}

fn split_proto(raw: &str) -> Result<(String, String), String> {
    let (port, proto) = raw.split_once('/').unwrap_or((raw, ""));
    if port.is_empty() {
        return Err(format!("no port specified: {raw}<empty>"));
    }
    let proto = proto.to_lowercase();
    match proto.as_str() {
        "" => Ok(("tcp".to_string(), port.to_string())),
        "tcp" | "udp" | "sctp" => Ok((proto, port.to_string())),
        _ => Err(format!("invalid proto: {proto}")),
    }
}

fn parse_u16(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().map(u64::from)
}

fn parse_range(ports: &str) -> Result<(u64, u64), String> {
    if ports.is_empty() {
        return Err("empty string specified for ports".to_string());
    }
    let Some((a, b)) = ports.split_once('-') else {
        let p = parse_u16(ports).ok_or_else(|| format!("invalid port {ports}"))?;
        return Ok((p, p));
    };
    if b.contains('-') {
        return Err(format!("invalid port range format: {ports}"));
    }
    let start = parse_u16(a).ok_or_else(|| format!("invalid port {a}"))?;
    let end = parse_u16(b).ok_or_else(|| format!("invalid port {b}"))?;
    if end < start {
        return Err(format!("invalid range specified for port: {ports}"));
    }
    Ok((start, end))
}

fn parse_port_spec(raw: &str) -> Result<Vec<String>, String> {
    let (mut ip, host_port, container) = split_parts(raw);
    let (proto, container) = split_proto(&container)?;
    if ip.starts_with('[') {
        ip = ip
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .ok_or_else(|| format!("invalid IP address {ip}"))?
            .to_string();
    }
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    let (start, end) =
        parse_range(&container).map_err(|_| format!("invalid containerPort: {container}"))?;
    if !host_port.is_empty() {
        let (hs, he) =
            parse_range(&host_port).map_err(|_| format!("invalid hostPort: {host_port}"))?;
        if end - start != he - hs && end != start {
            return Err(format!(
                "invalid ranges specified for container and host Ports: {container} and {host_port}"
            ));
        }
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(specs: &[&str]) -> Result<Vec<String>, String> {
        parse_port_specs(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn ports_default_to_tcp_and_ranges_expand() {
        assert_eq!(ports(&["80"]).unwrap(), ["80/tcp"]);
        assert_eq!(ports(&["53/UDP"]).unwrap(), ["53/udp"]);
        assert_eq!(
            ports(&["8000-8002/tcp"]).unwrap(),
            ["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert_eq!(ports(&["127.0.0.1:8080:80"]).unwrap(), ["80/tcp"]);
        assert_eq!(ports(&["[::1]:8080:80"]).unwrap(), ["80/tcp"]);
    }

    #[test]
    fn bad_ports_are_errors() {
        assert_eq!(ports(&["80/xyz"]).unwrap_err(), "invalid proto: xyz");
        assert_eq!(ports(&["abc"]).unwrap_err(), "invalid containerPort: abc");
        assert_eq!(
            ports(&["70000"]).unwrap_err(),
            "invalid containerPort: 70000"
        );
        assert_eq!(
            ports(&["/tcp"]).unwrap_err(),
            "no port specified: /tcp<empty>"
        );
        assert_eq!(ports(&["9-1"]).unwrap_err(), "invalid containerPort: 9-1");
        assert_eq!(ports(&["x:1:80"]).unwrap_err(), "invalid IP address: x");
    }
}
