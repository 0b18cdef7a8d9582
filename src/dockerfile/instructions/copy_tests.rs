use super::*;
use crate::dockerfile::ast::Heredoc;
use crate::dockerfile::instructions::test_support::{heredoc, json_node, node, Recorder};

#[test]
fn copy_plain() {
    let c = parse_copy(&node("copy", &[], &["a", "b", "/dest/"], 5)).unwrap();
    assert_eq!(c.files.paths, ["a", "b"]);
    assert_eq!(c.files.dest, "/dest/");
    assert!(c.files.contents.is_empty());
    assert_eq!(c.from, None);
    assert_eq!((c.chown.clone(), c.chmod.clone()), (None, None));
    assert!(!c.link && !c.parents && c.excludes.is_empty());
    assert_eq!(c.span, Span::new(5, 5));
    assert_eq!(c.original, "COPY a b /dest/");
    // JSON form gives the same result.
    let j = parse_copy(&json_node("copy", &[], &["a b", "/d"], 1)).unwrap();
    assert_eq!(j.files.paths, ["a b"]);
}

#[test]
fn copy_all_flags() {
    let c = parse_copy(&node(
        "copy",
        &[
            "--from=build",
            "--chown=1000:1000",
            "--chmod=0755",
            "--link",
            "--parents",
            "--exclude=*.md",
            "--exclude=.git",
        ],
        &["src", "/app"],
        1,
    ))
    .unwrap();
    assert_eq!(c.from.as_deref(), Some("build"));
    assert_eq!(c.chown.as_deref(), Some("1000:1000"));
    assert_eq!(c.chmod.as_deref(), Some("0755"));
    assert!(c.link && c.parents);
    assert_eq!(c.excludes, ["*.md", ".git"]);
    let c = parse_copy(&node(
        "copy",
        &["--link=false", "--parents=false", "--from="],
        &["a", "b"],
        1,
    ))
    .unwrap();
    assert!(!c.link && !c.parents);
    assert_eq!(c.from, None);
}

#[test]
fn copy_rejects_add_flags() {
    for f in ["--checksum=sha256:x", "--keep-git-dir", "--unpack"] {
        let e = parse_copy(&node("copy", &[f], &["a", "b"], 1)).unwrap_err();
        assert!(
            e.message.starts_with("unknown flag: --"),
            "{f}: {}",
            e.message
        );
    }
    let e = parse_copy(&node("copy", &["--form=a"], &["a", "b"], 1)).unwrap_err();
    assert_eq!(e.message, "unknown flag: --form (did you mean from?)");
}

#[test]
fn add_all_flags() {
    let a = parse_add(&node(
        "add",
        &[
            "--chown=app",
            "--chmod=u+x",
            "--link",
            "--keep-git-dir=true",
            "--checksum=sha256:abc",
            "--unpack=false",
            "--exclude=x",
        ],
        &["https://example.com/a.tgz", "/d"],
        1,
    ))
    .unwrap();
    assert_eq!(a.files.paths, ["https://example.com/a.tgz"]);
    assert_eq!(a.chown.as_deref(), Some("app"));
    assert_eq!(a.chmod.as_deref(), Some("u+x"));
    assert!(a.link && a.keep_git_dir);
    assert_eq!(a.checksum.as_deref(), Some("sha256:abc"));
    assert_eq!(a.unpack, Some(false));
    assert_eq!(a.excludes, ["x"]);
    let a = parse_add(&node("add", &["--unpack"], &["a", "b"], 1)).unwrap();
    assert_eq!(a.unpack, Some(true));
    let a = parse_add(&node("add", &[], &["a", "b"], 1)).unwrap();
    assert_eq!(a.unpack, None);
    assert!(!a.keep_git_dir && !a.link);
}

#[test]
fn add_rejects_copy_flags() {
    for f in ["--from=x", "--parents"] {
        let e = parse_add(&node("add", &[f], &["a", "b"], 1)).unwrap_err();
        assert!(e.message.starts_with("unknown flag: --"), "{f}");
    }
}

#[test]
fn needs_two_arguments() {
    let e = parse_copy(&node("copy", &[], &["only"], 7)).unwrap_err();
    assert_eq!(
        e.message,
        "COPY requires at least two arguments, but only one was provided. Destination could not be determined"
    );
    assert_eq!(e.span, Span::new(7, 7));
    let e = parse_add(&node("add", &["--bogus"], &[], 1)).unwrap_err();
    assert!(e.message.starts_with("ADD requires at least two arguments"));
}

