//! COPY and ADD rules, `FROM scratch`, checked on the image umoci unpacks from our OCI
//! layout: directory contents, wildcards, several sources, trailing-slash rules,
//! WORKDIR-relative destinations, parents created 0755 (or with an octal --chmod mode),
//! --chmod, --parents, --exclude,
//! ADD's archive extraction, .dockerignore with `!` and `**`, symlinks and hard links.

use crate::build_support::Work;
use crate::common::have;

#[test]
fn copy_rules_from_scratch() {
    if !have("copy_rules_from_scratch", &["umoci"]) {
        return;
    }
    let w = Work::new();
    w.file("a.txt", "a", 0o644)
        .file("b.txt", "b", 0o600)
        .file("script.sh", "#!/bin/sh\n", 0o755)
        .file("dir/x", "x", 0o644)
        .file("dir/sub/y", "y", 0o755)
        .dir("dir", 0o750)
        .dockerfile(
            "FROM scratch\n\
             COPY a.txt /file-no-slash\n\
             COPY a.txt /newdir/\n\
             COPY dir /contents/\n\
             COPY dir/ /contents2\n\
             COPY *.txt /wild/\n\
             COPY a.txt b.txt /several/\n\
             COPY nomatch* /empty/\n\
             WORKDIR /work\n\
             COPY a.txt rel/\n\
             COPY b.txt .\n\
             COPY script.sh /deep/er/path/\n",
        );
    let got = w.build_and_unpack("rules", &[]);
    let want = r##"d /contents 0755 0:0
d /contents/sub 0755 0:0
f /contents/sub/y 0755 0:0 "y"
f /contents/x 0644 0:0 "x"
d /contents2 0755 0:0
d /contents2/sub 0755 0:0
f /contents2/sub/y 0755 0:0 "y"
f /contents2/x 0644 0:0 "x"
d /deep 0755 0:0
d /deep/er 0755 0:0
d /deep/er/path 0755 0:0
f /deep/er/path/script.sh 0755 0:0 "#!/bin/sh\n"
f /file-no-slash 0644 0:0 "a"
d /newdir 0755 0:0
f /newdir/a.txt 0644 0:0 "a"
d /several 0755 0:0
f /several/a.txt 0644 0:0 "a"
f /several/b.txt 0600 0:0 "b"
d /wild 0755 0:0
f /wild/a.txt 0644 0:0 "a"
f /wild/b.txt 0600 0:0 "b"
d /work 0755 0:0
f /work/b.txt 0600 0:0 "b"
d /work/rel 0755 0:0
f /work/rel/a.txt 0644 0:0 "a"
"##;
    assert_eq!(got, want);
}

#[test]
fn copy_flags_chmod_parents_exclude_and_links() {
    if !have("copy_flags", &["umoci"]) {
        return;
    }
    let w = Work::new();
    w.file("app/run.sh", "run", 0o644)
        .file("app/conf/a.conf", "a", 0o600)
        .file("app/conf/skip.tmp", "t", 0o644)
        .file("src/one/pkg.json", "1", 0o644)
        .file("src/two/pkg.json", "2", 0o644)
        .file("src/two/other.txt", "o", 0o644)
        .symlink("app/latest", "run.sh")
        .symlink("app/abs", "/etc/passwd")
        .dockerfile(
            "FROM scratch\n\
             COPY --chmod=0750 app/run.sh /bin/\n\
             COPY --chmod=u=rwx,g=rx,o= app/conf /conf-sym/\n\
             COPY --exclude=*.tmp app /app/\n\
             COPY --parents src/*/pkg.json /p/\n\
             COPY --exclude=**/*.tmp --exclude=abs app/ /app2/\n",
        );
    std::fs::hard_link(w.path("ctx/app/run.sh"), w.path("ctx/app/hard")).unwrap();
    let got = w.build_and_unpack("flags", &[]);
    // `*.tmp` matches at the top of the source only (Docker's pattern matcher), `**/*.tmp`
    // at any depth; a second path of a file stays a hard link; /bin, made by the copy,
    // gets the octal --chmod mode, /conf-sym (symbolic) stays 0755.
    let want = r#"d /app 0755 0:0
l /app/abs -> /etc/passwd
d /app/conf 0755 0:0
f /app/conf/a.conf 0600 0:0 "a"
f /app/conf/skip.tmp 0644 0:0 "t"
f /app/hard 0644 0:0 "run"
l /app/latest -> run.sh
h /app/run.sh => /app/hard
d /app2 0755 0:0
d /app2/conf 0755 0:0
f /app2/conf/a.conf 0600 0:0 "a"
f /app2/hard 0644 0:0 "run"
l /app2/latest -> run.sh
h /app2/run.sh => /app2/hard
d /bin 0750 0:0
f /bin/run.sh 0750 0:0 "run"
d /conf-sym 0755 0:0
f /conf-sym/a.conf 0750 0:0 "a"
f /conf-sym/skip.tmp 0750 0:0 "t"
d /p 0755 0:0
d /p/src 0755 0:0
d /p/src/one 0755 0:0
f /p/src/one/pkg.json 0644 0:0 "1"
d /p/src/two 0755 0:0
f /p/src/two/pkg.json 0644 0:0 "2"
"#;
    assert_eq!(got, want);
}

