//! Which ADD sources are remote, by BuildKit's rules: a Git repository (`git@host:repo`,
//! `git://`, `ssh://`, or an HTTP(S) URL whose path ends in `.git`) or an HTTP(S) file.
//! `github.com/o/r` without a scheme is a local path, as in BuildKit. Also how a source's
//! credentials are masked wherever it is shown.

/// Whether `src` is a Git repository reference.
///
/// ```
/// use builder::domain::remote_source::is_git_source;
/// assert!(is_git_source("https://github.com/moby/buildkit.git#v0.10.1"));
/// assert!(is_git_source("git@github.com:moby/buildkit.git"));
/// assert!(!is_git_source("local/file.git"));
/// ```
pub fn is_git_source(src: &str) -> bool {
    if src.starts_with("git@") || src.starts_with("git://") || src.starts_with("ssh://") {
        return true;
    }
    if !(src.starts_with("http://") || src.starts_with("https://")) {
        return false;
    }
    let path = src.split(['#', '?']).next().unwrap_or(src);
    path.trim_end_matches('/').ends_with(".git")
}

/// Whether `src` is a remote HTTP(S) file (and not a Git repository).
pub fn is_http_source(src: &str) -> bool {
    (src.starts_with("http://") || src.starts_with("https://")) && !is_git_source(src)
}

/// Whether `src` is fetched from the network (HTTP(S) file or Git repository).
pub fn is_remote_source(src: &str) -> bool {
    is_http_source(src) || is_git_source(src)
}

/// `url` with the user name and password of a `scheme://user:password@host` URL masked,
/// as BuildKit's `urlutil.RedactCredentials`; other forms are returned unchanged.
pub fn redact_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let masked = match userinfo.split_once(':') {
        Some(("", _)) => ":xxxxx".to_string(),
        Some(_) => "xxxxx:xxxxx".to_string(),
        None if userinfo.is_empty() => return url.to_string(),
        None => "xxxxx".to_string(),
    };
    format!("{scheme}://{masked}@{host}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_sources() {
        assert!(is_http_source("https://example.com/a.tar.gz"));
        assert!(!is_http_source(
            "https://github.com/moby/buildkit.git#v0.10.1"
        ));
        assert!(is_git_source("https://github.com/o/r.git#main:dir"));
        assert!(is_git_source("https://example.com/r.git/"));
        assert!(is_git_source("https://example.com/r.git?ref=main"));
        assert!(is_git_source("ssh://git@example.com/r"));
        assert!(is_git_source("git://example.com/r"));
        assert!(!is_git_source("github.com/o/r.git"));
        assert!(!is_http_source("file.txt"));
        assert!(is_remote_source("http://127.0.0.1:8080/x"));
        assert!(!is_remote_source("./x"));
    }

    #[test]
    fn credentials_are_masked() {
        assert_eq!(
            redact_credentials("https://u:p@h/x@y?q=a@b"),
            "https://xxxxx:xxxxx@h/x@y?q=a@b"
        );
        assert_eq!(redact_credentials("https://u@h/x"), "https://xxxxx@h/x");
        assert_eq!(redact_credentials("https://h/a@b"), "https://h/a@b");
        assert_eq!(redact_credentials("git@h:o/r.git"), "git@h:o/r.git");
    }
}
