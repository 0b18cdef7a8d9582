//! The apt cache travels with the build cache: BuildKit's documented apt example (the
//! package archives and lists in `RUN --mount=type=cache` directories) on the Debian minbase
//! fixture. Runner 1 (its own store) builds it and exports `cache-mounts=true` to a local
//! `docker-registry` and to a cache directory; runners 2 (`buildertest` when the tests run as
//! root) and 3 start from fresh stores, change a step before the apt one so it runs again,
//! import the cache (from the registry; from the directory) and their `apt-get install`
//! downloads nothing (`Need to get 0 B`) where runner 1's downloaded the packages.
//!
//! The RUN reaches Debian's mirror (the package registry itself, as in `run_debian`): when
//! the mirror cannot be reached, before the build or by `apt-get`, the test skips loudly.

use std::path::Path;
use std::time::Duration;

use crate::build_cache::steps;
use crate::common::text;
use crate::registry_support::{Registry, RegistryAuth};
use crate::run_debian::{debian_base, skip};
use crate::run_image::Image;
use crate::run_support::{runners, RunWork, Runner};

/// BuildKit's apt example, with a file (`runner`) copied before the apt step so each
/// runner's step runs rather than hit the imported cache. apt is told to keep its package
/// lists compressed, without translations, and no binary package caches (as Debian's images
/// do), so the cache mounts hold some MB rather than 150.
const DOCKERFILE: &str = "\
FROM debian
RUN rm -f /etc/apt/apt.conf.d/docker-clean; \
echo 'Binary::apt::APT::Keep-Downloaded-Packages \"true\";' > /etc/apt/apt.conf.d/keep-cache; \
printf '%s\\n' 'Acquire::GzipIndexes \"true\";' 'Acquire::Languages \"none\";' \
'Dir::Cache::pkgcache \"\";' 'Dir::Cache::srcpkgcache \"\";' > /etc/apt/apt.conf.d/lean-cache
COPY runner /runner
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\
    --mount=type=cache,target=/var/lib/apt,sharing=locked \\
    apt-get update && apt-get install -y --no-install-recommends jq
";

/// The start of the apt step's name in the progress.
const APT_STEP: &str = "[4/4] RUN --mount=type=cache,target=/var/cache/apt";

/// What `apt-get` prints when the network does not let it reach the mirror (a damaged
/// list or archive from the cache is not among them: that fails the test).
const MIRROR_FAILURES: [&str; 5] = [
    "Temporary failure resolving",
    "Could not resolve",
    "Could not connect to",
    "Connection timed out",
    "Network is unreachable",
];

/// How long one build may take (apt downloads the package lists, some MB).
const LIMIT: Duration = Duration::from_secs(600);

/// A runner's workspace holding the project, `name` in its `runner` file.
fn project(r: Runner, layout: &Path, name: &str) -> RunWork {
    let w = RunWork::with_base(r, layout, "debian").time_limit(LIMIT);
    w.file("runner", &format!("{name}\n"))
        .dockerfile(DOCKERFILE);
    w
}

/// Build `w` to `out/img` with `args`: its progress, or `None` (the test skipped loudly) when
/// the build failed because apt could not reach the mirror. Any other failure fails the test;
/// a build that succeeds must have run the apt step (not cached) and installed jq.
fn apt_build(w: &RunWork, test: &str, who: &str, args: &[&str]) -> Option<String> {
    let dest = w.path("out/img");
    let spec = format!("type=oci,dest={},tar=false", dest.display());
    let mut all = vec!["-t", "app", "-o", &spec];
    all.extend_from_slice(args);
    let out = w.build(&all);
    let progress = text(&out.stderr);
    if out.status.code() != Some(0) {
        if let Some(why) = MIRROR_FAILURES.iter().find(|m| progress.contains(**m)) {
            skip(test, &format!("apt-get cannot reach the mirror ({why})"));
            return None;
        }
        panic!("as {who}: build failed:\n{progress}");
    }
    let apt = steps(&progress)
        .into_iter()
        .find(|s| s.name.starts_with(APT_STEP))
        .unwrap_or_else(|| panic!("as {who}: no apt step:\n{progress}"));
    assert!(
        !apt.cached,
        "as {who}: the apt step was cached:\n{progress}"
    );
    assert!(
        Image::open(&dest).read("usr/bin/jq").is_some(),
        "as {who}: /usr/bin/jq is missing"
    );
    Some(progress)
}

/// What each `Need to get ...` line of `progress` says apt downloads (`0 B/371 kB`, `371 kB`).
fn downloads(progress: &str) -> Vec<String> {
    progress
        .lines()
        .filter_map(|l| l.split_once("Need to get ").map(|(_, rest)| rest))
        .map(|rest| {
            rest.split(" of archives")
                .next()
                .unwrap_or(rest)
                .to_string()
        })
        .collect()
}

#[test]
fn a_fresh_runner_s_apt_get_downloads_nothing_from_the_shared_cache() {
    let test = "cache_apt";
    let Some(layout) = debian_base(test) else {
        return;
    };
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    let found = runners(test);
    let Some(&me) = found.first() else { return };
    // Runner 2 is rootless when the tests can run one.
    let other = found.last().copied().unwrap_or(me);
    let image = format!("{}/fleet/apt:cache", reg.host());

    let one = project(me, &layout, "one");
    let dir = one.path("cache");
    let to_registry = format!("type=registry,ref={image},mode=max,cache-mounts=true");
    let to_dir = format!("type=local,dest={},cache-mounts=true", dir.display());
    let args = ["--cache-to", &to_registry, "--cache-to", &to_dir];
    let Some(first) = apt_build(&one, test, "runner 1", &args) else {
        return;
    };
    let got = downloads(&first);
    assert!(
        got.len() == 1 && !got[0].starts_with("0 B"),
        "runner 1 should download jq: {got:?}\n{first}"
    );

    let (two, three) = (
        project(other, &layout, "two"),
        project(me, &layout, "three"),
    );
    let from_registry = format!("type=registry,ref={image}");
    let from_dir = format!("type=local,src={}", dir.display());
    let (b2, b3) = std::thread::scope(|s| {
        let h2 = s.spawn(|| apt_build(&two, test, other.name(), &["--cache-from", &from_registry]));
        let h3 = s.spawn(|| apt_build(&three, test, "runner 3", &["--cache-from", &from_dir]));
        (h2.join().unwrap(), h3.join().unwrap())
    });
    for (who, progress) in [("runner 2 (registry)", b2), ("runner 3 (directory)", b3)] {
        let Some(progress) = progress else { return };
        let got = downloads(&progress);
        assert!(
            got.len() == 1 && got[0].starts_with("0 B"),
            "{who} should download nothing: {got:?}\n{progress}"
        );
    }
}
