use super::*;
use crate::dockerfile::instructions::test_support::{node, Recorder};

fn ast(children: Vec<Node>) -> Ast {
    let end = children.last().map_or(0, |n| n.span.end);
    let start = children.first().map_or(0, |n| n.span.start);
    Ast {
        children,
        directives: Vec::new(),
        escape: '\\',
        warnings: Vec::new(),
        span: Span::new(start, end),
    }
}

#[test]
fn from_forms() {
    let f = parse_from(&node("from", &[], &["alpine:3.20"], 1)).unwrap();
    assert_eq!(f.base, "alpine:3.20");
    assert_eq!((f.name, f.platform), (None, None));
    let f = parse_from(&node("from", &[], &["golang", "AS", "Build-1.x_y"], 1)).unwrap();
    assert_eq!(f.name.as_deref(), Some("build-1.x_y"));
    let f = parse_from(&node(
        "from",
        &["--platform=$BUILDPLATFORM"],
        &["a", "as", "b"],
        1,
    ))
    .unwrap();
    assert_eq!(f.platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(f.original, "FROM --platform=$BUILDPLATFORM a as b");
}

#[test]
fn from_errors() {
    for args in [
        &[][..],
        &["a", "b"][..],
        &["a", "b", "c"][..],
        &["a", "as", "b", "c"][..],
    ] {
        let e = parse_from(&node("from", &[], args, 2)).unwrap_err();
        assert_eq!(
            e.message, "FROM requires either one or three arguments",
            "{args:?}"
        );
        assert_eq!(e.span, Span::new(2, 2));
    }
    for bad in ["1st", "a/b", "a:b", "_x", "-x", "a b"] {
        let e = parse_from(&node("from", &[], &["img", "AS", bad], 1)).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "invalid name for build stage: {bad:?}, name can't start with a number or contain symbols"
            )
        );
    }
    let e = parse_from(&node("from", &["--platfrom=x"], &["a"], 1)).unwrap_err();
    assert_eq!(
        e.message,
        "unknown flag: --platfrom (did you mean platform?)"
    );
    // The stage name is checked before the flags.
    let e = parse_from(&node("from", &["--bogus"], &["a", "b"], 1)).unwrap_err();
    assert_eq!(e.message, "FROM requires either one or three arguments");
}

#[test]
fn from_comment() {
    let mut n = node("from", &[], &["a", "AS", "builder"], 3);
    n.prev_comment = vec!["builder compiles the app".into()];
    let f = parse_from(&n).unwrap();
    assert_eq!(f.comment.as_deref(), Some("compiles the app"));
}

#[test]
fn arg_forms() {
    let mut n = node("arg", &["--ignored"], &["A", "B=2", "C=", "D=x=y"], 4);
    n.prev_comment = vec!["A the first".into()];
    let a = parse_arg(&n).unwrap();
    let got: Vec<(&str, Option<&str>)> = a
        .args
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("A", None),
            ("B", Some("2")),
            ("C", Some("")),
            ("D", Some("x=y"))
        ]
    );
    assert_eq!(a.args[0].comment.as_deref(), Some("the first"));
    let e = parse_arg(&node("arg", &[], &[], 1)).unwrap_err();
    assert_eq!(e.message, "ARG requires at least one argument");
    let e = parse_arg(&node("arg", &[], &["=x"], 1)).unwrap_err();
    assert_eq!(e.message, "ARG names can not be blank");
}

#[test]
fn arg_expansion_touches_only_values() {
    let mut a = parse_arg(&node("arg", &[], &["$K=$V", "N"], 1)).unwrap();
    a.expand(&mut Recorder::default()).unwrap();
    assert_eq!(a.args[0].key, "$K");
    assert_eq!(a.args[0].value.as_deref(), Some("<V>"));
    assert_eq!(a.args[1].value, None);
}

