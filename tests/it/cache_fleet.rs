//! A fleet of CI runners sharing one registry cache, end to end on 127.0.0.1: each runner
//! has its own store (its own `--root`, as separate machines), one `docker-registry` holds
//! the cache. Runner 1 pushes the cache of a multi-stage project (`mode=max`); runners 2
//! and 3 (one of them `buildertest` when the tests run as root) build it cold at the same
//! time, every step cached and the same image; a changed source file reruns exactly the
//! steps that read it; two runners exporting to one ref at once leave a cache that a fourth,
//! fresh runner imports in full (the last writer's).

use std::path::Path;

use crate::build_cache::{build, steps, Built};
use crate::build_support::busybox;
use crate::registry_support::{Registry, RegistryAuth};
use crate::run_support::{runners, RunWork, Runner};

/// Three stages feeding a final one: a "dependency" stage, a "compile" stage reading the
/// sources, a "docs" stage; busybox programs only.
const DOCKERFILE: &str = "\
FROM busybox AS deps
COPY deps.txt /src/deps.txt
RUN mkdir -p /out/lib && while read -r d; do echo \"lib $d\" > /out/lib/$d.a; done < /src/deps.txt

FROM busybox AS build
COPY --from=deps /out/lib /out/lib
COPY src/ /src/
RUN mkdir -p /out/bin && cat /src/util.sh /src/main.sh > /out/bin/app && chmod 755 /out/bin/app \\
 && ls /out/lib > /out/libs.txt && sha256sum /out/bin/app > /out/app.sum

FROM busybox AS docs
COPY README.md /doc/README.md
RUN gzip -9 -c /doc/README.md > /doc/README.gz

FROM busybox
COPY --from=docs /doc/README.gz /usr/share/doc/app/README.gz
COPY --from=build /out/bin/app /usr/local/bin/app
COPY --from=build /out/app.sum /out/libs.txt /usr/share/app/
RUN /usr/local/bin/app > /built.txt
";

/// The steps that read `src/util.sh`, directly or through what an earlier step made.
const RERUN_ON_UTIL_CHANGE: [&str; 5] = [
    "[build 3/4] COPY src/ /src/",
    "[build 4/4] RUN mkdir -p /out/bin",
    "[stage-3 3/5] COPY --from=build /out/bin/app",
    "[stage-3 4/5] COPY --from=build /out/app.sum",
    "[stage-3 5/5] RUN /usr/local/bin/app",
];

/// A runner's workspace holding the project, `version` in its util.sh.
fn project(r: Runner, layout: &Path, version: &str) -> RunWork {
    let w = RunWork::new(r, layout);
    w.file("deps.txt", "zlib\nssl\nyaml\n")
        .file("README.md", &"The app. It prints its version.\n".repeat(40))
        .file("src/main.sh", "echo \"app $(version)\"\n")
        .file(
            "src/util.sh",
            &format!("#!/bin/sh\nversion() {{ echo {version}; }}\n"),
        )
        .dockerfile(DOCKERFILE);
    w
}

/// The names of the steps of `b` that ran (not cached), each cut to the length of the
/// matching entry of `expect` so long RUN lines compare by their start.
fn ran(b: &Built, expect: &[&str]) -> Vec<String> {
    steps(&b.progress)
        .into_iter()
        .filter(|s| !s.cached)
        .map(|s| {
            expect
                .iter()
                .find(|e| s.name.starts_with(**e))
                .map_or(s.name.clone(), |e| e.to_string())
        })
        .collect()
}

/// Build on a fresh store (the workspace's store emptied first).
fn fresh(w: &RunWork, who: &str, args: &[&str]) -> Built {
    std::fs::remove_dir_all(w.path("root")).unwrap();
    std::fs::create_dir(w.path("root")).unwrap();
    build(w, who, args)
}

#[test]
fn a_fleet_of_runners_shares_one_registry_cache() {
    let test = "cache_fleet";
    let Some(layout) = busybox(test) else { return };
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    let found = runners(test);
    let Some(&me) = found.first() else { return };
    // The third runner is rootless when the tests can run one.
    let other = found.last().copied().unwrap_or(me);
    let image = format!("{}/fleet/app:cache", reg.host());
    let to = format!("type=registry,ref={image},mode=max");
    let from = format!("type=registry,ref={image}");

    let one = project(me, &layout, "1.0");
    let first = build(&one, "runner 1", &["--cache-to", &to]);
    let all = steps(&first.progress);
    assert_eq!(all.len(), 11, "{}", first.progress);
    assert!(all.iter().all(|s| !s.cached), "{}", first.progress);

    // Runners 2 and 3: cold stores, side by side, everything from the registry.
    let (two, three) = (project(me, &layout, "1.0"), project(other, &layout, "1.0"));
    let names = ["runner 2", other.name()];
    let (b2, b3) = std::thread::scope(|s| {
        let h2 = s.spawn(|| build(&two, names[0], &["--cache-from", &from]));
        let h3 = s.spawn(|| build(&three, names[1], &["--cache-from", &from]));
        (h2.join().unwrap(), h3.join().unwrap())
    });
    for (who, b) in names.iter().zip([&b2, &b3]) {
        let missed = ran(b, &[]);
        assert!(missed.is_empty(), "{who} ran {missed:?}:\n{}", b.progress);
        assert_eq!(
            b.id, first.id,
            "{who}: the imported cache changed the image"
        );
    }

    // One source file changes: exactly the steps that read it run again, on a fresh store.
    two.file("src/util.sh", "#!/bin/sh\nversion() { echo 1.1; }\n");
    let changed = fresh(&two, "runner 2", &["--cache-from", &from]);
    assert_eq!(
        ran(&changed, &RERUN_ON_UTIL_CHANGE),
        RERUN_ON_UTIL_CHANGE,
        "{}",
        changed.progress
    );
    assert_ne!(changed.id, first.id);

    // Runners 2 (1.1) and 3 (1.0) export to the one ref at once: the last writer wins.
    let (e2, e3) = std::thread::scope(|s| {
        let h2 = s.spawn(|| build(&two, names[0], &["--cache-to", &to]));
        let h3 = s.spawn(|| build(&three, names[1], &["--cache-to", &to]));
        (h2.join().unwrap(), h3.join().unwrap())
    });
    assert_eq!((&e2.id, &e3.id), (&changed.id, &first.id));
    fourth_runner_gets_the_last_writer(&layout, me, &from, [&first.id, &changed.id]);
}

/// A fourth, fresh runner builds both versions from the shared cache: one (the last
/// writer's) in full and to its image, the other missing exactly the changed steps (whose
/// RUN layers then differ from the first run's by their files' times).
fn fourth_runner_gets_the_last_writer(layout: &Path, me: Runner, from: &str, ids: [&String; 2]) {
    let mut full = 0;
    for (version, id) in ["1.0", "1.1"].into_iter().zip(ids) {
        let four = project(me, layout, version);
        let b = build(&four, "runner 4", &["--cache-from", from]);
        assert!(
            !b.progress.contains("refus") && !b.progress.contains("not found"),
            "the shared cache was not imported:\n{}",
            b.progress
        );
        let missed = ran(&b, &RERUN_ON_UTIL_CHANGE);
        if missed.is_empty() {
            assert_eq!(&b.id, id, "{version}: the imported cache changed the image");
            full += 1;
        } else {
            assert_eq!(missed, RERUN_ON_UTIL_CHANGE, "{version}:\n{}", b.progress);
        }
    }
    assert_eq!(full, 1, "exactly the last writer's version is fully cached");
}
