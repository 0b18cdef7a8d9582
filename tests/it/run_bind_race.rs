//! A `RUN --mount=type=bind` source of the build context swapped for a symlink to a host
//! directory while builds run, as root and as the non-root user: each RUN sees the
//! context's file or its build fails; it never sees the host directory. The swapping
//! thread races the builds, so a dozen builds run and every one is checked.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::build_support::busybox;
use crate::common::text;
use crate::run_image::Image;
use crate::run_support::{runners, RunWork};

/// Builds per runner.
const BUILDS: usize = 12;

/// Swaps `d` with a symlink to `host` and back, each state held about as long as a
/// sandbox takes to start (so the build's look at `d` and its mount often see different
/// states; the directory longer, so that builds also complete), until `stop`; `d` is a directory again when it returns. Each swap is one
/// atomic exchange, so `d` always exists (the non-root runner's `chown -R` of the
/// workspace never meets a missing entry).
fn swapper(
    d: PathBuf,
    host: PathBuf,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<std::io::Result<()>> {
    let link = d.with_file_name("d.link");
    std::thread::spawn(move || {
        std::os::unix::fs::symlink(&host, &link)?;
        let exchange = || {
            let cwd = rustix::fs::CWD;
            rustix::fs::renameat_with(cwd, &d, cwd, &link, rustix::fs::RenameFlags::EXCHANGE)
        };
        while !stop.load(Ordering::Relaxed) {
            exchange()?;
            std::thread::sleep(Duration::from_millis(15));
            exchange()?;
            std::thread::sleep(Duration::from_millis(40));
        }
        std::fs::remove_file(&link)
    })
}

fn host_dir(w: &RunWork) -> PathBuf {
    let host = w.path("host");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("f"), "host\n").unwrap();
    std::fs::write(host.join("marker"), "host\n").unwrap();
    host
}

#[test]
fn a_bind_source_swapped_for_a_symlink_never_mounts_a_host_directory() {
    let test = "run_bind_source_swap";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout).time_limit(Duration::from_secs(60));
        w.file("d/f", "context\n").dockerfile(
            "FROM busybox\n\
             RUN --mount=type=bind,source=d,target=/d cat /d/f > /seen; ls /d > /listed\n",
        );
        let host = host_dir(&w);
        let dest = w.path("out/img");
        let spec = format!("type=oci,dest={},tar=false", dest.display());
        // Owners are set before the race: the non-root runner's builds chown the workspace.
        w.build(&["--no-cache", "-o", &spec]);
        let stop = Arc::new(AtomicBool::new(false));
        let swapping = swapper(w.path("ctx/d"), host.clone(), Arc::clone(&stop));
        let (mut done, mut failed) = (0, 0);
        for _ in 0..BUILDS {
            let _ = std::fs::remove_dir_all(&dest);
            let out = w.build(&["--no-cache", "-o", &spec]);
            if out.status.code() != Some(0) {
                failed += 1;
                continue;
            }
            done += 1;
            let img = Image::open(&dest);
            assert_eq!(
                img.read("seen").as_deref(),
                Some("context\n"),
                "as {}: the RUN read a host file\n{}",
                r.name(),
                text(&out.stderr)
            );
            assert_eq!(
                img.read("listed").as_deref(),
                Some("f\n"),
                "as {}",
                r.name()
            );
        }
        stop.store(true, Ordering::Relaxed);
        swapping.join().unwrap().unwrap();
        eprintln!(
            "{test} as {}: {done} builds complete, {failed} failed",
            r.name()
        );
        assert!(Path::new(&w.path("ctx/d/f")).is_file());
    }
}
