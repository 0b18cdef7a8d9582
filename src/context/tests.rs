//! Tests for opening contexts and finding their ignore file.

use std::fs;
use std::io::Write;

use super::*;

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, text).unwrap();
}

#[test]
fn dir_context_reads_dockerignore() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        &root.join(".dockerignore"),
        "# build output\nout\n*.log\n!keep.log\n",
    );
    write(&root.join("out/bin"), "x");
    write(&root.join("a.log"), "x");
    write(&root.join("keep.log"), "x");
    write(&root.join("src/main.rs"), "x");
    let ctx = Context::from_dir(root, Some(&root.join("Dockerfile"))).unwrap();
    assert_eq!(
        ctx.ignore_file.as_deref(),
        Some(root.join(".dockerignore").as_path())
    );
    assert!(ctx.is_excluded("out"));
    assert!(ctx.is_excluded("/out/bin"));
    assert!(ctx.is_excluded("./a.log"));
    assert!(!ctx.is_excluded("keep.log"));
    assert!(!ctx.is_excluded("src/main.rs"));
    // Nothing special about the Dockerfile or the ignore file itself.
    assert!(!ctx.is_excluded("Dockerfile"));
    assert!(!ctx.is_excluded(".dockerignore"));
}

#[test]
fn dockerfile_specific_ignore_file_wins() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join(".dockerignore"), "a\n");
    write(&root.join("build/Dockerfile.dev"), "FROM scratch\n");
    write(&root.join("build/Dockerfile.dev.dockerignore"), "b\n");
    let ctx = Context::from_dir(root, Some(&root.join("build/Dockerfile.dev"))).unwrap();
    assert!(!ctx.is_excluded("a"));
    assert!(ctx.is_excluded("b"));
    // A Dockerfile without its own ignore file falls back to the context's.
    let ctx = Context::from_dir(root, Some(&root.join("Dockerfile"))).unwrap();
    assert!(ctx.is_excluded("a"));
    assert!(!ctx.is_excluded("b"));
    let ctx = Context::from_dir(root, None).unwrap();
    assert!(ctx.is_excluded("a"));
}

#[test]
fn ignore_file_may_exclude_the_dockerfile() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join(".dockerignore"), "Dockerfile\n.dockerignore\n");
    let ctx = Context::from_dir(root, Some(&root.join("Dockerfile"))).unwrap();
    assert!(ctx.is_excluded("Dockerfile"));
    assert!(ctx.is_excluded(".dockerignore"));
}

#[test]
fn bad_ignore_pattern_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join(".dockerignore"), "ok\n[\n");
    let err = Context::from_dir(dir.path(), None).unwrap_err();
    let text = err.to_string();
    assert!(text.contains(".dockerignore"), "{text}");
    assert!(text.contains("syntax error in pattern"), "{text}");
}

#[test]
fn missing_dir_is_an_error() {
    let err = Context::from_dir(Path::new("/nonexistent/ctx"), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "build context /nonexistent/ctx is not a directory"
    );
}

fn tar_context(extra_escape: bool) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    };
    add("Dockerfile", b"FROM scratch\nCOPY . /\n");
    add(".dockerignore", b"secret\n");
    add("app/main.sh", b"echo hi\n");
    add("secret", b"pw\n");
    let mut data = b.into_inner().unwrap();
    if extra_escape {
        // Append an entry named ../escape by hand (the builder refuses such names).
        data.truncate(data.len() - 1024);
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..9].copy_from_slice(b"../escape");
        h.set_size(1);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        data.extend_from_slice(h.as_bytes());
        let mut block = [0u8; 512];
        block[0] = b'x';
        data.extend_from_slice(&block);
        data.extend_from_slice(&[0u8; 1024]);
    }
    data
}

#[test]
fn tar_context_plain_and_gzip() {
    let raw = tar_context(false);
    let ctx = Context::from_tar(&raw[..], "Dockerfile").unwrap();
    assert_eq!(
        fs::read_to_string(ctx.root.join("app/main.sh")).unwrap(),
        "echo hi\n"
    );
    assert!(ctx.is_excluded("secret"));
    let root = ctx.root.clone();
    drop(ctx);
    assert!(!root.exists(), "temporary context removed on drop");

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let gz = gz.finish().unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    fs::write(file.path(), &gz).unwrap();
    let ctx = Context::from_tar_file(file.path(), "Dockerfile").unwrap();
    assert!(ctx.root.join("Dockerfile").is_file());
}

#[test]
fn tar_context_entries_cannot_escape() {
    let raw = tar_context(true);
    let ctx = Context::from_tar(&raw[..], "Dockerfile").unwrap();
    let parent = ctx.root.parent().unwrap();
    assert!(!parent.join("escape").exists());
    assert!(ctx.root.join("app/main.sh").is_file());
}
