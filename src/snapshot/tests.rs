//! Unpack safety (a malicious-layer corpus built here with the tar crate's low-level
//! header API), whiteout application, and the directory snapshotter.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;

use tar::EntryType;

use super::*;

/// Builds layer tars entry by entry, writing names verbatim (no sanitizing).
struct Layer(tar::Builder<Vec<u8>>);

impl Layer {
    fn new() -> Self {
        Layer(tar::Builder::new(Vec::new()))
    }

    fn raw(mut self, name: &[u8], kind: EntryType, link: &[u8], data: &[u8], mode: u32) -> Self {
        let mut h = tar::Header::new_ustar();
        {
            let old = h.as_old_mut();
            old.name[..name.len()].copy_from_slice(name);
            old.linkname[..link.len()].copy_from_slice(link);
        }
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_uid(u64::from(rustix::process::geteuid().as_raw()));
        h.set_gid(u64::from(rustix::process::getegid().as_raw()));
        h.set_mtime(1_600_000_000);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    fn file(self, name: &str, data: &str) -> Self {
        self.raw(
            name.as_bytes(),
            EntryType::Regular,
            b"",
            data.as_bytes(),
            0o644,
        )
    }
    fn dir(self, name: &str) -> Self {
        self.raw(name.as_bytes(), EntryType::Directory, b"", b"", 0o755)
    }
    fn symlink(self, name: &str, target: &str) -> Self {
        self.raw(
            name.as_bytes(),
            EntryType::Symlink,
            target.as_bytes(),
            b"",
            0o777,
        )
    }
    fn hardlink(self, name: &str, target: &str) -> Self {
        self.raw(
            name.as_bytes(),
            EntryType::Link,
            target.as_bytes(),
            b"",
            0o644,
        )
    }
    fn device(self, name: &str, major: u32, minor: u32) -> Self {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_entry_type(EntryType::Char);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        h.set_mode(0o666);
        h.set_size(0);
        h.set_cksum();
        let mut me = self;
        me.0.append(&h, &b""[..]).unwrap();
        me
    }
    /// A PAX extended header (records verbatim) followed by a regular file.
    fn pax(mut self, records: &[(&str, &[u8])], name: &str, kind: EntryType) -> Self {
        self.0
            .append_pax_extensions(records.iter().copied())
            .unwrap();
        self.raw(name.as_bytes(), kind, b"", b"data", 0o644)
    }
    /// A GNU long-name entry carrying `long` for the next entry.
    fn gnu_long_name(self, long: &str, kind: EntryType) -> Self {
        let mut data = long.as_bytes().to_vec();
        data.push(0);
        self.raw(b"././@LongLink", EntryType::GNULongName, b"", &data, 0o644)
            .raw(b"placeholder", kind, b"", b"data", 0o644)
    }
    fn done(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// A destination beside an `outside` directory that must never change.
struct Sandbox {
    t: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("dest")).unwrap();
        fs::create_dir(t.path().join("outside")).unwrap();
        fs::write(t.path().join("outside/secret"), "s3cret").unwrap();
        Sandbox { t }
    }
    fn dest(&self) -> PathBuf {
        self.t.path().join("dest")
    }
    fn outside(&self) -> String {
        self.t.path().join("outside").display().to_string()
    }
    /// Everything outside `dest`: names, kinds, contents, link counts.
    fn outside_state(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for e in fs::read_dir(self.t.path().join("outside")).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            let content = if m.is_file() {
                fs::read_to_string(&p).unwrap()
            } else {
                String::new()
            };
            out.insert(
                p.display().to_string(),
                format!("{:o} {} {content}", m.mode(), m.nlink()),
            );
        }
        for e in fs::read_dir(self.t.path()).unwrap() {
            out.insert(e.unwrap().path().display().to_string(), String::new());
        }
        out
    }
    /// Unpack (or apply) `tar` and check that nothing outside `dest` changed.
    fn run(&self, tar: &[u8], flatten: bool) -> Result<UnpackStats> {
        let before = self.outside_state();
        let opts = UnpackOptions::default();
        let r = if flatten {
            apply(tar, &self.dest(), &opts)
        } else {
            unpack(tar, &self.dest(), &opts)
        };
        assert_eq!(
            self.outside_state(),
            before,
            "something outside dest changed"
        );
        r
    }
}

