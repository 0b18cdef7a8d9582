//! Stages: levels of the plan, independent stages of one level solved in parallel and
//! both usable by `COPY --from`, a stage on another stage, and failures — the first in
//! Dockerfile order is the one reported, a failing RUN with its exit code and lines.

use super::*;
use crate::sandbox::ExitStatus;
use crate::solve::StepError;

const TWO_AND_ONE: &str = "FROM scratch AS a\nCOPY a /a\n\
                           FROM scratch AS b\nCOPY b /b\n\
                           FROM scratch\nCOPY --from=a /a /x/a\nCOPY --from=b /b /x/b\n";

#[test]
fn independent_stages_share_a_level_and_both_are_copied_from() {
    let p = plan(TWO_AND_ONE);
    let levels: Vec<(usize, usize)> = p.stages.iter().map(|s| (s.index, s.level)).collect();
    assert_eq!(levels, [(0, 0), (1, 0), (2, 1)]);
    let f = Fixture::new();
    f.file("a", "A");
    f.file("b", "B");
    let solved = f.solve(TWO_AND_ONE, T1);
    let result = solved.ok();
    assert_eq!(result.layers.len(), 2);
    assert_eq!(layer_files(&f.store, &result.layers[0]), ["x/", "x/a"]);
    assert_eq!(layer_files(&f.store, &result.layers[1]), ["x/", "x/b"]);
    let mut ran = solved.ran();
    ran.sort();
    assert_eq!(
        ran,
        [
            "[a 2/2] COPY a /a",
            "[b 2/2] COPY b /b",
            "[stage-2 2/3] COPY --from=a /a /x/a",
            "[stage-2 3/3] COPY --from=b /b /x/b",
        ]
    );
    assert_eq!(f.solve(TWO_AND_ONE, T2).cached().len(), 4);
}

#[test]
fn a_stage_on_a_stage_stacks_on_its_layers() {
    let f = Fixture::with_sandbox(scripted_sandbox());
    f.file("a", "A");
    let solved = f.solve(
        "FROM scratch AS base\nCOPY a /a\nFROM base\nRUN check a\nRUN write f x\n",
        T1,
    );
    let result = solved.ok();
    // The RUNs saw the base stage's file (`check a` passed).
    assert_eq!(result.layers.len(), 3);
    let want = crate::solve::layer::chain_ids(result.layers.iter().map(|l| &l.diff_id));
    let got: Vec<_> = result.layers.iter().map(|l| l.chain_id.clone()).collect();
    assert_eq!(got, want);
    assert_eq!(layer_files(&f.store, &result.layers[2]), ["f"]);
}

#[test]
fn of_two_failing_stages_of_a_level_the_first_in_dockerfile_order_is_reported() {
    let dockerfile = "FROM scratch AS a\nRUN slow-exit 3\n\
                      FROM scratch AS b\nRUN exit 4\n\
                      FROM scratch\nCOPY --from=a / /a\nCOPY --from=b / /b\n";
    let f = Fixture::with_sandbox(scripted_sandbox());
    let solved = f.solve(dockerfile, T1);
    let e = solved.err();
    assert_eq!(e.span.start, 2, "{}", e.message());
    match &e.error {
        StepError::RunFailed { status, log, .. } => {
            assert_eq!(*status, ExitStatus::Code(3));
            assert_eq!(log.name, "[a 2/2] RUN slow-exit 3");
        }
        other => panic!("not a RUN failure: {other}"),
    }
    // Both ran: the other stage of the level was awaited, not abandoned.
    assert_eq!(f.sandbox.runs().len(), 2);
}

#[test]
fn a_failing_run_is_reported_with_its_exit_code_and_lines() {
    let f = Fixture::with_sandbox(scripted_sandbox());
    f.file("a", "A");
    let solved = f.solve("FROM scratch\nCOPY a /a\n\nRUN exit 7\n", T1);
    let e = solved.err();
    assert_eq!((e.span.start, e.span.end), (4, 4));
    assert!(
        e.message()
            .ends_with("did not complete successfully: exit code: 7"),
        "{}",
        e.message()
    );
    assert_eq!(
        e.log().map(|l| l.lines().next().map(str::to_string)),
        Some(Some("------".to_string()))
    );
    // Nothing of the failed step is kept; the COPY before it is.
    assert_eq!(f.snaps.committed().len(), 1);
}
