use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;
use crate::solve::copy::{copy, CopyRequest, CopySource, EmptyDest, Ownership, SourceKind};

fn file(root: &Path, rel: &str, content: &str, mode: u32) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

fn symlink(root: &Path, rel: &str, target: &str) {
    std::os::unix::fs::symlink(target, root.join(rel)).unwrap();
}

/// A small context: `src/` with a nested directory and a symlink, two top-level files.
fn context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    file(root, "src/main.rs", "fn main() {}\n", 0o644);
    file(root, "src/lib/util.rs", "pub fn f() {}\n", 0o644);
    file(root, "src/run.sh", "#!/bin/sh\n", 0o755);
    symlink(root, "src/link", "main.rs");
    file(root, "a.txt", "a\n", 0o644);
    file(root, "b.md", "b\n", 0o644);
    for d in ["src", "src/lib"] {
        fs::set_permissions(root.join(d), fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Digests `sources` of `dir` with `.dockerignore` lines `ignore`.
fn digest_with(
    dir: &Path,
    ignore: &[&str],
    sources: &[&str],
    excludes: &[&str],
    stat: Option<&StatCache>,
) -> Result<SourcesDigest, CopyError> {
    let m = Matcher::new(ignore).unwrap();
    let root = SourceRoot {
        dir,
        ignore: (!ignore.is_empty()).then_some(&m),
        kind: SourceKind::Context,
    };
    digest_sources(&root, &strings(sources), &strings(excludes), false, stat)
}

fn digest(dir: &Path, sources: &[&str]) -> SourcesDigest {
    digest_with(dir, &[], sources, &[], None).unwrap()
}

fn paths(d: &SourcesDigest) -> Vec<&str> {
    d.files.iter().map(|(p, _)| p.as_str()).collect()
}

/// The paths whose entry digests differ (or that are in one list only).
fn changed(a: &SourcesDigest, b: &SourcesDigest) -> Vec<String> {
    let ma: HashMap<_, _> = a.files.iter().cloned().collect();
    let mb: HashMap<_, _> = b.files.iter().cloned().collect();
    let mut out: Vec<String> = ma
        .keys()
        .chain(mb.keys())
        .filter(|k| ma.get(*k) != mb.get(*k))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A stat cache that trusts entries at once (the files of a test are seconds old).
fn eager_cache(dir: &Path) -> StatCache {
    let mut c = StatCache::load(&dir.join("stat"));
    c.set_racy_window(Duration::ZERO);
    c
}

#[test]
fn same_content_gives_the_same_digest_anywhere() {
    let (a, b) = (context(), context());
    let da = digest(a.path(), &["src/"]);
    assert_eq!(da, digest(b.path(), &["src/"]));
    assert_eq!(
        paths(&da),
        [
            "src/lib",
            "src/lib/util.rs",
            "src/link",
            "src/main.rs",
            "src/run.sh"
        ]
    );
    assert_ne!(
        da.digest,
        digest(a.path(), &["src"]).digest,
        "patterns count"
    );
}

#[test]
fn content_change_names_the_path() {
    let ctx = context();
    let before = digest(ctx.path(), &["src/"]);
    file(ctx.path(), "src/main.rs", "fn main() { }\n", 0o644);
    let after = digest(ctx.path(), &["src/"]);
    assert_ne!(before.digest, after.digest);
    assert_eq!(changed(&before, &after), ["src/main.rs"]);
}

#[test]
fn mtime_only_change_keeps_the_digest() {
    let ctx = context();
    let before = digest(ctx.path(), &["."]);
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    for f in ["src/main.rs", "a.txt"] {
        let h = fs::File::options()
            .write(true)
            .open(ctx.path().join(f))
            .unwrap();
        h.set_modified(old).unwrap();
    }
    assert_eq!(before, digest(ctx.path(), &["."]));
}

#[test]
fn mode_change_changes_the_digest() {
    let ctx = context();
    let before = digest(ctx.path(), &["src/"]);
    let p = ctx.path().join("src/run.sh");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o700)).unwrap();
    let after = digest(ctx.path(), &["src/"]);
    assert_eq!(changed(&before, &after), ["src/run.sh"]);
    let d = ctx.path().join("src/lib");
    fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(changed(&after, &digest(ctx.path(), &["src/"])), ["src/lib"]);
}

#[test]
fn dockerignored_files_do_not_count() {
    let ctx = context();
    let ignore = ["src/lib", "*.md"];
    let before = digest_with(ctx.path(), &ignore, &["."], &[], None).unwrap();
    assert!(!paths(&before)
        .iter()
        .any(|p| p.contains("lib") || p.ends_with(".md")));
    file(ctx.path(), "src/lib/util.rs", "changed", 0o644);
    file(ctx.path(), "src/lib/new.rs", "new", 0o644);
    file(ctx.path(), "b.md", "changed", 0o644);
    let after = digest_with(ctx.path(), &ignore, &["."], &[], None).unwrap();
    assert_eq!(before, after);
}

#[test]
fn exception_reincludes_a_file() {
    let ctx = context();
    let ignore = ["src", "!src/lib/util.rs"];
    let before = digest_with(ctx.path(), &ignore, &["."], &[], None).unwrap();
    assert!(paths(&before).contains(&"src/lib/util.rs"));
    assert!(!paths(&before).contains(&"src/main.rs"));
    file(ctx.path(), "src/main.rs", "changed", 0o644);
    let same = digest_with(ctx.path(), &ignore, &["."], &[], None).unwrap();
    assert_eq!(before, same);
    file(ctx.path(), "src/lib/util.rs", "changed", 0o644);
    let after = digest_with(ctx.path(), &ignore, &["."], &[], None).unwrap();
    assert_eq!(changed(&before, &after), ["src/lib/util.rs"]);
}

#[test]
fn excludes_are_respected() {
    let ctx = context();
    let before = digest_with(ctx.path(), &[], &["src"], &["*.sh", "lib"], None).unwrap();
    assert_eq!(paths(&before), ["src/link", "src/main.rs"]);
    file(ctx.path(), "src/run.sh", "changed", 0o644);
    file(ctx.path(), "src/lib/util.rs", "changed", 0o644);
    let after = digest_with(ctx.path(), &[], &["src"], &["*.sh", "lib"], None).unwrap();
    assert_eq!(before, after);
    // With wildcards, excludes match the path below the wildcard's base.
    let wild = digest_with(ctx.path(), &[], &["*"], &["src"], None).unwrap();
    assert_eq!(paths(&wild), ["a.txt", "b.md"]);
}

#[test]
fn wildcards_select_only_matches() {
    let ctx = context();
    let before = digest(ctx.path(), &["*.txt", "src/*.rs"]);
    assert_eq!(paths(&before), ["a.txt", "src/main.rs"]);
    file(ctx.path(), "b.md", "changed", 0o644);
    file(ctx.path(), "src/run.sh", "changed", 0o644);
    file(ctx.path(), "src/lib/util.rs", "changed", 0o644);
    assert_eq!(before, digest(ctx.path(), &["*.txt", "src/*.rs"]));
    file(ctx.path(), "c.txt", "new", 0o644);
    let after = digest(ctx.path(), &["*.txt", "src/*.rs"]);
    assert_eq!(changed(&before, &after), ["c.txt"]);
    let none = digest(ctx.path(), &["*.nothing"]);
    assert!(none.files.is_empty());
}

#[test]
fn symlink_target_change_changes_the_digest() {
    let ctx = context();
    let before = digest(ctx.path(), &["src"]);
    fs::remove_file(ctx.path().join("src/link")).unwrap();
    symlink(ctx.path(), "src/link", "run.sh");
    let after = digest(ctx.path(), &["src"]);
    assert_eq!(changed(&before, &after), ["src/link"]);
}

#[test]
fn a_symlink_source_is_followed() {
    let ctx = context();
    symlink(ctx.path(), "top", "src/lib");
    let d = digest(ctx.path(), &["top"]);
    assert_eq!(paths(&d), ["top/util.rs"]);
    let f = digest(ctx.path(), &["src/link"]);
    assert_eq!(paths(&f), ["src/link"]);
    assert_eq!(
        f.files[0].1,
        digest(ctx.path(), &["src/main.rs"]).files[0].1
    );
    // What the link points at counts, not the link.
    file(ctx.path(), "src/main.rs", "changed", 0o644);
    assert_ne!(f, digest(ctx.path(), &["src/link"]));
}

#[test]
fn missing_sources_fail_as_the_copy_does() {
    let ctx = context();
    let err = digest_with(ctx.path(), &[], &["nope.txt"], &[], None).unwrap_err();
    assert!(matches!(
        err,
        CopyError::SourceNotFound {
            excluded: false,
            ..
        }
    ));
    let err = digest_with(ctx.path(), &["b.md"], &["b.md"], &[], None).unwrap_err();
    assert!(matches!(
        err,
        CopyError::SourceNotFound { excluded: true, .. }
    ));
    assert_eq!(
        err.to_string(),
        "source \"b.md\" not found in the build context (it is excluded by .dockerignore)"
    );
}

#[test]
fn hard_links_count() {
    let ctx = context();
    let before = digest(ctx.path(), &["src"]);
    fs::remove_file(ctx.path().join("src/run.sh")).unwrap();
    fs::hard_link(
        ctx.path().join("src/main.rs"),
        ctx.path().join("src/run.sh"),
    )
    .unwrap();
    let linked = digest(ctx.path(), &["src"]);
    fs::remove_file(ctx.path().join("src/run.sh")).unwrap();
    fs::copy(
        ctx.path().join("src/main.rs"),
        ctx.path().join("src/run.sh"),
    )
    .unwrap();
    let p = ctx.path().join("src/run.sh");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    let copied = digest(ctx.path(), &["src"]);
    assert_eq!(changed(&linked, &copied), ["src/run.sh"]);
    assert_eq!(changed(&before, &copied), ["src/run.sh"]);
}

#[test]
fn parents_select_like_the_copy() {
    let ctx = context();
    let root = SourceRoot {
        dir: ctx.path(),
        ignore: None,
        kind: SourceKind::Context,
    };
    let d = digest_sources(&root, &strings(&["src/**/*.rs"]), &[], true, None).unwrap();
    assert_eq!(
        paths(&d),
        ["src", "src/lib", "src/lib/util.rs", "src/main.rs"]
    );
    let d = digest_sources(&root, &strings(&["src/./lib"]), &[], true, None).unwrap();
    assert_eq!(paths(&d), ["src/lib", "src/lib/util.rs"]);
    let err = digest_sources(&root, &strings(&["src/./nope"]), &[], true, None).unwrap_err();
    assert!(matches!(err, CopyError::SourceNotFound { .. }));
}

/// The digest selects exactly the entries the copy writes.
#[test]
fn selection_matches_the_copy_engine() {
    let ctx = context();
    file(ctx.path(), "src/lib/deep/x.log", "x", 0o644);
    file(ctx.path(), "docs/README.md", "r", 0o644);
    file(ctx.path(), "docs/other.md", "o", 0o644);
    symlink(ctx.path(), "alias", "src");
    let ignore = ["docs", "!docs/README.md", "**/*.log"];
    let m = Matcher::new(&ignore).unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (&["."], &[]),
        (&["src/", "a.txt"], &[]),
        (&["*"], &[]),
        (&["alias"], &["link"]),
        (&["s*/l*"], &[]),
        (&["."], &["src/lib", "*.txt"]),
        (&["docs", "src/*.rs"], &["*.sh"]),
    ];
    for (sources, excludes) in cases {
        let root = SourceRoot {
            dir: ctx.path(),
            ignore: Some(&m),
            kind: SourceKind::Context,
        };
        let d = digest_sources(&root, &strings(sources), &strings(excludes), false, None).unwrap();
        let layer = tempfile::tempdir().unwrap();
        let srcs = sources
            .iter()
            .map(|s| CopySource::Path(s.to_string()))
            .collect();
        let mut req = CopyRequest::new(srcs, root.clone(), "/out/", &EmptyDest);
        req.excludes = strings(excludes);
        req.ownership = Ownership::Ignore;
        let s = copy(&req, layer.path()).unwrap();
        let copied = s.files + s.dirs + s.symlinks + s.hardlinks + s.specials;
        assert_eq!(
            d.files.len() as u64,
            copied,
            "{sources:?} {excludes:?}: {d:#?}"
        );
    }
}

