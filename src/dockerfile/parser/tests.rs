//! Whole-file parser tests: line handling, spans, heredocs, comments and errors.

use super::parse;
use crate::dockerfile::ast::{Arg, Heredoc, Node, Span};
use crate::dockerfile::dump::dump;

fn dumped(text: &str) -> String {
    dump(&parse(text).unwrap())
}

fn spans(text: &str) -> Vec<(usize, usize)> {
    parse(text)
        .unwrap()
        .children
        .iter()
        .map(|n| (n.span.start, n.span.end))
        .collect()
}

fn error(text: &str) -> (String, Span) {
    let err = parse(text).unwrap_err();
    (err.message, err.span)
}

fn heredoc(name: &str, content: &str, expand: bool, chomp: bool) -> Heredoc {
    Heredoc {
        name: name.into(),
        content: content.into(),
        expand,
        chomp,
    }
}

#[test]
fn directives_set_the_escape_character() {
    let ast =
        parse("# syntax=docker/dockerfile:1\n#escape = `\nFROM x\nRUN a `\n  b\nENV A `\n\\go\n")
            .unwrap();
    assert_eq!(ast.escape, '`');
    let names: Vec<_> = ast
        .directives
        .iter()
        .map(|d| (d.name.as_str(), d.value.as_str(), d.line))
        .collect();
    assert_eq!(
        names,
        vec![("syntax", "docker/dockerfile:1", 1), ("escape", "`", 2)]
    );
    assert_eq!(
        dump(&ast),
        "(from \"x\")\n(run \"a   b\")\n(env \"A\" \"\\\\go\" \"\")"
    );
    // Directives never become comments of the first instruction.
    assert!(ast.children[0].prev_comment.is_empty());
}

#[test]
fn escape_after_a_comment_is_only_a_comment() {
    let ast = parse("# hello\n# escape=`\nFROM x\nRUN a \\\n b\n").unwrap();
    assert_eq!(ast.escape, '\\');
    assert!(ast.directives.is_empty());
    assert_eq!(ast.children[0].prev_comment, vec!["hello", "escape=`"]);
    assert_eq!(dump(&ast), "(from \"x\")\n(run \"a  b\")");
}

#[test]
fn directive_errors() {
    assert_eq!(
        error("# escape=x\nFROM a\n"),
        (
            "invalid escape token 'x' does not match ` or \\".into(),
            Span::new(1, 1)
        )
    );
    assert_eq!(
        error("# check=a\n# check=b\nFROM a\n").0,
        "only one check parser directive can be used"
    );
}

#[test]
fn continuations_comments_and_blank_lines() {
    let text = "FROM x\nRUN a \\\n# comment\n\n  b \\\n\\\n  c\nRUN d\n";
    let ast = parse(text).unwrap();
    assert_eq!(dump(&ast), "(from \"x\")\n(run \"a   b   c\")\n(run \"d\")");
    assert_eq!(spans(text), vec![(1, 1), (2, 7), (8, 8)]);
    assert_eq!(ast.warnings.len(), 1);
    assert_eq!(ast.warnings[0].line, 7);
    assert!(ast.warnings[0]
        .message
        .starts_with("empty continuation line"));
    assert_eq!(ast.children[1].original, "RUN a   b   c");
}

#[test]
fn crlf_bom_no_final_newline_and_continuation_at_eof() {
    assert_eq!(
        dumped("\u{feff}FROM x\r\nRUN a \\\r\n b\r\n"),
        "(from \"x\")\n(run \"a  b\")"
    );
    assert_eq!(dumped("FROM x\nRUN a"), "(from \"x\")\n(run \"a\")");
    assert_eq!(dumped("FROM x\nRUN a \\"), "(from \"x\")\n(run \"a\")");
    assert_eq!(spans("FROM x\nRUN a \\\n"), vec![(1, 1), (2, 2)]);
    assert_eq!(spans("FROM x\nRUN a \\\n\n"), vec![(1, 1), (2, 3)]);
}

#[test]
fn escaped_escape_does_not_continue() {
    assert_eq!(
        dumped("ENV C a\\\\\nENV D b\n"),
        "(env \"C\" \"a\\\\\\\\\" \"\")\n(env \"D\" \"b\" \"\")"
    );
}

#[test]
fn comments_attach_to_the_next_instruction() {
    let ast = parse("# one\n  # two\n\nFROM x\n#\n# three\nRUN a\nRUN b\n").unwrap();
    assert_eq!(ast.children[0].prev_comment, vec!["one", "# two"]);
    assert_eq!(ast.children[1].prev_comment, vec!["three"]);
    assert!(ast.children[2].prev_comment.is_empty());
}