/// Each case is rejected with a message naming the entry and the problem, in both modes.
fn rejected(tar: &[u8], entry: &str, words: &str) {
    for flatten in [false, true] {
        let s = Sandbox::new();
        let err = s.run(tar, flatten).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SnapshotError::Rejected { .. }), "{msg}");
        assert!(msg.contains(entry), "{msg:?} should name {entry:?}");
        assert!(msg.contains(words), "{msg:?} should say {words:?}");
    }
}

#[test]
fn dotdot_names_are_rejected() {
    for name in [
        "../outside/pwned",
        "a/../../outside/pwned",
        "./../outside/pwned",
        "a/..",
    ] {
        rejected(&Layer::new().file(name, "x").done(), name, "\"..\"");
    }
    let pax = Layer::new()
        .pax(
            &[("path", b"x/../../outside/pwned")],
            "innocent",
            EntryType::Regular,
        )
        .done();
    rejected(&pax, "x/../../outside/pwned", "\"..\"");
    let gnu = Layer::new()
        .gnu_long_name("../../outside/pwned", EntryType::Regular)
        .done();
    rejected(&gnu, "../../outside/pwned", "\"..\"");
}

#[test]
fn absolute_names_are_contained() {
    let s = Sandbox::new();
    let abs = format!("{}/pwned", s.outside());
    let tar = Layer::new()
        .file(&abs, "x")
        .file("/etc/passwd", "root")
        .done();
    s.run(&tar, false).unwrap();
    assert_eq!(
        fs::read_to_string(s.dest().join(abs.trim_start_matches('/'))).unwrap(),
        "x"
    );
    assert_eq!(
        fs::read_to_string(s.dest().join("etc/passwd")).unwrap(),
        "root"
    );
}

#[test]
fn writing_through_a_symlink_is_rejected() {
    let s = Sandbox::new();
    let abs = Layer::new()
        .symlink("evil", &s.outside())
        .file("evil/pwned", "x")
        .done();
    rejected(&abs, "evil/pwned", "\"evil\" is a symlink");
    let rel = Layer::new()
        .symlink("evil", "../outside")
        .file("evil/pwned", "x")
        .done();
    rejected(&rel, "evil/pwned", "is a symlink");
    let deep = Layer::new()
        .dir("a/")
        .symlink("a/b", "../../outside")
        .dir("a/b/c/")
        .done();
    rejected(&deep, "a/b/c/", "\"a/b\" is a symlink");
    let dir_entry = Layer::new()
        .symlink("evil", "../outside")
        .dir("evil/sub/")
        .done();
    rejected(&dir_entry, "evil/sub/", "is a symlink");
    let not_dir = Layer::new().file("f", "x").file("f/g", "y").done();
    rejected(&not_dir, "f/g", "\"f\" is not a directory");
}

#[test]
fn a_directory_swapped_for_a_symlink_is_not_followed() {
    let tar = Layer::new()
        .dir("d/")
        .file("d/ok", "fine")
        .symlink("d", "../outside")
        .file("d/pwned", "x")
        .done();
    rejected(&tar, "d/pwned", "\"d\" is a symlink");
}

#[test]
fn a_symlink_replaced_by_a_directory_is_a_real_directory() {
    for flatten in [false, true] {
        let s = Sandbox::new();
        let tar = Layer::new()
            .symlink("d", &s.outside())
            .dir("d/")
            .file("d/f", "inside")
            .symlink("x", &s.outside())
            .file("x", "replaced")
            .done();
        s.run(&tar, flatten).unwrap();
        assert!(fs::symlink_metadata(s.dest().join("d")).unwrap().is_dir());
        assert_eq!(fs::read_to_string(s.dest().join("d/f")).unwrap(), "inside");
        assert!(fs::symlink_metadata(s.dest().join("x")).unwrap().is_file());
    }
}

#[test]
fn hard_link_escapes_are_rejected() {
    let s = Sandbox::new();
    rejected(
        &Layer::new().hardlink("hl", "../outside/secret").done(),
        "hl",
        "\"..\"",
    );
    let abs = Layer::new()
        .hardlink("hl", &format!("{}/secret", s.outside()))
        .done();
    rejected(&abs, "hl", "does not exist");
    let through = Layer::new()
        .symlink("ln", "../outside")
        .hardlink("x", "ln/secret")
        .done();
    rejected(&through, "\"x\"", "\"ln\" is a symlink");
    let to_dir = Layer::new().dir("d/").hardlink("x", "d").done();
    rejected(&to_dir, "\"x\"", "directory");
    let to_root = Layer::new().hardlink("x", "/").done();
    rejected(&to_root, "\"x\"", "root");
}