#[test]
fn warm_stat_cache_reads_no_file() {
    let ctx = context();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = eager_cache(cache_dir.path());
    let cold = digest_with(ctx.path(), &[], &["."], &[], Some(&cache)).unwrap();
    assert_eq!(cold.stats.hashed_files, 5);
    let warm = digest_with(ctx.path(), &[], &["."], &[], Some(&cache)).unwrap();
    assert_eq!(warm.stats.hashed_files, 0);
    assert_eq!(cold.digest, warm.digest);
    cache.save().unwrap();
    let mut loaded = StatCache::load(&cache_dir.path().join("stat"));
    loaded.set_racy_window(Duration::ZERO);
    let again = digest_with(ctx.path(), &[], &["."], &[], Some(&loaded)).unwrap();
    assert_eq!(again.stats.hashed_files, 0);
    assert_eq!(again.digest, cold.digest);
    assert_eq!(again, digest(ctx.path(), &["."]).with_stats(again.stats));
}

#[test]
fn rewritten_file_with_restored_size_and_mtime_is_hashed_again() {
    let ctx = context();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = eager_cache(cache_dir.path());
    let before = digest_with(ctx.path(), &[], &["src"], &[], Some(&cache)).unwrap();
    let p = ctx.path().join("src/main.rs");
    let mtime = fs::metadata(&p).unwrap().modified().unwrap();
    let tmp = ctx.path().join("tmp");
    fs::write(&tmp, "fn main() {{}}\n").unwrap();
    fs::rename(&tmp, &p).unwrap();
    let h = fs::File::options().write(true).open(&p).unwrap();
    h.set_modified(mtime).unwrap();
    let after = digest_with(ctx.path(), &[], &["src"], &[], Some(&cache)).unwrap();
    assert_eq!(after.stats.hashed_files, 1);
    assert_eq!(changed(&before, &after), ["src/main.rs"]);
}

