//! Layer blobs written in the background (`BUILDER_LAYER_WRITES=background`) give the image
//! that writing them inline gives (`BUILDER_LAYER_WRITES=inline`), built as root and as a
//! non-root user: a
//! two-stage build of COPY, RUN, COPY --from (which reads a stage whose blobs may still be
//! being written) and COPY has the same manifest digest both ways; every layer step says
//! its `layer sha256:… written in` line; skopeo inspects the image and umoci unpacks it;
//! and a rebuild hits every step and gives the same image.

use std::process::Command;

use crate::build_support::{busybox, unpack};
use crate::common::{have, run, step_number, text};
use crate::run_support::{runners, RunWork};

const DOCKERFILE: &str = "FROM busybox AS gen\n\
                          COPY data/ /gen/\n\
                          RUN echo made > /gen/made && rm /gen/d1/f01\n\
                          FROM busybox\n\
                          COPY data/ /data/\n\
                          RUN rm -rf /data/d2 && echo ran > /ran\n\
                          COPY --from=gen /gen /gen\n\
                          COPY app.txt /app.txt\n";

/// The layer steps, as plain progress names them.
const STEPS: [&str; 6] = [
    "[gen 2/3] COPY data/ /gen/",
    "[gen 3/3] RUN echo made > /gen/made && rm /gen/d1/f01",
    "[stage-1 2/5] COPY data/ /data/",
    "[stage-1 3/5] RUN rm -rf /data/d2 && echo ran > /ran",
    "[stage-1 4/5] COPY --from=gen /gen /gen",
    "[stage-1 5/5] COPY app.txt /app.txt",
];

/// A workspace with the context: four directories of 40 files of 8 KiB each.
fn workspace(w: RunWork) -> RunWork {
    w.dockerfile(DOCKERFILE);
    w.file("app.txt", "app\n");
    for d in 0..4 {
        for f in 0..40 {
            let line = format!("d{d} f{f:02} some text that compresses somewhat\n");
            w.file(
                &format!("data/d{d}/f{f:02}"),
                &line.repeat(8192 / line.len()),
            );
        }
    }
    w
}

/// Build to `out/img` (tagged `app`, times clamped); the image id and the progress.
fn build(w: &RunWork, who: &str) -> (String, String) {
    let dest = w.path("out/img");
    let spec = format!(
        "type=oci,dest={},tar=false,rewrite-timestamp=true",
        dest.display()
    );
    let out = w.build(&["-t", "app", "-o", &spec, "--iidfile", "out/iid"]);
    let progress = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "as {who}:\n{progress}");
    let iid = std::fs::read_to_string(w.path("out/iid")).unwrap();
    (iid, progress)
}

#[test]
fn background_layers_give_the_image_of_inline_layers() {
    let test = "build_background_layers";
    let Some(layout) = busybox(test) else { return };
    if !have(test, &["skopeo", "umoci"]) {
        return;
    }
    for r in runners(test) {
        let who = r.name();
        let background = workspace(
            RunWork::new(r, &layout)
                .env("SOURCE_DATE_EPOCH", "1600000000")
                .env("BUILDER_LAYER_WRITES", "background"),
        );
        let inline = workspace(
            RunWork::new(r, &layout)
                .env("SOURCE_DATE_EPOCH", "1600000000")
                .env("BUILDER_LAYER_WRITES", "inline"),
        );
        let (iid, progress) = build(&background, who);
        let (inline_iid, inline_progress) = build(&inline, who);
        assert_eq!(
            iid, inline_iid,
            "as {who}: background and inline layers differ:\n{progress}\n{inline_progress}"
        );
        // Every layer step says its layer, once, however it was written.
        for p in [&progress, &inline_progress] {
            for step in STEPS {
                let n = step_number(p, step);
                let said = p
                    .lines()
                    .filter(|l| {
                        l.starts_with(&format!("{n} layer sha256:")) && l.contains(" written in ")
                    })
                    .count();
                assert_eq!(said, 1, "as {who}: {step} ({n}):\n{p}");
            }
        }

        // skopeo and umoci take the image.
        let dest = background.path("out/img");
        let inspected =
            run(Command::new("skopeo").args(["inspect", &format!("oci:{}", dest.display())]));
        let inspected: serde_json::Value = serde_json::from_str(&inspected).unwrap();
        assert_eq!(inspected["Digest"], iid.as_str(), "as {who}");
        let base_layers = run(Command::new("skopeo").args([
            "inspect",
            &format!("oci:{}", background.path("base").display()),
        ]));
        let base_layers: serde_json::Value = serde_json::from_str(&base_layers).unwrap();
        assert_eq!(
            inspected["Layers"].as_array().unwrap().len(),
            base_layers["Layers"].as_array().unwrap().len() + 4,
            "as {who}: {inspected}"
        );
        let rootfs = unpack(&dest, "latest", &background.path("out/bundle"));
        let read = |p: &str| std::fs::read_to_string(rootfs.join(p)).ok();
        assert_eq!(read("ran").as_deref(), Some("ran\n"), "as {who}");
        assert_eq!(read("gen/made").as_deref(), Some("made\n"), "as {who}");
        assert_eq!(read("app.txt").as_deref(), Some("app\n"), "as {who}");
        assert!(read("gen/d1/f01").is_none() && read("gen/d1/f02").is_some());
        assert!(!rootfs.join("data/d2").exists() && rootfs.join("data/d3/f39").is_file());

        // A rebuild hits every step and writes no layer.
        let (again, cached) = build(&background, who);
        assert_eq!(again, iid, "as {who}:\n{cached}");
        for step in STEPS {
            let n = step_number(&cached, step);
            assert!(
                cached.lines().any(|l| l == format!("{n} CACHED")),
                "as {who}: {step} not cached:\n{cached}"
            );
        }
        assert!(!cached.contains(" written in "), "as {who}:\n{cached}");
    }
}

