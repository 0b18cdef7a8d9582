//! The front of a build: locating and reading the Dockerfile, parsing it into typed
//! instructions, `--build-arg` values, and turning front-end errors into user-facing
//! diagnostics (`Dockerfile:3`, the quoted lines, the cause; see [`super::diagnose`]).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use crate::dockerfile::{self, ParseError};
use crate::error::{Error, Result};

/// Where the Dockerfile comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerfileSource {
    /// A file on disk.
    Path(PathBuf),
    /// Standard input (`-f -`).
    Stdin,
}

impl DockerfileSource {
    /// `-f PATH` if given (`-` is stdin), else the first of `CONTEXT/Dockerfile`,
    /// `CONTEXT/dockerfile` (BuildKit's fallback to the lowercase name), `Containerfile` and
    /// `containerfile` (buildah's and podman's names) that exists; `Dockerfile` when none
    /// does, so that the error names it.
    pub fn locate(context: &str, file: Option<&str>) -> Result<Self> {
        match file {
            Some("-") => Ok(DockerfileSource::Stdin),
            Some(path) => Ok(DockerfileSource::Path(PathBuf::from(path))),
            None if context == "-" => Err(Error::Usage(
                "with the context on stdin, name the Dockerfile with -f".to_string(),
            )),
            None => {
                let dir = PathBuf::from(context);
                let found = ["Dockerfile", "dockerfile", "Containerfile", "containerfile"]
                    .iter()
                    .map(|name| dir.join(name))
                    .find(|p| std::fs::symlink_metadata(p).is_ok());
                Ok(DockerfileSource::Path(
                    found.unwrap_or_else(|| dir.join("Dockerfile")),
                ))
            }
        }
    }

    /// The name used in diagnostics (`Dockerfile`, `build/Containerfile`, `-`).
    pub fn label(&self) -> String {
        match self {
            DockerfileSource::Path(p) => p.display().to_string(),
            DockerfileSource::Stdin => "-".to_string(),
        }
    }

    /// Read the whole Dockerfile as UTF-8 text.
    pub fn read(&self) -> Result<String> {
        let (path, bytes) = match self {
            DockerfileSource::Path(p) => {
                let bytes = std::fs::read(p).map_err(|source| Error::Io {
                    action: "read Dockerfile",
                    path: p.clone(),
                    source,
                })?;
                (p.clone(), bytes)
            }
            DockerfileSource::Stdin => {
                let mut bytes = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut bytes)
                    .map_err(|source| Error::Io {
                        action: "read Dockerfile from",
                        path: PathBuf::from("stdin"),
                        source,
                    })?;
                (PathBuf::from("-"), bytes)
            }
        };
        dockerfile_text(&path, bytes)
    }
}

