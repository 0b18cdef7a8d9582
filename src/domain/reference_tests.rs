//! Reference parsing, mirroring the tables of distribution/reference's `reference_test.go` and
//! `normalize_test.go`.

use super::*;

const FF64: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

/// (input, Ok((repository, domain, tag, digest)) | Err(message fragment)) for `parse_exact`.
#[test]
fn exact_parse_table() {
    let long_ok = format!("{}a:tag-puts-this-over-max", "a/".repeat(127));
    let long_ok_repo = format!("{}a", "a/".repeat(127));
    let too_long = format!("{}a:tag", "a/".repeat(128));
    let sha = format!("sha256:{FF64}");
    let sha512 = format!("sha512:{FF64}{FF64}");
    let in0 = format!("test:5000/repo@{sha}");
    let in1 = format!("test:5000/repo:tag@{sha}");
    let in2 = format!("@{sha}");
    let in3 = format!("validname@invaliddigest:{FF64}");
    let in4 = format!("xn--7o8h.com/myimage:xn--7o8h.com@{sha512}");
    type Case<'a> = (
        &'a str,
        Result<(&'a str, &'a str, &'a str, &'a str), &'a str>,
    );
    let t = |r, d, tag, dg| Ok((r, d, tag, dg));
    let cases: Vec<Case> = vec![
        ("test_com", t("test_com", "", "", "")),
        ("test.com:tag", t("test.com", "", "tag", "")),
        ("test.com:5000", t("test.com", "", "5000", "")),
        (
            "test.com/repo:tag",
            t("test.com/repo", "test.com", "tag", ""),
        ),
        ("test:5000/repo", t("test:5000/repo", "test:5000", "", "")),
        (
            "test:5000/repo:tag",
            t("test:5000/repo", "test:5000", "tag", ""),
        ),
        (&in0 as &str, t("test:5000/repo", "test:5000", "", &sha)),
        (&in1 as &str, t("test:5000/repo", "test:5000", "tag", &sha)),
        ("", Err("repository name must have at least one component")),
        (":justtag", Err("invalid reference format")),
        (&in2 as &str, Err("invalid reference format")),
        (
            "repo@sha256:ffffffffffffffffffffffffffffffffff",
            Err("invalid digest format"),
        ),
        (&in3 as &str, Err("unsupported digest algorithm")),
        ("Uppercase:tag", Err("repository name must be lowercase")),
        (
            "test:5000/Uppercase/lowercase:tag",
            Err("repository name must be lowercase"),
        ),
        ("lowercase:Uppercase", t("lowercase", "", "Uppercase", "")),
        (
            &too_long as &str,
            Err("must not be more than 255 characters"),
        ),
        (
            &long_ok as &str,
            t(&long_ok_repo, "a", "tag-puts-this-over-max", ""),
        ),
        ("aa/asdf$$^/aa", Err("invalid reference format")),
        (
            "sub-dom1.foo.com/bar/baz/quux",
            t("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "", ""),
        ),
        (
            "b.gcr.io/test.example.com/my-app:test.example.com",
            t(
                "b.gcr.io/test.example.com/my-app",
                "b.gcr.io",
                "test.example.com",
                "",
            ),
        ),
        (
            "xn--n3h.com/myimage:xn--n3h.com",
            t("xn--n3h.com/myimage", "xn--n3h.com", "xn--n3h.com", ""),
        ),
        (
            &in4 as &str,
            t(
                "xn--7o8h.com/myimage",
                "xn--7o8h.com",
                "xn--7o8h.com",
                &sha512,
            ),
        ),
        ("foo_bar.com:8080", t("foo_bar.com", "", "8080", "")),
        (
            "foo/foo_bar.com:8080",
            t("foo/foo_bar.com", "foo", "8080", ""),
        ),
        ("192.168.1.1", t("192.168.1.1", "", "", "")),
        ("192.168.1.1:5000", t("192.168.1.1", "", "5000", "")),
        (
            "192.168.1.1/repo",
            t("192.168.1.1/repo", "192.168.1.1", "", ""),
        ),
        (
            "192.168.1.1:5000/repo:5050",
            t("192.168.1.1:5000/repo", "192.168.1.1:5000", "5050", ""),
        ),
        ("[2001:db8::1]", Err("invalid reference format")),
        ("[2001:db8::1]:5000", Err("invalid reference format")),
        ("[2001:db8::1]:tag", Err("invalid reference format")),
        (
            "[2001:db8::1]/repo",
            t("[2001:db8::1]/repo", "[2001:db8::1]", "", ""),
        ),
        (
            "[2001:db8::1]:5000/repo:tag",
            t("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "tag", ""),
        ),
        (
            "[::1]:5000/repo",
            t("[::1]:5000/repo", "[::1]:5000", "", ""),
        ),
        ("[fe80::1%eth0]:5000/repo", Err("invalid reference format")),
    ];
    for (input, want) in cases {
        let got = Reference::parse_exact(input);
        match (want, got) {
            (Ok((repo, domain, tag, digest)), Ok(r)) => {
                assert_eq!(r.to_string(), input, "round trip of {input}");
                assert_eq!(r.name(), repo, "repository of {input}");
                assert_eq!(r.domain(), domain, "domain of {input}");
                assert_eq!(r.tag().unwrap_or(""), tag, "tag of {input}");
                assert_eq!(
                    r.digest().map(|d| d.to_string()).unwrap_or_default(),
                    digest,
                    "digest of {input}"
                );
            }
            (Err(msg), Err(e)) => assert!(e.0.contains(msg), "{input}: {e} lacks {msg}"),
            (want, got) => panic!("{input}: wanted {want:?}, got {got:?}"),
        }
    }
}

#[test]
fn valid_and_invalid_names() {
    let valid = [
        "docker/docker",
        "library/debian",
        "debian",
        "docker.io/docker/docker",
        "docker.io/library/debian",
        "docker.io/debian",
        "index.docker.io/docker/docker",
        "index.docker.io/library/debian",
        "index.docker.io/debian",
        "127.0.0.1:5000/docker/docker",
        "127.0.0.1:5000/library/debian",
        "127.0.0.1:5000/debian",
        "192.168.0.1",
        "192.168.0.1:80",
        "192.168.0.1:8/debian",
        "192.168.0.2:25000/debian",
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "[fc00::1]:5000/docker",
        "[fc00::1]:5000/docker/docker",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "Docker/docker",
        "DOCKER/docker",
        "docker-rules/docker",
        "docker---rules/docker",
        "doc/docker",
        "d/docker",
        "jess/t",
        "dock__er/docker",
    ];
    for name in valid {
        assert!(Reference::parse_named(name).is_ok(), "{name} should parse");
    }
    let too_long_namespace = format!("{}/docker", "this_is_not_a_valid_namespace".repeat(9));
    let invalid = [
        "https://github.com/docker/docker",
        "docker/Docker",
        "-docker",
        "-docker/docker",
        "-docker.io/docker/docker",
        "docker///docker",
        "docker.io/docker/Docker",
        "docker.io/docker///docker",
        "[fc00::1]",
        "[fc00::1]:5000",
        "fc00::1:5000/debian",
        "[fe80::1%eth0]:5000/debian",
        "[2001:db8:3:4::192.0.2.33]:5000/debian",
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "docker-/docker",
        "-docker-/docker",
        "____/____",
        "_docker/_docker",
        "dock..er/docker",
        "dock_.er/docker",
        "dock-.er/docker",
        "docker/",
        &too_long_namespace,
    ];
    for name in invalid {
        assert!(Reference::parse_named(name).is_err(), "{name} should fail");
    }
}

#[test]
fn normalised_names_familiar_full_and_domain() {
    // (familiar, full, other spellings, domain, remote path)
    let cases: &[(&str, &str, &[&str], &str, &str)] = &[
        (
            "fooo/bar",
            "docker.io/fooo/bar",
            &["index.docker.io/fooo/bar"],
            "docker.io",
            "fooo/bar",
        ),
        (
            "ubuntu",
            "docker.io/library/ubuntu",
            &["library/ubuntu"],
            "docker.io",
            "library/ubuntu",
        ),
        (
            "nonlibrary/ubuntu",
            "docker.io/nonlibrary/ubuntu",
            &[],
            "docker.io",
            "nonlibrary/ubuntu",
        ),
        (
            "other/library",
            "docker.io/other/library",
            &[],
            "docker.io",
            "other/library",
        ),
        (
            "127.0.0.1:8000/private/moonbase",
            "127.0.0.1:8000/private/moonbase",
            &[],
            "127.0.0.1:8000",
            "private/moonbase",
        ),
        (
            "example.com/privatebase",
            "example.com/privatebase",
            &[],
            "example.com",
            "privatebase",
        ),
        (
            "example.com:8000/private/moonbase",
            "example.com:8000/private/moonbase",
            &[],
            "example.com:8000",
            "private/moonbase",
        ),
        (
            "ubuntu-12.04-base",
            "docker.io/library/ubuntu-12.04-base",
            &["index.docker.io/library/ubuntu-12.04-base"],
            "docker.io",
            "library/ubuntu-12.04-base",
        ),
        (
            "foo",
            "docker.io/library/foo",
            &["docker.io/foo"],
            "docker.io",
            "library/foo",
        ),
        (
            "library/foo/bar",
            "docker.io/library/foo/bar",
            &[],
            "docker.io",
            "library/foo/bar",
        ),
        (
            "store/foo/bar",
            "docker.io/store/foo/bar",
            &[],
            "docker.io",
            "store/foo/bar",
        ),
        ("Foo/bar", "Foo/bar", &[], "Foo", "bar"),
        ("FOO/bar", "FOO/bar", &[], "FOO", "bar"),
        (
            "test_com/foo",
            "docker.io/test_com/foo",
            &[],
            "docker.io",
            "test_com/foo",
        ),
        (
            "test-com:8080/foo",
            "test-com:8080/foo",
            &[],
            "test-com:8080",
            "foo",
        ),
        ("localhost/foo", "localhost/foo", &[], "localhost", "foo"),
        (
            "localhost:5000/x",
            "localhost:5000/x",
            &[],
            "localhost:5000",
            "x",
        ),
    ];
    for (familiar, full, others, domain, path) in cases {
        let mut inputs = vec![*familiar, *full];
        inputs.extend_from_slice(others);
        for input in inputs {
            let r = Reference::parse_named(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.familiar_name(), *familiar, "familiar of {input}");
            assert_eq!(r.to_string(), *full, "full of {input}");
            assert_eq!(r.domain(), *domain, "domain of {input}");
            assert_eq!(r.path(), *path, "path of {input}");
        }
    }
}

#[test]
fn default_tag_and_digest_references() {
    let d = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
    let cases = [
        ("redis", "docker.io/library/redis:latest"),
        ("redis:7", "docker.io/library/redis:7"),
        (
            "docker.io/library/redis:latest",
            "docker.io/library/redis:latest",
        ),
        ("dmcgowan/myapp", "docker.io/dmcgowan/myapp:latest"),
        ("localhost:5000/x", "localhost:5000/x:latest"),
        ("dbcc1", "docker.io/library/dbcc1:latest"),
    ];
    for (input, want) in cases {
        assert_eq!(
            Reference::parse(input).unwrap().to_string(),
            want,
            "{input}"
        );
    }
    let pinned = Reference::parse(&format!("redis@{d}")).unwrap();
    assert_eq!(pinned.to_string(), format!("docker.io/library/redis@{d}"));
    assert_eq!(pinned.tag(), None);
    let both = Reference::parse(&format!("busybox:latest@{d}")).unwrap();
    assert_eq!(
        both.to_string(),
        format!("docker.io/library/busybox:latest@{d}")
    );
    assert_eq!(both.familiar(), format!("busybox:latest@{d}"));
    assert_eq!(
        both.without_digest().to_string(),
        "docker.io/library/busybox:latest"
    );
    let err = Reference::parse(&d[7..]).unwrap_err();
    assert!(
        err.0.contains("cannot specify 64-byte hexadecimal strings"),
        "{err}"
    );
    let err = Reference::parse("App").unwrap_err();
    assert_eq!(
        err.0,
        "invalid reference format: repository name (library/App) must be lowercase"
    );
}

#[test]
fn with_tag_validates() {
    let r = Reference::parse("busybox").unwrap();
    assert!(r.with_tag("-foo").is_err());
    assert_eq!(
        r.with_tag("TAG5").unwrap().to_string(),
        "docker.io/library/busybox:TAG5"
    );
}

// The planner's cases (FROM and `COPY --from` names).

fn norm(s: &str) -> String {
    Reference::parse(s).unwrap().to_string()
}

#[test]
fn normalises_like_distribution() {
    assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
    assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
    assert_eq!(norm("user/app"), "docker.io/user/app:latest");
    assert_eq!(norm("index.docker.io/x"), "docker.io/library/x:latest");
    assert_eq!(norm("localhost:5000/a/b:t"), "localhost:5000/a/b:t");
    assert_eq!(norm("ghcr.io/o/r"), "ghcr.io/o/r:latest");
    let dg = format!("alpine@sha256:{}", "a".repeat(64));
    assert_eq!(norm(&dg), format!("docker.io/library/{dg}"));
}

#[test]
fn rejects_bad_references() {
    let e = Reference::parse("Build").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid reference format: repository name (library/Build) must be lowercase"
    );
    assert!(Reference::parse("a b").is_err());
    assert!(Reference::parse("a::b").is_err());
    assert!(Reference::parse("").is_err());
    assert!(Reference::parse("x-").is_err());
}

#[test]
fn familiar_short_form_drops_defaults() {
    let f = |s: &str| Reference::parse(s).unwrap().familiar_short();
    assert_eq!(f("busybox"), "busybox");
    assert_eq!(f("docker.io/library/busybox:latest"), "busybox");
    assert_eq!(f("busybox:1"), "busybox:1");
    assert_eq!(f("user/app"), "user/app");
    assert_eq!(f("ghcr.io/o/r"), "ghcr.io/o/r");
}
