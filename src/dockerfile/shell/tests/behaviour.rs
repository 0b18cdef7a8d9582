//! Options, escapes, word splitting, errors and the limits that keep hostile input cheap.

use super::super::*;
use super::{env, set};

#[test]
fn errors_name_the_problem() {
    let lex = Lexer::new('\\');
    let e = env(&[("X", "v")]);
    let err = |w: &str| lex.process_word(w, &e).unwrap_err();
    assert_eq!(err("'abc"), ShellError::UnterminatedSingleQuote);
    assert_eq!(err("\"abc"), ShellError::UnterminatedDoubleQuote);
    assert_eq!(err("\"abc\\"), ShellError::UnterminatedDoubleQuote);
    assert_eq!(err("${"), ShellError::MissingBrace);
    assert_eq!(err("${X"), ShellError::MissingBrace);
    assert_eq!(err("${X:"), ShellError::MissingBrace);
    assert_eq!(err("${X:-abc"), ShellError::MissingBrace);
    assert_eq!(err("${X:-'abc}"), ShellError::MissingBrace);
    assert_eq!(err("${X/abc"), ShellError::MissingSlash);
    assert_eq!(err("${X/a/b"), ShellError::MissingBrace);
    for bad in ["${}", "${:}", "${:-x}", "${{X}"] {
        assert_eq!(err(bad), ShellError::BadSubstitution, "{bad}");
    }
    let unsupported = |m: &str| ShellError::UnsupportedModifier { modifier: m.into() };
    assert_eq!(err("${X:=v}"), unsupported(":="));
    assert_eq!(err("${X:YYY}"), unsupported(":Y"));
    assert_eq!(err("${X=v}"), unsupported("="));
    assert_eq!(err("${.}"), unsupported("."));
    assert_eq!(err("${X:#a}"), unsupported(":#"));
    assert_eq!(err("${X:%a}"), unsupported(":%"));
    // An error inside a nested word is reported as is, unless it ran off the end.
    assert_eq!(
        err("${A:-${B:?boom}}"),
        ShellError::Required {
            name: "B".into(),
            message: "boom".into()
        }
    );
    assert_eq!(err("${A:-${B:?boom}"), ShellError::MissingBrace);
    assert!(matches!(err("${X#\\x}"), ShellError::InvalidPattern { .. }));
    assert!(matches!(
        err("${X#\\#a}"),
        ShellError::InvalidPattern { .. }
    ));
    assert!(matches!(
        err("${U//\\a/}"),
        ShellError::InvalidPattern { .. }
    ));
}

#[test]
fn dollar_without_a_name_is_literal() {
    let lex = Lexer::new('\\');
    let e = env(&[("1", "one"), ("한국", "k"), ("a_1", "v")]);
    let w = |s: &str| lex.process_word(s, &e).unwrap();
    assert_eq!(w("a$"), "a$");
    assert_eq!(w("$'x'"), "$x");
    assert_eq!(w("$\"x\""), "$x");
    assert_eq!(w("$ x"), "$ x");
    assert_eq!(w("$1x"), "onex");
    assert_eq!(w("$한국어"), "");
    assert_eq!(w("${한국}"), "k");
    assert_eq!(w("$a_1-"), "v-");
    assert_eq!(w("$²"), "$²");
    assert_eq!(w("$٣x"), "x");
    // `${%}` and `${+x}` have an empty name, which is looked up (and is unset).
    let (out, m) = lex.process_word_with_matches("${%}${+x}", &e).unwrap();
    assert_eq!(out, "");
    assert_eq!(m.unmatched, set(&[""]));
}

#[test]
fn words_split_on_unquoted_whitespace() {
    let lex = Lexer::new('\\');
    let e = env(&[("S", " a  b "), ("E", "")]);
    let words = |s: &str| lex.process_words(s, &e).unwrap();
    assert_eq!(words("x${S}y"), ["x", "a", "b", "y"]);
    assert_eq!(words("x\"${S}\"y"), ["x a  b y"]);
    assert_eq!(words("a${X:-b}c d"), ["abc", "d"]);
    assert_eq!(words("\"\" a '' $E"), ["a"]);
    assert_eq!(words("a\\ b\tc\u{3000}d"), ["a b", "c", "d"]);
    // The value of an operator splits even when its word was quoted.
    assert_eq!(words("${U:-\"p q\"}"), ["p", "q"]);
    assert!(words("  ").is_empty());
}

#[test]
fn raw_quotes_and_raw_escapes() {
    let e = env(&[("X", "v")]);
    let raw_q = Lexer::new('\\').raw_quotes(true);
    assert_eq!(
        raw_q.process_word("he'll'o \"$X y\"", &e).unwrap(),
        "he'll'o \"v y\""
    );
    assert_eq!(
        raw_q.process_words("\"a b\" c", &e).unwrap(),
        ["\"a b\"", "c"]
    );
    let raw_e = Lexer::new('\\').raw_escapes(true);
    let w = |s: &str| raw_e.process_word(s, &e).unwrap();
    assert_eq!(w("a\\b\\$X"), "a\\b\\$X");
    assert_eq!(w("\"a\\\"b\""), "a\\\"b");
    // Before a character it cannot escape, BuildKit keeps the escape twice.
    assert_eq!(w("\"a\\tb\""), "a\\\\tb");
    assert_eq!(w("end\\"), "end\\");
    // The words of `-`, `+`, `?` are read with escapes removed.
    assert_eq!(w("${U:-a\\b}"), "ab");
}

