//! Image references in FROM and `COPY --from`: validation and normalisation the way
//! distribution's `ParseNormalizedNamed` + `TagNameOnly` do it (`busybox` ->
//! `docker.io/library/busybox:latest`), and the familiar short form used to match
//! `--build-context` names.
//!
//! Pure string work; the registry module owns pulling. Only what the plan needs is here.

/// A validated, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (`docker.io`, `localhost:5000`).
    pub domain: String,
    /// Repository path (`library/busybox`).
    pub path: String,
    /// Tag, if any (after normalisation: `latest` when neither tag nor digest was given).
    pub tag: Option<String>,
    /// Digest (`sha256:...`), if any.
    pub digest: Option<String>,
}

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DOMAIN: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";

impl ImageRef {
    /// Parse `s` as a Docker reference and add `:latest` when it has neither tag nor digest.
    /// The error is distribution's message (`invalid reference format: repository name
    /// (library/Foo) must be lowercase`).
    pub fn parse_normalized(s: &str) -> Result<ImageRef, String> {
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return Err(format!(
                "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
            ));
        }
        let (domain, remainder) = split_domain(s);
        let remote = remainder.split(':').next().unwrap_or_default();
        let remote = remote.split('@').next().unwrap_or_default();
        if remote.to_lowercase() != remote {
            return Err(format!(
                "invalid reference format: repository name ({remote}) must be lowercase"
            ));
        }
        let (rest, digest) = match remainder.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (remainder.as_str(), None),
        };
        let (path, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if !valid_domain(&domain) || !valid_path(path) {
            return Err("invalid reference format".to_string());
        }
        if domain.len() + 1 + path.len() > 255 {
            return Err("repository name must not be more than 255 characters".to_string());
        }
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err("invalid reference format".to_string());
            }
        }
        if let Some(d) = digest {
            if !valid_digest(d) {
                return Err("invalid reference format".to_string());
            }
        }
        let tag = match (tag, digest) {
            (None, None) => Some("latest".to_string()),
            (t, _) => t.map(str::to_string),
        };
        Ok(ImageRef {
            domain,
            path: path.to_string(),
            tag,
            digest: digest.map(str::to_string),
        })
    }

    /// The short form docker prints (`busybox`, `busybox:1.36`, `ghcr.io/x/y`), with a
    /// `:latest` tag dropped: the name a `--build-context` is looked up by.
    pub fn familiar(&self) -> String {
        let mut name = if self.domain == DEFAULT_DOMAIN {
            self.path
                .strip_prefix(OFFICIAL_PREFIX)
                .filter(|p| !p.contains('/'))
                .unwrap_or(&self.path)
                .to_string()
        } else {
            format!("{}/{}", self.domain, self.path)
        };
        if let Some(t) = &self.tag {
            if t != "latest" {
                name.push(':');
                name.push_str(t);
            }
        }
        if let Some(d) = &self.digest {
            name.push('@');
            name.push_str(d);
        }
        name
    }
}

impl std::fmt::Display for ImageRef {
    /// The full form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_PREFIX}{remainder}");
    }
    (domain, remainder)
}

fn valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || domain.starts_with('[') => (h, Some(p)),
        _ => (domain, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    if host.starts_with('[') {
        return host.ends_with(']')
            && host.len() > 2
            && host[1..host.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Path components: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, separated by `/`.
fn valid_path(path: &str) -> bool {
    !path.is_empty() && path.split('/').all(valid_component)
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

fn valid_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some((alg, hex)) => {
            !alg.is_empty()
                && alg.as_bytes()[0].is_ascii_alphabetic()
                && alg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_+.".contains(&b))
                && hex.len() >= 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        ImageRef::parse_normalized(s).unwrap().to_string()
    }

    #[test]
    fn normalises_like_distribution() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(norm("user/app"), "docker.io/user/app:latest");
        assert_eq!(norm("index.docker.io/x"), "docker.io/library/x:latest");
        assert_eq!(norm("localhost:5000/a/b:t"), "localhost:5000/a/b:t");
        assert_eq!(norm("ghcr.io/o/r"), "ghcr.io/o/r:latest");
        let dg = format!("alpine@sha256:{}", "a".repeat(64));
        assert_eq!(norm(&dg), format!("docker.io/library/{dg}"));
    }

    #[test]
    fn rejects_bad_references() {
        let e = ImageRef::parse_normalized("Build").unwrap_err();
        assert_eq!(
            e,
            "invalid reference format: repository name (library/Build) must be lowercase"
        );
        assert!(ImageRef::parse_normalized("a b").is_err());
        assert!(ImageRef::parse_normalized("a::b").is_err());
        assert!(ImageRef::parse_normalized("").is_err());
        assert!(ImageRef::parse_normalized("x-").is_err());
    }

    #[test]
    fn familiar_form_drops_defaults() {
        let f = |s: &str| ImageRef::parse_normalized(s).unwrap().familiar();
        assert_eq!(f("busybox"), "busybox");
        assert_eq!(f("docker.io/library/busybox:latest"), "busybox");
        assert_eq!(f("busybox:1"), "busybox:1");
        assert_eq!(f("user/app"), "user/app");
        assert_eq!(f("ghcr.io/o/r"), "ghcr.io/o/r");
    }
}
