//! The build cache across solves of one store: a second solve hits every step, a changed
//! context file misses from its COPY on, and a config-only change invalidates nothing.

use super::*;

const THREE_STEPS: &str = "FROM scratch\nCOPY a /a\nWORKDIR /app\nRUN write f x\n";

#[test]
fn a_second_solve_hits_every_step_and_runs_nothing() {
    let f = Fixture::with_sandbox(scripted_sandbox());
    f.file("a", "A");
    let first = f.solve(THREE_STEPS, T1);
    let names = [
        "[2/4] COPY a /a",
        "[3/4] WORKDIR /app",
        "[4/4] RUN write f x",
    ];
    assert_eq!(first.ran(), names);
    assert!(first.cached().is_empty());
    let second = f.solve(THREE_STEPS, T2);
    assert_eq!(second.cached(), names);
    assert!(second.ran().is_empty(), "{:?}", second.ran());
    assert_eq!(f.sandbox.runs().len(), 1, "a hit runs no command");
    assert_eq!(first.ok().config, second.ok().config);
    let diff_ids =
        |s: &Solved| -> Vec<_> { s.ok().layers.iter().map(|l| l.diff_id.clone()).collect() };
    assert_eq!(diff_ids(&first), diff_ids(&second));
}

#[test]
fn a_changed_context_file_misses_from_its_copy_on() {
    let f = Fixture::with_sandbox(scripted_sandbox());
    f.file("a", "A");
    f.file("b", "B");
    let dockerfile = "FROM scratch\nCOPY a /a\nCOPY b /b\nRUN write f x\n";
    f.solve(dockerfile, T1).ok();
    f.file("b", "B2");
    let second = f.solve(dockerfile, T2);
    assert_eq!(second.cached(), ["[2/4] COPY a /a"]);
    assert_eq!(second.ran(), ["[3/4] COPY b /b", "[4/4] RUN write f x"]);
    assert_eq!(f.sandbox.runs().len(), 2);
}

#[test]
fn a_config_only_change_before_a_step_invalidates_nothing() {
    let f = Fixture::new();
    f.file("a", "A");
    f.solve("FROM scratch\nLABEL v=1\nCOPY a /a\n", T1).ok();
    let second = f.solve("FROM scratch\nLABEL v=2\nCOPY a /a\n", T2);
    assert_eq!(second.cached(), ["[2/2] COPY a /a"]);
    let labels = &second.ok().config.config.labels;
    assert_eq!(labels.get("v").map(String::as_str), Some("2"));
}

#[test]
fn a_hit_layer_is_the_one_the_miss_made_with_its_chain_id() {
    let f = Fixture::new();
    f.file("a", "A");
    f.file("b", "B");
    let dockerfile = "FROM scratch\nCOPY a /a\nCOPY b /b\n";
    let first = f.solve(dockerfile, T1);
    let second = f.solve(dockerfile, T2);
    let (made, hit) = (&first.ok().layers, &second.ok().layers);
    assert_eq!(made.len(), 2);
    let want = crate::solve::layer::chain_ids(made.iter().map(|l| &l.diff_id));
    for layers in [made, hit] {
        let got: Vec<_> = layers.iter().map(|l| l.chain_id.clone()).collect();
        assert_eq!(got, want);
        assert_eq!(layers[0].descriptor, made[0].descriptor);
    }
    // Each step's snapshot is committed under its chain id.
    let mut names: Vec<String> = want.iter().map(|d| d.to_string()).collect();
    names.sort();
    assert_eq!(f.snaps.committed(), names);
}
