use super::*;
use crate::dockerfile::instructions::test_support::{json_node, node, Recorder};

#[test]
fn env_pairs() {
    let e = parse_env(&node("env", &[], &["A", "1", "=", "B", "x y", ""], 2)).unwrap();
    assert_eq!(e.env.len(), 2);
    assert_eq!((e.env[0].key.as_str(), e.env[0].value.as_str()), ("A", "1"));
    assert!(e.env[1].no_delim);
    assert_eq!(e.span, Span::new(2, 2));
}

#[test]
fn env_errors() {
    let e = parse_env(&node("env", &[], &[], 1)).unwrap_err();
    assert_eq!(e.message, "ENV requires at least one argument");
    let e = parse_env(&node("env", &["--x=1"], &["A", "1", "="], 1)).unwrap_err();
    assert_eq!(e.message, "unknown flag: --x");
    let e = parse_env(&node("env", &[], &["", "1", "="], 1)).unwrap_err();
    assert_eq!(e.message, "ENV names can not be blank");
}

#[test]
fn label_pairs_and_errors() {
    let l = parse_label(&node("label", &[], &["a.b", "c d", "="], 1)).unwrap();
    assert_eq!(l.labels[0].to_pair_string(), "a.b=c d");
    let e = parse_label(&node("label", &[], &[], 1)).unwrap_err();
    assert_eq!(e.message, "LABEL requires at least one argument");
    let e = parse_label(&node("label", &[], &["a", "b", "=", "c"], 1)).unwrap_err();
    assert_eq!(e.message, "Bad input to LABEL, too many arguments");
}

#[test]
fn single_argument_instructions() {
    assert_eq!(
        parse_user(&node("user", &[], &["app:app"], 1))
            .unwrap()
            .user,
        "app:app"
    );
    assert_eq!(
        parse_workdir(&node("workdir", &[], &["/srv/app"], 1))
            .unwrap()
            .path,
        "/srv/app"
    );
    assert_eq!(
        parse_stopsignal(&node("stopsignal", &[], &["SIGTERM"], 1))
            .unwrap()
            .signal,
        "SIGTERM"
    );
    assert_eq!(
        parse_maintainer(&node("maintainer", &[], &["Jo <jo@x>"], 1))
            .unwrap()
            .maintainer,
        "Jo <jo@x>"
    );
    for (kw, name) in [
        ("user", "USER"),
        ("workdir", "WORKDIR"),
        ("stopsignal", "STOPSIGNAL"),
        ("maintainer", "MAINTAINER"),
    ] {
        for args in [&[][..], &["a", "b"][..]] {
            let n = node(kw, &[], args, 1);
            let e = match kw {
                "user" => parse_user(&n).map(|_| ()),
                "workdir" => parse_workdir(&n).map(|_| ()),
                "stopsignal" => parse_stopsignal(&n).map(|_| ()),
                _ => parse_maintainer(&n).map(|_| ()),
            }
            .unwrap_err();
            assert_eq!(e.message, format!("{name} requires exactly one argument"));
        }
    }
}

#[test]
fn flags_on_config_instructions() {
    let e = parse_user(&node("user", &["--chown=x"], &["a"], 1)).unwrap_err();
    assert_eq!(e.message, "unknown flag: --chown");
    let e = parse_workdir(&node("workdir", &["--x"], &["a"], 1)).unwrap_err();
    assert_eq!(e.message, "unknown flag: --x");
    // BuildKit never parses STOPSIGNAL's flags.
    assert!(parse_stopsignal(&node("stopsignal", &["--x"], &["9"], 1)).is_ok());
}

#[test]
fn expose_sorts_words() {
    let e = parse_expose(&node("expose", &[], &["8080/udp", "443", "80/tcp"], 1)).unwrap();
    assert_eq!(e.ports, ["443", "80/tcp", "8080/udp"]);
    let err = parse_expose(&node("expose", &[], &[], 1)).unwrap_err();
    assert_eq!(err.message, "EXPOSE requires at least one argument");
}

#[test]
fn volume_paths() {
    let v = parse_volume(&json_node("volume", &[], &[" /data ", "/logs"], 1)).unwrap();
    assert_eq!(v.volumes, ["/data", "/logs"]);
    let e = parse_volume(&json_node("volume", &[], &["/a", "  "], 1)).unwrap_err();
    assert_eq!(e.message, "VOLUME specified can not be an empty string");
    let e = parse_volume(&node("volume", &[], &[], 1)).unwrap_err();
    assert_eq!(e.message, "VOLUME requires at least one argument");
}

#[test]
fn expansion() {
    let mut ex = Recorder::default();
    let mut e = parse_env(&node("env", &[], &["$K", "$V", "="], 1)).unwrap();
    e.expand(&mut ex).unwrap();
    assert_eq!(
        (e.env[0].key.as_str(), e.env[0].value.as_str()),
        ("<K>", "<V>")
    );
    let mut l = parse_label(&node("label", &[], &["$K", "$V", "="], 1)).unwrap();
    l.expand(&mut ex).unwrap();
    assert_eq!(l.labels[0].to_pair_string(), "<K>=<V>");
    let mut u = parse_user(&node("user", &[], &["$U"], 1)).unwrap();
    u.expand(&mut ex).unwrap();
    assert_eq!(u.user, "<U>");
    let mut w = parse_workdir(&node("workdir", &[], &["$W/x"], 1)).unwrap();
    w.expand(&mut ex).unwrap();
    assert_eq!(w.path, "<W>/x");
    let mut s = parse_stopsignal(&node("stopsignal", &[], &["$S"], 1)).unwrap();
    s.expand(&mut ex).unwrap();
    assert_eq!(s.signal, "<S>");
    let mut v = parse_volume(&node("volume", &[], &["$A", "/b"], 1)).unwrap();
    v.expand(&mut ex).unwrap();
    assert_eq!(v.volumes, ["<A>", "/b"]);
}

#[test]
fn expose_expansion_splits_words() {
    struct Ports;
    impl Expander for Ports {
        fn word(&mut self, w: &str) -> Result<String, String> {
            Ok(w.to_string())
        }
        fn words(&mut self, t: &str) -> Result<Vec<String>, String> {
            Ok(if t == "$PORTS" {
                vec!["80".into(), "443".into()]
            } else {
                vec![t.to_string()]
            })
        }
        fn raw(&mut self, t: &str) -> Result<String, String> {
            Ok(t.to_string())
        }
    }
    let mut e = parse_expose(&node("expose", &[], &["$PORTS", "22"], 1)).unwrap();
    e.expand(&mut Ports).unwrap();
    assert_eq!(e.ports, ["80", "443", "22"]);
}