#[test]
fn dockerfile_grouping() {
    let d = parse_dockerfile(&ast(vec![
        node("arg", &[], &["VERSION=1"], 1),
        node("from", &[], &["alpine:$VERSION", "AS", "base"], 2),
        node("arg", &[], &["VERSION"], 3),
        node("run", &[], &["echo hi"], 4),
        node("from", &["--platform=linux/arm64"], &["base"], 5),
        node("copy", &["--from=base"], &["/a", "/b"], 6),
    ]))
    .unwrap();
    assert_eq!(d.meta_args.len(), 1);
    assert_eq!(d.meta_args[0].args[0].key, "VERSION");
    assert_eq!(d.stages.len(), 2);
    let s0 = &d.stages[0];
    assert_eq!((s0.index, s0.name.as_deref()), (0, Some("base")));
    assert_eq!(s0.base, "alpine:$VERSION");
    assert_eq!(s0.span, Span::new(2, 2));
    assert_eq!(s0.original, "FROM alpine:$VERSION AS base");
    assert_eq!(s0.instructions.len(), 2);
    assert!(matches!(s0.instructions[0], Instruction::Arg(_)));
    assert!(matches!(s0.instructions[1], Instruction::Run(_)));
    let s1 = &d.stages[1];
    assert_eq!((s1.index, s1.name.as_deref()), (1, None));
    assert_eq!(s1.platform.as_deref(), Some("linux/arm64"));
    assert!(matches!(s1.instructions[0], Instruction::Copy(_)));
    assert!(d.warnings.is_empty());
}

#[test]
fn instruction_before_from() {
    let e = parse_dockerfile(&ast(vec![
        node("arg", &[], &["A"], 1),
        node("env", &[], &["A", "1", "="], 2),
        node("from", &[], &["x"], 3),
    ]))
    .unwrap_err();
    assert_eq!(e.message, "no build stage in current context");
    assert_eq!(e.span, Span::new(2, 2));
    // The instruction's own error comes first.
    let e = parse_dockerfile(&ast(vec![node("run", &["--bogus"], &["x"], 1)])).unwrap_err();
    assert_eq!(e.message, "unknown flag: --bogus");
}

#[test]
fn empty_and_stageless() {
    let e = parse_dockerfile(&ast(vec![])).unwrap_err();
    assert_eq!(e.message, "the Dockerfile cannot be empty");
    let e = parse_dockerfile(&ast(vec![node("arg", &[], &["A"], 1)])).unwrap_err();
    assert_eq!(e.message, "dockerfile contains no stages to build");
}

#[test]
fn stage_name_warnings() {
    let d = parse_dockerfile(&ast(vec![
        node("from", &[], &["a", "AS", "x"], 1),
        node("from", &[], &["b", "AS", "X"], 2),
        node("from", &[], &["c", "AS", "scratch"], 3),
        node("from", &[], &["d", "AS", "context"], 4),
    ]))
    .unwrap();
    let rules: Vec<(&str, usize)> = d.warnings.iter().map(|l| (l.rule, l.span.start)).collect();
    assert_eq!(
        rules,
        [
            ("DuplicateStageName", 2),
            ("ReservedStageName", 3),
            ("ReservedStageName", 4)
        ]
    );
    assert_eq!(
        d.warnings[0].message,
        "Duplicate stage name \"x\", stage names should be unique"
    );
    assert_eq!(
        d.warnings[1].message,
        "Stage name should not use the same name as reserved stage \"scratch\""
    );
    // The last definition wins for --target and --from.
    assert_eq!(d.find_stage("X").map(|s| s.index), Some(1));
    assert!(d.find_stage("nope").is_none());
}

#[test]
fn expanded_base_and_platform() {
    let d = parse_dockerfile(&ast(vec![node(
        "from",
        &["--platform=$P"],
        &["img:$TAG"],
        1,
    )]))
    .unwrap();
    let s = &d.stages[0];
    let mut ex = Recorder::default();
    assert_eq!(s.expanded_base(&mut ex).unwrap(), "img:<TAG>");
    assert_eq!(
        s.expanded_platform(&mut ex).unwrap().as_deref(),
        Some("<P>")
    );

    struct Blank;
    impl Expander for Blank {
        fn word(&mut self, _: &str) -> Result<String, String> {
            Ok(String::new())
        }
        fn words(&mut self, _: &str) -> Result<Vec<String>, String> {
            Ok(Vec::new())
        }
        fn raw(&mut self, _: &str) -> Result<String, String> {
            Ok(String::new())
        }
    }
    let e = s.expanded_base(&mut Blank).unwrap_err();
    assert_eq!(e.message, "base name (img:$TAG) should not be blank");
    assert_eq!(s.expanded_platform(&mut Blank).unwrap(), None);
}
