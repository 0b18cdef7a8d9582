//! Where the local store lives when `--root` is not given (CLI.md): `$BUILDER_ROOT`, else
//! `$XDG_DATA_HOME/builder`, else `~/.local/share/builder`. The environment is passed in, so
//! the rule is testable.
//!
//! And who may enter it: the store holds the files of every image built or unpacked, setuid
//! programs and files with `security.capability` among them, so its root is private to its
//! owner (0700, as Docker keeps `/var/lib/docker` and BuildKit `/var/lib/buildkit`).
//! [`prepare_root`] creates it so, and takes group and other access away from a store of
//! ours that has it (saying so once on stderr). A store owned by another user is that
//! user's to protect and is left as it is.

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::error::{Result, StoreError};

/// The mode of a store root.
pub const ROOT_MODE: u32 = 0o700;

/// What [`secure_root`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootAccess {
    /// There was no store: it was created private.
    Created,
    /// It was ours and private already.
    Private,
    /// It was ours and open to others (`was`, the permission bits it had): it is private
    /// now. `empty`: it held nothing yet.
    Tightened {
        /// The permission bits it had.
        was: u32,
        /// Whether it held nothing yet.
        empty: bool,
    },
    /// It belongs to another user (`owner`), who decides who may enter it.
    Foreign {
        /// Its owner's user id.
        owner: u32,
    },
}

/// Make `root` a private store root: create it 0700 (parents as usual) when it is absent;
/// when it is ours (owned by the effective user) and group or others have any access to
/// it, make it 0700. Nothing is printed; see [`prepare_root`].
pub fn secure_root(root: &Path) -> Result<RootAccess> {
    let meta = match std::fs::metadata(root) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StoreError::io("create store directory", parent, e))?;
            }
            match std::fs::DirBuilder::new().mode(ROOT_MODE).create(root) {
                Ok(()) => return Ok(RootAccess::Created),
                // Made by another builder meanwhile: check it like any existing one.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => std::fs::metadata(root)
                    .map_err(|e| StoreError::io("look up store directory", root, e))?,
                Err(e) => return Err(StoreError::io("create store directory", root, e)),
            }
        }
        Err(e) => return Err(StoreError::io("look up store directory", root, e)),
    };
    if !meta.is_dir() {
        return Err(StoreError::io(
            "open store directory",
            root,
            io::Error::from_raw_os_error(rustix::io::Errno::NOTDIR.raw_os_error()),
        ));
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Ok(RootAccess::Foreign { owner: meta.uid() });
    }
    let was = meta.mode() & 0o7777;
    if was & 0o077 == 0 {
        return Ok(RootAccess::Private);
    }
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(ROOT_MODE))
        .map_err(|e| StoreError::io("make private store directory", root, e))?;
    let empty = std::fs::read_dir(root)
        .map_err(|e| StoreError::io("list", root, e))?
        .next()
        .is_none();
    Ok(RootAccess::Tightened { was, empty })
}

/// [`secure_root`], with one notice on stderr when a store that already held something
/// was open to others (an empty directory is simply made private, as if created).
pub fn prepare_root(root: &Path) -> Result<()> {
    if let RootAccess::Tightened { was, empty: false } = secure_root(root)? {
        eprintln!("{}", tightened_notice(root, was));
    }
    Ok(())
}

/// The notice [`prepare_root`] prints.
fn tightened_notice(root: &Path, was: u32) -> String {
    format!(
        "notice: the store {} was open to other users (mode {was:04o}); it is now {ROOT_MODE:04o}, \
         so that only its owner reaches the files of its images (setuid programs among them)",
        root.display()
    )
}

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
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::ffi::OsString;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn a_new_store_root_is_private() {
        let t = tempfile::tempdir().unwrap();
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let root = t.path().join("a/b/store");
        assert_eq!(secure_root(&root).unwrap(), RootAccess::Created);
        assert_eq!(mode(&root), 0o700);
        assert_eq!(secure_root(&root).unwrap(), RootAccess::Private);
    }

    #[test]
    fn an_open_store_root_of_ours_is_tightened() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("store");
        std::fs::create_dir(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            secure_root(&root).unwrap(),
            RootAccess::Tightened {
                was: 0o755,
                empty: true
            }
        );
        assert_eq!(mode(&root), 0o700);
        std::fs::create_dir(root.join("blobs")).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o711)).unwrap();
        assert_eq!(
            secure_root(&root).unwrap(),
            RootAccess::Tightened {
                was: 0o711,
                empty: false
            }
        );
        assert_eq!(mode(&root), 0o700);
        assert!(tightened_notice(&root, 0o711).contains("mode 0711"));
    }

    #[test]
    fn a_store_root_of_another_user_is_left_alone() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: giving a directory to another user needs root");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("store");
        std::fs::create_dir(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&root, Some(65534), Some(65534)).unwrap();
        assert_eq!(
            secure_root(&root).unwrap(),
            RootAccess::Foreign { owner: 65534 }
        );
        assert_eq!(mode(&root), 0o755);
    }

    #[test]
    fn a_file_is_not_a_store_root() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("f");
        std::fs::write(&file, "x").unwrap();
        assert!(secure_root(&file).is_err());
    }

    /// An environment of `pairs` only, for the functions that take one.
    pub(crate) fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
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