#[test]
fn racily_clean_files_are_hashed_again() {
    let ctx = context();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = StatCache::load(&cache_dir.path().join("stat"));
    digest_with(ctx.path(), &[], &["src"], &[], Some(&cache)).unwrap();
    let again = digest_with(ctx.path(), &[], &["src"], &[], Some(&cache)).unwrap();
    assert_eq!(
        again.stats.hashed_files, 3,
        "files changed under a second ago"
    );
}

#[test]
fn tree_digest_includes_the_root() {
    let ctx = context();
    let root = SourceRoot {
        dir: ctx.path(),
        ignore: None,
        kind: SourceKind::Context,
    };
    let d = digest_tree(&root, "src/lib", None).unwrap();
    assert_eq!(paths(&d), [".", "util.rs"]);
    let p = ctx.path().join("src/lib");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o700)).unwrap();
    let after = digest_tree(&root, "src/lib", None).unwrap();
    assert_eq!(changed(&d, &after), ["."]);
    assert!(digest_tree(&root, "nope", None).is_err());
}

impl SourcesDigest {
    fn with_stats(mut self, stats: DigestStats) -> SourcesDigest {
        self.stats = stats;
        self
    }
}

/// CPU time of this process, all threads, from `/proc/self/task/*/schedstat` (ns).
fn cpu_time() -> Duration {
    let mut ns = 0u64;
    for task in fs::read_dir("/proc/self/task").unwrap().flatten() {
        let text = fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        ns += text
            .split(' ')
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Duration::from_nanos(ns)
}

/// Runs `f`, printing its wall and CPU time after `label`.
fn timed<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let (wall, cpu) = (std::time::Instant::now(), cpu_time());
    let out = f();
    let (wall, cpu) = (wall.elapsed(), cpu_time() - cpu);
    println!("{label}: {wall:.1?} wall, {cpu:.1?} cpu");
    out
}

