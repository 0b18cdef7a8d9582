//! History times: a hit keeps its record's time, a config-only step takes the time of the
//! latest layer step before it, and `SOURCE_DATE_EPOCH` fixes every time.

use super::*;

#[test]
fn a_first_solve_dates_everything_now() {
    let f = Fixture::new();
    f.file("a", "A");
    let solved = f.solve("FROM scratch\nENV A=1\nCOPY a /a\nENV B=2\n", T1);
    let result = solved.ok();
    assert_eq!(times(result), vec![Some(T1.to_string()); 3]);
    assert_eq!(result.config.created.as_deref(), Some(T1));
}

#[test]
fn a_hit_keeps_its_time_and_config_steps_follow_the_latest_layer_step() {
    let f = Fixture::with_sandbox(scripted_sandbox());
    f.file("a", "A");
    f.solve("FROM scratch\nCOPY a /a\nENV X=1\n", T1).ok();
    let second = f.solve(
        "FROM scratch\nCOPY a /a\nENV X=1\nRUN write f x\nLABEL l=1\n",
        T2,
    );
    assert_eq!(second.cached(), ["[2/3] COPY a /a"]);
    let t = |s: &str| Some(s.to_string());
    // COPY (hit) and ENV keep the first build's time; RUN ran now, LABEL follows it.
    assert_eq!(times(second.ok()), vec![t(T1), t(T1), t(T2), t(T2)]);
    assert_eq!(second.ok().config.created, t(T2));
}

#[test]
fn a_fully_cached_solve_writes_the_first_solves_config() {
    let f = Fixture::new();
    f.file("a", "A");
    let dockerfile = "FROM scratch\nCOPY a /a\nCMD [\"/a\"]\n";
    let first = f.solve(dockerfile, T1);
    let second = f.solve(dockerfile, T2);
    assert_eq!(second.ok().config.created.as_deref(), Some(T1));
    assert_eq!(first.ok().config, second.ok().config);
}

#[test]
fn source_date_epoch_fixes_every_time_cached_steps_too() {
    let f = Fixture::new();
    f.file("a", "A");
    let dockerfile = "FROM scratch\nCOPY a /a\nENV X=1\nWORKDIR /w\n";
    f.solve(dockerfile, T1).ok();
    let fixed = f.solve_at_epoch(dockerfile, 0);
    assert_eq!(fixed.cached().len(), 2, "{:?}", fixed.ran());
    let epoch = Some("1970-01-01T00:00:00Z".to_string());
    assert_eq!(times(fixed.ok()), vec![epoch.clone(); 3]);
    assert_eq!(fixed.ok().config.created, epoch);
}
