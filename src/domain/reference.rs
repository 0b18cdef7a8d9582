//! Image names as Docker reads them (the grammar of distribution/reference): `app` means
//! `docker.io/library/app:latest`, `user/app` means `docker.io/user/app`, a first component
//! with a `.` or `:` or equal to `localhost` is a registry host (`localhost:5000/x` keeps its
//! host), and `name@sha256:...` pins a digest. Names in the store and in outputs are always in
//! this canonical form, and FROM and `COPY --from` are validated and normalised by the same
//! rules (distribution's `ParseNormalizedNamed` + `TagNameOnly`).

use std::fmt;
use std::sync::OnceLock;

use oci_spec::image::{Digest, DigestAlgorithm};
use regex::Regex;

/// Docker Hub's canonical domain.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Docker Hub's old domain, normalised to [`DEFAULT_DOMAIN`].
const LEGACY_DOMAIN: &str = "index.docker.io";
/// The namespace of Docker Hub's official images.
const OFFICIAL_PREFIX: &str = "library/";
/// The tag a name without tag or digest gets.
pub const DEFAULT_TAG: &str = "latest";
/// The longest repository name (`domain/path`) allowed.
const MAX_NAME_LEN: usize = 255;

/// A parsed, normalised image reference: `domain/path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Why a reference does not parse; the message is Docker's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReferenceError(pub String);

// The grammar, built from the same pieces as distribution/reference's regexp.go.
const ALNUM: &str = "[a-z0-9]+";
const SEPARATOR: &str = "(?:[._]|__|[-]+)";
const DOMAIN_COMPONENT: &str = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const TAG: &str = "[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}";
const DIGEST: &str = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}";
const IPV6: &str = r"\[(?:[a-fA-F0-9:]+)\]";

fn domain_and_port() -> String {
    let domain_name = format!(r"{DOMAIN_COMPONENT}(?:\.{DOMAIN_COMPONENT})*");
    format!(r"(?:{domain_name}|{IPV6})(?::[0-9]+)?")
}

fn remote_name() -> String {
    let component = format!("{ALNUM}(?:{SEPARATOR}{ALNUM})*");
    format!("{component}(?:/{component})*")
}

fn compile(pattern: &str) -> Regex {
    // The patterns are constants of this module; a failure is a bug caught by every test.
    Regex::new(pattern).expect("reference grammar compiles")
}

fn reference_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let name = format!("(?:{}/)?{}", domain_and_port(), remote_name());
        compile(&format!("^({name})(?::({TAG}))?(?:@({DIGEST}))?$"))
    })
}

fn anchored_name_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        compile(&format!(
            "^(?:({})/)?({})$",
            domain_and_port(),
            remote_name()
        ))
    })
}

fn identifier_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| compile("^[a-f0-9]{64}$"))
}

fn tag_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| compile(&format!("^{TAG}$")))
}

fn err(msg: impl Into<String>) -> ReferenceError {
    ReferenceError(msg.into())
}

/// Split a familiar name into domain and remote name (Docker's `splitDockerDomain`).
fn split_docker_domain(name: &str) -> (String, String) {
    let Some((first, rest)) = name.split_once('/') else {
        return (DEFAULT_DOMAIN.into(), format!("{OFFICIAL_PREFIX}{name}"));
    };
    let (domain, mut remote) = if first == "localhost" {
        (first.to_string(), rest.to_string())
    } else if first == LEGACY_DOMAIN {
        (DEFAULT_DOMAIN.to_string(), rest.to_string())
    } else if first.contains(['.', ':']) || first.to_lowercase() != first {
        (first.to_string(), rest.to_string())
    } else {
        (DEFAULT_DOMAIN.to_string(), name.to_string())
    };
    if domain == DEFAULT_DOMAIN && !remote.contains('/') {
        remote = format!("{OFFICIAL_PREFIX}{remote}");
    }
    (domain, remote)
}

fn parse_digest(s: &str) -> Result<Digest, ReferenceError> {
    let d: Digest = s
        .parse()
        .map_err(|e| err(format!("invalid digest format: {e}")))?;
    match d.algorithm() {
        DigestAlgorithm::Sha256 | DigestAlgorithm::Sha384 | DigestAlgorithm::Sha512 => Ok(d),
        other => Err(err(format!("unsupported digest algorithm: {other}"))),
    }
}

