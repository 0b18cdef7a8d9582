//! Git source URLs as BuildKit reads them (`dfgitutil.ParseGitRef`): the remote git is given,
//! and the options in the fragment (`#ref:subdir`) or the query (`?ref=...&subdir=...`).
//!
//! Forms: `https://host/repo.git`, `http://`, `git://`, `ssh://` and the scp-like
//! `user@host:path`. The fragment and the query are mutually consistent or refused; every
//! query key BuildKit knows is either used or refused here, unknown keys are refused.

/// The options a Git source URL carries, and the remote handed to `git`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GitUrl {
    /// The repository for `git` (no fragment, no query).
    pub remote: String,
    /// `http`, `https`, `git` or `ssh` (scp-like URLs are `ssh`).
    pub scheme: String,
    /// The host, with its port when one is written (`127.0.0.1:9418`).
    pub host: String,
    /// The branch, tag, full ref or commit; empty for the remote's HEAD.
    pub reference: String,
    /// The directory inside the repository, without leading or trailing `/`.
    pub subdir: String,
    /// `?checksum=` / `?commit=`.
    pub checksum: Option<String>,
    /// `?keep-git-dir=`.
    pub keep_git_dir: Option<bool>,
    /// `?submodules=` (checked out unless `false`).
    pub submodules: Option<bool>,
    /// `?mtime=commit` sets every mtime to the commit time.
    pub mtime_commit: bool,
}

/// Why a Git URL was refused (the caller names the URL).
pub type UrlError = String;

impl GitUrl {
    /// Parses `src` (a source for which [`crate::remote::is_git_source`] holds).
    pub fn parse(src: &str) -> Result<GitUrl, UrlError> {
        let (head, fragment) = match src.split_once('#') {
            Some((h, f)) => (h, f),
            None => (src, ""),
        };
        let (base, query) = match head.split_once('?') {
            Some((b, q)) => (b, q),
            None => (head, ""),
        };
        let mut url = match base.split_once("://") {
            Some((scheme, rest)) => parse_standard(&scheme.to_ascii_lowercase(), rest, true)?,
            None => parse_scp(base)?,
        };
        url.remote = base.to_string();
        if url.host.is_empty() || url.host.starts_with('-') {
            return Err(format!("invalid host {:?}", url.host));
        }
        if let Some((reference, subdir)) = fragment.split_once(':') {
            url.reference = reference.to_string();
            url.subdir = clean_subdir(subdir);
        } else {
            url.reference = fragment.to_string();
        }
        if !query.is_empty() {
            url.load_query(query)?;
        }
        if url.reference.starts_with('-') {
            return Err(format!("invalid ref {:?}", url.reference));
        }
        Ok(url)
    }

    /// The options of a `?key=value&...` query, checked against the fragment.
    fn load_query(&mut self, query: &str) -> Result<(), UrlError> {
        let mut seen: Vec<String> = Vec::new();
        let (mut tag, mut branch) = (String::new(), String::new());
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (percent_decode(k)?, percent_decode(v)?);
            if seen.contains(&k) {
                return Err(format!("query {k:?} has multiple values"));
            }
            seen.push(k.clone());
            let flag = matches!(
                k.as_str(),
                "submodules" | "keep-git-dir" | "fetch-by-commit"
            );
            if v.is_empty() && !flag {
                return Err(format!("query {k:?} has no value"));
            }
            match k.as_str() {
                "ref" => self.reference = agree("ref", &self.reference, v)?,
                "tag" => tag = v,
                "branch" => branch = v,
                "subdir" => self.subdir = agree("subdir", &self.subdir, clean_subdir(&v))?,
                "checksum" | "commit" => self.checksum = Some(v),
                "keep-git-dir" => self.keep_git_dir = Some(parse_bool(&k, &v)?),
                "submodules" => self.submodules = Some(parse_bool(&k, &v)?),
                "mtime" => match v.as_str() {
                    "checkout" => self.mtime_commit = false,
                    "commit" => self.mtime_commit = true,
                    _ => {
                        return Err(format!(
                            "invalid mtime value: {v:?} (must be \"checkout\" or \"commit\")"
                        ))
                    }
                },
                "fetch-by-commit" => {
                    return Err("query \"fetch-by-commit\" is not supported".into())
                }
                _ => return Err(format!("unexpected query {k:?}")),
            }
        }
        if !tag.is_empty() {
            if !branch.is_empty() {
                return Err("branch conflicts with tag".into());
            }
            let full = prefixed("refs/tags/", tag);
            self.reference = agree("ref", &self.reference, full)?;
        } else if !branch.is_empty() {
            let full = prefixed("refs/heads/", branch);
            self.reference = agree("ref", &self.reference, full)?;
        }
        Ok(())
    }
}

