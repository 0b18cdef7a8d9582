//! Which steps make layers: COPY and WORKDIR only when they change something (else the
//! history entry says `empty_layer`), RUN always; and what the layers hold.

use super::*;

#[test]
fn a_copy_or_workdir_that_changes_nothing_makes_no_layer() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.dir.path().join("context/empty")).unwrap();
    let solved = f.solve(
        "FROM scratch\nWORKDIR /app\nWORKDIR /app\nCOPY empty/ /\nWORKDIR /\n",
        T1,
    );
    let result = solved.ok();
    assert_eq!(result.layers.len(), 1);
    assert_eq!(empty_layers(result), [false, true, true, true]);
    assert_eq!(result.config.rootfs.diff_ids.len(), 1);
    assert_eq!(layer_files(&f.store, &result.layers[0]), ["app/"]);
}

#[test]
fn a_run_always_makes_a_layer_even_an_empty_one() {
    let f = Fixture::new();
    let solved = f.solve("FROM scratch\nRUN true\n", T1);
    let result = solved.ok();
    assert_eq!(result.layers.len(), 1);
    assert_eq!(empty_layers(result), [false]);
    assert!(layer_files(&f.store, &result.layers[0]).is_empty());
}

#[test]
fn layers_hold_what_copy_and_run_changed() {
    let f = Fixture::with_sandbox(scripted_sandbox());
    f.file("a", "A");
    let solved = f.solve("FROM scratch\nCOPY a /a\nRUN write f x\n", T1);
    let result = solved.ok();
    assert_eq!(layer_files(&f.store, &result.layers[0]), ["a"]);
    assert_eq!(layer_files(&f.store, &result.layers[1]), ["f"]);
}

#[test]
fn run_gets_the_workdir_and_user_in_force() {
    let f = Fixture::new();
    let solved = f.solve("FROM scratch\nWORKDIR /app\nUSER 10:20\nRUN true\n", T1);
    solved.ok();
    let runs = f.sandbox.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].cwd, "/app");
    assert_eq!((runs[0].user.uid, runs[0].user.gid), (10, 20));
    assert_eq!(runs[0].args, ["/bin/sh", "-c", "true"]);
}
