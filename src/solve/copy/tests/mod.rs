//! Scenario tests of the COPY/ADD engine: a source tree and a destination image are built
//! in temporary directories, a request is run, and the layer directory is compared entry by
//! entry (kind, mode, owner, content or link target).

mod add;
mod bench;
mod basics;
mod chmod_parents;
mod dest;
mod layered;
mod owners;
mod parents;
mod race;
mod symlinks;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::*;

/// Whether the tests run as root (owners can be set and checked).
pub(super) fn is_root() -> bool {
    let dir = tempfile::tempdir().unwrap();
    fs::metadata(dir.path()).unwrap().uid() == 0
}

/// Writes a file (creating parents) with a mode.
pub(super) fn file(root: &Path, rel: &str, content: &str, mode: u32) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Creates a directory (and parents) with a mode.
pub(super) fn dir(root: &Path, rel: &str, mode: u32) {
    let path = root.join(rel);
    fs::create_dir_all(&path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Creates a symlink.
pub(super) fn symlink(root: &Path, rel: &str, target: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, path).unwrap();
}

/// One line per entry below `root`: `d 755 0:0`, `f 644 0:0 content`, `l -> target`.
pub(super) fn summary(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).min_depth(1) {
        let entry = entry.unwrap();
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let m = entry.path().symlink_metadata().unwrap();
        let owner = format!("{}:{}", m.uid(), m.gid());
        let mode = m.mode() & 0o7777;
        let line = if m.file_type().is_symlink() {
            format!("l -> {}", fs::read_link(entry.path()).unwrap().display())
        } else if m.is_dir() {
            format!("d {mode:o} {owner}")
        } else {
            let content = fs::read_to_string(entry.path()).unwrap_or_default();
            format!("f {mode:o} {owner} {content}")
        };
        out.insert(format!("/{rel}"), line);
    }
    out
}

/// Just the paths below `root`.
pub(super) fn paths(root: &Path) -> Vec<String> {
    summary(root).into_keys().collect()
}

/// `CopyRequest::new`, leaving owners alone when the tests do not run as root.
pub(super) fn request<'a>(
    sources: Vec<CopySource>,
    root: SourceRoot<'a>,
    dest: &str,
    image: &'a dyn DestFs,
) -> CopyRequest<'a> {
    let mut req = CopyRequest::new(sources, root, dest, image);
    if !is_root() {
        req.ownership = Ownership::Ignore;
    }
    req
}

/// A source tree, a destination image and an empty layer.
pub(super) struct Fixture {
    pub ctx: tempfile::TempDir,
    pub image: tempfile::TempDir,
    pub out: tempfile::TempDir,
}

impl Fixture {
    pub(super) fn new() -> Fixture {
        Fixture {
            ctx: tempfile::tempdir().unwrap(),
            image: tempfile::tempdir().unwrap(),
            out: tempfile::tempdir().unwrap(),
        }
    }

    pub(super) fn ctx(&self) -> &Path {
        self.ctx.path()
    }

    pub(super) fn image(&self) -> &Path {
        self.image.path()
    }

    pub(super) fn out(&self) -> &Path {
        self.out.path()
    }

    /// Runs a COPY of `sources` to `dest` from the build context onto the image, with
    /// `tweak` adjusting the request.
    pub(super) fn copy_with(
        &self,
        sources: &[&str],
        dest: &str,
        tweak: impl FnOnce(&mut CopyRequest<'_>),
    ) -> Result<CopyStats, CopyError> {
        let image = RootfsDir::new(self.image());
        let root = SourceRoot {
            dir: self.ctx(),
            ignore: None,
            kind: SourceKind::Context,
        };
        let sources = sources
            .iter()
            .map(|s| CopySource::Path(s.to_string()))
            .collect();
        let mut req = request(sources, root, dest, &image);
        tweak(&mut req);
        copy(&req, self.out())
    }

    pub(super) fn copy(&self, sources: &[&str], dest: &str) -> Result<CopyStats, CopyError> {
        self.copy_with(sources, dest, |_| {})
    }

    /// The layer's summary.
    pub(super) fn layer(&self) -> BTreeMap<String, String> {
        summary(self.out())
    }

    /// Every path written into the layer stays inside it.
    pub(super) fn assert_contained(&self) {
        for (path, _) in self.layer() {
            assert!(!path.contains(".."), "{path}");
        }
    }
}

#[test]
fn dest_paths() {
    assert_eq!(dest_path("/abs", "/w"), ("/abs".to_string(), false));
    assert_eq!(dest_path("/abs/", "/w"), ("/abs".to_string(), true));
    assert_eq!(dest_path("rel", "/w"), ("/w/rel".to_string(), false));
    assert_eq!(dest_path("rel/", "/w"), ("/w/rel".to_string(), true));
    assert_eq!(dest_path(".", "/w"), ("/w".to_string(), true));
    assert_eq!(dest_path("", "/w"), ("/w".to_string(), true));
    assert_eq!(dest_path("./", "/"), ("/".to_string(), true));
    assert_eq!(dest_path("/", "/w"), ("/".to_string(), true));
    assert_eq!(dest_path("../../x", "/w"), ("/x".to_string(), false));
    assert_eq!(dest_path("a/.", "w"), ("/w/a".to_string(), true));
}
