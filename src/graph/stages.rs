//! Stage references and the stage graph, as BuildKit's dockerfile2llb resolves them:
//!
//! - a FROM names an *earlier* stage only (exact match on the lower-cased stage name);
//!   anything else is `scratch`, a `--build-context`, or an image reference — so a FROM of
//!   a later stage is an image, and FROM never makes a cycle;
//! - `COPY --from` takes a stage index, or a stage name (case-insensitive, earlier *or
//!   later*), else a named context or image; `RUN --mount from=` the same without indexes;
//! - a stage whose name is also a `--build-context` is replaced by that context;
//! - cycles through `--from` are errors (`circular dependency detected on stage: a`), and a
//!   `--from` of a later stage fails when the copy runs (`cannot copy from stage ...`);
//! - the target (by name, default the last stage) and everything it reaches through FROM
//!   and `--from` is planned; the rest is pruned;
//! - stages get a parallel level: 0 without stage dependencies, else one more than their
//!   deepest dependency.

use std::collections::{BTreeMap, BTreeSet};

use crate::dockerfile::ast::Span;
use crate::dockerfile::error::ParseError;

use super::model::Source;
use crate::domain::reference::Reference;

/// What the graph needs to know of one stage.
#[derive(Debug, Clone)]
pub(super) struct StageHead {
    /// Lower-cased `AS` name.
    pub name: Option<String>,
    /// FROM's base name, expanded with the global args.
    pub base: String,
    /// The FROM line.
    pub span: Span,
}

/// `name` or `stage-N`, as BuildKit names stages in messages.
pub(super) fn stage_label(heads: &[StageHead], index: usize) -> String {
    heads
        .get(index)
        .and_then(|h| h.name.clone())
        .unwrap_or_else(|| format!("stage-{index}"))
}

/// The last stage named `name` (case-insensitive) among `heads[..limit]`.
fn find_by_name(heads: &[StageHead], limit: usize, name: &str) -> Option<usize> {
    let lower = name.to_lowercase();
    heads
        .iter()
        .take(limit)
        .enumerate()
        .filter(|(_, h)| h.name.as_deref() == Some(lower.as_str()))
        .map(|(i, _)| i)
        .next_back()
}

/// An image reference or named context for a name that is no stage.
fn external(name: &str, contexts: &BTreeSet<String>, span: Span) -> Result<Source, ParseError> {
    if name == "scratch" {
        return Ok(Source::Scratch);
    }
    let r = Reference::parse(name)
        .map_err(|e| ParseError::new(span, format!("failed to parse stage name {name:?}: {e}")))?;
    let familiar = r.familiar_short();
    if contexts.contains(&familiar) {
        return Ok(Source::Context(familiar));
    }
    Ok(Source::Image(r.to_string()))
}

/// The base of stage `index`.
pub(super) fn resolve_base(
    heads: &[StageHead],
    index: usize,
    contexts: &BTreeSet<String>,
) -> Result<Source, ParseError> {
    let Some(head) = heads.get(index) else {
        return Err(ParseError::at_line(0, format!("no stage {index}")));
    };
    if let Some(name) = &head.name {
        if contexts.contains(name) {
            return Ok(Source::Context(name.clone()));
        }
    }
    if head.base == "scratch" {
        return Ok(Source::Scratch);
    }
    // Exact match: BuildKit looks the expanded base name up as written.
    let earlier = heads
        .iter()
        .take(index)
        .enumerate()
        .filter(|(_, h)| h.name.as_deref() == Some(head.base.as_str()))
        .map(|(i, _)| i)
        .next_back();
    if let Some(j) = earlier {
        return Ok(Source::Stage(j));
    }
    external(&head.base, contexts, head.span)
}

