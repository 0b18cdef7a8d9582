//! BuildKit's own table tests (`lex_test.go`), case for case.

use std::collections::HashMap;

use super::super::*;
use super::{env, set};

const FOO_BAR: &[(&str, &str)] = &[("FOO", "xxx"), ("BAR", "")];

/// BuildKit's TestProcessWithMatches: input, env, expected (None = error), matched, unmatched.
#[expect(clippy::type_complexity)]
const WITH_MATCHES: &[(&str, &[(&str, &str)], Option<&str>, &[&str], &[&str])] = &[
    ("x", &[("DUMMY", "dummy")], Some("x"), &[], &[]),
    (
        "x ${UNUSED}",
        &[("DUMMY", "dummy")],
        Some("x "),
        &[],
        &["UNUSED"],
    ),
    ("x ${FOO}", &[("FOO", "y")], Some("x y"), &["FOO"], &[]),
    (
        "${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}",
        FOO_BAR,
        Some("xxx  ccc"),
        &["FOO", "BAR"],
        &["BAZ"],
    ),
    (
        "${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}",
        FOO_BAR,
        Some("xxx bbb ccc"),
        &["FOO", "BAR"],
        &["BAZ"],
    ),
    ("${FOO:-}", FOO_BAR, Some("xxx"), &["FOO"], &[]),
    ("${FOO:-}", &[], Some(""), &[], &["FOO"]),
    (
        "${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}",
        FOO_BAR,
        Some("aaa bbb "),
        &["FOO", "BAR"],
        &["BAZ"],
    ),
    (
        "${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}",
        FOO_BAR,
        Some("aaa  "),
        &["FOO", "BAR"],
        &["BAZ"],
    ),
    ("${FOO?aaa}", FOO_BAR, Some("xxx"), &["FOO"], &[]),
    ("${BAR?bbb}", FOO_BAR, Some(""), &["BAR"], &[]),
    ("${BAZ?ccc}", FOO_BAR, None, &[], &[]),
    ("${FOO:?aaa}", FOO_BAR, Some("xxx"), &["FOO"], &[]),
    ("${BAR:?bbb}", FOO_BAR, None, &[], &[]),
    ("${BAZ:?ccc}", FOO_BAR, None, &[], &[]),
    ("${BAZ:?}", FOO_BAR, None, &[], &[]),
    ("${FOO=aaa}", FOO_BAR, None, &[], &[]),
    ("${FOO=:aaa}", FOO_BAR, None, &[], &[]),
    ("${FOO=}", &[], None, &[], &[]),
    // Regular-expression characters are literal; `}` must be escaped.
    (
        "${FOO#()[]{\\}^$.\\*\\?|\\\\}",
        &[("FOO", "()[]{}^$.*?|\\x")],
        Some("x"),
        &["FOO"],
        &[],
    ),
    (
        "${FOO%%\\**}",
        &[("FOO", "xx**")],
        Some("xx"),
        &["FOO"],
        &[],
    ),
    ("${FOO#*x*y}", &[("FOO", "xxyy")], Some("y"), &["FOO"], &[]),
    ("${FOO#*}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
    (
        "${FOO#$BAR}",
        &[("FOO", "xxyy"), ("BAR", "x")],
        Some("xyy"),
        &["FOO", "BAR"],
        &[],
    ),
    (
        "${FOO#$BAR}",
        &[("FOO", "xxyy"), ("BAR", "")],
        Some("xxyy"),
        &["FOO", "BAR"],
        &[],
    ),
    ("${FOO#}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
    ("${FOO##*x}", &[("FOO", "xxyy")], Some("yy"), &["FOO"], &[]),
    ("${FOO##}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
    ("${FOO#?\\?}", &[("FOO", "???y")], Some("?y"), &["FOO"], &[]),
    (
        "${ABC:-.}${FOO%x}${ABC:-.}",
        &[("FOO", "xxyy")],
        Some(".xxyy."),
        &["FOO"],
        &["ABC"],
    ),
    (
        "${FOO%%\\**\\*}",
        &[("FOO", "a***yy*")],
        Some("a"),
        &["FOO"],
        &[],
    ),
    ("${FOO%}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
    (
        "${FOO%%$BAR}",
        &[("FOO", "xxyy"), ("BAR", "")],
        Some("xxyy"),
        &["FOO", "BAR"],
        &[],
    ),
    (
        "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
        &[("FOO", "/foo*/*/*.txt"), ("NEEDLE", "\\*/")],
        Some("/foo.*/*.txt - /foo..*.txt"),
        &["FOO", "NEEDLE"],
        &[],
    ),
    (
        "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}",
        &[("FOO", "/tmp/tmp/bar.txt"), ("NEEDLE", "/tmp")],
        Some("/tmp/bar.txt - /bar.txt"),
        &["FOO", "NEEDLE"],
        &[],
    ),
    (
        "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
        &[
            ("FOO", "/a/foo/b/c.txt"),
            ("NEEDLE", "/?/"),
            ("REPLACEMENT", "/"),
        ],
        Some("/foo/b/c.txt - /foo/c.txt"),
        &["FOO", "NEEDLE", "REPLACEMENT"],
        &[],
    ),
    (
        "${FOO/$NEEDLE/$REPLACEMENT}",
        &[
            ("FOO", "http://google.de"),
            ("NEEDLE", "http://"),
            ("REPLACEMENT", "https://"),
        ],
        Some("https://google.de"),
        &["FOO", "NEEDLE", "REPLACEMENT"],
        &[],
    ),
    (
        "${FOO//\\//\\/}",
        &[("FOO", "/tmp/foo.txt")],
        Some("\\/tmp\\/foo.txt"),
        &["FOO"],
        &[],
    ),
    (
        "${FOO/$BAR/ww}",
        &[("FOO", "xxyy"), ("BAR", "")],
        Some("wwxxyy"),
        &["FOO", "BAR"],
        &[],
    ),
    ("${FOO//ww}", &[("FOO", "xxyy")], None, &[], &[]),
    ("${FOO//}", &[("FOO", "xxyy")], None, &[], &[]),
    ("${FOO///}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
    ("${FOO///}", &[], Some(""), &[], &["FOO"]),
];

#[test]
fn process_with_matches_like_buildkit() {
    let lex = Lexer::new('\\');
    for &(input, vars, expected, matched, unmatched) in WITH_MATCHES {
        let got = lex.process_word_with_matches(input, &env(vars));
        match expected {
            None => assert!(got.is_err(), "{input:?} should fail, got {got:?}"),
            Some(want) => {
                let (word, m) = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
                assert_eq!(word, want, "{input:?}");
                assert_eq!(m.matched, set(matched), "matched of {input:?}");
                assert_eq!(m.unmatched, set(unmatched), "unmatched of {input:?}");
            }
        }
    }
}

#[test]
fn unmatched_is_recorded_even_when_the_check_fails() {
    // BuildKit looks the name up before failing the `?` check.
    let lex = Lexer::new('\\');
    let mut p = lexer::Processor::new(&lex, &NoEnv, "${BAZ:?ccc}");
    assert!(p.read_until(None, false).is_err());
    assert_eq!(p.unmatched, set(&["BAZ"]));
}

#[test]
fn release_file_name_like_buildkit() {
    let lex = Lexer::new('\\');
    let word =
        "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz";
    let base = [("VERSION", "v1.2.3"), ("TARGETOS", "linux")];
    let run = |extra: &[(&str, &str)]| {
        let vars: Vec<(&str, &str)> = base.iter().chain(extra).copied().collect();
        lex.process_word_with_matches(word, &env(&vars)).unwrap().0
    };
    let arm = run(&[("TARGETARCH", "arm"), ("TARGETVARIANT", "v7")]);
    assert_eq!(arm, "something-v1.2.3.linux-arm-v7.tar.gz");
    let arm64 = run(&[("TARGETARCH", "arm64"), ("TARGETVARIANT", "")]);
    assert_eq!(arm64, "something-v1.2.3.linux-arm64.tar.gz");
    assert_eq!(run(&[("TARGETARCH", "arm64")]), arm64);
}

#[test]
fn mandatory_variables_like_buildkit() {
    let lex = Lexer::new('\\');
    let set_env = env(&[("VAR", "plain"), ("ARG", "x")]);
    let empty_env = env(&[("VAR", ""), ("ARG", "x")]);
    let unset_env = env(&[("ARG", "x")]);
    let no_empty = "${VAR:?message here$ARG}";
    let no_unset = "${VAR?message here$ARG}";
    let herex = Err(ShellError::Required {
        name: "VAR".into(),
        message: "message herex".into(),
    });
    assert_eq!(lex.process_word(no_empty, &set_env).unwrap(), "plain");
    assert_eq!(lex.process_word(no_empty, &empty_env), herex);
    assert_eq!(lex.process_word(no_empty, &unset_env), herex);
    assert_eq!(lex.process_word(no_unset, &set_env).unwrap(), "plain");
    assert_eq!(lex.process_word(no_unset, &empty_env).unwrap(), "");
    assert_eq!(lex.process_word(no_unset, &unset_env), herex);
    let msg =
        |w: &str, e: &HashMap<String, String>| lex.process_word(w, e).unwrap_err().to_string();
    assert_eq!(
        msg("${VAR?}", &unset_env),
        "VAR: is not allowed to be unset"
    );
    assert_eq!(
        msg("${VAR:?}", &unset_env),
        "VAR: is not allowed to be unset"
    );
    assert_eq!(
        msg("${VAR:?}", &empty_env),
        "VAR: is not allowed to be empty"
    );
}
