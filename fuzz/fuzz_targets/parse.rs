//! Fuzz target: the Dockerfile parser, its dump, and the typed-instruction layer must never
//! panic, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ast) = builder::dockerfile::parse(text) {
        let _ = builder::dockerfile::dump::dump(&ast);
        let _ = builder::dockerfile::instructions::parse_dockerfile(&ast);
    }
});
