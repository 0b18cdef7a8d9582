//! Build secrets (`--secret id=ID[,src=PATH|,env=VAR]`), as `docker buildx build` reads
//! them: a file or an environment variable of the builder's own environment, looked up
//! when a `RUN --mount=type=secret` asks for the id.
//!
//! Without `src` and `env`, the id names an environment variable when one is set, else a
//! file (BuildKit's `secretsprovider.NewStore`).

use std::path::PathBuf;

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file on the host (made absolute).
    File(PathBuf),
    /// An environment variable of the builder.
    Env(String),
}

impl SecretSource {
    /// The secret's bytes.
    pub fn read(&self, id: &str) -> Result<Vec<u8>, String> {
        match self {
            SecretSource::File(path) => std::fs::read(path)
                .map_err(|e| format!("secret {id}: read {}: {e}", path.display())),
            SecretSource::Env(var) => std::env::var_os(var)
                .map(|v| v.into_encoded_bytes())
                .ok_or_else(|| format!("secret {id}: environment variable {var} is not set")),
        }
    }
}

/// Parse one `--secret` value; `has_env` says whether an environment variable is set.
///
/// ```
/// use builder::solve::run::{parse_secret, SecretSource};
/// let (id, src) = parse_secret("id=token,env=GH_TOKEN", |_| false).unwrap();
/// assert_eq!((id.as_str(), src), ("token", SecretSource::Env("GH_TOKEN".into())));
/// ```
pub fn parse_secret(
    spec: &str,
    has_env: impl Fn(&str) -> bool,
) -> Result<(String, SecretSource), String> {
    let mut id = None;
    let mut file = None;
    let mut env = None;
    let mut kind = None;
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = field.split_once('=').ok_or_else(|| {
            format!("invalid field {field:?} in secret {spec:?}: expected KEY=VALUE")
        })?;
        match key.to_ascii_lowercase().as_str() {
            "type" if value == "file" || value == "env" => kind = Some(value.to_string()),
            "type" => return Err(format!("unsupported secret type {value:?}")),
            "id" => id = Some(value.to_string()),
            "source" | "src" => file = Some(value.to_string()),
            "env" => env = Some(value.to_string()),
            _ => return Err(format!("unexpected key {key:?} in secret {spec:?}")),
        }
    }
    if kind.as_deref() == Some("env") && env.is_none() {
        env = file.take();
    }
    let id = id
        .filter(|i| !i.is_empty())
        .ok_or_else(|| format!("secret {spec:?} has no id"))?;
    let source = match (file, env) {
        (_, Some(var)) => SecretSource::Env(var),
        (Some(path), None) => SecretSource::File(absolute(&path)),
        (None, None) if has_env(&id) => SecretSource::Env(id.clone()),
        (None, None) => SecretSource::File(absolute(&id)),
    };
    Ok((id, source))
}

fn absolute(path: &str) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_follow_buildx() {
        let none = |_: &str| false;
        let (id, src) = parse_secret("id=a,src=/run/a.txt", none).unwrap();
        assert_eq!(id, "a");
        assert_eq!(src, SecretSource::File("/run/a.txt".into()));
        let (_, src) = parse_secret("id=a,type=env,src=VAR", none).unwrap();
        assert_eq!(src, SecretSource::Env("VAR".into()));
        let (_, src) = parse_secret("id=HOME", |v| v == "HOME").unwrap();
        assert_eq!(src, SecretSource::Env("HOME".into()));
        let (_, src) = parse_secret("id=/abs/f", none).unwrap();
        assert_eq!(src, SecretSource::File("/abs/f".into()));
    }

    #[test]
    fn bad_specs_are_refused() {
        let none = |_: &str| false;
        assert!(parse_secret("src=/x", none).unwrap_err().contains("no id"));
        assert!(parse_secret("id=a,colour=red", none).is_err());
        assert!(parse_secret("id=a,type=ssh", none).is_err());
        assert!(parse_secret("id=a,novalue", none).is_err());
    }

    #[test]
    fn values_are_read_from_files_and_variables() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("s");
        std::fs::write(&f, "hush").unwrap();
        assert_eq!(SecretSource::File(f).read("s").unwrap(), b"hush");
        let missing = SecretSource::Env("BUILDER_TEST_NO_SUCH_VAR".into());
        assert!(missing.read("x").unwrap_err().contains("not set"));
    }
}
