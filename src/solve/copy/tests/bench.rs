//! Timing of a COPY of bench case a (20,000 files, 200 MB) through the engine, for
//! comparing changes to the source walk: run with
//! `cargo test --release --lib copy_bench -- --ignored --nocapture`; the context is
//! `$BUILDER_BENCH_CONTEXT` or `../shared/bench/cases/a` (generate its `data/` with its
//! `gen-context.py`). Reports, does not assert timings.

use std::path::Path;
use std::time::{Duration, Instant};

use super::*;

#[test]
#[ignore]
fn copy_bench() {
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/cases/a");
    let ctx = std::env::var_os("BUILDER_BENCH_CONTEXT").map_or(default, Into::into);
    if !ctx.join("data").is_dir() {
        eprintln!("no {}/data: generate it first", ctx.display());
        return;
    }
    let rounds: usize = std::env::var("BUILDER_BENCH_ROUNDS").map_or(7, |v| v.parse().unwrap());
    let root = SourceRoot {
        dir: &ctx,
        ignore: None,
        kind: SourceKind::Context,
    };
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..rounds {
        let out = tempfile::tempdir_in(&ctx).unwrap();
        let req = request(
            vec![CopySource::Path("data/".into())],
            root.clone(),
            "/data/",
            &EmptyDest,
        );
        let started = Instant::now();
        let stats = copy(&req, out.path()).unwrap();
        let took = started.elapsed();
        assert_eq!(stats.files, 20_000);
        println!("copy: {took:.1?}");
        times.push(took);
    }
    times.sort();
    if let Some(median) = times.get(times.len() / 2) {
        println!("copy median of {rounds}: {median:.1?}");
    }
}
