//! Fuzz target: the shell-word lexer must never panic, whatever the word and escape
//! character.
#![no_main]

use std::collections::BTreeMap;

use builder::dockerfile::shell::Lexer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(word) = std::str::from_utf8(rest) else {
        return;
    };
    let escape = if first & 1 == 0 { '\\' } else { '`' };
    let mut env = BTreeMap::new();
    env.insert("A".to_string(), "a b  c".to_string());
    env.insert("EMPTY".to_string(), String::new());
    env.insert("U".to_string(), "ünï cödé".to_string());
    let lexer = Lexer::new(escape)
        .raw_quotes(first & 2 != 0)
        .raw_escapes(first & 4 != 0)
        .skip_unset_env(first & 8 != 0);
    let _ = lexer.process_word(word, &env);
    let _ = lexer.process_words(word, &env);
    let _ = lexer.process_word_with_matches(word, &env);
});