#[test]
fn flags_and_json_fallback() {
    assert_eq!(
        dumped("COPY --from=a --chown=\"b c\" x y\nCMD --doit [\"a\", \"b\"]\nRUN [\"a\" b\n"),
        "(copy [\"--from=a\" \"--chown=b c\"] \"x\" \"y\")\n(cmd [\"--doit\"] \"a\" \"b\")\n(run \"[\\\"a\\\" b\")"
    );
    let ast = parse("CMD [\"a\"]\nCMD a\n").unwrap();
    assert!(ast.children[0].json);
    assert!(!ast.children[1].json);
}

#[test]
fn env_and_label_forms() {
    assert_eq!(
        dumped("ENV A 1 2\nLABEL a=b \"c d\"=e\nENV\n"),
        "(env \"A\" \"1 2\" \"\")\n(label \"a\" \"b\" \"=\" \"\\\"c d\\\"\" \"e\" \"=\")\n(env)"
    );
}

#[test]
fn heredoc_bodies_are_consumed() {
    let text = "FROM x\nRUN <<EOF\necho hi\n  EOF\nEOF\nRUN b\n";
    let ast = parse(text).unwrap();
    assert_eq!(dump(&ast), "(from \"x\")\n(run \"<<EOF\")\n(run \"b\")");
    assert_eq!(spans(text), vec![(1, 1), (2, 5), (6, 6)]);
    assert_eq!(
        ast.children[1].heredocs,
        vec![heredoc("EOF", "echo hi\n  EOF\n", true, false)]
    );
    assert_eq!(ast.span, Span::new(1, 6));
}

#[test]
fn several_heredocs_on_one_line() {
    let text = "COPY <<X <<'Y' /dest\nY\nX\nX\nY\nRUN a\n";
    let ast = parse(text).unwrap();
    assert_eq!(
        ast.children[0].heredocs,
        vec![
            heredoc("X", "Y\n", true, false),
            heredoc("Y", "X\n", false, false)
        ]
    );
    assert_eq!(spans(text), vec![(1, 5), (6, 6)]);
}

#[test]
fn chomped_heredocs_strip_tabs() {
    let ast = parse("RUN <<-EOF\n\techo a\n\t\techo b\n\tEOF\n").unwrap();
    assert_eq!(
        ast.children[0].heredocs,
        vec![heredoc("EOF", "echo a\necho b\n", true, true)]
    );
}

#[test]
fn quoted_delimiters_turn_expansion_off() {
    let ast = parse("RUN <<\"A\" <<B\n$x\nA\n$y\nB\n").unwrap();
    let h = &ast.children[0].heredocs;
    assert_eq!((h[0].name.as_str(), h[0].expand), ("A", false));
    assert_eq!((h[1].name.as_str(), h[1].expand), ("B", true));
}

#[test]
fn onbuild_heredocs_attach_to_onbuild() {
    let text = "ONBUILD RUN <<EOF\necho hi\nEOF\nRUN x\n";
    let ast = parse(text).unwrap();
    assert_eq!(dump(&ast), "(onbuild (run \"<<EOF\"))\n(run \"x\")");
    assert_eq!(
        ast.children[0].heredocs,
        vec![heredoc("EOF", "echo hi\n", true, false)]
    );
    assert_eq!(spans(text), vec![(1, 3), (4, 4)]);
    let Some(Arg::Nested(inner)) = ast.children[0].args.first() else {
        panic!("no nested node");
    };
    assert_eq!(inner.keyword, "run");
    assert_eq!(inner.span, Span::new(1, 3));
}

#[test]
fn no_heredocs_for_json_or_other_instructions() {
    assert_eq!(
        dumped("RUN [\"<<EOF\"]\nCMD <<EOF\nRUN \"<<NOHEREDOC\"\n")
            .lines()
            .count(),
        3
    );
    assert_eq!(
        dumped("RUN <<\nRUN <<-\nRUN <<''\nRUN <<- /x\nRUN cat<<EOF\n")
            .lines()
            .count(),
        5
    );
}

#[test]
fn heredoc_after_a_continuation_starts_after_the_joined_line() {
    let text = "RUN <<EOF \\\n  cat\nbody\nEOF\n";
    let ast = parse(text).unwrap();
    assert_eq!(
        ast.children[0].heredocs,
        vec![heredoc("EOF", "body\n", true, false)]
    );
    assert_eq!(spans(text), vec![(1, 4)]);
}

#[test]
fn unterminated_heredoc() {
    assert_eq!(
        error("FROM x\nRUN <<EOF\necho\n"),
        ("unterminated heredoc".into(), Span::new(2, 3))
    );
    assert_eq!(error("FROM x\nADD << /no-here\n").0, "unterminated heredoc");
}

#[test]
fn empty_or_comment_only_files_are_errors() {
    assert_eq!(
        error(""),
        ("file with no instructions".into(), Span::new(0, 0))
    );
    assert_eq!(
        error("# a\n\n# b\n"),
        ("file with no instructions".into(), Span::new(3, 3))
    );
    assert_eq!(
        error("\u{feff}"),
        ("file with no instructions".into(), Span::new(1, 1))
    );
}

