use super::*;

fn parse(s: &str) -> GitUrl {
    GitUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn fragment_gives_ref_and_subdir() {
    let u = parse("https://github.com/moby/buildkit.git#v0.10.1:docs/");
    assert_eq!(u.remote, "https://github.com/moby/buildkit.git");
    assert_eq!(u.scheme, "https");
    assert_eq!(u.host, "github.com");
    assert_eq!(u.reference, "v0.10.1");
    assert_eq!(u.subdir, "docs");
    let u = parse("https://example.com/r.git");
    assert_eq!((u.reference.as_str(), u.subdir.as_str()), ("", ""));
    let u = parse("https://example.com/r.git#:a/../../b");
    assert_eq!((u.reference.as_str(), u.subdir.as_str()), ("", "b"));
}

#[test]
fn scp_ssh_and_git_forms() {
    let u = parse("git@github.com:moby/buildkit.git#main");
    assert_eq!(u.remote, "git@github.com:moby/buildkit.git");
    assert_eq!((u.scheme.as_str(), u.host.as_str()), ("ssh", "github.com"));
    assert_eq!(u.reference, "main");
    let u = parse("ssh://git@127.0.0.1:2222/srv/r.git#refs/tags/v1:sub");
    assert_eq!(u.remote, "ssh://git@127.0.0.1:2222/srv/r.git");
    assert_eq!(u.host, "127.0.0.1:2222");
    assert_eq!(
        (u.reference.as_str(), u.subdir.as_str()),
        ("refs/tags/v1", "sub")
    );
    let u = parse("git://127.0.0.1:9418/r.git");
    assert_eq!(
        (u.scheme.as_str(), u.host.as_str()),
        ("git", "127.0.0.1:9418")
    );
}

#[test]
fn query_form() {
    let u =
        parse("https://example.com/r.git?ref=main&subdir=a%2Fb&checksum=abc1&keep-git-dir=true");
    assert_eq!(u.remote, "https://example.com/r.git");
    assert_eq!(u.reference, "main");
    assert_eq!(u.subdir, "a/b");
    assert_eq!(u.checksum.as_deref(), Some("abc1"));
    assert_eq!(u.keep_git_dir, Some(true));
    assert_eq!(
        parse("https://e.com/r.git?tag=v1").reference,
        "refs/tags/v1"
    );
    assert_eq!(
        parse("https://e.com/r.git?branch=dev").reference,
        "refs/heads/dev"
    );
    assert_eq!(
        parse("https://e.com/r.git?commit=ab").checksum.as_deref(),
        Some("ab")
    );
    assert_eq!(
        parse("https://e.com/r.git?submodules=false").submodules,
        Some(false)
    );
    assert_eq!(
        parse("https://e.com/r.git?keep-git-dir").keep_git_dir,
        Some(true)
    );
    assert!(parse("https://e.com/r.git?mtime=commit").mtime_commit);
    assert_eq!(parse("git@h.com:r.git?ref=x#x").reference, "x");
}

#[test]
fn refused_urls() {
    for (src, why) in [
        ("https://e.com/r.git?ref=a#b", "ref conflicts"),
        ("https://e.com/r.git?subdir=a#:b", "subdir conflicts"),
        (
            "https://e.com/r.git?tag=a&branch=b",
            "branch conflicts with tag",
        ),
        ("https://e.com/r.git?ref=", "has no value"),
        ("https://e.com/r.git?ref=a&ref=b", "multiple values"),
        ("https://e.com/r.git?bogus=1", "unexpected query"),
        (
            "https://e.com/r.git?keep-git-dir=maybe",
            "invalid keep-git-dir",
        ),
        ("https://e.com/r.git?mtime=now", "invalid mtime"),
        ("https://e.com/r.git?fetch-by-commit", "not supported"),
        ("ftp://e.com/r.git", "invalid protocol"),
        ("https://e.com/r", "must end in .git"),
        ("ssh://-oProxyCommand=x/r", "invalid host"),
        ("https://e.com/r.git#-upload-pack=x", "invalid ref"),
        ("github.com/o/r.git", "unknown protocol"),
    ] {
        let err = GitUrl::parse(src).expect_err(src);
        assert!(err.contains(why), "{src}: {err}");
    }
}

#[test]
fn credentials_are_redacted() {
    assert_eq!(
        redact("https://user:tok@example.com/r.git#main"),
        "https://xxxxx:xxxxx@example.com/r.git#main"
    );
    assert_eq!(
        redact("https://user@example.com/r.git"),
        "https://xxxxx@example.com/r.git"
    );
    assert_eq!(
        redact("https://example.com/a@b.git"),
        "https://example.com/a@b.git"
    );
    assert_eq!(redact("git@github.com:o/r.git"), "git@github.com:o/r.git");
}

#[test]
fn submodule_urls() {
    let parent = parse("https://example.com/org/top.git#main");
    let sub = |raw: &str| submodule_url(&parent, raw).map(|u| u.remote);
    assert_eq!(
        sub("../lib.git").unwrap(),
        "https://example.com/org/lib.git"
    );
    assert_eq!(sub("./lib").unwrap(), "https://example.com/org/top.git/lib");
    assert_eq!(sub("../../x/y.git").unwrap(), "https://example.com/x/y.git");
    assert!(sub("../../../y.git").is_err());
    assert_eq!(
        sub("https://other.org/lib").unwrap(),
        "https://other.org/lib"
    );
    assert_eq!(sub("git@h.org:o/r").unwrap(), "git@h.org:o/r");
    for refused in ["/etc/repo", "file:///etc/repo", "ext::sh -c x", "lib"] {
        assert!(sub(refused).is_err(), "{refused}");
    }
    let scp = parse("git@h.org:top.git");
    assert_eq!(
        submodule_url(&scp, "../lib.git").unwrap().remote,
        "git@h.org:lib.git"
    );
    assert!(submodule_url(&scp, "../../lib.git").is_err());
}
