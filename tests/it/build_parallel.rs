//! Independent stages run in parallel, built as root and as a non-root user: two stages
//! that each `RUN sleep 1` both start before either is done (read from the plain
//! progress), the image is the one a sequential build makes, and when parallel stages both
//! fail, the failure reported is the first in Dockerfile order.

use crate::build_support::busybox;
use crate::common::text;
use crate::run_support::{runners, RunWork};

/// The line numbers (in `progress`) where vertex `name` starts and where it is done.
fn start_and_done(progress: &str, name: &str) -> (usize, usize) {
    let lines: Vec<&str> = progress.lines().collect();
    let (start, id) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| {
            let (id, rest) = l.split_once(' ')?;
            rest.starts_with(name).then(|| (i, id.to_string()))
        })
        .unwrap_or_else(|| panic!("no vertex {name:?} in:\n{progress}"));
    let done = lines
        .iter()
        .position(|l| l.starts_with(&format!("{id} DONE")))
        .unwrap_or_else(|| panic!("vertex {name:?} ({id}) never done:\n{progress}"));
    (start, done)
}

#[test]
fn independent_stages_run_at_the_same_time() {
    let test = "build_parallel_stages";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        w.dockerfile(
            "FROM busybox AS one\n\
             RUN sleep 1 && echo one > /one\n\
             FROM busybox AS two\n\
             RUN sleep 1 && echo two > /two\n\
             FROM busybox\n\
             COPY --from=one /one /one\n\
             COPY --from=two /two /two\n",
        );
        let started = std::time::Instant::now();
        let out = w.build(&[]);
        let took = started.elapsed();
        let progress = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "as {who}:\n{progress}");
        let one = start_and_done(&progress, "[one 2/2] RUN sleep 1");
        let two = start_and_done(&progress, "[two 2/2] RUN sleep 1");
        // Both started before either was done: they overlapped.
        assert!(
            one.0 < two.1 && two.0 < one.1,
            "as {who}: the stages ran one after the other:\n{progress}"
        );
        // The final stage starts after both.
        let last = start_and_done(&progress, "[stage-2 2/3] COPY --from=one");
        assert!(last.0 > one.1 && last.0 > two.1, "as {who}:\n{progress}");
        eprintln!("{test}: as {who}, two `RUN sleep 1` stages built in {took:?}");
    }
}

#[test]
fn parallel_stages_give_the_image_of_a_sequential_build() {
    let test = "build_parallel_deterministic";
    let Some(layout) = busybox(test) else { return };
    let r = runners(test)[0];
    // Only files with fixed times: every layer is reproducible.
    let dockerfile = "FROM busybox AS a\n\
                      COPY a.txt /a.txt\n\
                      FROM busybox AS b\n\
                      COPY b.txt /b.txt\n\
                      FROM busybox AS c\n\
                      COPY c.txt /c.txt\n\
                      FROM busybox\n\
                      COPY --from=c /c.txt /c.txt\n\
                      COPY --from=a /a.txt /a.txt\n\
                      COPY --from=b /b.txt /b.txt\n";
    let digest = || {
        let w = RunWork::new(r, &layout).env("SOURCE_DATE_EPOCH", "1600000000");
        w.dockerfile(dockerfile);
        for f in ["a.txt", "b.txt", "c.txt"] {
            w.file(f, &format!("content of {f}\n"));
            let t = nix::sys::time::TimeSpec::new(1_600_000_000, 0);
            nix::sys::stat::utimensat(
                nix::fcntl::AT_FDCWD,
                &w.path("ctx").join(f),
                &t,
                &t,
                nix::sys::stat::UtimensatFlags::NoFollowSymlink,
            )
            .unwrap();
        }
        let out = w.build(&["--progress", "quiet", "--iidfile", "out/iid"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        std::fs::read_to_string(w.path("out/iid")).unwrap()
    };
    let first = digest();
    for _ in 0..2 {
        assert_eq!(digest(), first, "the image depends on the stages' timing");
    }
}

#[test]
fn the_first_failure_in_dockerfile_order_is_reported() {
    let test = "build_parallel_failure";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let who = r.name();
        let w = RunWork::new(r, &layout);
        // Stage `slow` fails last but comes first in the Dockerfile.
        w.dockerfile(
            "FROM busybox AS slow\n\
             RUN sleep 1; exit 3\n\
             FROM busybox AS fast\n\
             RUN exit 4\n\
             FROM busybox\n\
             COPY --from=slow / /s\n\
             COPY --from=fast / /f\n",
        );
        let err = w.build_fails(&[]);
        let last = err.lines().last().unwrap_or_default();
        assert!(last.contains("exit code: 3"), "as {who}:\n{err}");
        assert!(err.contains("Dockerfile:2"), "as {who}:\n{err}");
        assert!(!err.contains("Dockerfile:4"), "as {who}:\n{err}");
    }
}