/// Timings on bench case a (20,000 files, 200 MB): run with
/// `cargo test --release --lib digest_bench -- --ignored --nocapture`; the context is
/// `$BUILDER_BENCH_CONTEXT` or `../shared/bench/cases/a` (generate its `data/` with its
/// `gen-context.py`). Reports, does not assert timings.
#[test]
#[ignore]
fn digest_bench() {
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/cases/a");
    let ctx = std::env::var_os("BUILDER_BENCH_CONTEXT").map_or(default, Into::into);
    if !ctx.join("data").is_dir() {
        eprintln!("no {}/data: generate it first", ctx.display());
        return;
    }
    let root = SourceRoot {
        dir: &ctx,
        ignore: None,
        kind: SourceKind::Context,
    };
    let sources = strings(&["data/"]);
    let run = |stat: Option<&StatCache>| digest_sources(&root, &sources, &[], false, stat);
    let cache_dir = tempfile::tempdir().unwrap();
    let file = StatCache::path_for(cache_dir.path(), &ctx);

    let plain = timed("no stat cache", || run(None).unwrap());
    println!("  {:?}", plain.stats);
    let cache = StatCache::load(&file);
    let cold = timed("cold stat cache", || run(Some(&cache)).unwrap());
    println!("  {:?}", cold.stats);
    timed("save", || cache.save().unwrap());
    println!("  {} bytes", fs::metadata(&file).unwrap().len());
    assert_eq!(cold.digest, plain.digest);
    let rounds = std::env::var("BUILDER_BENCH_ROUNDS").map_or(5, |v| v.parse().unwrap());
    for _ in 0..rounds {
        let cache = timed("warm: load", || StatCache::load(&file));
        let warm = timed("warm: digest", || run(Some(&cache)).unwrap());
        timed("warm: save (nothing changed)", || cache.save().unwrap());
        assert_eq!(warm.digest, plain.digest);
        assert_eq!(warm.stats.hashed_files, 0);
    }
}