/// The URL `.gitmodules` gives a submodule of `parent`: relative (`../x.git`, `./x`) to the
/// superproject's remote, as git resolves it, else a remote of a Git source's protocols
/// (no local path, no `file://`). The ref is the gitlink's commit, set by the caller.
pub fn submodule_url(parent: &GitUrl, raw: &str) -> Result<GitUrl, UrlError> {
    let absolute = if raw.starts_with("./") || raw.starts_with("../") {
        relative_url(&parent.remote, raw)
            .ok_or_else(|| format!("cannot resolve {raw:?} against the superproject"))?
    } else {
        raw.to_string()
    };
    let mut url = match absolute.split_once("://") {
        Some((scheme, rest)) => parse_standard(&scheme.to_ascii_lowercase(), rest, false)?,
        None => parse_scp(&absolute)?,
    };
    if url.host.is_empty() || url.host.starts_with('-') {
        return Err(format!("invalid host {:?}", url.host));
    }
    url.remote = absolute;
    Ok(url)
}

/// `rel` (starting with `./` or `../`) against the remote `base`, git's `relative_url`.
fn relative_url(base: &str, rel: &str) -> Option<String> {
    let mut base = base.trim_end_matches('/').to_string();
    let mut rel = rel;
    // Where the path starts: after `scheme://host`, or after the `:` of `user@host:`.
    let path_start = match base.find("://") {
        Some(i) => base[i + 3..].find('/').map(|j| i + 3 + j)?,
        None => base.find(':')? + 1,
    };
    loop {
        if let Some(r) = rel.strip_prefix("./") {
            rel = r;
        } else if let Some(r) = rel.strip_prefix("../") {
            rel = r;
            if base.len() <= path_start {
                return None;
            }
            let cut = base
                .rfind('/')
                .filter(|&i| i >= path_start)
                .unwrap_or(path_start);
            base.truncate(cut);
        } else {
            break;
        }
    }
    if base.ends_with(':') {
        Some(format!("{base}{rel}"))
    } else {
        Some(format!("{base}/{rel}"))
    }
}

/// `scheme://[user[:password]@]host[:port]/path`.
fn parse_standard(scheme: &str, rest: &str, require_git: bool) -> Result<GitUrl, UrlError> {
    if !matches!(scheme, "http" | "https" | "git" | "ssh") {
        return Err(format!("invalid protocol {scheme:?}"));
    }
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if require_git && matches!(scheme, "http" | "https") {
        let path = &rest[authority.len()..];
        if !path.ends_with(".git") {
            return Err("an HTTP(S) Git URL must end in .git".into());
        }
    }
    Ok(GitUrl {
        scheme: scheme.to_string(),
        host: host.to_string(),
        ..GitUrl::default()
    })
}

/// `user@host:path`, BuildKit's `sshutil.ParseSCPStyleURL`.
fn parse_scp(base: &str) -> Result<GitUrl, UrlError> {
    let err = || format!("unknown protocol in {base:?}");
    let (user, rest) = base.split_once('@').ok_or_else(err)?;
    let (host, _path) = rest.split_once(':').ok_or_else(err)?;
    let user_ok = !user.is_empty()
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !user_ok || !host_ok {
        return Err(err());
    }
    Ok(GitUrl {
        scheme: "ssh".into(),
        host: host.to_string(),
        ..GitUrl::default()
    })
}

/// `path.Join("/", s)` without the leading `/`: `..` cannot climb above the root.
pub fn clean_subdir(s: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in s.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(p),
        }
    }
    parts.join("/")
}

fn agree(what: &str, old: &str, new: String) -> Result<String, UrlError> {
    if !old.is_empty() && old != new {
        return Err(format!("{what} conflicts: {old:?} vs {new:?}"));
    }
    Ok(new)
}

fn prefixed(prefix: &str, name: String) -> String {
    if name.starts_with(prefix) {
        name
    } else {
        format!("{prefix}{name}")
    }
}

fn parse_bool(key: &str, v: &str) -> Result<bool, UrlError> {
    match v {
        "" | "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid {key} value: {v:?}")),
    }
}

fn percent_decode(s: &str) -> Result<String, UrlError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3).unwrap_or("");
                let b = u8::from_str_radix(hex, 16)
                    .map_err(|_| format!("invalid escape in query {s:?}"))?;
                out.push(b);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("invalid UTF-8 in query {s:?}"))
}

pub use crate::domain::remote_source::redact_credentials as redact;

#[cfg(test)]
#[path = "url_tests.rs"]
mod tests;
