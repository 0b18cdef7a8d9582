//! Sources swapped while a COPY (or the digest walk before it) reads them: a directory of
//! the context replaced by a symlink to a host directory must never make the copy read the
//! host directory. The swapping thread races the reads, so each test runs many copies
//! (bounded by a count and a time limit) and checks every one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::solve::copy::digest::digest_sources;

const ROUNDS: usize = 200;
/// Swaps to see at least, so a busy machine cannot starve the swapping thread.
const MIN_SWAPS: u64 = 200;
const LIMIT: Duration = Duration::from_secs(20);
const FILES: usize = 40;

/// A context with `d/f00..` and a host directory with the same names plus `marker`, all
/// holding "host".
struct Race {
    _tmp: tempfile::TempDir,
    ctx: PathBuf,
    host: PathBuf,
}

fn race() -> Race {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    let host = tmp.path().join("host");
    for i in 0..FILES {
        file(&ctx, &format!("d/f{i:02}"), "context", 0o644);
        file(&host, &format!("f{i:02}"), "host", 0o644);
    }
    file(&host, "marker", "host", 0o644);
    Race {
        _tmp: tmp,
        ctx,
        host,
    }
}

/// Swaps `ctx/d` with a symlink to `host` and back until `stop`, counting in `swaps`;
/// `d` is a directory again when it returns.
fn swapper(
    ctx: &Path,
    host: &Path,
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicU64>,
) -> std::thread::JoinHandle<std::io::Result<()>> {
    let (d, real) = (ctx.join("d"), ctx.join("d.real"));
    let host = host.to_path_buf();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::fs::rename(&d, &real)?;
            std::os::unix::fs::symlink(&host, &d)?;
            std::thread::yield_now();
            std::fs::remove_file(&d)?;
            std::fs::rename(&real, &d)?;
            // The directory a little longer, so that some copies also complete.
            std::thread::sleep(Duration::from_micros(300));
            swaps.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    })
}

/// Runs `attempt` at least `ROUNDS` times and while fewer than `MIN_SWAPS` swaps were
/// made (for at most `LIMIT`) while `d` is being swapped; `attempt` returns whether it
/// completed, and panics on host content.
fn under_race(r: &Race, mut attempt: impl FnMut() -> bool) {
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let swapping = swapper(&r.ctx, &r.host, Arc::clone(&stop), Arc::clone(&swaps));
    let started = Instant::now();
    let (mut done, mut failed) = (0, 0);
    for round in 0.. {
        let enough = round >= ROUNDS && swaps.load(Ordering::Relaxed) >= MIN_SWAPS;
        if enough || started.elapsed() > LIMIT {
            break;
        }
        if attempt() {
            done += 1;
        } else {
            failed += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapping.join().unwrap().unwrap();
    let swaps = swaps.load(Ordering::Relaxed);
    println!("{done} complete, {failed} failed on a swapped directory, {swaps} swaps");
    assert!(
        done > 0,
        "nothing completed while racing: the test checked nothing"
    );
}

#[test]
fn copy_never_reads_a_directory_swapped_for_a_symlink() {
    let r = race();
    under_race(&r, || {
        let out = tempfile::tempdir().unwrap();
        let root = SourceRoot {
            dir: &r.ctx,
            ignore: None,
            kind: SourceKind::Context,
        };
        let req = request(vec![CopySource::Path("d/".into())], root, "/d/", &EmptyDest);
        let result = copy(&req, out.path());
        let layer = summary(out.path());
        assert!(
            !layer.contains_key("/d/marker"),
            "host file copied: {layer:?}"
        );
        for (path, line) in &layer {
            assert!(!line.ends_with(" host"), "host content copied at {path}");
        }
        result.is_ok()
    });
}

#[test]
fn digest_never_reads_a_directory_swapped_for_a_symlink() {
    let r = race();
    let root = SourceRoot {
        dir: &r.ctx,
        ignore: None,
        kind: SourceKind::Context,
    };
    let clean = digest_sources(&root, &["d/".to_string()], &[], false, None).unwrap();
    under_race(&r, || {
        match digest_sources(&root, &["d/".to_string()], &[], false, None) {
            Ok(d) => {
                let paths: Vec<&str> = d.files.iter().map(|(p, _)| p.as_str()).collect();
                assert!(
                    !paths.contains(&"d/marker"),
                    "host file digested: {paths:?}"
                );
                assert_eq!(d.digest, clean.digest, "host content digested");
                true
            }
            Err(_) => false,
        }
    });
}