#[test]
fn heredoc_sources() {
    let mut n = node("copy", &[], &["<<EOF", "a.txt", "<<-'RAW'", "/dest/"], 1);
    n.heredocs = vec![
        heredoc("EOF", "hello $NAME\n", true),
        Heredoc {
            name: "RAW".into(),
            content: "\tkeep $X\n".into(),
            expand: false,
            chomp: true,
        },
    ];
    let c = parse_copy(&n).unwrap();
    assert_eq!(c.files.paths, ["a.txt"]);
    assert_eq!(
        c.files.contents,
        [
            SourceContent {
                path: "EOF".into(),
                data: "hello $NAME\n".into(),
                expand: true
            },
            SourceContent {
                path: "RAW".into(),
                data: "keep $X\n".into(),
                expand: false
            },
        ]
    );
}

#[test]
fn heredoc_destination_is_refused() {
    let e = parse_copy(&node("copy", &["--chown=a"], &["a", "<<EOF"], 1)).unwrap_err();
    assert_eq!(e.message, "COPY cannot accept a heredoc as a destination");
    let e = parse_add(&node("add", &[], &["a", "<<EOF"], 1)).unwrap_err();
    assert_eq!(e.message, "ADD cannot accept a heredoc as a destination");
}

#[test]
fn heredoc_word_forms() {
    let w = heredoc_word("<<EOF").unwrap();
    assert_eq!((w.name.as_str(), w.chomp, w.quoted), ("EOF", false, false));
    let w = heredoc_word("<<-\"E O\"").unwrap();
    assert_eq!((w.name.as_str(), w.chomp, w.quoted), ("E O", true, true));
    let w = heredoc_word("3<<E\\OF").unwrap();
    assert_eq!((w.name.as_str(), w.quoted), ("EOF", false));
    assert!(heredoc_word("<<").is_none());
    assert!(heredoc_word("<<<EOF").is_none());
    assert!(heredoc_word("a<<EOF").is_none());
    assert!(heredoc_word("<<'unterminated").is_none());
    assert!(heredoc_word("file").is_none());
}

#[test]
fn chomp_removes_leading_tabs() {
    assert_eq!(chomp("\t\ta\n\tb\nc"), "a\nb\nc");
}

#[test]
fn expand_copy() {
    let mut n = node(
        "copy",
        &["--chown=$U", "--chmod=$M", "--from=$F", "--exclude=$E"],
        &["$SRC", "<<EOF", "<<'Q'", "$DEST"],
        1,
    );
    n.heredocs = vec![
        heredoc("EOF", "v=$V\n", true),
        heredoc("Q", "q=$Q\n", false),
    ];
    let mut c = parse_copy(&n).unwrap();
    let mut ex = Recorder::default();
    c.expand(&mut ex).unwrap();
    assert_eq!(c.chown.as_deref(), Some("<U>"));
    assert_eq!(c.chmod.as_deref(), Some("<M>"));
    assert_eq!(c.files.paths, ["<SRC>"]);
    assert_eq!(c.files.dest, "<DEST>");
    assert_eq!(c.files.contents[0].data, "raw:v=<V>\n");
    assert_eq!(c.files.contents[1].data, "q=$Q\n");
    // Never expanded.
    assert_eq!(c.from.as_deref(), Some("$F"));
    assert_eq!(c.excludes, ["$E"]);
}

#[test]
fn expand_add_and_empty_results() {
    let mut a = parse_add(&node(
        "add",
        &["--checksum=$SUM", "--chown=$EMPTY"],
        &["a", "b"],
        1,
    ))
    .unwrap();
    struct Empty;
    impl Expander for Empty {
        fn word(&mut self, w: &str) -> Result<String, String> {
            Ok(if w == "$EMPTY" {
                String::new()
            } else {
                w.replace('$', "")
            })
        }
        fn words(&mut self, t: &str) -> Result<Vec<String>, String> {
            Ok(vec![t.to_string()])
        }
        fn raw(&mut self, t: &str) -> Result<String, String> {
            Ok(t.to_string())
        }
    }
    a.expand(&mut Empty).unwrap();
    assert_eq!(a.checksum.as_deref(), Some("SUM"));
    assert_eq!(a.chown, None);
}

#[test]
fn expand_error_has_span() {
    let mut c = parse_copy(&node("copy", &[], &["$BAD", "b"], 9)).unwrap();
    let e = c.expand(&mut Recorder::default()).unwrap_err();
    assert_eq!(e.span, Span::new(9, 9));
    assert_eq!(e.message, "BAD: is not allowed to be unset");
}
