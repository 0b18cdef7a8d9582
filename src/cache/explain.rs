//! Why a step missed the cache: each build that had a miss leaves, per step, its named
//! inputs (short digests) and the per-file digests of its sources in
//! `ROOT/cache/explain/<hex>` (one file per context, Dockerfile, target and platform,
//! written atomically). The next build that misses a step compares the step's inputs with
//! that entry and names the first one that differs, in the user's words:
//! `COPY src/: src/main.rs changed`, `build arg VERSION changed`,
//! `base image digest changed (1a2b3c4d5e6f -> 6f5e4d3c2b1a)`, `previous step changed`.
//!
//! Cheap by design: nothing is read until a step misses, and nothing is written when every
//! step hit. A step with no earlier entry gets no explanation.
//!
//! The same entry keeps how long the step took the last time it ran (not when it was
//! cached): the commit of the step before it asks ([`Explainer::last_run`]) whether writing
//! its layer in the background would overlap enough work to pay for the extra pass (see
//! `crate::solve::commit`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::key::{short_digest, Input, KeyInputs};
use super::CacheError;
use crate::store::atomic::write_atomic;

/// Version of the file format; a file of another version is ignored.
const FORMAT: u32 = 1;

/// Most paths a file-level explanation names.
const MAX_PATHS: usize = 3;

/// A step of a build: its stage's Dockerfile index and its index among the stage's steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StepRef {
    /// The stage's Dockerfile index.
    pub stage: usize,
    /// The step's index in the stage.
    pub step: usize,
}

impl StepRef {
    fn id(self) -> String {
        format!("{}.{}", self.stage, self.step)
    }
}

/// What a step's inputs were, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    /// `(name, short digest)` in key order.
    inputs: Vec<(String, String)>,
    /// Per sources input: `(path, short digest)` of every file.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    files: BTreeMap<String, Vec<(String, String)>>,
    /// Milliseconds the step took the last time it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ms: Option<u64>,
}

