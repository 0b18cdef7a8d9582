//! `ADD <git URL>` against repositories served from 127.0.0.1 (git daemon and dumb HTTP):
//! branches, tags, commits, subdirectories, `--keep-git-dir`, `--checksum`, the cache key
//! (an unchanged ref is a hit without a clone, a new commit a miss), `GIT_AUTH_TOKEN` (never
//! stored anywhere), clear errors, a server that stalls, the kept repositories in `du` and
//! `prune`, and a rootless build.

use std::os::unix::fs::MetadataExt;

use crate::add_git_support::{files_containing, GitDaemon, GitRepo, HttpGit};
use crate::build_support::{listing, unpack, Work};
use crate::common::{builder_cmd, have, is_root, text};
use crate::run_support::output_within;
use crate::sandbox::{ensure_test_user, TEST_USER};

/// The files of the first commit: a script, a file, a nested directory and a symlink.
const FILES: &[(&str, &str, u32)] = &[
    ("a.txt", "one\n", 0o600),
    ("run.sh", "#!/bin/sh\n", 0o700),
    ("sub/dir/f", "deep\n", 0o644),
    ("sub/link", "->dir/f", 0),
    ("escape", "->/etc", 0),
];

/// A served repository: `main` with two commits, `v1` (lightweight) and `v2` (annotated)
/// on the first; the first commit.
fn repo() -> (GitRepo, String) {
    let repo = GitRepo::new(FILES);
    let first = repo.in_src(&["rev-parse", "HEAD"]);
    repo.in_src(&["tag", "v1"]);
    repo.in_src(&["tag", "-a", "-m", "annotated", "v2"]);
    repo.commit(&[("a.txt", "two\n", 0o644)], "two");
    repo.publish();
    (repo, first)
}

fn tools(test: &str) -> bool {
    have(test, &["git", "umoci"])
}

#[test]
fn add_git_branch_tag_commit_and_subdir() {
    if !tools("add_git_refs") {
        return;
    }
    let (repo, first) = repo();
    let daemon = GitDaemon::start(&repo.served());
    let u = daemon.url();
    let w = Work::new();
    w.dockerfile(&format!(
        "FROM scratch\n\
         ADD {u} /head/\n\
         ADD {u}#v1 /v1/\n\
         ADD {u}#v2:sub /v2sub\n\
         ADD {u}#{first} /commit/\n\
         ADD {u}?ref=main&subdir=sub/dir /q/\n\
         ADD --chown=7:8 {u}#main:sub/dir /own/\n"
    ));
    let got = w.build_and_unpack("img", &[]);
    let want = "\
d /commit 0755 0:0
f /commit/a.txt 0644 0:0 \"one\\n\"
l /commit/escape -> /etc
f /commit/run.sh 0755 0:0 \"#!/bin/sh\\n\"
d /commit/sub 0755 0:0
d /commit/sub/dir 0755 0:0
f /commit/sub/dir/f 0644 0:0 \"deep\\n\"
l /commit/sub/link -> dir/f
d /head 0755 0:0
f /head/a.txt 0644 0:0 \"two\\n\"
l /head/escape -> /etc
f /head/run.sh 0755 0:0 \"#!/bin/sh\\n\"
d /head/sub 0755 0:0
d /head/sub/dir 0755 0:0
f /head/sub/dir/f 0644 0:0 \"deep\\n\"
l /head/sub/link -> dir/f
d /own 0755 7:8
f /own/f 0644 7:8 \"deep\\n\"
d /q 0755 0:0
f /q/f 0644 0:0 \"deep\\n\"
d /v1 0755 0:0
f /v1/a.txt 0644 0:0 \"one\\n\"
l /v1/escape -> /etc
f /v1/run.sh 0755 0:0 \"#!/bin/sh\\n\"
d /v1/sub 0755 0:0
d /v1/sub/dir 0755 0:0
f /v1/sub/dir/f 0644 0:0 \"deep\\n\"
l /v1/sub/link -> dir/f
d /v2sub 0755 0:0
d /v2sub/dir 0755 0:0
f /v2sub/dir/f 0644 0:0 \"deep\\n\"
l /v2sub/link -> dir/f
";
    assert_eq!(got, want);
}

