//! The excerpt renderer against BuildKit's `Source.Print`, and its edges: first and last
//! lines, CRLF, tabs, long lines and spans, spans outside the file.

use super::*;

const FOUR: &str = "FROM busybox\nCOPY a /a\nRUN false\nCMD [\"sh\"]\n";

#[test]
fn one_line_gets_two_lines_of_context_either_side() {
    let text = excerpt("Dockerfile", FOUR, Span::new(3, 3));
    assert_eq!(
        text,
        "Dockerfile:3\n\
         --------------------\n\
         \x20  1 |     FROM busybox\n\
         \x20  2 |     COPY a /a\n\
         \x20  3 | >>> RUN false\n\
         \x20  4 |     CMD [\"sh\"]\n\
         \x20  5 |\n\
         --------------------\n"
    );
}

#[test]
fn render_ends_with_the_error_line() {
    let text = render("Dockerfile", FOUR, Span::new(2, 2), "boom");
    assert!(text.starts_with("Dockerfile:2\n--------------------\n"));
    assert!(text.contains("   2 | >>> COPY a /a\n"));
    assert!(
        text.ends_with("--------------------\nERROR: boom"),
        "{text}"
    );
}

#[test]
fn error_on_line_one_shows_the_lines_after_it() {
    let text = excerpt(
        "Dockerfile",
        "FRUM x\nRUN a\nRUN b\nRUN c\n",
        Span::new(1, 1),
    );
    let quoted: Vec<&str> = text
        .lines()
        .skip(2)
        .take_while(|l| !l.starts_with("--"))
        .collect();
    assert_eq!(
        quoted,
        ["   1 | >>> FRUM x", "   2 |     RUN a", "   3 |     RUN b"]
    );
}

#[test]
fn error_on_the_last_line_without_newline() {
    let text = excerpt("Dockerfile", "FROM a\nRUN a\nRUN b\nRUN c", Span::new(4, 4));
    let quoted: Vec<&str> = text
        .lines()
        .skip(2)
        .take_while(|l| !l.starts_with("--"))
        .collect();
    assert_eq!(
        quoted,
        ["   2 |     RUN a", "   3 |     RUN b", "   4 | >>> RUN c"]
    );
}

#[test]
fn multi_line_instruction_marks_every_line_with_one_line_around() {
    let src = "FROM a\nRUN x\nRUN echo a && \\\n  echo b && \\\n  exit 3\nRUN y\nRUN z\n";
    let text = excerpt("Dockerfile", src, Span::new(3, 5));
    let quoted: Vec<&str> = text
        .lines()
        .skip(2)
        .take_while(|l| !l.starts_with("--"))
        .collect();
    assert_eq!(
        quoted,
        [
            "   2 |     RUN x",
            "   3 | >>> RUN echo a && \\",
            "   4 | >>>   echo b && \\",
            "   5 | >>>   exit 3",
            "   6 |     RUN y",
        ]
    );
}

#[test]
fn crlf_lines_lose_their_carriage_return() {
    let text = excerpt(
        "Dockerfile",
        "FROM a\r\nFRUM b\r\nRUN c\r\n",
        Span::new(2, 2),
    );
    assert!(!text.contains('\r'), "{text:?}");
    assert!(text.contains("   2 | >>> FRUM b\n"), "{text}");
}

#[test]
fn tabs_are_kept_and_other_control_characters_shown_as_question_marks() {
    let text = excerpt(
        "Dockerfile",
        "FROM a\nRUN\tx \x1b[31mred\n",
        Span::new(2, 2),
    );
    assert!(text.contains("   2 | >>> RUN\tx ?[31mred\n"), "{text:?}");
}

#[test]
fn very_long_lines_are_cut_at_a_character_boundary() {
    let long = format!("RUN echo {}", "é".repeat(500));
    let src = format!("FROM a\n{long}\n");
    let text = excerpt("Dockerfile", &src, Span::new(2, 2));
    let line = text.lines().find(|l| l.contains(">>>")).unwrap();
    assert!(line.ends_with(" ..."), "{line}");
    let quoted = line
        .trim_start_matches("   2 | >>> ")
        .trim_end_matches(" ...");
    assert_eq!(quoted.chars().count(), MAX_LINE_CHARS);
}

#[test]
fn very_long_spans_leave_out_the_middle() {
    let mut src = String::from("FROM a\nRUN <<EOF\n");
    for i in 0..100 {
        src.push_str(&format!("echo {i}\n"));
    }
    src.push_str("EOF\n");
    let text = excerpt("Dockerfile", &src, Span::new(2, 103));
    let marked = text.lines().filter(|l| l.contains(">>>")).count();
    assert_eq!(marked, 18, "{text}");
    assert!(text.contains("     | ... 84 more lines ...\n"), "{text}");
    assert!(text.contains(" 103 | >>> EOF\n"), "{text}");
    assert!(text.contains("   1 |     FROM a\n"), "{text}");
}

#[test]
fn line_numbers_past_999_widen_the_column() {
    let src = "RUN x\n".repeat(1200);
    let text = excerpt("Dockerfile", &src, Span::new(1000, 1000));
    assert!(text.contains(" 1000 | >>> RUN x\n"), "{text}");
    assert!(text.contains("  999 |     RUN x\n"), "{text}");
}

#[test]
fn span_outside_the_file_renders_no_excerpt() {
    assert_eq!(excerpt("Dockerfile", "", Span::new(0, 0)), "");
    assert_eq!(excerpt("Dockerfile", "FROM a\n", Span::new(9, 9)), "");
    assert_eq!(
        render(
            "Dockerfile",
            "",
            Span::new(0, 0),
            "file with no instructions"
        ),
        "ERROR: file with no instructions"
    );
}

#[test]
fn span_end_past_the_file_is_clamped() {
    let text = excerpt("Dockerfile", "FROM a\nRUN b", Span::new(2, 40));
    assert!(
        text.ends_with("   2 | >>> RUN b\n--------------------\n"),
        "{text}"
    );
}

#[test]
fn stdin_dockerfile_is_named_as_given() {
    let text = excerpt("Dockerfile", "FROM a\n", Span::new(1, 1));
    assert!(text.starts_with("Dockerfile:1\n"));
}

#[test]
fn parse_message_names_the_line_as_buildkit() {
    let e = ParseError::at_line(3, "unknown instruction: FRUM (did you mean FROM?)");
    assert_eq!(
        e.parse_message(),
        "dockerfile parse error on line 3: unknown instruction: FRUM (did you mean FROM?)"
    );
    let e = ParseError::at_line(0, "file with no instructions");
    assert_eq!(
        e.parse_message(),
        "dockerfile parse error: file with no instructions"
    );
}