/// Go's `strconv.Atoi` acceptance: optional sign, then decimal digits.
fn parse_index(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// The source of `COPY --from=<from>` (`index_allowed`) or `RUN --mount from=<from>`.
pub(super) fn resolve_from(
    heads: &[StageHead],
    from: &str,
    index_allowed: bool,
    contexts: &BTreeSet<String>,
    span: Span,
) -> Result<Source, ParseError> {
    if index_allowed {
        if let Some(i) = parse_index(from) {
            return match usize::try_from(i).ok().filter(|i| *i < heads.len()) {
                Some(i) => Ok(Source::Stage(i)),
                None => Err(ParseError::new(span, format!("invalid stage index {i}"))),
            };
        }
    }
    if let Some(j) = find_by_name(heads, heads.len(), from) {
        return Ok(Source::Stage(j));
    }
    external(from, contexts, span)
}

/// The target stage: by name (case-insensitive), else by index (the CLI contract's
/// `--target STAGE` takes either; a stage named like a number wins), else the last stage.
pub(super) fn resolve_target(
    heads: &[StageHead],
    target: Option<&str>,
) -> Result<usize, ParseError> {
    let Some(t) = target.filter(|t| !t.is_empty()) else {
        return heads
            .len()
            .checked_sub(1)
            .ok_or_else(|| ParseError::at_line(0, "dockerfile contains no stages to build"));
    };
    if let Some(i) = find_by_name(heads, heads.len(), t) {
        return Ok(i);
    }
    if let Some(i) = t.parse::<usize>().ok().filter(|i| *i < heads.len()) {
        return Ok(i);
    }
    let names: Vec<String> = heads.iter().filter_map(|h| h.name.clone()).collect();
    let mut msg = if names.is_empty() {
        format!("target stage {t:?} not found; the Dockerfile has no named stages")
    } else {
        format!(
            "target stage {t:?} not found; stages are: {}",
            names.join(", ")
        )
    };
    if let Some(m) = suggest(t, &names) {
        msg.push_str(&format!(" (did you mean {m}?)"));
    }
    Err(ParseError::at_line(0, msg))
}

/// BuildKit's `suggest`: the first option at edit distance below 3 (the closest one), unless
/// some option matches exactly.
pub(super) fn suggest(value: &str, options: &[String]) -> Option<String> {
    let mut best: Option<(usize, &String)> = None;
    for o in options {
        if o == value {
            return None;
        }
        let d = levenshtein(value, o);
        if d < best.map_or(3, |(b, _)| b) {
            best = Some((d, o));
        }
    }
    best.map(|(_, o)| o.clone())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let v = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            cur.push(v);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A stage-to-stage edge and the instruction that made it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Edge {
    /// The stage depended on.
    pub to: usize,
    /// The instruction (or FROM line).
    pub span: Span,
}

/// BuildKit's `validateCircularDependency`: the first stage (in order) from which a cycle
/// is reachable is named; the error points at the first instruction on the cycle's path
/// (BuildKit lists them all; the first is the one it shows first).
pub(super) fn check_cycles(
    heads: &[StageHead],
    edges: &BTreeMap<usize, Vec<Edge>>,
) -> Result<(), ParseError> {
    fn visit(
        s: usize,
        first: Option<Span>,
        edges: &BTreeMap<usize, Vec<Edge>>,
        visited: &mut BTreeSet<usize>,
        path: &mut BTreeSet<usize>,
    ) -> Option<Span> {
        if !visited.insert(s) {
            return None;
        }
        path.insert(s);
        for e in edges.get(&s).map(Vec::as_slice).unwrap_or_default() {
            let first = first.or(Some(e.span));
            if path.contains(&e.to) {
                return first;
            }
            if let Some(span) = visit(e.to, first, edges, visited, path) {
                return Some(span);
            }
        }
        path.remove(&s);
        None
    }
    let mut visited = BTreeSet::new();
    for s in 0..heads.len() {
        let mut path = BTreeSet::new();
        if let Some(span) = visit(s, None, edges, &mut visited, &mut path) {
            return Err(ParseError::new(
                span,
                format!(
                    "circular dependency detected on stage: {}",
                    stage_label(heads, s)
                ),
            ));
        }
    }
    Ok(())
}

/// Stages reachable from `target` through `edges`, including the target.
pub(super) fn reachable(target: usize, edges: &BTreeMap<usize, Vec<Edge>>) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(s) = todo.pop() {
        if seen.insert(s) {
            for e in edges.get(&s).map(Vec::as_slice).unwrap_or_default() {
                todo.push(e.to);
            }
        }
    }
    seen
}

/// Parallel levels of the `order`ed stages (dependencies come first in `order`).
pub(super) fn levels(
    order: &[usize],
    deps: &BTreeMap<usize, BTreeSet<usize>>,
) -> BTreeMap<usize, usize> {
    let mut level = BTreeMap::new();
    for &s in order {
        let l = deps
            .get(&s)
            .into_iter()
            .flatten()
            .filter_map(|d| level.get(d).map(|l: &usize| l + 1))
            .max()
            .unwrap_or(0);
        level.insert(s, l);
    }
    level
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heads(spec: &[(&str, Option<&str>)]) -> Vec<StageHead> {
        spec.iter()
            .enumerate()
            .map(|(i, (base, name))| StageHead {
                name: name.map(str::to_string),
                base: base.to_string(),
                span: Span::new(i + 1, i + 1),
            })
            .collect()
    }

    #[test]
    fn from_names_earlier_stages_only() {
        let h = heads(&[
            ("alpine", Some("a")),
            ("a", Some("b")),
            ("c", None),
            ("alpine", Some("c")),
        ]);
        let none = BTreeSet::new();
        assert_eq!(
            resolve_base(&h, 0, &none).unwrap(),
            Source::Image("docker.io/library/alpine:latest".into())
        );
        assert_eq!(resolve_base(&h, 1, &none).unwrap(), Source::Stage(0));
        // `c` is defined later: an image.
        assert_eq!(
            resolve_base(&h, 2, &none).unwrap(),
            Source::Image("docker.io/library/c:latest".into())
        );
    }

    #[test]
    fn from_is_case_sensitive_and_validated() {
        let h = heads(&[("alpine", Some("build")), ("Build", None)]);
        let e = resolve_base(&h, 1, &BTreeSet::new()).unwrap_err();
        assert_eq!(
            e.message,
            "failed to parse stage name \"Build\": invalid reference format: repository name (library/Build) must be lowercase"
        );
    }

    #[test]
    fn named_contexts_replace_images_and_stages() {
        let h = heads(&[("alpine:latest", Some("base")), ("busybox", Some("other"))]);
        let ctx: BTreeSet<String> = ["alpine".to_string(), "other".to_string()].into();
        assert_eq!(
            resolve_base(&h, 0, &ctx).unwrap(),
            Source::Context("alpine".into())
        );
        assert_eq!(
            resolve_base(&h, 1, &ctx).unwrap(),
            Source::Context("other".into())
        );
    }

    #[test]
    fn copy_from_index_name_image() {
        let h = heads(&[("alpine", Some("build")), ("scratch", None)]);
        let none = BTreeSet::new();
        let sp = Span::new(9, 9);
        assert_eq!(
            resolve_from(&h, "0", true, &none, sp).unwrap(),
            Source::Stage(0)
        );
        assert_eq!(
            resolve_from(&h, "BUILD", true, &none, sp).unwrap(),
            Source::Stage(0)
        );
        assert_eq!(
            resolve_from(&h, "5", true, &none, sp).unwrap_err().message,
            "invalid stage index 5"
        );
        assert_eq!(
            resolve_from(&h, "nginx:1", true, &none, sp).unwrap(),
            Source::Image("docker.io/library/nginx:1".into())
        );
        assert_eq!(
            resolve_from(&h, "0", false, &none, sp).unwrap(),
            Source::Image("docker.io/library/0:latest".into())
        );
        assert_eq!(
            resolve_from(&h, "scratch", true, &none, sp).unwrap(),
            Source::Scratch
        );
    }

    #[test]
    fn unknown_target_suggests() {
        let h = heads(&[("alpine", Some("build")), ("alpine", Some("final"))]);
        assert_eq!(resolve_target(&h, None).unwrap(), 1);
        assert_eq!(resolve_target(&h, Some("BUILD")).unwrap(), 0);
        let e = resolve_target(&h, Some("bild")).unwrap_err();
        assert_eq!(
            e.message,
            "target stage \"bild\" not found; stages are: build, final (did you mean build?)"
        );
        assert_eq!(e.span.start, 0);
        let e = resolve_target(&h, Some("zzzzzz")).unwrap_err();
        assert_eq!(
            e.message,
            "target stage \"zzzzzz\" not found; stages are: build, final"
        );
    }

    #[test]
    fn target_by_index_unless_a_stage_has_that_name() {
        let h = heads(&[
            ("alpine", Some("build")),
            ("alpine", None),
            ("alpine", Some("1")),
        ]);
        assert_eq!(resolve_target(&h, Some("0")).unwrap(), 0);
        assert_eq!(
            resolve_target(&h, Some("1")).unwrap(),
            2,
            "a stage named 1 wins"
        );
        assert!(resolve_target(&h, Some("3")).is_err());
    }

    #[test]
    fn cycles_are_found() {
        let h = heads(&[("alpine", Some("a")), ("alpine", Some("b"))]);
        let mut edges = BTreeMap::new();
        edges.insert(
            0,
            vec![Edge {
                to: 1,
                span: Span::new(5, 5),
            }],
        );
        edges.insert(
            1,
            vec![Edge {
                to: 0,
                span: Span::new(7, 7),
            }],
        );
        let e = check_cycles(&h, &edges).unwrap_err();
        assert_eq!(e.message, "circular dependency detected on stage: a");
        assert_eq!(e.span, Span::new(5, 5));
        edges.remove(&1);
        assert!(check_cycles(&h, &edges).is_ok());
    }

    #[test]
    fn reachability_and_levels() {
        let mut edges = BTreeMap::new();
        edges.insert(
            3,
            vec![
                Edge {
                    to: 1,
                    span: Span::default(),
                },
                Edge {
                    to: 2,
                    span: Span::default(),
                },
            ],
        );
        edges.insert(
            2,
            vec![Edge {
                to: 0,
                span: Span::default(),
            }],
        );
        let r = reachable(3, &edges);
        assert_eq!(r, [0, 2, 3, 1].into());
        let deps: BTreeMap<usize, BTreeSet<usize>> = [(3, [1, 2].into()), (2, [0].into())].into();
        let l = levels(&[0, 1, 2, 3], &deps);
        assert_eq!(l[&0], 0);
        assert_eq!(l[&1], 0);
        assert_eq!(l[&2], 1);
        assert_eq!(l[&3], 2);
    }
}
