use std::io::Read;
use std::os::unix::fs::symlink;

use super::*;

/// A root with `a/b/file`, a host directory outside it holding `secret`, and symlinks in
/// the root pointing out (`out` absolute, `up` relative) and in (`inside`).
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    host: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let host = tmp.path().join("host");
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::create_dir(&host).unwrap();
    std::fs::write(root.join("a/b/file"), "in root").unwrap();
    std::fs::write(host.join("secret"), "host").unwrap();
    symlink(&host, root.join("out")).unwrap();
    symlink("../host", root.join("up")).unwrap();
    symlink("a/b", root.join("inside")).unwrap();
    Fixture {
        _tmp: tmp,
        root,
        host,
    }
}

type Opener = fn(BorrowedFd<'_>, &str, OFlags, Mode) -> io::Result<OwnedFd>;

/// Both implementations: the kernel's `openat2` and the walk used without it.
fn openers() -> [(&'static str, Opener); 2] {
    fn walk(d: BorrowedFd<'_>, rel: &str, f: OFlags, m: Mode) -> io::Result<OwnedFd> {
        if rel.split('/').any(|c| c == "..") {
            return Err(Errno::XDEV.into());
        }
        Ok(walk_beneath(
            d,
            rel,
            f | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            m,
        )?)
    }
    [("openat2", open_beneath), ("walk", walk)]
}

fn read(fd: OwnedFd) -> String {
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s).unwrap();
    s
}

fn errno(r: io::Result<OwnedFd>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

#[test]
fn a_plain_path_below_the_root_opens() {
    let f = fixture();
    let root = open_root(&f.root).unwrap();
    for (name, open) in openers() {
        let fd = open(root.as_fd(), "a/b/file", OFlags::RDONLY, Mode::empty()).unwrap();
        assert_eq!(read(fd), "in root", "{name}");
        let dir = open(root.as_fd(), "a/./b/", OFlags::DIRECTORY, Mode::empty()).unwrap();
        assert!(
            lstat_at(dir.as_fd(), "file".as_ref()).unwrap().is_file(),
            "{name}"
        );
        assert!(open(root.as_fd(), "", OFlags::DIRECTORY, Mode::empty()).is_ok());
    }
}

#[test]
fn a_symlink_in_any_component_is_refused() {
    let f = fixture();
    let root = open_root(&f.root).unwrap();
    for (name, open) in openers() {
        for rel in ["out/secret", "up/secret", "inside/file", "out", "inside"] {
            let got = errno(open(root.as_fd(), rel, OFlags::RDONLY, Mode::empty()));
            assert_eq!(got, Some(nix::libc::ELOOP), "{name}: {rel}");
        }
    }
}

#[test]
fn dot_dot_cannot_escape() {
    let f = fixture();
    let root = open_root(&f.root).unwrap();
    for (name, open) in openers() {
        for rel in [
            "../host/secret",
            "a/../../host/secret",
            "a/b/../../../host",
            "..",
        ] {
            let got = errno(open(root.as_fd(), rel, OFlags::RDONLY, Mode::empty()));
            assert_eq!(got, Some(nix::libc::EXDEV), "{name}: {rel}");
        }
    }
}

#[test]
fn a_symlink_itself_can_be_looked_at() {
    let f = fixture();
    let root = open_root(&f.root).unwrap();
    assert!(lstat_at(root.as_fd(), "out".as_ref()).unwrap().is_symlink());
    assert_eq!(read_link_at(root.as_fd(), "out".as_ref()).unwrap(), f.host);
    let names = read_names(root.as_fd()).unwrap();
    assert_eq!(names, ["a", "inside", "out", "up"].map(OsString::from));
    for (name, open) in openers() {
        let flags = OFlags::PATH | OFlags::NOFOLLOW;
        let fd = open(root.as_fd(), "up", flags, Mode::empty()).unwrap();
        let st = rustix::fs::fstat(&fd).unwrap();
        assert!(Meta::from_stat(&st).is_symlink(), "{name}");
    }
}

/// The race the descriptors exist for: a directory renamed away and replaced by a symlink
/// after it was opened keeps serving the original directory's files.
#[test]
fn an_open_directory_survives_a_swap_for_a_symlink() {
    let f = fixture();
    let root = open_root(&f.root).unwrap();
    for (name, open) in openers() {
        let b = open(root.as_fd(), "a/b", OFlags::DIRECTORY, Mode::empty()).unwrap();
        std::fs::rename(f.root.join("a/b"), f.root.join("a/b.moved")).unwrap();
        symlink(&f.host, f.root.join("a/b")).unwrap();
        std::fs::write(f.host.join("file"), "host").unwrap();
        let file = open(b.as_fd(), "file", OFlags::RDONLY, Mode::empty()).unwrap();
        assert_eq!(read(file), "in root", "{name}");
        let again = errno(open(
            root.as_fd(),
            "a/b/file",
            OFlags::RDONLY,
            Mode::empty(),
        ));
        assert_eq!(again, Some(nix::libc::ELOOP), "{name}");
        std::fs::remove_file(f.root.join("a/b")).unwrap();
        std::fs::remove_file(f.host.join("file")).unwrap();
        std::fs::rename(f.root.join("a/b.moved"), f.root.join("a/b")).unwrap();
    }
}

#[test]
fn meta_from_stat_matches_std() {
    let f = fixture();
    let root = open_root(&f.root).unwrap();
    let dir = open_beneath(root.as_fd(), "a/b", OFlags::DIRECTORY, Mode::empty()).unwrap();
    let at = lstat_at(dir.as_fd(), "file".as_ref()).unwrap();
    let std_meta = std::fs::symlink_metadata(f.root.join("a/b/file")).unwrap();
    assert_eq!(at, Meta::from_metadata(&std_meta));
    assert_eq!(at.size, 7);
    assert!(!at.is_dir() && !at.is_special());
}

#[test]
fn in_root_resolution_follows_symlinks_inside_the_root_only() {
    let f = fixture();
    let root = open_root(&f.root).unwrap();
    symlink("/a/b", f.root.join("abs")).unwrap();
    symlink("../../..", f.root.join("a/climb")).unwrap();
    let open = |p: &str| open_in_root(root.as_fd(), p, OFlags::RDONLY);
    match open("abs/file") {
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOSYS) => {
            eprintln!("SKIP: no openat2 on this kernel");
            return;
        }
        r => assert_eq!(read(r.unwrap()), "in root"),
    }
    assert_eq!(read(open("inside/file").unwrap()), "in root");
    assert_eq!(read(open("a/climb/a/b/file").unwrap()), "in root");
    assert_eq!(read(open("/../../a/b/file").unwrap()), "in root");
    // `out` points at the host directory: inside the root, that path does not exist.
    for p in ["out/secret", "up/secret", "a/climb/host/secret"] {
        let got = errno(open(p));
        assert_eq!(got, Some(nix::libc::ENOENT), "{p}");
    }
    let fd = open_in_root(root.as_fd(), "inside", OFlags::PATH).unwrap();
    let shown = std::fs::read_link(proc_path(fd.as_fd())).unwrap();
    assert_eq!(shown, f.root.join("a/b"));
}
