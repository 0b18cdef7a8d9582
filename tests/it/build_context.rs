//! Where a build reads from: a context directory, a tar on stdin (`-`, plain or gzip), a
//! Dockerfile on stdin (`-`, with an empty context; `-f -` with a directory), a `.tar.gz` file;
//! a Dockerfile inside a tar context or beside it on disk; named contexts that are local
//! directories (`COPY --from=NAME`); and a base whose files no step needs is never unpacked.

use std::io::Write;
use std::process::Stdio;

use crate::build_support::{busybox, listing, unpack, Work};
use crate::common::{builder_cmd, have, text};

/// A gzip tar of `files` (name, content).
fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(content.len() as u64);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, content.as_bytes()).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

const FILES: &[(&str, &str)] = &[
    ("Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\n"),
    ("Other.Dockerfile", "FROM scratch\nCOPY b.txt /b.txt\n"),
    ("a.txt", "a\n"),
    ("b.txt", "b\n"),
];

#[test]
fn tar_contexts_from_stdin_and_from_a_file() {
    if !have("tar_contexts", &["umoci"]) {
        return;
    }
    let w = Work::new();
    let archive = tar_gz(FILES);
    let layout = w.path("out/stdin");
    let spec = format!("type=oci,dest={},tar=false", layout.display());
    let mut child = builder_cmd(&w.root())
        .args(["build", "-t", "app", "-o", &spec, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&archive).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got = listing(&unpack(&layout, "latest", &w.path("out/b1")));
    assert_eq!(got, "f /a.txt 0644 0:0 \"a\\n\"\n");

    // A .tar.gz file, with -f naming a Dockerfile inside it.
    let file = w.path("ctx.tar.gz");
    std::fs::write(&file, &archive).unwrap();
    let layout = w.path("out/file");
    let spec = format!("type=oci,dest={},tar=false", layout.display());
    let args = [
        "build",
        "-t",
        "app",
        "-f",
        "Other.Dockerfile",
        "-o",
        &spec,
        file.to_str().unwrap(),
    ];
    let out = w.builder(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got = listing(&unpack(&layout, "latest", &w.path("out/b2")));
    assert_eq!(got, "f /b.txt 0644 0:0 \"b\\n\"\n");
}

#[test]
fn named_directory_context_is_a_copy_source() {
    if !have("named_directory_context", &["umoci"]) {
        return;
    }
    let w = Work::new();
    let other = w.path("other");
    std::fs::create_dir_all(other.join("conf")).unwrap();
    std::fs::write(other.join("conf/app.conf"), "x=1\n").unwrap();
    w.dockerfile("FROM scratch\nCOPY --from=configs conf /etc/app/\n");
    let ctx = format!("configs={}", other.display());
    let got = w.build_and_unpack("named", &["--build-context", &ctx]);
    assert_eq!(
        got,
        "d /etc 0755 0:0\nd /etc/app 0755 0:0\nf /etc/app/app.conf 0644 0:0 \"x=1\\n\"\n"
    );
}

#[test]
fn a_base_no_step_reads_is_never_unpacked() {
    let test = "base_never_unpacked";
    let Some(layout) = busybox(test) else { return };
    let w = Work::new();
    w.file("f", "f\n", 0o644)
        .dockerfile("FROM busybox\nCOPY --link f /opt/f\nENV A=1\n");
    let ctx = Work::busybox_context(&layout);
    let progress = w.build_ok(&["--build-context", &ctx, "-t", "app"]);
    assert!(!progress.contains("unpacking layer"), "{progress}");
    assert!(
        progress.contains("[2/2] COPY --link f /opt/f\n"),
        "{progress}"
    );
    // A COPY without --link needs its destination: the base is unpacked once, then reused.
    w.dockerfile("FROM busybox\nCOPY f /opt/f\n");
    let progress = w.build_ok(&["--build-context", &ctx, "-t", "app"]);
    assert_eq!(progress.matches("unpacking layer").count(), 1, "{progress}");
    let progress = w.build_ok(&["--build-context", &ctx, "-t", "app"]);
    assert!(!progress.contains("unpacking layer"), "{progress}");
}

/// With no `-f`, a context holding only a `Containerfile` (buildah's and podman's name)
/// builds from it, with `Containerfile.dockerignore` applied; a `Dockerfile` wins.
#[test]
fn a_containerfile_is_used_when_there_is_no_dockerfile() {
    if !have("containerfile", &["umoci"]) {
        return;
    }
    let w = Work::new();
    w.file("Containerfile", "FROM scratch\nCOPY . /in/\n", 0o644)
        .file("Containerfile.dockerignore", "Containerfile*\n", 0o644)
        .file("a.txt", "a\n", 0o644);
    let got = w.build_and_unpack("containerfile", &[]);
    assert_eq!(got, "d /in 0755 0:0\nf /in/a.txt 0644 0:0 \"a\\n\"\n");

    w.file(
        "Dockerfile",
        "FROM scratch\nCOPY a.txt /docker.txt\n",
        0o644,
    );
    let got = w.build_and_unpack("docker", &[]);
    assert_eq!(got, "f /docker.txt 0644 0:0 \"a\\n\"\n");
}

/// With no `-f`, a context holding only a lowercase `dockerfile` builds from it (BuildKit's
/// fallback), with `dockerfile.dockerignore` beside it applied; `Dockerfile` wins when both
/// are there.
#[test]
fn a_lowercase_dockerfile_is_used_when_there_is_no_dockerfile() {
    if !have("lowercase_dockerfile", &["umoci"]) {
        return;
    }
    let w = Work::new();
    w.file("dockerfile", "FROM scratch\nCOPY . /in/\n", 0o644)
        .file("dockerfile.dockerignore", "dockerfile*\n", 0o644)
        .file("a.txt", "a\n", 0o644);
    let got = w.build_and_unpack("lower", &[]);
    assert_eq!(got, "d /in 0755 0:0\nf /in/a.txt 0644 0:0 \"a\\n\"\n");

    w.file("Dockerfile", "FROM scratch\nCOPY a.txt /upper.txt\n", 0o644);
    let got = w.build_and_unpack("upper", &[]);
    assert_eq!(got, "f /upper.txt 0644 0:0 \"a\\n\"\n");
}

/// `builder build ARGS...` in `w` with `input` on stdin; (exit code, stderr).
fn build_with_stdin(w: &Work, args: &[&str], input: &[u8]) -> (Option<i32>, String) {
    let mut child = builder_cmd(&w.root())
        .arg("build")
        .args(["--progress", "plain"])
        .args(args)
        .current_dir(w.path(""))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The build may stop reading early (a usage error): a broken pipe is not the test's.
    let _ = stdin.write_all(input);
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (out.status.code(), text(&out.stderr))
}

/// `builder inspect NAME` as text.
fn inspect_text(w: &Work, name: &str) -> String {
    let out = w.builder(&["inspect", name]);
    assert!(
        out.status.success(),
        "inspect {name}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn a_dockerfile_on_stdin_builds_with_an_empty_context() {
    let w = Work::new();
    // The context directory of the workspace is not read: stdin is the whole input.
    w.file("a.txt", "a\n", 0o644);
    let df = b"FROM scratch\nENV FROM_STDIN=yes\nLABEL l=1\n";
    let (code, err) = build_with_stdin(&w, &["-t", "app", "-"], df);
    assert_eq!(code, Some(0), "{err}");
    assert!(inspect_text(&w, "app").contains("FROM_STDIN=yes"));

    // A COPY from the (empty) context fails, saying why.
    let df = b"FROM scratch\nCOPY a.txt /a.txt\n";
    let (code, err) = build_with_stdin(&w, &["-t", "app", "-"], df);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("\"a.txt\" not found in the build context"),
        "{err}"
    );
    assert!(
        err.contains("came on stdin in place of the build context"),
        "{err}"
    );
    assert!(err.contains("builder build -f - DIR"), "{err}");

    // As buildx: a Dockerfile on stdin and -f too is ambiguous; -f - with - is a conflict;
    // empty stdin is neither.
    let (code, err) = build_with_stdin(&w, &["-f", "Dockerfile", "-"], df);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("ambiguous Dockerfile source"), "{err}");
    let (code, err) = build_with_stdin(&w, &["-f", "-", "-"], df);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("can't use stdin for both build context and dockerfile"),
        "{err}"
    );
    let (code, err) = build_with_stdin(&w, &["-"], b"");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("stdin is empty"), "{err}");
}

