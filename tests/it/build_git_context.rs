//! A Git repository as the build context, as buildx takes one (`PATH | URL | -`): the
//! repository at a ref, `#ref:subdir` as the context root, its Dockerfile or one on stdin
//! with `-f -`, files 0644/0755 as BuildKit checks them out, and no `.git`.

use std::io::Write;
use std::process::Stdio;

use crate::add_git_support::{GitDaemon, GitRepo};
use crate::build_support::{listing, unpack, Work};
use crate::common::{builder_cmd, have, text};

/// `builder build ARGS...` in `w` with `input` on stdin; (exit code, stderr).
fn build_with_stdin(w: &Work, args: &[&str], input: &[u8]) -> (Option<i32>, String) {
    let mut child = builder_cmd(&w.root())
        .arg("build")
        .args(args)
        .current_dir(w.path(""))
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run builder");
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(input);
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (out.status.code(), text(&out.stderr))
}

#[test]
fn a_git_repository_is_a_build_context() {
    if !have("git_context", &["git", "umoci"]) {
        return;
    }
    let repo = GitRepo::new(&[
        ("Dockerfile", "FROM scratch\nCOPY . /ctx/\n", 0o644),
        (".dockerignore", "skip.txt\n", 0o644),
        ("a.txt", "one\n", 0o600),
        ("skip.txt", "no\n", 0o644),
        ("run.sh", "#!/bin/sh\n", 0o775),
        ("sub/Dockerfile", "FROM scratch\nCOPY f /sub-f\n", 0o644),
        ("sub/f", "deep\n", 0o644),
    ]);
    repo.in_src(&["tag", "v1"]);
    repo.publish();
    let daemon = GitDaemon::start(&repo.served());
    let u = daemon.url();
    let w = Work::new();
    let build = |name: &str, args: &[&str], context: &str, stdin: &[u8]| {
        let layout = w.path(&format!("out/{name}"));
        let spec = format!("type=oci,dest={},tar=false", layout.display());
        let mut all = vec!["-t", "app", "-o", spec.as_str()];
        all.extend_from_slice(args);
        all.push(context);
        let (code, err) = build_with_stdin(&w, &all, stdin);
        assert_eq!(code, Some(0), "{err}");
        listing(&unpack(
            &layout,
            "latest",
            &w.path(&format!("out/{name}-b")),
        ))
    };
    // The repository's own Dockerfile and .dockerignore; no .git.
    let got = build("root", &[], &u, b"");
    assert!(got.contains("f /ctx/a.txt 0644 0:0 \"one\\n\""), "{got}");
    assert!(got.contains("f /ctx/run.sh 0755 0:0"), "{got}");
    assert!(got.contains("f /ctx/sub/f 0644 0:0"), "{got}");
    assert!(
        !got.contains("/ctx/skip.txt") && !got.contains("/ctx/.git"),
        "{got}"
    );
    // `#ref:subdir`: the subdirectory at the ref is the context, with its Dockerfile.
    let got = build("sub", &[], &format!("{u}#v1:sub"), b"");
    assert_eq!(got, "f /sub-f 0644 0:0 \"deep\\n\"\n");
    // `-f -`: the Dockerfile comes on stdin, the files from the repository.
    let df = b"FROM scratch\nCOPY run.sh /x\n";
    let got = build("stdin", &["-f", "-"], &u, df);
    assert_eq!(got, "f /x 0755 0:0 \"#!/bin/sh\\n\"\n");
    // A repository that cannot be read fails the build, naming it.
    let (code, err) = build_with_stdin(&w, &["-t", "app", &format!("{u}-nope")], b"");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("failed to read the build context"), "{err}");
}