#[test]
fn hard_links_inside_work_and_a_link_to_a_symlink_is_not_followed() {
    let s = Sandbox::new();
    let tar = Layer::new()
        .file("a", "data")
        .hardlink("b", "/a")
        .symlink("ln", &format!("{}/secret", s.outside()))
        .hardlink("ln2", "ln")
        .done();
    s.run(&tar, false).unwrap();
    let d = s.dest();
    assert_eq!(
        fs::metadata(d.join("a")).unwrap().ino(),
        fs::metadata(d.join("b")).unwrap().ino()
    );
    let ln2 = fs::symlink_metadata(d.join("ln2")).unwrap();
    assert!(ln2.file_type().is_symlink());
    assert_eq!(ln2.ino(), fs::symlink_metadata(d.join("ln")).unwrap().ino());
}

#[test]
fn whiteouts_of_dot_dot_and_the_root_are_rejected() {
    for name in [".wh...", "sub/.wh...", ".wh.", ".wh..", "a/.wh."] {
        rejected(&Layer::new().file(name, "").done(), name, "whiteout");
    }
    rejected(
        &Layer::new().file("../.wh.outside", "").done(),
        "../.wh.outside",
        "\"..\"",
    );
    rejected(
        &Layer::new().file("../.wh..wh..opq", "").done(),
        "../.wh..wh..opq",
        "\"..\"",
    );
}

#[test]
fn whiteouts_through_symlinks_touch_nothing_outside() {
    let tar = Layer::new()
        .symlink("ln", "../outside")
        .file("ln/.wh.secret", "")
        .file("ln/.wh..wh..opq", "")
        .done();
    // Flattening: nothing to delete below a symlink.
    let s = Sandbox::new();
    s.run(&tar, true).unwrap();
    // Overlay form: a whiteout would have to be created through the symlink.
    let s = Sandbox::new();
    let err = s.run(&tar, false).unwrap_err();
    assert!(err.to_string().contains("\"ln\" is a symlink"), "{err}");
}

#[test]
fn overlay_xattrs_in_a_layer_are_dropped() {
    let s = Sandbox::new();
    let tar = Layer::new()
        .pax(
            &[
                ("SCHILY.xattr.user.overlay.redirect", b"/etc"),
                ("SCHILY.xattr.user.ok", b"1"),
            ],
            "f",
            EntryType::Regular,
        )
        .done();
    let stats = s.run(&tar, false).unwrap();
    assert!(
        stats
            .warnings
            .iter()
            .any(|w| w.contains("user.overlay.redirect")),
        "{stats:?}"
    );
    let mut buf = [0u8; 16];
    assert!(
        rustix::fs::lgetxattr(s.dest().join("f"), "user.overlay.redirect", &mut buf[..]).is_err()
    );
    let n = rustix::fs::lgetxattr(s.dest().join("f"), "user.ok", &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], b"1");
}

#[test]
fn pax_sparse_entries_are_refused_rather_than_unpacked_wrong() {
    let s = Sandbox::new();
    let tar = Layer::new()
        .pax(
            &[
                ("GNU.sparse.major", b"1"),
                ("GNU.sparse.minor", b"0"),
                ("GNU.sparse.name", b"big"),
                ("GNU.sparse.realsize", b"1048576"),
            ],
            "GNUSparseFile.0/big",
            EntryType::Regular,
        )
        .done();
    let err = s.run(&tar, false).unwrap_err().to_string();
    assert!(
        err.contains("GNUSparseFile.0/big") && err.contains("PAX sparse"),
        "{err}"
    );
    // Other PAX records are fine.
    let tar = Layer::new()
        .pax(&[("SCHILY.xattr.user.ok", b"1")], "f", EntryType::Regular)
        .done();
    s.run(&tar, false).unwrap();
}