#[test]
fn a_plain_tar_on_stdin_is_the_context() {
    let w = Work::new();
    let mut b = tar::Builder::new(Vec::new());
    for (name, content) in [
        (
            "Dockerfile",
            "FROM scratch\nCOPY a.txt /a.txt\nENV PLAIN=tar\n",
        ),
        ("a.txt", "a\n"),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(content.len() as u64);
        b.append_data(&mut h, name, content.as_bytes()).unwrap();
    }
    let (code, err) = build_with_stdin(&w, &["-t", "app", "-"], &b.into_inner().unwrap());
    assert_eq!(code, Some(0), "{err}");
    assert!(inspect_text(&w, "app").contains("PLAIN=tar"));
}

#[test]
fn a_dockerfile_on_stdin_with_a_directory_context() {
    if !have("dockerfile_on_stdin_with_a_directory", &["umoci"]) {
        return;
    }
    let w = Work::new();
    w.file("a.txt", "a\n", 0o644)
        .dockerfile("FROM scratch\nCOPY missing /\n");
    let layout = w.path("out/layout");
    let spec = format!("type=oci,dest={},tar=false", layout.display());
    let df = b"FROM scratch\nCOPY a.txt /a.txt\n";
    let (code, err) = build_with_stdin(&w, &["-t", "app", "-o", &spec, "-f", "-", "ctx"], df);
    assert_eq!(code, Some(0), "{err}");
    let got = listing(&unpack(&layout, "latest", &w.path("out/b")));
    assert_eq!(got, "f /a.txt 0644 0:0 \"a\\n\"\n");
}