#[test]
fn add_git_mtime_commit_sets_the_commit_time() {
    if !tools("add_git_mtime") {
        return;
    }
    let (repo, _) = repo();
    let daemon = GitDaemon::start(&repo.served());
    let w = Work::new();
    w.dockerfile(&format!(
        "FROM scratch\nADD {}?mtime=commit /m/\n",
        daemon.url()
    ));
    w.build_and_unpack("img", &[]);
    let rootfs = w.path("out/img-bundle/rootfs");
    for p in ["m/a.txt", "m/sub/dir", "m/sub/link"] {
        let m = std::fs::symlink_metadata(rootfs.join(p)).unwrap();
        assert_eq!(m.mtime(), 1_600_000_000, "{p}");
    }
}

#[test]
fn add_git_keep_git_dir_leaves_a_repository() {
    if !tools("add_git_keep") {
        return;
    }
    let (repo, first) = repo();
    let daemon = GitDaemon::start(&repo.served());
    let u = daemon.url();
    let head = repo.in_src(&["rev-parse", "main"]);
    let tag = repo.in_src(&["rev-parse", "v2"]);
    let w = Work::new();
    w.dockerfile(&format!(
        "FROM scratch\n\
         ADD --keep-git-dir=true {u}#main /k/\n\
         ADD --keep-git-dir=true {u}#v2 /t/\n\
         ADD {u}?keep-git-dir=true&ref={first} /c/\n\
         ADD --keep-git-dir=true {u}#main:sub /s/\n"
    ));
    w.build_and_unpack("img", &[]);
    let root = w.path("out/img-bundle/rootfs");
    let read =
        |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(read("k/.git/HEAD"), format!("{head}\n"));
    assert_eq!(read("k/.git/refs/heads/main"), format!("{head}\n"));
    assert_eq!(read("k/a.txt"), "two\n");
    let config = read("k/.git/config");
    assert!(config.contains(&format!("url = {u}\n")), "{config}");
    assert!(root.join("k/.git/shallow").is_file());
    assert!(!root.join("k/.git/FETCH_HEAD").exists());
    assert_eq!(read("t/.git/HEAD"), format!("{first}\n"));
    assert_eq!(read("t/.git/refs/tags/v2"), format!("{tag}\n"));
    assert_eq!(read("c/.git/HEAD"), format!("{first}\n"));
    assert_eq!(read("c/a.txt"), "one\n");
    // With a subdirectory, BuildKit keeps no .git.
    assert!(!root.join("s/.git").exists());
    assert!(root.join("s/dir/f").is_file());
}