#[test]
fn argument_errors_point_at_the_instruction() {
    assert_eq!(
        error("FROM x\nENV PATH\n"),
        ("ENV must have two arguments".into(), Span::new(2, 2))
    );
    assert_eq!(
        error("FROM x\nENV a=b \\\n  c\n"),
        (
            "Syntax error - can't find = in \"c\". Must be of the form: name=value".into(),
            Span::new(2, 3)
        )
    );
    assert_eq!(
        error("CMD [ \"echo\", [ \"nested json\" ] ]").0,
        "when using JSON array syntax, arrays must be comprised of strings only"
    );
}

#[test]
fn unknown_instructions_parse() {
    let ast = parse("FRUM x\n").unwrap();
    assert_eq!(ast.children[0].keyword, "frum");
    assert_eq!(dump(&ast), "(frum \"\")");
}

#[test]
fn lone_escape_line_starts_an_instruction() {
    let text = "\\\nFROM x\n";
    assert_eq!(dumped(text), "(from \"x\")");
    assert_eq!(spans(text), vec![(1, 2)]);
    assert_eq!(dumped("FROM x\n\\"), "(from \"x\")\n(\"\")");
}

#[test]
fn node_fields() {
    let ast = parse("FROM x\n\n  RUN   a \\\n b  \n").unwrap();
    let run: &Node = &ast.children[1];
    assert_eq!(run.original, "RUN   a  b  ");
    assert_eq!(run.span, Span::new(3, 4));
}

#[test]
fn hostile_inputs_do_not_panic() {
    let inputs = [
        "RUN --a=\u{a0}\u{85}é x",
        "HEALTHCHECK à\u{a0}b",
        "RUN <<${\nRUN <<'\nRUN <<\"a\\\n",
        "COPY <<a<<b <<\u{2028}x\nx\n",
        "ONBUILD ONBUILD ONBUILD",
        "\u{feff}\u{feff}",
        "\r\r\r",
        "RUN 𠀀\u{85}x --a",
        "CMD [\"\\ud800\\udbff\"]",
    ];
    for input in inputs {
        let _ = parse(input);
        let _ = parse(&format!("FROM x\n{input}\n"));
    }
}

#[test]
fn ten_thousand_lines_parse_quickly() {
    let mut text = String::from("FROM busybox\n");
    for i in 0..2_500 {
        text.push_str(&format!(
            "RUN echo {i} \\\n  && true\nENV A{i}=b\n# comment\n"
        ));
    }
    let started = std::time::Instant::now();
    let ast = parse(&text).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(ast.children.len(), 5_001);
    // Generous for unoptimised debug builds on a shared machine.
    assert!(elapsed.as_millis() < 1_000, "took {elapsed:?}");
}

/// Deterministic pseudo-random inputs built from the tokens the parser reacts to: parsing
/// and dumping must never panic, and accepted files keep their spans ordered.
#[test]
fn random_token_soup_never_panics() {
    const TOKENS: &[&str] = &[
        "RUN ",
        "ONBUILD ",
        "COPY ",
        "ADD ",
        "ENV ",
        "LABEL ",
        "HEALTHCHECK ",
        "ARG ",
        "FROM ",
        "CMD ",
        "x",
        " ",
        "\t",
        "\n",
        "\r\n",
        "\\",
        "\\\n",
        "`",
        "#",
        "# escape=`\n",
        "# syntax=x\n",
        "<<",
        "<<-",
        "EOF",
        "\nEOF\n",
        "'",
        "\"",
        "$",
        "${",
        "}",
        ":",
        "-",
        "--",
        "--a=",
        "=",
        "[",
        "]",
        ",",
        "é",
        "\u{a0}",
        "\u{85}",
        "𠀀",
        "\u{feff}",
        "{",
        "1",
        "null",
        "\\u",
        "d800",
        "\u{0}",
        "\u{2028}",
        "\u{b}",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    for _ in 0..4_000 {
        let count = 1 + next() % 40;
        let text: String = (0..count).map(|_| TOKENS[next() % TOKENS.len()]).collect();
        if let Ok(ast) = parse(&text) {
            let _ = dump(&ast);
            let mut last_end = 0;
            for node in &ast.children {
                assert!(
                    node.span.start > last_end && node.span.end >= node.span.start,
                    "{text:?}"
                );
                last_end = node.span.end;
            }
            assert_eq!(ast.span.end, last_end, "{text:?}");
        }
    }
}

#[test]
fn deeply_nested_references_in_a_heredoc_line_do_not_overflow() {
    // Physical lines stay short; the continuation joins them into one deep line.
    let text = format!("RUN <<EOF {}x\nEOF\n", "${a:-\\\n".repeat(50_000));
    assert!(parse(&text).is_ok());
}