/// Where in `progress` the step `name` says `DONE` and where it says its layer was written.
fn done_and_written(progress: &str, name: &str) -> (usize, usize) {
    let n = step_number(progress, name);
    let lines: Vec<&str> = progress.lines().collect();
    let at = |pred: &dyn Fn(&str) -> bool| {
        lines
            .iter()
            .position(|l| pred(l))
            .unwrap_or_else(|| panic!("{name} ({n}):\n{progress}"))
    };
    let done = at(&|l| l.starts_with(&format!("{n} DONE ")));
    let written =
        at(&|l| l.starts_with(&format!("{n} layer sha256:")) && l.contains(" written in "));
    (done, written)
}

#[test]
fn by_default_a_layer_overlaps_only_a_next_step_known_to_take_long() {
    let test = "build_background_auto";
    let Some(layout) = busybox(test) else { return };
    let Some(r) = runners(test).into_iter().next() else {
        return;
    };
    // `build` asks for rewrite-timestamp=true, which needs an epoch.
    let w = workspace(RunWork::new(r, &layout).env("SOURCE_DATE_EPOCH", "1600000000"));
    w.dockerfile(
        "FROM busybox AS gen\n\
         COPY data/ /gen/\n\
         FROM busybox\n\
         COPY data/ /data/\n\
         RUN sleep 1.5 && echo slept > /slept\n\
         COPY --from=gen /gen /gen\n",
    );
    let copy = "[stage-1 2/4] COPY data/ /data/";
    // A first build cannot know how long the RUN takes: the COPY's layer is written as the
    // step ends, before its DONE.
    let (_, first) = build(&w, r.name());
    let (done, written) = done_and_written(&first, copy);
    assert!(written < done, "{first}");
    // A stage only copied from reaches no output: its layer is plain tar, written inline
    // (nothing to compress, so nothing to overlap).
    let (done, written) = done_and_written(&first, "[gen 2/2] COPY data/ /gen/");
    assert!(written < done, "{first}");
    // The store now knows the RUN took 1.5 s: after a change to the COPY's sources its
    // layer is compressed while the RUN runs, and the step is DONE before it is written.
    w.file("data/d0/f00", "changed\n");
    let (_, second) = build(&w, r.name());
    let (done, written) = done_and_written(&second, copy);
    assert!(done < written, "{second}");

    // A value the variable cannot take is a usage error naming it.
    let bad = RunWork::new(r, &layout).env("BUILDER_LAYER_WRITES", "sometimes");
    bad.dockerfile("FROM busybox\nCOPY app.txt /app.txt\n");
    bad.file("app.txt", "app\n");
    let out = bad.build(&["-t", "app"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("BUILDER_LAYER_WRITES=\"sometimes\""), "{err}");
    // Refused before anything was read into the store or built.
    let blobs = bad.path("root/blobs/sha256");
    let kept = std::fs::read_dir(&blobs).map_or(0, |d| d.count());
    assert_eq!(
        kept,
        0,
        "{} holds blobs after a refused build",
        blobs.display()
    );
}