impl Entry {
    fn of(inputs: &KeyInputs) -> Entry {
        let mut entry = Entry::default();
        for input in inputs.inputs() {
            entry.inputs.push((input.name.clone(), input.short()));
            if let Some(files) = &input.files {
                let list = files
                    .iter()
                    .map(|(p, d)| (p.clone(), short_digest(d)))
                    .collect();
                entry.files.insert(input.name.clone(), list);
            }
        }
        entry
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ExplainFile {
    version: u32,
    steps: BTreeMap<String, Entry>,
}

#[derive(Debug, Default)]
struct State {
    /// The previous build's file, once read (`Some(None)`: there is none).
    previous: Option<Option<ExplainFile>>,
    /// This build's steps, kept as given until a save needs them.
    current: BTreeMap<StepRef, KeyInputs>,
    /// How long this build's steps that ran took, in milliseconds.
    ran: BTreeMap<StepRef, u64>,
    missed: bool,
}

/// The explanations of one build.
#[derive(Debug)]
pub struct Explainer {
    path: PathBuf,
    state: Mutex<State>,
}

impl Explainer {
    /// Explanations kept at `path` (see [`Explainer::path_for`]).
    pub fn new(path: PathBuf) -> Explainer {
        Explainer {
            path,
            state: Mutex::new(State::default()),
        }
    }

    /// `CACHE_DIR/explain/<sha256 of the parts>`: one file per build identity (absolute
    /// context path, Dockerfile path, target, platform).
    pub fn path_for(cache_dir: &Path, identity: &[&str]) -> PathBuf {
        let mut k = KeyInputs::new();
        for part in identity {
            k.push("part", *part);
        }
        cache_dir.join("explain").join(k.key().digest())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        crate::domain::lock(&self.state)
    }

    /// Keep `inputs` as the current build's entry for `step`.
    pub fn note(&self, step: StepRef, inputs: KeyInputs) {
        self.lock().current.insert(step, inputs);
    }

    /// `step` missed with `inputs`: the first input that differs from the previous build's
    /// entry, in the user's words (`None` without an earlier entry).
    pub fn miss(&self, step: StepRef, inputs: &KeyInputs) -> Option<String> {
        let mut state = self.lock();
        state.missed = true;
        let entry = previous(&self.path, &mut state).steps.get(&step.id())?;
        Some(reason(entry, inputs))
    }

    /// `step` ran (it was not cached) and took `took`.
    pub fn ran(&self, step: StepRef, took: Duration) {
        let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        self.lock().ran.insert(step, ms);
    }

    /// How long `step` took the last time an earlier build ran it, if one did.
    pub fn last_run(&self, step: StepRef) -> Option<Duration> {
        let mut state = self.lock();
        let entry = previous(&self.path, &mut state).steps.get(&step.id())?;
        entry.ms.map(Duration::from_millis)
    }

    /// Write this build's entries (over the previous build's, which steps not reached
    /// keep) when a step missed; nothing otherwise.
    pub fn save(&self) -> Result<(), CacheError> {
        let mut state = self.lock();
        if !state.missed {
            return Ok(());
        }
        let previous = match state.previous.take() {
            Some(p) => p,
            None => read(&self.path),
        };
        let mut file = previous.unwrap_or_default();
        file.version = FORMAT;
        for (step, inputs) in &state.current {
            let mut entry = Entry::of(inputs);
            // A step cached this time keeps the time of its last run.
            entry.ms = match state.ran.get(step) {
                Some(ms) => Some(*ms),
                None => file.steps.get(&step.id()).and_then(|e| e.ms),
            };
            file.steps.insert(step.id(), entry);
        }
        let bytes = serde_json::to_vec(&file).map_err(|e| CacheError::Io {
            action: "encode cache explanations",
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        let dir = crate::store::atomic::parent_dir(&self.path);
        std::fs::create_dir_all(dir).map_err(|source| CacheError::Io {
            action: "create directory",
            path: dir.to_path_buf(),
            source,
        })?;
        write_atomic(&self.path, &bytes)?;
        Ok(())
    }
}

/// The previous build's file, read on first use; empty when there is none.
fn previous<'s>(path: &Path, state: &'s mut State) -> &'s ExplainFile {
    static EMPTY: ExplainFile = ExplainFile {
        version: FORMAT,
        steps: BTreeMap::new(),
    };
    state
        .previous
        .get_or_insert_with(|| read(path))
        .as_ref()
        .unwrap_or(&EMPTY)
}

/// The previous build's file; a missing, damaged or foreign one is none.
fn read(path: &Path) -> Option<ExplainFile> {
    let bytes = std::fs::read(path).ok()?;
    let file: ExplainFile = serde_json::from_slice(&bytes).ok()?;
    (file.version == FORMAT).then_some(file)
}

/// The first input of `current` that differs from `before`.
fn reason(before: &Entry, current: &KeyInputs) -> String {
    let old: BTreeMap<&str, &str> = before
        .inputs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let base = current.inputs().iter().find(|i| i.name == "base");
    for input in current.inputs().iter().filter(|i| i.name != "base") {
        let now = input.short();
        if old.get(input.name.as_str()) == Some(&now.as_str()) {
            continue;
        }
        if input.name == "parent" {
            if let Some(b) = base.filter(|b| old.get("base") != Some(&b.short().as_str())) {
                return base_changed(b, old.get("base").copied());
            }
            return "previous step changed".into();
        }
        if input.files.is_some() {
            if let Some(files) = before.files.get(&input.name) {
                return sources_changed(input, files);
            }
        }
        let label = input.label.as_deref().unwrap_or(&input.name);
        return match input.name.as_str() {
            "sources" => format!("{label}: sources changed"),
            _ => format!("{label} changed"),
        };
    }
    let now: Vec<&str> = current.inputs().iter().map(|i| i.name.as_str()).collect();
    if let Some((gone, _)) = before
        .inputs
        .iter()
        .find(|(n, _)| !now.contains(&n.as_str()))
    {
        return format!("{gone} changed");
    }
    "the cached result is gone (pruned)".into()
}

fn base_changed(base: &Input, old: Option<&str>) -> String {
    match base.value.strip_prefix("stage ") {
        Some(rest) => {
            let name = rest.split(' ').next().unwrap_or(rest);
            format!("base stage {name} changed")
        }
        None => format!(
            "base image digest changed ({} -> {})",
            old.unwrap_or("none"),
            base.short()
        ),
    }
}

/// `LABEL: a changed, b added and 2 more`.
fn sources_changed(input: &Input, before: &[(String, String)]) -> String {
    let label = input.label.as_deref().unwrap_or(&input.name);
    let old: BTreeMap<&str, &str> = before
        .iter()
        .map(|(p, d)| (p.as_str(), d.as_str()))
        .collect();
    let mut changes: BTreeMap<&str, &str> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for (path, digest) in input.files.iter().flatten() {
        seen.insert(path.as_str());
        match old.get(path.as_str()) {
            None => {
                changes.insert(path, "added");
            }
            Some(d) if *d != short_digest(digest) => {
                changes.insert(path, "changed");
            }
            Some(_) => {}
        }
    }
    for (path, _) in before {
        if !seen.contains(path.as_str()) {
            changes.insert(path, "removed");
        }
    }
    if changes.is_empty() {
        return format!("{label}: file metadata changed");
    }
    let named: Vec<String> = changes
        .iter()
        .take(MAX_PATHS)
        .map(|(p, what)| format!("{p} {what}"))
        .collect();
    let more = changes.len().saturating_sub(MAX_PATHS);
    if more > 0 {
        format!("{label}: {} and {more} more", named.join(", "))
    } else {
        format!("{label}: {}", named.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::digest::sha256;

    fn step(base: &str, parent: &str, arg: &str, files: &[(&str, &str)]) -> KeyInputs {
        let mut k = KeyInputs::new();
        k.explain_only("base", base)
            .push("parent", parent)
            .push("build arg VERSION", arg)
            .push("instruction", "COPY src/ /app/");
        let files: Vec<(String, oci_spec::image::Digest)> = files
            .iter()
            .map(|(p, c)| (p.to_string(), sha256(c.as_bytes())))
            .collect();
        let digest = sha256(format!("{files:?}").as_bytes());
        k.sources("sources", "COPY src/", digest.to_string(), Some(files));
        k
    }

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn saved(inputs: KeyInputs) -> Explainer {
        let t = tempfile::tempdir().unwrap().keep();
        let path = Explainer::path_for(&t, &["/ctx", "Dockerfile", "", "linux/amd64"]);
        let first = Explainer::new(path.clone());
        let at = StepRef { stage: 0, step: 1 };
        assert_eq!(first.miss(at, &inputs), None, "no earlier entry");
        first.note(at, inputs);
        first.save().unwrap();
        Explainer::new(path)
    }

    #[test]
    fn the_first_differing_input_is_named() {
        let at = StepRef { stage: 0, step: 1 };
        let old = step(A, A, "1", &[("src/a", "a"), ("src/b", "b")]);
        let e = saved(old.clone());
        assert_eq!(
            e.miss(at, &step(A, A, "2", &[("src/a", "a")])).as_deref(),
            Some("build arg VERSION changed")
        );
        assert_eq!(
            e.miss(at, &step(A, B, "1", &[])).as_deref(),
            Some("previous step changed")
        );
        assert_eq!(
            e.miss(at, &step(B, B, "1", &[])).as_deref(),
            Some("base image digest changed (aaaaaaaaaaaa -> bbbbbbbbbbbb)")
        );
        assert_eq!(
            e.miss(at, &step("stage build x", B, "1", &[])).as_deref(),
            Some("base stage build changed")
        );
        let files = [
            ("src/a", "A"),
            ("src/c", "c"),
            ("src/d", "d"),
            ("src/e", "e"),
        ];
        assert_eq!(
            e.miss(at, &step(A, A, "1", &files)).as_deref(),
            Some("COPY src/: src/a changed, src/b removed, src/c added and 2 more")
        );
        assert_eq!(
            e.miss(at, &step(A, A, "1", &[("src/a", "a")])).as_deref(),
            Some("COPY src/: src/b removed")
        );
        assert_eq!(
            e.miss(at, &old).as_deref(),
            Some("the cached result is gone (pruned)")
        );
        assert_eq!(e.miss(StepRef { stage: 1, step: 1 }, &old), None);
    }

    #[test]
    fn nothing_is_written_when_everything_hit() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("explain/x");
        let e = Explainer::new(path.clone());
        e.note(StepRef { stage: 0, step: 0 }, step(A, A, "1", &[]));
        e.save().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn steps_not_reached_keep_their_entries() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("explain/x");
        let first = Explainer::new(path.clone());
        let (s1, s2) = (StepRef { stage: 0, step: 1 }, StepRef { stage: 0, step: 2 });
        first.miss(s1, &step(A, A, "1", &[]));
        first.note(s1, step(A, A, "1", &[]));
        first.note(s2, step(A, A, "1", &[]));
        first.save().unwrap();
        let second = Explainer::new(path.clone());
        second.miss(s1, &step(A, A, "2", &[]));
        second.note(s1, step(A, A, "2", &[]));
        second.save().unwrap();
        let third = Explainer::new(path);
        assert_eq!(
            third.miss(s2, &step(A, A, "2", &[])).as_deref(),
            Some("build arg VERSION changed")
        );
        assert_eq!(
            third.miss(s1, &step(A, A, "2", &[])).as_deref(),
            Some("the cached result is gone (pruned)")
        );
    }

    #[test]
    fn a_step_keeps_the_time_of_its_last_run() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("explain/x");
        let (s1, s2) = (StepRef { stage: 0, step: 1 }, StepRef { stage: 0, step: 2 });
        let first = Explainer::new(path.clone());
        assert_eq!(first.last_run(s2), None, "no earlier build");
        first.miss(s1, &step(A, A, "1", &[]));
        first.note(s1, step(A, A, "1", &[]));
        first.ran(s1, Duration::from_millis(40));
        first.note(s2, step(A, A, "1", &[]));
        first.ran(s2, Duration::from_millis(2500));
        first.save().unwrap();
        // The second build reruns step 1 only; step 2 is cached and keeps its time.
        let second = Explainer::new(path.clone());
        assert_eq!(second.last_run(s2), Some(Duration::from_millis(2500)));
        assert_eq!(second.last_run(s1), Some(Duration::from_millis(40)));
        second.miss(s1, &step(A, A, "2", &[]));
        second.note(s1, step(A, A, "2", &[]));
        second.ran(s1, Duration::from_millis(70));
        second.note(s2, step(A, A, "2", &[]));
        second.save().unwrap();
        let third = Explainer::new(path);
        assert_eq!(third.last_run(s1), Some(Duration::from_millis(70)));
        assert_eq!(third.last_run(s2), Some(Duration::from_millis(2500)));
        assert_eq!(third.last_run(StepRef { stage: 1, step: 0 }), None);
    }
}
