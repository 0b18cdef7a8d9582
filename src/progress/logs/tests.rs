use std::time::Duration;

use super::*;
use crate::progress::{Event, Outcome, OutputLine, Recorder, Reporter};

fn info() -> BuildInfo {
    BuildInfo {
        context: "ctx".into(),
        dockerfile: None,
        tags: vec!["app:1".into()],
        target: None,
        project: None,
    }
}

#[test]
fn output_is_kept_byte_for_byte_and_events_pass_on() {
    let root = tempfile::tempdir().unwrap();
    let log = BuildLog::create(root.path(), info(), KEEP_BUILDS).unwrap();
    let id = log.id();
    assert!(is_build_id(&id), "{id}");
    let keeper = LogKeeper::new(Box::new(Recorder::default()), log);
    let a = keeper.start("[1/2] FROM busybox");
    keeper.cached(a);
    let b = keeper.start("[2/2] RUN make");
    keeper.miss(b, "RUN make: the parent layer changed");
    // Raw chunks: invalid UTF-8, a carriage return, no final newline, a big chunk.
    let mut expected = Vec::new();
    let big = vec![b'x'; 3 << 20];
    for chunk in [
        &b"caf\xe9\r\n"[..],
        b"part",
        b"ial\n",
        &big,
        b"\xff\xfe end",
    ] {
        keeper.output(b, chunk, &[]);
        expected.extend_from_slice(chunk);
    }
    keeper.output(
        b,
        b"",
        &[OutputLine {
            at: Duration::from_millis(1),
            text: "shown".into(),
        }],
    );
    keeper.log(b, "layer sha256:abc written");
    keeper.done(b, Duration::from_millis(1500));
    let c = keeper.start("exporting to image");
    keeper.error(c, "no space left");
    keeper.finish(&Outcome {
        image: None,
        error: Some("no space left"),
        build: None,
    });

    let index = find(root.path(), None).unwrap();
    assert_eq!(index.id, id);
    assert_eq!(index.status, BuildStatus::Failed);
    assert_eq!(index.status_now(), BuildStatus::Failed);
    assert_eq!(index.info.tags, ["app:1"]);
    assert_eq!(index.error.as_deref(), Some("no space left"));
    assert_eq!(index.vertices.len(), 3);
    let run = index.vertex("RUN make").unwrap();
    assert_eq!(run.number, b);
    assert_eq!(run.status, VertexStatus::Done);
    assert_eq!(run.elapsed, Some(1.5));
    assert_eq!(
        run.miss.as_deref(),
        Some("RUN make: the parent layer changed")
    );
    assert_eq!(run.messages, ["layer sha256:abc written"]);
    assert_eq!(run.output_bytes, expected.len() as u64);
    let kept = std::fs::read(log_path(root.path(), &id, run)).unwrap();
    assert!(kept == expected, "the log differs from the output");
    assert_eq!(index.vertex("1").unwrap().status, VertexStatus::Cached);
    assert_eq!(index.failed_vertex().unwrap().number, c);
    assert!(!log_path(root.path(), &id, index.vertex("#1").unwrap()).exists());
}

#[test]
fn the_display_sees_every_event() {
    let root = tempfile::tempdir().unwrap();
    let log = BuildLog::create(root.path(), info(), KEEP_BUILDS).unwrap();
    // A recorder behind an Arc-like handle: keep a second one to compare.
    #[derive(Debug)]
    struct Shared(std::sync::Arc<Recorder>);
    impl Reporter for Shared {
        fn start(&self, name: &str) -> crate::progress::VertexId {
            self.0.start(name)
        }
        fn log(&self, id: u64, line: &str) {
            self.0.log(id, line)
        }
        fn cached(&self, id: u64) {
            self.0.cached(id)
        }
        fn miss(&self, id: u64, reason: &str) {
            self.0.miss(id, reason)
        }
        fn progress(&self, id: u64, item: &str, current: u64, total: Option<u64>) {
            self.0.progress(id, item, current, total)
        }
        fn done(&self, id: u64, elapsed: Duration) {
            self.0.done(id, elapsed)
        }
        fn error(&self, id: u64, message: &str) {
            self.0.error(id, message)
        }
    }
    let rec = std::sync::Arc::new(Recorder::default());
    let keeper = LogKeeper::new(Box::new(Shared(rec.clone())), log);
    let a = keeper.start("one");
    keeper.miss(a, "why");
    keeper.progress(a, "sha256:ab", 1, Some(2));
    keeper.output(
        a,
        b"hi\n",
        &[OutputLine {
            at: Duration::from_millis(132),
            text: "hi".into(),
        }],
    );
    keeper.done(a, Duration::ZERO);
    assert_eq!(
        rec.events(),
        vec![
            Event::Start(1, "one".into()),
            Event::Miss(1, "why".into()),
            Event::Progress(1, "sha256:ab".into(), 1, Some(2)),
            Event::Log(1, "0.132 hi".into()),
            Event::Done(1),
        ]
    );
}