/// The Dockerfile read from `path` (`-` for stdin) as text; it must be UTF-8.
pub(super) fn dockerfile_text(path: &std::path::Path, bytes: Vec<u8>) -> Result<String> {
    // No typed cause: the vertex that reads the Dockerfile reports the error's causes,
    // and the text already says what the cause would.
    String::from_utf8(bytes).map_err(|e| Error::Dockerfile {
        cause: None,
        rendered: format!(
            "ERROR: failed to solve: {}: the Dockerfile is not valid UTF-8 (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ),
    })
}

/// Turn a front-end error into the user-facing diagnostic for `file`: the excerpt, then
/// `ERROR: ` and the message (exit 2).
pub fn diagnostic(file: &str, text: &str, err: &ParseError) -> Error {
    Error::dockerfile(
        dockerfile::error::render(
            super::diagnose::file_name(file),
            text,
            err.span,
            &err.message,
        ),
        err.clone(),
    )
}

/// Parse `text` (read from `file`) into typed stages; errors in BuildKit's words
/// (`dockerfile parse error on line 2: ...`).
pub fn parse(file: &str, text: &str) -> Result<dockerfile::instructions::Dockerfile> {
    let fail = |e: ParseError| super::diagnose::parse_failure(file, text, &e);
    let ast = dockerfile::parse(text).map_err(fail)?;
    dockerfile::instructions::parse_dockerfile(&ast).map_err(fail)
}

/// Refuse a `--no-cache-filter` value that names no stage of `dockerfile` (by `AS` name,
/// in any case, or by index): a typo would otherwise reuse the cache it meant to skip.
pub fn check_no_cache_filter(
    filters: &[String],
    dockerfile: &dockerfile::instructions::Dockerfile,
) -> Result<()> {
    for filter in filters {
        let f = filter.trim();
        let known = dockerfile.stages.iter().any(|s| {
            s.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(f))
                || f.parse::<usize>().ok() == Some(s.index)
        });
        if !known {
            let names: Vec<&str> = dockerfile
                .stages
                .iter()
                .filter_map(|s| s.name.as_deref())
                .collect();
            let last = dockerfile.stages.len().saturating_sub(1);
            return Err(Error::Usage(format!(
                "--no-cache-filter {filter:?}: the Dockerfile has no such stage (names: {}; \
                 indexes 0-{last})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )));
        }
    }
    Ok(())
}

/// Resolve `--build-arg` values: `K=V` as given, `K` alone from `lookup` (the environment);
/// a `K` that is unset in the environment is left out, as docker does.
pub fn resolve_build_args(
    specs: &[String],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for spec in specs {
        match spec.split_once('=') {
            Some(("", _)) => {
                return Err(Error::Usage(format!(
                    "invalid --build-arg {spec:?}: the name is empty \
                     (use --build-arg NAME=VALUE, or --build-arg NAME to take the value from the environment)"
                )))
            }
            Some((k, v)) => {
                out.insert(k.to_string(), v.to_string());
            }
            None if spec.is_empty() => {
                return Err(Error::Usage(
                    "invalid --build-arg \"\": give NAME=VALUE, or NAME to take the value from the environment"
                        .to_string(),
                ))
            }
            None => {
                if let Some(v) = lookup(spec) {
                    out.insert(spec.clone(), v);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_cache_filter_must_name_a_stage() {
        let df = parse("Dockerfile", "FROM scratch AS Build\nFROM scratch\n").unwrap();
        let check = |f: &[&str]| {
            let filters: Vec<String> = f.iter().map(|s| s.to_string()).collect();
            check_no_cache_filter(&filters, &df)
        };
        assert!(check(&["build", "BUILD", "0", "1", " 1 "]).is_ok());
        let e = check(&["biuld"]).unwrap_err().to_string();
        assert!(e.contains("--no-cache-filter \"biuld\": the Dockerfile has no such stage"));
        assert!(e.contains("names: build; indexes 0-1"), "{e}");
        assert!(check(&["2"]).is_err());
    }

    #[test]
    fn the_dockerfile_is_looked_for_as_buildkit_then_buildah_name_it() {
        let t = tempfile::tempdir().unwrap();
        let ctx = t.path().to_str().unwrap();
        let at = |name: &str| DockerfileSource::Path(t.path().join(name));
        // Neither: the default name, so the error names it.
        assert_eq!(
            DockerfileSource::locate(ctx, None).unwrap(),
            at("Dockerfile")
        );
        std::fs::write(t.path().join("containerfile"), "FROM scratch\n").unwrap();
        assert_eq!(
            DockerfileSource::locate(ctx, None).unwrap(),
            at("containerfile")
        );
        std::fs::write(t.path().join("Containerfile"), "FROM scratch\n").unwrap();
        assert_eq!(
            DockerfileSource::locate(ctx, None).unwrap(),
            at("Containerfile")
        );
        std::fs::write(t.path().join("dockerfile"), "FROM scratch\n").unwrap();
        assert_eq!(
            DockerfileSource::locate(ctx, None).unwrap(),
            at("dockerfile")
        );
        std::fs::write(t.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        assert_eq!(
            DockerfileSource::locate(ctx, None).unwrap(),
            at("Dockerfile")
        );
        // -f is taken as given.
        let named = DockerfileSource::locate(ctx, Some("x/dockerfile")).unwrap();
        assert_eq!(named, DockerfileSource::Path("x/dockerfile".into()));
    }

    #[test]
    fn build_arg_without_value_comes_from_environment() {
        let specs = vec![
            "A=1".to_string(),
            "B".to_string(),
            "C".to_string(),
            "D=x=y".to_string(),
        ];
        let got = resolve_build_args(&specs, |k| (k == "B").then(|| "env".to_string())).unwrap();
        assert_eq!(got.get("A").map(String::as_str), Some("1"));
        assert_eq!(got.get("B").map(String::as_str), Some("env"));
        assert_eq!(got.get("C"), None);
        assert_eq!(got.get("D").map(String::as_str), Some("x=y"));
    }

    #[test]
    fn build_arg_with_empty_name_is_a_usage_error() {
        let err = resolve_build_args(&["=1".to_string()], |_| None).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn dockerfile_defaults_to_context_dir() {
        assert_eq!(
            DockerfileSource::locate("ctx", None).unwrap(),
            DockerfileSource::Path(PathBuf::from("ctx/Dockerfile"))
        );
        assert_eq!(
            DockerfileSource::locate("ctx", Some("-")).unwrap(),
            DockerfileSource::Stdin
        );
        assert!(DockerfileSource::locate("-", None).is_err());
    }
}