#[test]
fn skip_unset_env_leaves_references() {
    let e = env(&[("X", "v"), ("E", "")]);
    let lex = Lexer::new('\\').skip_unset_env(true);
    let w = |s: &str| lex.process_word(s, &e).unwrap();
    assert_eq!(w("$U ${U} $X ${X}"), "$U ${U} v v");
    assert_eq!(
        w("${U:-d} ${U+d} ${U?m} ${X:-d} ${E:-d}"),
        "${U:-d} ${U+d} ${U?m} v d"
    );
    assert_eq!(w("${A:-$B}"), "${A:-$B}");
    assert_eq!(w("${U##*a} ${U%\\*}"), "${U##*a} ${U%\\*}");
    // BuildKit writes `//` back as a single `/`.
    assert_eq!(w("${U/a/b} ${U//a/b}"), "${U/a/b} ${U/a/b}");
    assert_eq!(w("${U:YY}"), "${U:YY}");
    assert!(lex.process_word("${X:YY}", &e).is_err());
    let raw = lex.raw_quotes(true);
    assert_eq!(raw.process_word("'$U' \"$U\"", &e).unwrap(), "'$U' \"$U\"");
}

#[test]
fn skip_process_quotes_keeps_quotes_literal() {
    let e = env(&[("X", "v")]);
    let lex = Lexer::new('\\').skip_process_quotes(true);
    assert_eq!(lex.process_word("'$X' \"$X\"", &e).unwrap(), "'v' \"v\"");
    assert_eq!(lex.process_words("\"a b\"", &e).unwrap(), ["\"a", "b\""]);
    assert_eq!(lex.process_word("'abc", &e).unwrap(), "'abc");
}

#[test]
fn backtick_escape() {
    let e = env(&[("X", "`abc")]);
    let lex = Lexer::new('`');
    assert_eq!(lex.escape(), '`');
    let w = |s: &str| lex.process_word(s, &e).unwrap();
    assert_eq!(w("a`$X"), "a$X");
    assert_eq!(w("C:\\dir\\$X"), "C:\\dir\\`abc");
    assert_eq!(w("\"a`\"b\""), "a\"b");
    assert_eq!(w("\"a`tb\""), "a`tb");
    assert_eq!(w("\"a``b\""), "a`b");
    assert_eq!(w("trail`"), "trail");
    assert_eq!(w("a` b"), "a b");
    // Patterns keep their own `\` escapes; the backtick is a literal there.
    assert_eq!(w("${X#`*}"), "abc");
    assert_eq!(
        lex.process_word("${Y#\\*}", &env(&[("Y", "*z")])).unwrap(),
        "z"
    );
}

#[test]
fn byte_order_mark_at_the_start_is_dropped() {
    let lex = Lexer::new('\\');
    assert_eq!(lex.process_word("\u{feff}ab", &NoEnv).unwrap(), "ab");
    assert_eq!(lex.process_word("a\u{feff}", &NoEnv).unwrap(), "a\u{feff}");
}

#[test]
fn nesting_is_bounded_without_overflow() {
    let lex = Lexer::new('\\');
    let ok = "${a:-".repeat(30) + "x" + &"}".repeat(30);
    assert_eq!(lex.process_word(&ok, &NoEnv).unwrap(), "x");
    let deep = "${a:-".repeat(MAX_DEPTH + 10);
    assert_eq!(
        lex.process_word(&deep, &NoEnv),
        Err(ShellError::TooDeeplyNested)
    );
}

#[test]
fn arbitrary_input_never_panics() {
    let alphabet: Vec<char> = "${}:-+?#%/\\`'\" \tab1@*!\n한\u{feff}".chars().collect();
    let e = env(&[("a", "a b*?\\"), ("b", ""), ("1", "x")]);
    let lexers = [
        Lexer::new('\\'),
        Lexer::new('`').raw_quotes(true).skip_unset_env(true),
        Lexer::new('\\').raw_escapes(true).skip_process_quotes(true),
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..20_000 {
        let len = (seed >> 59) as usize + 1;
        let mut word = String::new();
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            word.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        for lex in &lexers {
            let _ = lex.process_word_with_matches(&word, &e);
            let _ = lex.process_words(&word, &e);
        }
    }
}

#[test]
fn nested_replace_all_is_capped() {
    let lex = Lexer::new('\\');
    let e = env(&[("A", "abcdefgh")]);
    let mut word = "$A".to_string();
    for _ in 0..12 {
        word = format!("${{A//?/{word}}}");
    }
    assert_eq!(
        lex.process_word(&word, &e),
        Err(ShellError::TooLarge {
            limit: MAX_REPLACE_ALL_BYTES
        })
    );
    assert_eq!(lex.process_word("${A//?/$A}", &e).unwrap().len(), 64);
}
