//! What a registry's `401 Unauthorized` asks for: the `WWW-Authenticate` challenge (`Basic
//! realm="…"` or `Bearer realm="…",service="…",scope="…"`), and the token scopes this client
//! asks for (`repository:NAME:pull,push`). Pure: text in, values out.

use std::collections::BTreeMap;
use std::fmt;

/// An authentication challenge from a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// HTTP basic authentication.
    Basic,
    /// The token flow: GET a token from `realm` for `service` and scopes.
    Bearer {
        /// The token endpoint.
        realm: String,
        /// The `service` parameter to send.
        service: Option<String>,
        /// The scope the registry said the request needs, if it said.
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parse a `WWW-Authenticate` header value; `None` for a scheme this client does not
    /// speak or a Bearer challenge without a realm.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = match header.split_once(char::is_whitespace) {
            Some((s, r)) => (s, r),
            None => (header, ""),
        };
        let params = parse_params(rest);
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let realm = params.get("realm").filter(|r| !r.is_empty())?.clone();
        Some(Challenge::Bearer {
            realm,
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        })
    }
}

/// `key=value, key="quoted \"value\""` -> map with lower-case keys.
fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek() != Some(&'=') {
            continue;
        }
        chars.next();
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.insert(key.to_ascii_lowercase(), value);
    }
    out
}

/// The access a request needs: one or more `repository:NAME:ACTIONS` scopes, kept sorted so
/// that equal sets of scopes share one cached token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// No scope: what `/v2/` and `builder login` ask for.
    pub fn none() -> Self {
        Scopes(Vec::new())
    }

    /// Pull access to `repo`.
    pub fn pull(repo: &str) -> Self {
        Scopes(vec![format!("repository:{repo}:pull")])
    }

    /// Pull and push access to `repo`.
    pub fn push(repo: &str) -> Self {
        Scopes(vec![format!("repository:{repo}:pull,push")])
    }

    /// These scopes plus pull access to `repo` (the source of a cross-repository mount).
    pub fn and_pull(&self, repo: &str) -> Self {
        self.and(&format!("repository:{repo}:pull"))
    }

    /// These scopes plus `scope` (from a challenge), if not already there.
    pub fn and(&self, scope: &str) -> Self {
        let mut v = self.0.clone();
        for s in scope.split(' ').filter(|s| !s.is_empty()) {
            if !v.iter().any(|have| have == s) {
                v.push(s.to_string());
            }
        }
        v.sort();
        Scopes(v)
    }

    /// The scopes, one per `scope=` query parameter.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            }
        );
        let c =
            Challenge::parse(r#"bearer Realm=http://127.0.0.1:9/t , error="insufficient_scope""#)
                .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "http://127.0.0.1:9/t".into(),
                service: None,
                scope: None
            }
        );
        let c = Challenge::parse(r#"Bearer realm="a\"b",service="s""#).unwrap();
        assert!(matches!(c, Challenge::Bearer { realm, .. } if realm == "a\"b"));
        assert_eq!(Challenge::parse(r#"Bearer service="s""#), None);
    }

    #[test]
    fn basic_and_unknown() {
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("basic"), Some(Challenge::Basic));
        assert_eq!(Challenge::parse("Negotiate abc"), None);
        assert_eq!(Challenge::parse(""), None);
    }

    #[test]
    fn scopes_are_sorted_and_merged() {
        let s = Scopes::push("app").and_pull("base");
        assert_eq!(
            s.as_slice(),
            ["repository:app:pull,push", "repository:base:pull"]
        );
        assert_eq!(s.and("repository:base:pull"), s);
        assert_eq!(Scopes::pull("x").to_string(), "repository:x:pull");
        assert!(Scopes::none().as_slice().is_empty());
    }
}