#[test]
fn devices_need_privilege_and_zero_zero_is_never_a_device_in_a_lower_dir() {
    let s = Sandbox::new();
    let tar = Layer::new().device("null", 1, 3).device("zz", 0, 0).done();
    let stats = s.run(&tar, false).unwrap();
    assert!(fs::symlink_metadata(s.dest().join("zz")).is_err());
    let null = fs::symlink_metadata(s.dest().join("null"));
    if rustix::process::geteuid().is_root() {
        assert_eq!(null.unwrap().rdev(), rustix::fs::makedev(1, 3));
        assert_eq!(stats.skipped, 1);
    } else {
        assert!(null.is_err());
        assert!(
            stats.warnings.iter().any(|w| w.contains("no privilege")),
            "{stats:?}"
        );
    }
}

#[test]
fn overlay_form_whiteouts_and_opaques() {
    let s = Sandbox::new();
    let tar = Layer::new()
        .dir("etc/")
        .file("etc/.wh.gone", "")
        .dir("var/")
        .dir("var/cache/")
        .file("var/cache/.wh..wh..opq", "")
        .file("var/cache/kept", "k")
        .file("new/deep/.wh.x", "")
        .file(".wh..wh.plnk", "")
        .done();
    let stats = s.run(&tar, false).unwrap();
    assert_eq!((stats.whiteouts, stats.opaques, stats.skipped), (2, 1, 1));
    let gone = fs::symlink_metadata(s.dest().join("etc/gone")).unwrap();
    assert!(gone.file_type().is_char_device());
    assert_eq!(gone.rdev(), 0);
    assert_eq!(gone.mtime(), 1_600_000_000);
    let mut buf = [0u8; 4];
    let n = rustix::fs::lgetxattr(
        s.dest().join("var/cache"),
        "user.overlay.opaque",
        &mut buf[..],
    )
    .unwrap();
    assert_eq!(&buf[..n], b"y");
    assert_eq!(
        fs::read_to_string(s.dest().join("var/cache/kept")).unwrap(),
        "k"
    );
    assert!(fs::symlink_metadata(s.dest().join("new/deep/x"))
        .unwrap()
        .file_type()
        .is_char_device());
}

#[test]
fn flattening_applies_whiteouts_and_opaques() {
    let s = Sandbox::new();
    let base = Layer::new()
        .file("a", "1")
        .dir("d/")
        .file("d/x", "x")
        .file("d/y", "y")
        .dir("e/")
        .file("e/z", "z")
        .file("keep", "k")
        .dir("o/")
        .file("o/old", "old")
        .done();
    let top = Layer::new()
        .file(".wh.a", "")
        .dir("d/")
        .file("d/.wh..wh..opq", "")
        .file("d/new", "n")
        .file("e/.wh.z", "")
        .dir("o/")
        .file("o/mine", "m")
        .file("o/.wh..wh..opq", "") // after this layer's own file: it stays
        .file(".wh.never-there", "")
        .done();
    s.run(&base, true).unwrap();
    let stats = s.run(&top, true).unwrap();
    assert_eq!((stats.whiteouts, stats.opaques), (3, 2));
    let names = |p: &str| crate::store::atomic::dir_names(&s.dest().join(p));
    assert_eq!(names(""), ["d", "e", "keep", "o"]);
    assert_eq!(names("d"), ["new"]);
    assert!(names("e").is_empty());
    assert_eq!(names("o"), ["mine"]);
}

#[test]
fn read_only_directories_are_filled_then_closed() {
    let s = Sandbox::new();
    let tar = Layer::new()
        .raw(b"ro/", EntryType::Directory, b"", b"", 0o555)
        .file("ro/f", "x")
        .done();
    s.run(&tar, false).unwrap();
    let m = fs::metadata(s.dest().join("ro")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o555);
    assert_eq!(m.mtime(), 1_600_000_000);
}

#[test]
fn compressed_layers_are_detected() {
    let tar = Layer::new().file("f", "hello").done();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let zst = zstd::encode_all(&tar[..], 3).unwrap();
    for blob in [gz.finish().unwrap(), zst] {
        let s = Sandbox::new();
        s.run(&blob, false).unwrap();
        assert_eq!(fs::read_to_string(s.dest().join("f")).unwrap(), "hello");
    }
    let err = Sandbox::new().run(b"definitely not a tar archive at all", false);
    assert!(err.is_err() || err.is_ok_and(|st| st.entries == 0));
}
