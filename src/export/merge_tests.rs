use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;

const ROUNDS: usize = 60;
const LIMIT: Duration = Duration::from_secs(20);
const FILES: usize = 40;

fn built(dir: &Path) {
    std::fs::create_dir_all(dir.join("d")).unwrap();
    for i in 0..FILES {
        std::fs::write(dir.join(format!("d/f{i:02}")), "new").unwrap();
    }
    std::fs::write(dir.join("top"), "new").unwrap();
}

#[test]
fn entries_are_merged_replaced_and_kept() {
    let t = tempfile::tempdir().unwrap();
    let (from, to) = (t.path().join("from"), t.path().join("to"));
    built(&from);
    std::fs::create_dir(from.join("was_file")).unwrap();
    std::fs::write(from.join("was_dir"), "file now").unwrap();
    std::fs::create_dir_all(to.join("d")).unwrap();
    std::fs::write(to.join("d/mine"), "keep").unwrap();
    std::fs::write(to.join("was_file"), "old").unwrap();
    std::fs::create_dir_all(to.join("was_dir/sub")).unwrap();
    merge(&from, &to).unwrap();
    assert_eq!(std::fs::read_to_string(to.join("d/mine")).unwrap(), "keep");
    assert_eq!(std::fs::read_to_string(to.join("d/f00")).unwrap(), "new");
    assert!(to.join("was_file").is_dir());
    assert_eq!(
        std::fs::read_to_string(to.join("was_dir")).unwrap(),
        "file now"
    );
}

/// A destination directory swapped for a symlink to another directory while merges run:
/// nothing is ever written into the other directory.
#[test]
fn a_destination_directory_swapped_for_a_symlink_receives_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (to, elsewhere) = (t.path().join("to"), t.path().join("elsewhere"));
    std::fs::create_dir_all(to.join("d")).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swapping = {
        let (d, real, elsewhere) = (to.join("d"), to.join("d.real"), elsewhere.clone());
        let stop = Arc::clone(&stop);
        // A merge may replace the symlink with a directory of its own: the swapping goes
        // on with that one.
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if std::fs::rename(&d, &real).is_err() {
                    std::thread::yield_now();
                    continue;
                }
                if std::os::unix::fs::symlink(&elsewhere, &d).is_err() {
                    let _ = std::fs::remove_dir_all(&real);
                    continue;
                }
                std::thread::yield_now();
                if std::fs::remove_file(&d).is_err() {
                    let _ = std::fs::remove_dir_all(&real);
                    continue;
                }
                let _ = std::fs::rename(&real, &d);
                std::thread::yield_now();
                swaps += 1;
            }
            swaps
        })
    };
    let started = Instant::now();
    let (mut done, mut failed) = (0, 0);
    for round in 0..ROUNDS {
        if started.elapsed() > LIMIT {
            break;
        }
        let from = t.path().join(format!("from{round}"));
        built(&from);
        match merge(&from, &to) {
            Ok(()) => done += 1,
            Err(_) => failed += 1,
        }
        let leaked = std::fs::read_dir(&elsewhere).unwrap().count();
        assert_eq!(leaked, 0, "merge wrote through a symlink (round {round})");
        let _ = std::fs::remove_dir_all(&from);
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapping.join().unwrap();
    println!("{done} merges complete, {failed} failed on a swapped directory, {swaps} swaps");
}
