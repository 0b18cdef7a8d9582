use super::*;
use crate::dockerfile::instructions::test_support::{json_node, node, onbuild, Recorder};

/// One node per instruction keyword, with `$X` wherever a value could be expanded.
fn every_instruction() -> Vec<Node> {
    vec![
        node("from", &["--platform=$P"], &["img:$T", "AS", "s"], 1),
        node("run", &["--mount=type=cache,target=$C"], &["echo $X"], 2),
        node(
            "copy",
            &["--from=s", "--chown=$U", "--chmod=$M"],
            &["$S", "$D"],
            3,
        ),
        node("add", &["--checksum=$H"], &["$S", "$D"], 4),
        node("env", &[], &["$K", "$V", "="], 5),
        node("arg", &[], &["A=$V"], 6),
        node("label", &[], &["$K", "$V", "="], 7),
        node("user", &[], &["$U"], 8),
        node("workdir", &[], &["$W"], 9),
        node("cmd", &[], &["echo $X"], 10),
        node("entrypoint", &[], &["echo $X"], 11),
        node("expose", &[], &["$P"], 12),
        node("volume", &[], &["$V"], 13),
        node("stopsignal", &[], &["$S"], 14),
        json_node("shell", &[], &["/bin/$SH", "-c"], 15),
        node("healthcheck", &[], &["CMD", "check $X"], 16),
        node("maintainer", &[], &["$M"], 17),
        onbuild(node("run", &[], &["echo $X"], 18)),
    ]
}

#[test]
fn every_keyword_dispatches() {
    let names: Vec<&str> = every_instruction()
        .iter()
        .map(|n| parse_instruction(n).unwrap().name())
        .collect();
    assert_eq!(
        names,
        [
            "FROM",
            "RUN",
            "COPY",
            "ADD",
            "ENV",
            "ARG",
            "LABEL",
            "USER",
            "WORKDIR",
            "CMD",
            "ENTRYPOINT",
            "EXPOSE",
            "VOLUME",
            "STOPSIGNAL",
            "SHELL",
            "HEALTHCHECK",
            "MAINTAINER",
            "ONBUILD"
        ]
    );
}

#[test]
fn span_and_original_accessors() {
    for (i, n) in every_instruction().iter().enumerate() {
        let ins = parse_instruction(n).unwrap();
        assert_eq!(ins.span(), Span::new(i + 1, i + 1));
        assert_eq!(ins.original(), n.original.trim());
    }
}

#[test]
fn keyword_case_does_not_matter() {
    let ins = parse_instruction(&node("RuN", &[], &["x"], 1)).unwrap();
    assert_eq!(ins.name(), "RUN");
}

#[test]
fn unknown_instruction_with_hint() {
    let mut n = node("frum", &[], &["busybox"], 3);
    n.original = "FRUM busybox".into();
    let e = parse_instruction(&n).unwrap_err();
    assert_eq!(e.message, "unknown instruction: FRUM (did you mean FROM?)");
    assert_eq!(e.span, Span::new(3, 3));
    n.original = "frum busybox".into();
    assert_eq!(
        parse_instruction(&n).unwrap_err().message,
        "unknown instruction: frum (did you mean from?)"
    );
    let mut n = node("xyzzy", &[], &["a"], 1);
    n.original = "XYZZY a".into();
    assert_eq!(
        parse_instruction(&n).unwrap_err().message,
        "unknown instruction: XYZZY"
    );
    let mut n = node("worcdir", &[], &["a"], 1);
    n.original = "WORCDIR a".into();
    assert_eq!(
        parse_instruction(&n).unwrap_err().message,
        "unknown instruction: WORCDIR (did you mean WORKDIR?)"
    );
}

#[test]
fn expansion_follows_buildkit_list() {
    let expandable = [
        "RUN",
        "COPY",
        "ADD",
        "ENV",
        "ARG",
        "LABEL",
        "USER",
        "WORKDIR",
        "EXPOSE",
        "VOLUME",
        "STOPSIGNAL",
    ];
    for n in every_instruction() {
        let mut ins = parse_instruction(&n).unwrap();
        let before = ins.clone();
        let mut ex = Recorder::default();
        ins.expand(&mut ex).unwrap();
        let name = ins.name();
        assert_eq!(
            ins.supports_expansion(),
            expandable.contains(&name),
            "{name}"
        );
        if expandable.contains(&name) {
            assert!(!ex.seen.is_empty(), "{name} expanded nothing");
        } else {
            assert_eq!(ins, before, "{name} must not change");
            assert!(ex.seen.is_empty(), "{name} asked for {:?}", ex.seen);
        }
    }
}

#[test]
fn expanded_values() {
    let mut ex = Recorder::default();
    let mut all: Vec<Instruction> = every_instruction()
        .iter()
        .map(|n| parse_instruction(n).unwrap())
        .collect();
    for ins in &mut all {
        ins.expand(&mut ex).unwrap();
    }
    match &all[2] {
        Instruction::Copy(c) => {
            assert_eq!(c.files.paths, ["<S>"]);
            assert_eq!(c.files.dest, "<D>");
            assert_eq!(c.chown.as_deref(), Some("<U>"));
            assert_eq!(c.chmod.as_deref(), Some("<M>"));
            assert_eq!(c.from.as_deref(), Some("s"));
        }
        other => panic!("{other:?}"),
    }
    match &all[1] {
        Instruction::Run(r) => {
            assert_eq!(r.cmd_line.args, ["echo $X"]);
            let m = r.mounts[0].resolved.as_ref().unwrap();
            assert_eq!(m.target.as_deref(), Some("<C>"));
        }
        other => panic!("{other:?}"),
    }
    match &all[11] {
        Instruction::Expose(e) => assert_eq!(e.ports, ["<P>"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn expansion_errors_carry_the_span() {
    let mut ins = parse_instruction(&node("workdir", &[], &["$BAD"], 12)).unwrap();
    let e = ins.expand(&mut Recorder::default()).unwrap_err();
    assert_eq!(e.span, Span::new(12, 12));
    assert_eq!(e.message, "BAD: is not allowed to be unset");
}

#[test]
fn literal_expander_keeps_values() {
    let mut ins = parse_instruction(&node("env", &[], &["A", "$B", "="], 1)).unwrap();
    let before = ins.clone();
    ins.expand(&mut LiteralExpander).unwrap();
    assert_eq!(ins, before);
    let mut ex = LiteralExpander;
    assert_eq!(ex.words(" a  b ").unwrap(), ["a", "b"]);
    assert_eq!(ex.raw("x $Y").unwrap(), "x $Y");
}
