use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::*;

const ROUNDS: usize = 60;
const LIMIT: Duration = Duration::from_secs(20);
const FILES: usize = 40;

/// A directory of the output renamed away and replaced by a symlink to another directory
/// while the copy fills it: nothing is ever written into the other directory.
#[test]
fn an_output_directory_swapped_for_a_symlink_receives_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (image, elsewhere) = (t.path().join("image"), t.path().join("elsewhere"));
    fs::create_dir_all(image.join("d")).unwrap();
    for i in 0..FILES {
        fs::write(image.join(format!("d/f{i:02}")), "image").unwrap();
    }
    fs::create_dir(&elsewhere).unwrap();
    let started = Instant::now();
    let (mut done, mut failed, mut swaps) = (0, 0, 0);
    for round in 0..ROUNDS {
        if started.elapsed() > LIMIT {
            break;
        }
        let out = t.path().join(format!("out{round}"));
        fs::create_dir(&out).unwrap();
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let swapper = s.spawn(|| {
                let (d, real) = (out.join("d"), out.join("d.real"));
                // Bounded: the copy ends long before.
                for _ in 0..1_000_000 {
                    if stop.load(Ordering::Relaxed) {
                        return false;
                    }
                    if fs::rename(&d, &real).is_ok() {
                        std::os::unix::fs::symlink(&elsewhere, &d).unwrap();
                        return true;
                    }
                    std::thread::yield_now();
                }
                false
            });
            match copy_tree(&image, &out, &RootfsOptions::default()) {
                Ok(()) => done += 1,
                Err(_) => failed += 1,
            }
            stop.store(true, Ordering::Relaxed);
            swaps += u32::from(swapper.join().unwrap());
        });
        let leaked = fs::read_dir(&elsewhere).unwrap().count();
        assert_eq!(
            leaked, 0,
            "the copy wrote through a symlink (round {round})"
        );
    }
    println!("{done} copies complete, {failed} failed, {swaps} swaps");
}
