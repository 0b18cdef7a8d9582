//! The `Authorization` a URL source is fetched with, from the build's secrets as BuildKit's
//! HTTP source reads them: `HTTP_AUTH_HEADER_<host>` is sent as written, and
//! `HTTP_AUTH_TOKEN_<host>` as `Bearer <token>`, the token winning when a host has both.
//! `<host>` is the URL's host name without its port. The value is a secret: it is marked
//! sensitive on the request and kept nowhere (not in the kept downloads' records, a key or
//! an error).

use reqwest::header::HeaderValue;

use super::HttpError;
use crate::remote::RemoteSettings;

/// The `Authorization` value of each host that has one.
#[derive(Default)]
pub(super) struct HostAuth {
    /// `(host, value)`, one per host.
    values: Vec<(String, String)>,
}

impl std::fmt::Debug for HostAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The values are secrets: only the hosts are shown.
        let hosts: Vec<&str> = self.values.iter().map(|(h, _)| h.as_str()).collect();
        f.debug_struct("HostAuth").field("hosts", &hosts).finish()
    }
}

impl HostAuth {
    /// The values `settings` give: each host's header, replaced by its token if it has one.
    pub(super) fn new(settings: &RemoteSettings) -> HostAuth {
        let mut values: Vec<(String, String)> = Vec::new();
        let mut set = |host: &str, value: String| {
            let host = host.to_ascii_lowercase();
            match values.iter_mut().find(|(h, _)| *h == host) {
                Some(entry) => entry.1 = value,
                None => values.push((host, value)),
            }
        };
        for (host, header) in &settings.http_auth_headers {
            set(host, header.clone());
        }
        for (host, token) in &settings.http_auth_tokens {
            set(host, format!("Bearer {token}"));
        }
        HostAuth { values }
    }

    /// The `Authorization` header for `url` (shown as `shown` in errors), if its host has
    /// one; a value that is no valid header value is refused, without showing it.
    pub(super) fn header(&self, url: &str, shown: &str) -> Result<Option<HeaderValue>, HttpError> {
        let Some(host) = host_name(url) else {
            return Ok(None);
        };
        let Some((_, value)) = self.values.iter().find(|(h, _)| *h == host) else {
            return Ok(None);
        };
        let mut v = HeaderValue::from_str(value).map_err(|_| HttpError::Transfer {
            url: shown.to_string(),
            reason: format!(
                "the HTTP_AUTH_HEADER_{host} or HTTP_AUTH_TOKEN_{host} secret is no valid \
                 header value"
            ),
        })?;
        v.set_sensitive(true);
        Ok(Some(v))
    }
}

/// The host name of `url`, lower-case, without port, credentials or IPv6 brackets (Go's
/// `URL.Hostname`).
pub(super) fn host_name(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = parsed.host_str()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some(host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(headers: &[(&str, &str)], tokens: &[(&str, &str)]) -> HostAuth {
        let pairs = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        };
        HostAuth::new(&RemoteSettings {
            http_auth_headers: pairs(headers),
            http_auth_tokens: pairs(tokens),
            ..RemoteSettings::default()
        })
    }

    fn value(a: &HostAuth, url: &str) -> Option<String> {
        a.header(url, url)
            .unwrap()
            .map(|v| v.to_str().unwrap().to_string())
    }

    #[test]
    fn header_as_written_token_as_bearer_token_wins() {
        let a = auth(
            &[("a.example", "Basic abc"), ("b.example", "Custom x")],
            &[("b.example", "tok")],
        );
        assert_eq!(
            value(&a, "https://a.example/f").as_deref(),
            Some("Basic abc")
        );
        assert_eq!(
            value(&a, "https://B.example:8443/f?x=1").as_deref(),
            Some("Bearer tok")
        );
        assert_eq!(value(&a, "https://c.example/f"), None);
        assert_eq!(value(&a, "https://a.example.evil/f"), None);
    }

    #[test]
    fn host_names_drop_port_credentials_and_brackets() {
        assert_eq!(
            host_name("http://u:p@127.0.0.1:8080/x").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(host_name("http://[::1]:80/x").as_deref(), Some("::1"));
        assert_eq!(host_name("not a url"), None);
    }

    #[test]
    fn a_bad_value_is_refused_without_showing_it() {
        let a = auth(&[], &[("h.example", "s3cr3t\nInjected: 1")]);
        let err = a.header("http://h.example/f", "http://h.example/f");
        let msg = err.unwrap_err().to_string();
        assert!(
            !msg.contains("s3cr3t") && msg.contains("h.example"),
            "{msg}"
        );
        assert!(!format!("{a:?}").contains("s3cr3t"));
    }
}
