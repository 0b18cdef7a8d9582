//! `RUN --mount=type=cache`, built as root and as a non-root user: a cache seeded from a
//! stage (`from=`, `source=`) is keyed by its id and that source, as BuildKit keys it,
//! so it never shares storage with a plain cache of the same id; both are kept in the
//! store, counted and removed by `prune`.

use crate::build_support::busybox;
use crate::cache_prune_support::{builder_ok, names_in};
use crate::run_support::{runners, RunWork};

/// The cache mount directories of the store at `root` (lock files left out).
fn cache_dirs(root: &std::path::Path) -> Vec<String> {
    names_in(&root.join("cache-mounts"))
        .into_iter()
        .filter(|n| !n.ends_with(".lock"))
        .collect()
}

#[test]
fn a_cache_seeded_from_a_stage_does_not_share_a_plain_cache_of_the_same_id() {
    let test = "run_cache_from_stage";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox AS src\n\
             RUN mkdir /d && echo hello > /d/hello\n\
             FROM busybox\n\
             RUN --mount=type=cache,target=/test echo plain > /test/plain\n\
             RUN --mount=type=cache,target=/test,from=src,source=/d cat /test/hello > /hello \\\n\
               && ! test -e /test/plain\n\
             RUN --mount=type=cache,target=/test cat /test/plain > /plain && ! test -e /test/hello\n",
        );
        let image = w.build_image(&[]);
        let who = r.name();
        assert_eq!(image.read("hello").as_deref(), Some("hello\n"), "as {who}");
        assert_eq!(image.read("plain").as_deref(), Some("plain\n"), "as {who}");
        let root = w.path("root");
        assert_eq!(cache_dirs(&root).len(), 2, "as {who}");
        // New steps on the same stages (the stage `src` taken from the build cache, so the
        // same snapshot): each cache is found where the first build left it.
        w.dockerfile(
            "FROM busybox AS src\n\
             RUN mkdir /d && echo hello > /d/hello\n\
             FROM busybox\n\
             RUN --mount=type=cache,target=/test cat /test/plain\n\
             RUN --mount=type=cache,target=/test,from=src,source=/d cat /test/hello\n",
        );
        std::fs::remove_dir_all(w.path("out/img")).unwrap();
        w.build_image(&[]);
        assert_eq!(cache_dirs(&root).len(), 2, "as {who}");
        let du = builder_ok(&w, r, &["du"]);
        assert!(du.contains("Cache mounts"), "as {who}: {du}");
        builder_ok(&w, r, &["prune", "--all"]);
        assert_eq!(cache_dirs(&root), Vec::<String>::new(), "as {who}");
    }
}

#[test]
fn a_step_whose_cache_is_seeded_from_a_stage_reruns_when_that_stage_changes() {
    let test = "run_cache_from_changed";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        let who = r.name();
        for version in ["one", "two"] {
            w.dockerfile(&format!(
                "FROM busybox AS src\n\
                 RUN mkdir /d && echo {version} > /d/v\n\
                 FROM busybox\n\
                 RUN --mount=type=cache,target=/test,from=src,source=/d cat /test/v > /v\n"
            ));
            let out = w.path("out/img");
            if out.exists() {
                std::fs::remove_dir_all(&out).unwrap();
            }
            let image = w.build_image(&[]);
            let want = format!("{version}\n");
            assert_eq!(image.read("v").as_deref(), Some(want.as_str()), "as {who}");
        }
    }
}
