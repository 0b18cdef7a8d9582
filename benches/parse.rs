//! Benchmark: parse (and type) a generated 10,000-line Dockerfile; prints the median time.
//! Run with `cargo bench --bench parse`. Not a timed test: it reports, it does not assert.

use std::time::{Duration, Instant};

/// A Dockerfile of about `lines` lines mixing every common shape: multi-stage FROMs,
/// continuations with comments, JSON and shell forms, ENV/LABEL pairs, heredocs, flags.
fn generate(lines: usize) -> String {
    let mut out = String::from("# syntax=docker/dockerfile:1\nARG BASE=busybox\n");
    let mut n = 2;
    let mut stage = 0;
    while n < lines {
        out.push_str(&format!("FROM ${{BASE}} AS s{stage}\n"));
        out.push_str("ENV A=1 B=\"two words\" C=${A:-x}\n");
        out.push_str("LABEL org.example.a=\"x\" org.example.b=y\n");
        out.push_str("RUN --mount=type=cache,target=/var/cache \\\n    set -e; \\\n    # a comment\n    echo one \\\n      && echo two\n");
        out.push_str("COPY --chown=1000:1000 --chmod=0644 a b c /dst/\n");
        out.push_str("RUN <<EOF\necho heredoc\necho body\nEOF\n");
        out.push_str("CMD [\"sh\", \"-c\", \"echo hi\"]\n");
        out.push_str("HEALTHCHECK --interval=5s CMD true\n");
        n += 14;
        stage += 1;
    }
    out
}

fn main() {
    let text = generate(10_000);
    let lines = text.lines().count();
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..30 {
        let start = Instant::now();
        let ast = builder::dockerfile::parse(&text).expect("generated Dockerfile parses");
        let typed = builder::dockerfile::instructions::parse_dockerfile(&ast);
        std::hint::black_box((&ast, &typed));
        times.push(start.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "parse+type {lines} lines ({} KiB): median {:.2} ms, min {:.2} ms over {} runs",
        text.len() / 1024,
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times.len()
    );
}