impl Reference {
    /// Parse a name as the Docker CLI does (`ParseNormalizedNamed`), without adding a tag.
    pub fn parse_named(s: &str) -> Result<Self, ReferenceError> {
        if identifier_re().is_match(s) {
            return Err(err(format!(
                "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
            )));
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote = remainder.split(':').next().unwrap_or(&remainder);
        if remote.to_lowercase() != remote {
            return Err(err(format!(
                "invalid reference format: repository name ({remote}) must be lowercase"
            )));
        }
        Self::parse_exact(&format!("{domain}/{remainder}"))
    }

    /// Parse a name and give it the tag `latest` if it has neither tag nor digest: the form
    /// every name in the store has.
    ///
    /// ```
    /// use builder::domain::reference::Reference;
    /// let r = Reference::parse("app").unwrap();
    /// assert_eq!(r.to_string(), "docker.io/library/app:latest");
    /// assert_eq!(r.familiar(), "app:latest");
    /// let r = Reference::parse("localhost:5000/x").unwrap();
    /// assert_eq!(r.to_string(), "localhost:5000/x:latest");
    /// ```
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let mut r = Self::parse_named(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    /// Parse `[domain/]path[:tag][@digest]` exactly as written, with no default domain, namespace
    /// or tag (Docker's `Parse`); [`Reference::parse`] is what commands want.
    pub fn parse_exact(s: &str) -> Result<Self, ReferenceError> {
        if s.is_empty() {
            return Err(err("repository name must have at least one component"));
        }
        let Some(caps) = reference_re().captures(s) else {
            let lower = s.to_lowercase();
            if lower != s && reference_re().is_match(&lower) {
                return Err(err("repository name must be lowercase"));
            }
            return Err(err("invalid reference format"));
        };
        let name = caps.get(1).map_or("", |m| m.as_str());
        let (domain, path) = match anchored_name_re().captures(name) {
            Some(n) => (
                n.get(1).map_or("", |m| m.as_str()).to_string(),
                n.get(2).map_or("", |m| m.as_str()).to_string(),
            ),
            None => (String::new(), name.to_string()),
        };
        if name.len() > MAX_NAME_LEN {
            return Err(err(format!(
                "repository name must not be more than {MAX_NAME_LEN} characters"
            )));
        }
        let tag = caps.get(2).map(|m| m.as_str().to_string());
        let digest = caps.get(3).map(|m| parse_digest(m.as_str())).transpose()?;
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The registry host (`docker.io`, `localhost:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path on the registry (`library/app`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `domain/path`, without tag or digest.
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The pinned digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The same repository with tag `tag` (Docker's `WithTag`).
    pub fn with_tag(&self, tag: &str) -> Result<Self, ReferenceError> {
        if !tag_re().is_match(tag) {
            return Err(err("invalid tag format"));
        }
        Ok(Reference {
            tag: Some(tag.to_string()),
            ..self.clone()
        })
    }

    /// The same reference without its digest.
    pub fn without_digest(&self) -> Self {
        Reference {
            digest: None,
            ..self.clone()
        }
    }

    /// The short name the Docker CLI shows: `docker.io/` and `library/` removed.
    pub fn familiar_name(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.name();
        }
        match self.path.strip_prefix(OFFICIAL_PREFIX) {
            Some(rest) if !rest.contains('/') => rest.to_string(),
            _ => self.path.clone(),
        }
    }

    /// The whole reference in familiar form (`app:latest`).
    pub fn familiar(&self) -> String {
        self.suffixed(self.familiar_name())
    }

    /// The familiar form with a `latest` tag left out (`busybox`, `busybox:1.36`,
    /// `ghcr.io/x/y`): how a Dockerfile usually writes the name, and the name a
    /// `--build-context` is looked up by.
    ///
    /// ```
    /// use builder::domain::reference::Reference;
    /// let r = Reference::parse("docker.io/library/busybox:latest").unwrap();
    /// assert_eq!(r.familiar_short(), "busybox");
    /// ```
    pub fn familiar_short(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = self.tag.as_deref().filter(|t| *t != DEFAULT_TAG) {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d.as_ref());
        }
        s
    }

    fn suffixed(&self, mut s: String) -> String {
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d.as_ref());
        }
        s
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.suffixed(self.name()))
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

#[cfg(test)]
#[path = "reference_tests.rs"]
mod tests;
