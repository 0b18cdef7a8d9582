//! Throwaway stages: their layers are written as plain tar and recorded as such; a stage
//! whose layers reach the output never reuses those records, and writes the compressed
//! blobs an eager build writes.

use super::*;
use crate::cache::Record;
use crate::store::BlobStore;

const TWO_STAGES: &str = "FROM scratch AS build\nCOPY a /a\nCOPY b /b\n\
                          FROM scratch\nCOPY --from=build /a /x\n";
/// The same build stage as the target (`--target build`).
const BUILD_ONLY: &str = "FROM scratch AS build\nCOPY a /a\nCOPY b /b\n";
const BUILD_STEPS: [&str; 2] = ["[build 2/3] COPY a /a", "[build 3/3] COPY b /b"];

fn records(f: &Fixture, stage: &str) -> Vec<Record> {
    let mut out: Vec<Record> = (f.cache.records.list().expect("list the records"))
        .into_iter()
        .map(|l| l.record)
        .filter(|r| r.description.starts_with(stage))
        .collect();
    out.sort_by(|a, b| a.description.cmp(&b.description));
    out
}

fn context(f: &Fixture) {
    f.file("a", "A");
    f.file("b", "B");
}

#[test]
fn a_throwaway_stage_writes_plain_tar_and_records_it_as_a_stand_in() {
    let f = Fixture::new();
    context(&f);
    let solved = f.solve(TWO_STAGES, T1);
    let target = &solved.ok().layers;
    assert_eq!(target.len(), 1);
    assert!(target[0]
        .descriptor
        .media_type()
        .to_string()
        .ends_with("+gzip"));
    let build = records(&f, "[build");
    assert_eq!(build.len(), 2);
    for r in &build {
        let l = r.layer.as_ref().expect("a layer");
        assert!(l.uncompressed_stand_in, "{r:?}");
        assert_eq!(l.descriptor.digest(), &l.diff_id, "the blob is the tar");
        assert_eq!(
            l.descriptor.media_type().to_string(),
            "application/vnd.oci.image.layer.v1.tar"
        );
        assert!(f.store.has(&l.diff_id).unwrap());
    }
    // Nothing compressed was written for them: the store holds the target's gzip blob and
    // the build stage's two tars only.
    let mut want: Vec<_> = build
        .iter()
        .filter_map(|r| r.layer.as_ref().map(|l| l.diff_id.to_string()))
        .collect();
    want.push(target[0].descriptor.digest().to_string());
    want.sort();
    let mut have: Vec<String> = (f.store.list().unwrap().iter())
        .map(|d| d.to_string())
        .collect();
    have.sort();
    assert_eq!(have, want);
    let stage1 = records(&f, "[stage-1");
    assert!(!stage1[0].layer.as_ref().unwrap().uncompressed_stand_in);
    // A second solve reuses everything.
    let again = f.solve(TWO_STAGES, T2);
    assert_eq!(again.cached().len(), 3, "{:?}", again.ran());
}

fn layer_digests(ls: &[crate::solve::Layer]) -> Vec<(String, String)> {
    ls.iter()
        .map(|l| (l.descriptor.digest().to_string(), l.diff_id.to_string()))
        .collect()
}

fn misses(solved: &Solved) -> usize {
    (solved.events.iter())
        .filter(|e| matches!(e, Event::Miss(_, why) if why.contains("plain tar")))
        .count()
}

#[test]
fn a_target_on_a_stand_in_compresses_it_from_its_snapshot_as_an_eager_build_does() {
    let eager = Fixture::new();
    context(&eager);
    let want = eager.solve(BUILD_ONLY, T1).ok().layers.clone();

    let f = Fixture::new();
    context(&f);
    f.solve(TWO_STAGES, T1).ok();
    let target = f.solve(BUILD_ONLY, T1);
    assert_eq!(target.cached(), BUILD_STEPS, "{:?}", target.events);
    assert_eq!(misses(&target), 0);
    assert_eq!(layer_digests(&target.ok().layers), layer_digests(&want));
    for r in records(&f, "[build") {
        assert!(!r.layer.unwrap().uncompressed_stand_in);
    }
    // The compressed records serve the throwaway stage too.
    let again = f.solve(TWO_STAGES, T2);
    assert_eq!(again.cached().len(), 3, "{:?}", again.ran());
}

#[test]
fn a_stand_in_without_its_snapshot_runs_the_step_again() {
    use crate::snapshot::Snapshotter;
    let eager = Fixture::new();
    context(&eager);
    let want = eager.solve(BUILD_ONLY, T1).ok().layers.clone();

    let f = Fixture::new();
    context(&f);
    f.solve(TWO_STAGES, T1).ok();
    for name in f.snaps.committed() {
        let id = f.snaps.get(&name).unwrap().unwrap();
        f.snaps.remove(&id).unwrap();
    }
    let target = f.solve(BUILD_ONLY, T1);
    assert_eq!(target.ran(), BUILD_STEPS);
    assert_eq!(misses(&target), 2, "{:?}", target.events);
    assert_eq!(layer_digests(&target.ok().layers), layer_digests(&want));
    for r in records(&f, "[build") {
        assert!(!r.layer.unwrap().uncompressed_stand_in);
    }
}