#[test]
fn only_the_latest_builds_are_kept() {
    let root = tempfile::tempdir().unwrap();
    let logs = logs_dir(root.path());
    std::fs::create_dir_all(&logs).unwrap();
    for i in 0..12 {
        let id = format!("20260101-0000{i:02}-abcdef");
        std::fs::create_dir(logs.join(&id)).unwrap();
    }
    std::fs::create_dir(logs.join("not-a-build")).unwrap();
    let log = BuildLog::create(root.path(), info(), KEEP_BUILDS).unwrap();
    let ids = build_ids(root.path()).unwrap();
    assert_eq!(ids.len(), KEEP_BUILDS);
    assert_eq!(ids.first().unwrap(), "20260101-000003-abcdef");
    assert_eq!(ids.last().unwrap(), &log.id());
    assert!(logs.join("not-a-build").exists());
    // Builds are found by a unique start of their id; a broken index is left out.
    assert_eq!(
        find(root.path(), Some(&log.id()[..17])).unwrap().id,
        log.id()
    );
    assert!(find(root.path(), Some("2026")).is_err());
    assert!(find(root.path(), Some("1999")).is_err());
    assert_eq!(list(root.path()).unwrap().len(), 1);
}

/// A finished build's index written under `root` as build `n`: `project`, `ok` or failed.
fn past_build(root: &std::path::Path, n: u32, project: &str, ok: bool) {
    let id = format!("20260101-{n:06}-abcdef");
    let dir = logs_dir(root).join(&id);
    std::fs::create_dir_all(&dir).unwrap();
    let mut build = info();
    build.project = Some(project.into());
    let index = BuildIndex {
        id,
        started: String::new(),
        elapsed: None,
        status: if ok {
            BuildStatus::Ok
        } else {
            BuildStatus::Failed
        },
        pid: 1,
        info: build,
        image: None,
        error: None,
        vertices: Vec::new(),
    };
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

#[test]
fn failing_builds_elsewhere_do_not_push_out_a_projects_last_good_build() {
    let root = tempfile::tempdir().unwrap();
    past_build(root.path(), 1, "app", true);
    past_build(root.path(), 2, "app", false);
    for n in 3..20 {
        past_build(root.path(), n, "experiment", false);
    }
    let log = BuildLog::create(root.path(), info(), 4).unwrap();
    let ids = build_ids(root.path()).unwrap();
    // Four in all: app's last good build, the newest two, the new one.
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert_eq!(ids[0], "20260101-000001-abcdef");
    assert_eq!(ids[1], "20260101-000018-abcdef");
    assert_eq!(ids.last().unwrap(), &log.id());
    // Over four times the number kept, the spared builds go too, oldest first.
    for n in 20..40 {
        past_build(root.path(), n, &format!("p{n}"), true);
    }
    BuildLog::create(root.path(), info(), 2).unwrap();
    let ids = build_ids(root.path()).unwrap();
    // One kept plus the new one, and at most four spared ones in all.
    assert_eq!(ids.len(), 5, "{ids:?}");
    assert!(
        !ids.contains(&"20260101-000001-abcdef".to_string()),
        "{ids:?}"
    );
}

#[test]
fn a_running_build_whose_process_is_gone_was_interrupted() {
    let root = tempfile::tempdir().unwrap();
    let log = BuildLog::create(root.path(), info(), KEEP_BUILDS).unwrap();
    let mut index = read_index(root.path(), &log.id()).unwrap();
    assert_eq!(index.status, BuildStatus::Running);
    assert_eq!(index.status_now(), BuildStatus::Running);
    index.pid = u32::MAX;
    assert_eq!(index.status_now(), BuildStatus::Interrupted);
}

#[test]
fn steps_are_chosen_by_number_name_or_a_unique_piece() {
    let entry = |n: u64, name: &str| VertexEntry {
        number: n,
        name: name.into(),
        status: VertexStatus::Done,
        started: String::new(),
        elapsed: None,
        miss: None,
        error: None,
        messages: Vec::new(),
        output_bytes: 0,
        truncated: false,
    };
    let index = BuildIndex {
        id: "20260101-000000-abcdef".into(),
        started: String::new(),
        elapsed: None,
        status: BuildStatus::Ok,
        pid: 1,
        info: info(),
        image: None,
        error: None,
        vertices: vec![
            entry(1, "[1/3] FROM busybox"),
            entry(2, "[2/3] RUN make"),
            entry(3, "[3/3] RUN make install"),
            entry(4, "unpacking layer sha256:0990"),
        ],
    };
    assert_eq!(index.vertex("#2").unwrap().number, 2);
    assert_eq!(index.vertex("[2/3] RUN make").unwrap().number, 2);
    assert_eq!(index.vertex("install").unwrap().number, 3);
    let e = index.vertex("RUN make").unwrap_err().to_string();
    assert!(
        e.contains("names 2 steps") && e.contains("#3 [3/3] RUN make install"),
        "{e}"
    );
    let e = index.vertex("COPY").unwrap_err().to_string();
    assert!(e.contains("has no step \"COPY\""), "{e}");
    assert_eq!(index.vertex("1").unwrap().log_file(), "001.log");
    // A number is a step number, never a piece of a name (names hold digests).
    let e = index.vertex("99").unwrap_err().to_string();
    assert!(e.contains("has no step #99"), "{e}");
}
