//! Fuzz target: the Dockerfile parser, its dump, the typed-instruction layer and the planner
//! must never panic, whatever the input.
#![no_main]

use builder::graph::{self, PlanOptions, Platform, UnknownImages};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(ast) = builder::dockerfile::parse(text) else {
        return;
    };
    let _ = builder::dockerfile::dump::dump(&ast);
    if let Ok(df) = builder::dockerfile::instructions::parse_dockerfile(&ast) {
        let opts = PlanOptions::new(Platform::linux_amd64());
        let _ = graph::plan(&df, ast.escape, &opts, &UnknownImages);
    }
});
