//! Where the local store lives when `--root` is not given (CLI.md): `$BUILDER_ROOT`, else
//! `$XDG_DATA_HOME/builder`, else `~/.local/share/builder`. The environment is passed in, so
//! the rule is testable.

use std::path::PathBuf;

/// The store root: `flag` (`--root`), else `$BUILDER_ROOT`, else `$XDG_DATA_HOME/builder`,
/// else `$HOME/.local/share/builder`. `env` looks up an environment variable (pass
/// `|k| std::env::var_os(k)`); empty values count as unset. `None` when nothing is set.
///
/// ```
/// use std::path::{Path, PathBuf};
/// use builder::store::default_root;
/// let env = |k: &str| (k == "HOME").then(|| "/home/u".into());
/// assert_eq!(default_root(None, env), Some(PathBuf::from("/home/u/.local/share/builder")));
/// assert_eq!(default_root(Some(Path::new("/r")), env), Some(PathBuf::from("/r")));
/// ```
pub fn default_root<F>(flag: Option<&std::path::Path>, env: F) -> Option<PathBuf>
where
    F: Fn(&str) -> Option<std::ffi::OsString>,
{
    if let Some(root) = flag {
        return Some(root.to_path_buf());
    }
    let var = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(root) = var("BUILDER_ROOT") {
        return Some(root);
    }
    if let Some(data) = var("XDG_DATA_HOME") {
        return Some(data.join("builder"));
    }
    var("HOME").map(|home| home.join(".local/share/builder"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::ffi::OsString;
    use std::path::Path;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn precedence() {
        let all = env(&[
            ("BUILDER_ROOT", "/b"),
            ("XDG_DATA_HOME", "/x"),
            ("HOME", "/h"),
        ]);
        assert_eq!(
            default_root(Some(Path::new("/flag")), &all),
            Some("/flag".into())
        );
        assert_eq!(default_root(None, &all), Some("/b".into()));
        let no_root = env(&[("XDG_DATA_HOME", "/x"), ("HOME", "/h")]);
        assert_eq!(default_root(None, no_root), Some("/x/builder".into()));
        let home = env(&[("HOME", "/h"), ("BUILDER_ROOT", "")]);
        assert_eq!(
            default_root(None, home),
            Some("/h/.local/share/builder".into())
        );
        assert_eq!(default_root(None, env(&[])), None);
    }
}