/// The encoding is part of every cache key: changing it must be deliberate (bump
/// `VERSION`, then update this digest).
#[test]
fn encoding_is_stable() {
    let dir = tempfile::tempdir().unwrap();
    file(dir.path(), "d/a.txt", "a\n", 0o644);
    file(dir.path(), "d/run.sh", "#!/bin/sh\n", 0o755);
    symlink(dir.path(), "d/link", "a.txt");
    fs::set_permissions(dir.path().join("d"), fs::Permissions::from_mode(0o755)).unwrap();
    let d = digest(dir.path(), &["."]);
    assert_eq!(paths(&d), ["d", "d/a.txt", "d/link", "d/run.sh"]);
    assert_eq!(d.digest.to_string(), GOLDEN);
}

/// Also what a separate implementation of the documented encoding gives for this tree.
const GOLDEN: &str = "sha256:fc569bf64d352ef0c85be9a0a1ff375c048df4cc9162b7de64a75df7266b9f72";

#[test]
fn special_files_count_and_match_the_copy() {
    let ctx = context();
    nix::unistd::mkfifo(
        &ctx.path().join("src/pipe"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let d = digest(ctx.path(), &["src"]);
    assert!(paths(&d).contains(&"src/pipe"));
    let layer = tempfile::tempdir().unwrap();
    let root = SourceRoot {
        dir: ctx.path(),
        ignore: None,
        kind: SourceKind::Context,
    };
    let mut req = CopyRequest::new(vec![CopySource::Path("src".into())], root, "/", &EmptyDest);
    req.ownership = Ownership::Ignore;
    let s = copy(&req, layer.path()).unwrap();
    assert_eq!(s.specials, 1);
    assert_eq!(
        d.files.len() as u64,
        s.files + s.dirs + s.symlinks + s.specials
    );
}

#[test]
fn non_utf8_names_fail_as_the_copy_does() {
    use std::os::unix::ffi::OsStrExt;
    let ctx = context();
    let name = std::ffi::OsStr::from_bytes(b"src/bad\xff");
    fs::write(ctx.path().join(name), "x").unwrap();
    let err = digest_with(ctx.path(), &[], &["src"], &[], None).unwrap_err();
    assert!(matches!(err, CopyError::UnsupportedFile { .. }), "{err}");
    // Outside the selection it does not matter.
    digest(ctx.path(), &["a.txt"]);
}

#[test]
fn owners_count_only_where_the_copy_keeps_them() {
    let ctx = context();
    let kinds = [SourceKind::Context, SourceKind::Stage("build".into())];
    let run = |kind: &SourceKind| {
        let root = SourceRoot {
            dir: ctx.path(),
            ignore: None,
            kind: kind.clone(),
        };
        digest_sources(&root, &strings(&["src"]), &[], false, None).unwrap()
    };
    let before: Vec<_> = kinds.iter().map(run).collect();
    assert_ne!(before[0].digest, before[1].digest);
    let uid = fs::metadata(ctx.path()).unwrap().uid();
    if uid != 0 {
        return; // changing owners needs root
    }
    let p = ctx.path().join("src/main.rs");
    std::os::unix::fs::lchown(&p, Some(1000), Some(1000)).unwrap();
    let after: Vec<_> = kinds.iter().map(run).collect();
    assert_eq!(before[0], after[0]);
    assert_eq!(changed(&before[1], &after[1]), ["src/main.rs"]);
}

#[test]
fn tree_digest_uses_the_stat_cache() {
    let ctx = context();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = eager_cache(cache_dir.path());
    let root = SourceRoot {
        dir: ctx.path(),
        ignore: None,
        kind: SourceKind::Context,
    };
    let cold = digest_tree(&root, "src", Some(&cache)).unwrap();
    assert_eq!(cold.stats.hashed_files, 3);
    let warm = digest_tree(&root, "src", Some(&cache)).unwrap();
    assert_eq!(warm.stats.hashed_files, 0);
    assert_eq!(cold.digest, warm.digest);
    assert_ne!(cold.digest, digest(ctx.path(), &["src"]).digest);
}

#[test]
fn stat_cache_forgets_deleted_files() {
    let ctx = context();
    let cache_dir = tempfile::tempdir().unwrap();
    let file_path = cache_dir.path().join("stat");
    let cache = eager_cache(cache_dir.path());
    digest_with(ctx.path(), &[], &["."], &[], Some(&cache)).unwrap();
    cache.save().unwrap();
    assert_eq!(StatCache::load(&file_path).len(), 5);

    fs::remove_file(ctx.path().join("src/run.sh")).unwrap();
    let cache = eager_cache(cache_dir.path());
    // Excluded by a filter, still there: kept.
    digest_with(ctx.path(), &["b.md"], &["."], &["lib"], Some(&cache)).unwrap();
    cache.save().unwrap();
    let cache = eager_cache(cache_dir.path());
    assert_eq!(cache.len(), 4);
    let again = digest_with(ctx.path(), &[], &["."], &[], Some(&cache)).unwrap();
    assert_eq!(again.stats.hashed_files, 0);
}

#[test]
fn many_files_are_read_on_the_reading_pool_and_cached() {
    let ctx = tempfile::tempdir().unwrap();
    let big = "0123456789abcdef".repeat(40_000); // 640,000 bytes: several reads
    for i in 0..200 {
        file(
            ctx.path(),
            &format!("d/f{i:03}"),
            &format!("file {i}\n"),
            0o644,
        );
    }
    file(ctx.path(), "d/big", &big, 0o644);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = eager_cache(cache_dir.path());
    let first = digest_with(ctx.path(), &[], &["d/"], &[], Some(&cache)).unwrap();
    assert_eq!(first.stats.hashed_files, 201);
    let sizes: usize = (0..200).map(|i| format!("file {i}\n").len()).sum();
    assert_eq!(first.stats.hashed_bytes, (sizes + big.len()) as u64);
    // Every content was entered into the stat cache: nothing is read again, same digest.
    let again = digest_with(ctx.path(), &[], &["d/"], &[], Some(&cache)).unwrap();
    assert_eq!(again.stats.hashed_files, 0);
    assert_eq!(again.digest, first.digest);
    assert_eq!(digest(ctx.path(), &["d/"]).digest, first.digest);
    // One changed content among them is found.
    let other = tempfile::tempdir().unwrap();
    for i in 0..200 {
        let body = if i == 137 {
            "changed\n".to_string()
        } else {
            format!("file {i}\n")
        };
        file(other.path(), &format!("d/f{i:03}"), &body, 0o644);
    }
    file(other.path(), "d/big", &big, 0o644);
    assert_eq!(changed(&first, &digest(other.path(), &["d/"])), ["d/f137"]);
}
