//! Cache-mount contents travel with the build cache: `--cache-to
//! type=local,dest=DIR,cache-mounts=...` exports the cache mounts a build used, and a
//! build in a fresh store with `--cache-from type=local,src=DIR` finds them filled, as
//! root and as a non-root user, through a directory and through a registry; selection by
//! id and the size cap.

use std::path::Path;

use crate::build_support::busybox;
use crate::registry_support::{Registry, RegistryAuth};
use crate::run_support::{runners, RunWork};

/// A Dockerfile whose RUN (changed by `version`, so it never hits) "downloads" into the
/// cache mount `dl` unless the package is there, and says which in `/status`.
fn downloading(version: &str) -> String {
    format!(
        "FROM busybox\n\
         RUN --mount=type=cache,id=dl,target=/dl,mode=0750 \
         --mount=type=cache,target=/other \
         sh -c 'echo {version}; echo o > /other/o; \
         if test -f /dl/pkg; then echo cached > /status; \
         else echo downloading; echo x > /dl/pkg; echo downloaded > /status; fi; \
         stat -c %u:%a /dl >> /status'\n"
    )
}

/// Start the store over: a fresh, empty `root`.
fn fresh_store(w: &RunWork) {
    let root = w.path("root");
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::create_dir(&root).unwrap();
}

/// The cache mount records of the cache directory `dir`.
fn mount_records(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("builder-cache/mounts"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn a_cache_mount_travels_with_a_local_cache_to_a_fresh_store() {
    let test = "cache_mounts_local";
    let Some(layout) = busybox(test) else { return };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        let who = r.name();
        let dir = w.path("cache");
        let to = format!("type=local,dest={},cache-mounts=true", dir.display());
        w.dockerfile(&downloading("one"));
        let image = w.build_image(&["--cache-to", &to]);
        let status = image.read("status");
        assert_eq!(status.as_deref(), Some("downloaded\n0:750\n"), "as {who}");
        assert_eq!(mount_records(&dir), 2, "as {who}");

        fresh_store(&w);
        std::fs::remove_dir_all(w.path("out/img")).unwrap();
        w.dockerfile(&downloading("two"));
        let from = format!("type=local,src={}", dir.display());
        let image = w.build_image(&["--cache-from", &from]);
        let status = image.read("status");
        assert_eq!(status.as_deref(), Some("cached\n0:750\n"), "as {who}");

        // A cache mount the store has is left alone: emptied here, not restored again.
        let caches = w.path("root/cache-mounts");
        for e in std::fs::read_dir(&caches).unwrap() {
            let p = e.unwrap().path();
            if p.join("pkg").exists() {
                std::fs::remove_file(p.join("pkg")).unwrap();
            }
        }
        std::fs::remove_dir_all(w.path("out/img")).unwrap();
        w.dockerfile(&downloading("three"));
        let image = w.build_image(&["--cache-from", &from]);
        let status = image.read("status");
        assert_eq!(status.as_deref(), Some("downloaded\n0:750\n"), "as {who}");
    }
}

#[test]
fn only_the_chosen_cache_mounts_under_the_size_cap_are_exported() {
    let test = "cache_mounts_select";
    let Some(layout) = busybox(test) else { return };
    let Some(r) = runners(test).into_iter().next() else {
        return;
    };
    let w = RunWork::new(r, &layout);
    w.dockerfile(&downloading("one"));
    let by_id = w.path("by-id");
    let to = format!("type=local,dest={},cache-mounts=dl", by_id.display());
    w.build_image(&["--cache-to", &to]);
    assert_eq!(mount_records(&by_id), 1);

    let capped = w.path("capped");
    let to = format!(
        "type=local,dest={},cache-mounts=dl,/other,cache-mounts-max-size=1",
        capped.display()
    );
    std::fs::remove_dir_all(w.path("out/img")).unwrap();
    let out = w.build(&["-o", "type=oci,dest=out/img,tar=false", "--cache-to", &to]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("cache-mounts-max-size"), "{err}");
    assert_eq!(mount_records(&capped), 0);

    let none = w.path("none");
    let to = format!("type=local,dest={}", none.display());
    std::fs::remove_dir_all(w.path("out/img")).unwrap();
    w.build_image(&["--cache-to", &to]);
    assert_eq!(mount_records(&none), 0);
    assert!(none.join("index.json").exists());
}

#[test]
fn a_cache_mount_travels_with_a_registry_cache_to_a_fresh_store() {
    let test = "cache_mounts_registry";
    let Some(layout) = busybox(test) else { return };
    let Some(reg) = Registry::start(RegistryAuth::Open, test) else {
        return;
    };
    for r in runners(test) {
        let w = RunWork::new(r, &layout);
        let who = r.name();
        let image = format!("{}/cache/mounts:{who}", reg.host());
        let to = format!("type=registry,ref={image},mode=max,cache-mounts=dl");
        w.dockerfile(&downloading("one"));
        let first = w.build_image(&["--cache-to", &to]);
        let status = first.read("status");
        assert_eq!(status.as_deref(), Some("downloaded\n0:750\n"), "as {who}");

        fresh_store(&w);
        std::fs::remove_dir_all(w.path("out/img")).unwrap();
        w.dockerfile(&downloading("two"));
        let from = format!("type=registry,ref={image}");
        let second = w.build_image(&["--cache-from", &from]);
        let status = second.read("status");
        assert_eq!(status.as_deref(), Some("cached\n0:750\n"), "as {who}");
    }
}