#[test]
fn octal_chmod_gives_the_directories_a_copy_makes_its_mode() {
    if !have("copy_chmod_parents", &["umoci"]) {
        return;
    }
    let w = Work::new();
    w.file("base/keep", "k", 0o644)
        .file("a.txt", "a", 0o644)
        .file("b.txt", "b", 0o644)
        .file("c.txt", "c", 0o644)
        .file("d.tgz", "", 0o644)
        .dockerfile(
            "FROM scratch\n\
             COPY base/ /usr/\n\
             COPY --chmod=0700 a.txt /usr/local/share/\n\
             COPY --link --chmod=0750 b.txt /usr/lib/x/\n\
             COPY --chmod=u=rwx,go= c.txt /sym/dir/\n\
             COPY --chmod=640 <<EOF /etc/app/conf\n\
             x\n\
             EOF\n\
             ADD --chmod=0700 d.tgz /tar/dest/\n",
        );
    std::fs::write(w.path("ctx/d.tgz"), archive()).unwrap();
    let got = w.build_and_unpack("chmod-parents", &[]);
    // /usr is the image's own and keeps 0755, also under `--link` (BuildKit links only
    // without --chmod); a symbolic mode and ADD's archive destination leave 0755.
    let want = r#"d /etc 0640 0:0
d /etc/app 0640 0:0
f /etc/app/conf 0640 0:0 "x\n"
d /sym 0755 0:0
d /sym/dir 0755 0:0
f /sym/dir/c.txt 0700 0:0 "c"
d /tar 0755 0:0
d /tar/dest 0755 0:0
d /tar/dest/dir 0700 0:0
f /tar/dest/dir/f 0640 12:34 "f\n"
d /usr 0755 0:0
f /usr/keep 0644 0:0 "k"
d /usr/lib 0750 0:0
d /usr/lib/x 0750 0:0
f /usr/lib/x/b.txt 0750 0:0 "b"
d /usr/local 0700 0:0
d /usr/local/share 0700 0:0
f /usr/local/share/a.txt 0700 0:0 "a"
"#;
    assert_eq!(got, want);
}

/// A gzip tar of `dir/` and `dir/f`.
fn archive() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o700);
    h.set_size(0);
    h.set_mtime(1_700_000_000);
    b.append_data(&mut h, "dir/", &b""[..]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_mode(0o640);
    h.set_size(2);
    h.set_uid(12);
    h.set_gid(34);
    h.set_mtime(1_700_000_000);
    b.append_data(&mut h, "dir/f", &b"f\n"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

#[test]
fn add_extracts_archives_and_dockerignore_filters_the_context() {
    if !have("add_and_dockerignore", &["umoci"]) {
        return;
    }
    let w = Work::new();
    let tgz = archive();
    std::fs::write(w.path("ctx/archive.tar.gz"), &tgz).unwrap();
    w.file("a.log", "a", 0o644)
        .file("sub/b.log", "b", 0o644)
        .file("keep.log", "k", 0o644)
        .file("secret", "s", 0o600)
        .file("sub/ok.txt", "ok", 0o644)
        .file(
            ".dockerignore",
            "**/*.log\n!keep.log\nsecret\nDockerfile\n",
            0o644,
        )
        .dockerfile(
            "FROM scratch\n\
             ADD archive.tar.gz /x/\n\
             COPY archive.tar.gz /y/\n\
             COPY . /ctx/\n\
             COPY <<EOF /heredoc.txt\n\
             hello\n\
             EOF\n",
        );
    let got = w.build_and_unpack("add", &[]);
    // ADD keeps the archive's owners and modes; COPY leaves the archive as it is; the
    // ignore file drops logs at any depth except keep.log, the secret and the Dockerfile.
    let want = r#"d /ctx 0755 0:0
f /ctx/.dockerignore 0644 0:0 "**/*.log\n!keep.log\nsecret\nDockerfile\n"
f /ctx/archive.tar.gz 0644 0:0 148 bytes
f /ctx/keep.log 0644 0:0 "k"
d /ctx/sub 0755 0:0
f /ctx/sub/ok.txt 0644 0:0 "ok"
f /heredoc.txt 0644 0:0 "hello\n"
d /x 0755 0:0
d /x/dir 0700 0:0
f /x/dir/f 0640 12:34 "f\n"
d /y 0755 0:0
f /y/archive.tar.gz 0644 0:0 148 bytes
"#
    .replace("148 bytes", &format!("{} bytes", tgz.len()));
    assert_eq!(got, want);

    // `<Dockerfile>.dockerignore` beside the Dockerfile wins over `.dockerignore`.
    w.file("Dockerfile.dockerignore", "sub\n", 0o644);
    let got = w.build_and_unpack("add2", &["-f", "ctx/Dockerfile"]);
    assert!(got.contains("f /ctx/a.log 0644 0:0 \"a\"\n"), "{got}");
    assert!(!got.contains("/ctx/sub"), "{got}");
}