#[test]
fn add_git_checksum_must_match_the_commit() {
    if !tools("add_git_checksum") {
        return;
    }
    let (repo, first) = repo();
    let daemon = GitDaemon::start(&repo.served());
    let u = daemon.url();
    let w = Work::new();
    w.dockerfile(&format!(
        "FROM scratch\nADD --checksum={} {u}#v1 /v1/\nADD --checksum={first} {u}#v2 /v2/\n",
        &first[..7]
    ));
    w.build_ok(&[]);
    w.dockerfile(&format!(
        "FROM scratch\nADD --checksum=0000000 {u}#v1 /v1/\n"
    ));
    let out = w.build(&[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Dockerfile:2"), "{err}");
    assert!(
        err.contains(&format!("expected checksum to match 0000000, got {first}")),
        "{err}"
    );
    w.dockerfile(&format!("FROM scratch\nADD --checksum=xyz {u}#v1 /v1/\n"));
    let err = text(&w.build(&[]).stderr);
    assert!(err.contains("invalid checksum xyz"), "{err}");
}

#[test]
fn add_git_errors_name_the_repository() {
    if !tools("add_git_errors") {
        return;
    }
    let (repo, _) = repo();
    let daemon = GitDaemon::start(&repo.served());
    let u = daemon.url();
    let http = HttpGit::start(&repo.served(), None);
    let secret_url = format!(
        "http://user:pw-in-url@127.0.0.1:{}/repo.git#nope",
        http.port
    );
    let closed = crate::registry_support::free_port();
    for (src, want) in [
        (
            format!("{u}#nope"),
            format!("repository {u} does not contain ref nope"),
        ),
        (
            format!("git://127.0.0.1:{closed}/repo.git"),
            format!("cannot resolve Git repository git://127.0.0.1:{closed}/repo.git"),
        ),
        (format!("{u}#main:missing"), "invalid subdir missing".into()),
        (format!("{u}#main:a.txt"), "invalid subdir a.txt".into()),
        (format!("{u}#main:escape"), "invalid subdir escape".into()),
        (
            format!("{u}#main:sub/link"),
            "invalid subdir sub/link".into(),
        ),
        (
            secret_url,
            format!(
                "http://xxxxx:xxxxx@127.0.0.1:{}/repo.git does not contain ref nope",
                http.port
            ),
        ),
    ] {
        let w = Work::new();
        w.dockerfile(&format!("FROM scratch\nADD {src} /x/\n"));
        let out = w.build(&[]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{src}: {err}");
        assert!(err.contains(&want), "{src}: want {want:?} in\n{err}");
        assert!(err.contains("Dockerfile:2"), "{err}");
        // The Dockerfile excerpt shows the line as written; the messages redact it.
        let messages = err.lines().filter(|l| l.contains("ERROR"));
        assert!(messages.clone().all(|l| !l.contains("pw-in-url")), "{err}");
    }
}

#[test]
fn add_git_unchanged_ref_is_cached_without_a_clone() {
    if !tools("add_git_cache") {
        return;
    }
    let (repo, _) = repo();
    let http = HttpGit::start(&repo.served(), None);
    let w = Work::new();
    // What a killed build left: removed by the next build that checks out a repository.
    let stale = w.root().join("remote/git/tmp/build-killed");
    std::fs::create_dir_all(stale.join("checkout-1")).unwrap();
    let touched = std::process::Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&stale)
        .status();
    assert!(touched.unwrap().success());
    w.dockerfile(&format!("FROM scratch\nADD {}#main /src/\n", http.url()));
    let first = w.build_and_unpack("one", &[]);
    assert!(!stale.exists(), "a killed build's checkouts are left");
    assert!(
        first.contains("f /src/a.txt 0644 0:0 \"two\\n\""),
        "{first}"
    );
    let downloads = http.object_downloads();
    assert!(downloads > 0);

    let again = w.build_ok(&[]);
    assert!(again.contains("CACHED"), "{again}");
    assert_eq!(
        http.object_downloads(),
        downloads,
        "fetched again:\n{again}"
    );

    repo.commit(&[("a.txt", "three\n", 0o644)], "three");
    repo.publish();
    let progress = w.build_ok(&["-t", "app"]);
    assert!(!progress.contains("CACHED"), "{progress}");
    let third = w.build_and_unpack("three", &[]);
    assert!(
        third.contains("f /src/a.txt 0644 0:0 \"three\\n\""),
        "{third}"
    );
}

#[test]
fn add_git_token_is_sent_and_never_stored() {
    if !tools("add_git_token") {
        return;
    }
    use base64::Engine;
    let token = "tok-9f8e7d6c5b4a";
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
    let (repo, _) = repo();
    let http = HttpGit::start(&repo.served(), Some(format!("basic {b64}")));
    let w = Work::new();
    w.dockerfile(&format!(
        "FROM scratch\nADD --keep-git-dir=true {}#main /src/\n",
        http.url()
    ));
    let out = w.build(&[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot resolve Git repository"), "{err}");
    let refused = http.refused.load(std::sync::atomic::Ordering::SeqCst);
    assert!(refused > 0, "the server saw no request");

    let secret = "id=GIT_AUTH_TOKEN,env=ADD_GIT_TEST_TOKEN";
    let mut cmd = crate::common::builder_cmd(&w.root());
    let layout = w.path("out/img");
    let spec = format!("type=oci,dest={},tar=false", layout.display());
    let out = cmd
        .args([
            "build",
            "--progress",
            "plain",
            "--secret",
            secret,
            "-o",
            &spec,
            "-t",
            "app",
        ])
        .arg(w.path("ctx"))
        .env("ADD_GIT_TEST_TOKEN", token)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rootfs = unpack(&layout, "latest", &w.path("out/bundle"));
    let got = listing(&rootfs);
    assert!(got.contains("f /src/a.txt 0644 0:0 \"two\\n\""), "{got}");
    assert!(rootfs.join("src/.git/config").is_file());
    for needle in [token, b64.as_str()] {
        for dir in [w.root(), w.path("out")] {
            let found = files_containing(&dir, needle.as_bytes());
            assert!(found.is_empty(), "{needle} in {found:?}");
        }
        assert!(!text(&out.stderr).contains(needle));
    }
}

#[test]
fn add_git_without_root() {
    let test = "add_git_rootless";
    if !is_root() || !have(test, &["git", "umoci", "runuser"]) {
        eprintln!("\n!!! SKIPPED {test}: needs root to switch to an unprivileged user !!!\n");
        return;
    }
    if let Err(why) = ensure_test_user() {
        panic!("{test}: cannot make the test user: {why}");
    }
    let (repo, _) = repo();
    let daemon = GitDaemon::start(&repo.served());
    let w = Work::new();
    w.dockerfile(&format!(
        "FROM scratch\nADD {}#v1:sub /s/\nADD --keep-git-dir=true {}#main /k/\n",
        daemon.url(),
        daemon.url()
    ));
    w.give_to_test_user();
    let layout = w.path("out/layout");
    let spec = format!("type=oci,dest={},tar=false", layout.display());
    let out = w.builder_as_test_user(&["build", "-t", "app", "-o", &spec, "ctx"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{TEST_USER}: {}",
        text(&out.stderr)
    );
    let got = listing(&unpack(&layout, "latest", &w.path("out/bundle")));
    assert!(got.contains("f /s/dir/f 0644 0:0 \"deep\\n\""), "{got}");
    assert!(got.contains("f /k/a.txt 0644 0:0 \"two\\n\""), "{got}");
    assert!(got.contains("f /k/.git/HEAD "), "{got}");
    // The build's checkouts are gone with it.
    let tmp = w.root().join("remote/git/tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.flatten().count())
        .into_iter()
        .collect();
    assert!(
        left.iter().all(|n| *n == 0),
        "{left:?} left in {}",
        tmp.display()
    );
}

#[test]
fn add_git_checks_out_submodules() {
    if !tools("add_git_submodules") {
        return;
    }
    let (repo, _) = repo();
    repo.add_submodule("lib", &[("lib.txt", "lib\n", 0o644)], "vendor/lib");
    repo.publish();
    let daemon = GitDaemon::start(&repo.served());
    let http = HttpGit::start(&repo.served(), None);
    let w = Work::new();
    w.dockerfile(&format!(
        "FROM scratch\n\
         ADD {}#main:vendor /d/\n\
         ADD {}#main:vendor /h/\n\
         ADD {}?submodules=false&subdir=vendor /none/\n",
        daemon.url(),
        http.url(),
        daemon.url()
    ));
    let got = w.build_and_unpack("img", &[]);
    let want = "\
d /d 0755 0:0
d /d/lib 0755 0:0
f /d/lib/lib.txt 0644 0:0 \"lib\\n\"
d /h 0755 0:0
d /h/lib 0755 0:0
f /h/lib/lib.txt 0644 0:0 \"lib\\n\"
d /none 0755 0:0
d /none/lib 0755 0:0
";
    assert_eq!(got, want);
}

#[test]
fn add_git_parallel_stages_share_one_repository() {
    if !tools("add_git_parallel") {
        return;
    }
    let (repo, _) = repo();
    let daemon = GitDaemon::start(&repo.served());
    let u = daemon.url();
    let w = Work::new();
    w.dockerfile(&format!(
        "FROM scratch AS a\nADD {u}#v1 /src/\n\
         FROM scratch AS b\nADD {u}#main /src/\n\
         FROM scratch AS c\nADD {u}#v2:sub /src/\n\
         FROM scratch\nCOPY --from=a /src/a.txt /a\nCOPY --from=b /src/a.txt /b\n\
         COPY --from=c /src/dir/f /c\n"
    ));
    let got = w.build_and_unpack("img", &[]);
    assert_eq!(
        got,
        "f /a 0644 0:0 \"one\\n\"\nf /b 0644 0:0 \"two\\n\"\nf /c 0644 0:0 \"deep\\n\"\n"
    );
    let repos: Vec<_> = std::fs::read_dir(w.root().join("remote/git"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("HEAD").is_file())
        .collect();
    assert_eq!(repos.len(), 1, "one bare repository per remote");
}

#[test]
fn add_git_refuses_a_submodule_on_a_host_path() {
    if !tools("add_git_hostile_submodule") {
        return;
    }
    let (repo, _) = repo();
    repo.add_submodule("lib", &[("lib.txt", "lib\n", 0o644)], "vendor/lib");
    let host_path = repo.served().join("lib.git").display().to_string();
    for url in [host_path.clone(), format!("file://{host_path}")] {
        repo.in_src(&[
            "config",
            "-f",
            ".gitmodules",
            "submodule.vendor/lib.url",
            &url,
        ]);
        repo.in_src(&["commit", "-q", "-a", "-m", "host path"]);
        repo.publish();
        let daemon = GitDaemon::start(&repo.served());
        let w = Work::new();
        w.dockerfile(&format!("FROM scratch\nADD {}#main /d/\n", daemon.url()));
        let out = w.build(&[]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{url}: {err}");
        assert!(err.contains("submodule \"vendor/lib\""), "{url}: {err}");
    }
}

#[test]
fn add_git_repositories_are_counted_by_du_and_cleared_by_prune() {
    if !tools("add_git_du_prune") {
        return;
    }
    let (repo, _) = repo();
    let daemon = GitDaemon::start(&repo.served());
    let w = Work::new();
    w.dockerfile(&format!("FROM scratch\nADD {}#main /src/\n", daemon.url()));
    w.build_ok(&["-t", "app"]);
    let kept = w.root().join("remote/git");
    let du = text(&w.builder(&["du"]).stdout);
    assert!(
        du.lines()
            .any(|l| l.starts_with("Git repositories: ") && l.contains("kB")),
        "{du}"
    );
    let pruned = w.builder(&["prune", "-f"]);
    let report = text(&pruned.stdout);
    assert_eq!(pruned.status.code(), Some(0), "{}", text(&pruned.stderr));
    assert!(report.contains("1 Git repository"), "{report}");
    // Only the (empty) directory of the builds' checkouts stays.
    let left: Vec<String> = std::fs::read_dir(&kept)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.iter().all(|n| n == "tmp"), "{left:?}");
    assert_eq!(
        std::fs::read_dir(kept.join("tmp")).map_or(0, |d| d.count()),
        0
    );
    let du = text(&w.builder(&["du"]).stdout);
    assert!(!du.contains("Git repositories:"), "{du}");
    // Without the longer label the values line up where they always did.
    assert!(du.contains("Cache records:   0"), "{du}");
    // The next build fetches again into a new repository.
    let again = w.build_and_unpack("again", &[]);
    assert!(
        again.contains("f /src/a.txt 0644 0:0 \"two\\n\""),
        "{again}"
    );
}

#[test]
fn add_git_server_that_never_answers_is_given_up() {
    if !tools("add_git_stalled") {
        return;
    }
    // Accepts connections and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    let u = format!("git://127.0.0.1:{port}/repo.git");
    let w = Work::new();
    w.dockerfile(&format!("FROM scratch\nADD {u} /x/\n"));
    let started = std::time::Instant::now();
    let out = output_within(
        builder_cmd(&w.root())
            .args(["build", "--progress", "plain", "ctx"])
            .current_dir(w.path(""))
            .env("BUILDER_REGISTRY_TIMEOUT", "2"),
        std::time::Duration::from_secs(60),
    );
    let took = started.elapsed();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        took < std::time::Duration::from_secs(30),
        "took {took:?}: {err}"
    );
    let want = format!("cannot resolve Git repository {u}: no progress for 2s");
    assert!(err.contains(&want), "want {want:?} in\n{err}");
    assert!(err.contains("BUILDER_REGISTRY_TIMEOUT"), "{err}");
}

#[test]
fn add_git_with_a_relative_store_root() {
    if !have("add_git_relative_root", &["git"]) {
        return;
    }
    let (repo, _) = repo();
    let daemon = GitDaemon::start(&repo.served());
    let w = Work::new();
    w.dockerfile(&format!("FROM scratch\nADD {} /src/\n", daemon.url()));
    // `--root` as a path relative to the working directory, as a user may type it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_builder"))
        .args(["--root", "relative-store", "build", "-t", "app", "ctx"])
        .env_remove("BUILDER_ROOT")
        .current_dir(w.path(""))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(w.path("relative-store/remote/git").is_dir());
}
