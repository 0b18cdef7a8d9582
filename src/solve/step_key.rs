//! The named inputs of a step's cache key ([`KeyInputs`]), in the order a miss is
//! explained: `base` (the stage's base, to explain only: the parent chain covers it),
//! `parent` (the chain id of the layers below: content-addressed, so a config-only step
//! such as LABEL invalidates nothing), one `build arg NAME` per build arg the step can see
//! (RUN: every ARG in scope, as RUN sees them in its environment; other steps: the args
//! their expansion used; proxy args never), `instruction` (the kind and the fully expanded
//! typed action), `platform`, `layer format`, and for COPY/ADD and bind mounts the
//! `sources` (the content digest of the selected files of the build context or a named
//! directory, the top chain id of a stage or image) and one `remote URL` per remote ADD
//! source (its checksum, content digest or commit, from the build's fetcher).
//!
//! Nothing here touches the parent's files: a hit needs neither materialization nor
//! unpacking. Values are explicit text (JSON strings for free text), so the encoding in
//! [`crate::cache::key`] is stable.

use super::copy::digest::{digest_sources, SourcesDigest};
use super::copy::{SourceKind, SourceRoot};
use super::error::{StepError, StepResult};
use super::layer::{top_chain_id, Layer};
use super::step_cx::StepCx;
use super::{images, Inputs, LayerPolicy, NamedContext, StageResult, Stores};
use crate::cache::KeyInputs;
use crate::dockerfile::instructions::MountType;
use crate::domain::remote_source::is_remote_source;
use crate::domain::Chmod;
use crate::graph::{is_proxy_arg, Action, CopyAction, RunAction, Source, StagePlan, Step};
use crate::remote::http::redact;
use crate::remote::RemoteRequest;

/// The inputs of `step` (whose context is `cx`) on top of `below`. `None` for a step that
/// is never cached (config only).
pub(crate) fn inputs(
    cx: &StepCx<'_, '_>,
    step: &Step,
    below: &[Layer],
) -> StepResult<Option<KeyInputs>> {
    let (scope, workdir, user) = (&cx.scope, cx.workdir, cx.user);
    let instruction = match &step.action {
        Action::Run(r) => run_instruction(r, &step.build_args),
        Action::Copy(c) => copy_instruction(c, workdir),
        Action::Workdir { path } => format!("WORKDIR\npath={}\nuser={}\n", json(path), json(user)),
        Action::Config => return Ok(None),
    };
    let mut k = KeyInputs::new();
    k.explain_only("base", scope.base);
    k.push("parent", top_chain(below));
    for (name, value) in visible_args(step) {
        k.push(format!("build arg {name}"), value);
    }
    k.push("instruction", instruction);
    k.push("platform", scope.sp.platform.to_string());
    k.push("layer format", layer_format(cx.policy));
    match &step.action {
        Action::Copy(c) if !c.sources.is_empty() => copy_sources(cx, c, &mut k)?,
        Action::Run(r) => {
            if let Some(options) = cx.run.options.key() {
                k.push("run options", options);
            }
            run_mounts(cx, r, &mut k)?
        }
        _ => {}
    }
    Ok(Some(k))
}

/// The `sources` of a COPY/ADD (the selected files' digest) and one `remote URL` input per
/// remote source (its checksum, content digest or commit).
fn copy_sources(cx: &StepCx<'_, '_>, c: &CopyAction, k: &mut KeyInputs) -> StepResult<()> {
    let keyword = if c.add { "ADD" } else { "COPY" };
    let mut label = keyword.to_string();
    if let Some(from) = &c.from_flag {
        label.push_str(&format!(" --from={from}"));
    }
    label.push(' ');
    label.push_str(&c.sources.join(" "));
    let failed = |source| StepError::Copy {
        instruction: keyword,
        source,
    };
    let (value, files) = tree_digest(cx, &c.from, |root, stat| {
        digest_sources(root, &c.sources, &c.exclude, c.parents, stat).map_err(failed)
    })?;
    k.sources("sources", label, value, files);
    for url in c.sources.iter().filter(|s| is_remote_source(s)) {
        let req = RemoteRequest {
            url,
            checksum: c.checksum.as_deref(),
            keep_git_dir: c.keep_git_dir.unwrap_or(false),
        };
        let key = cx.inputs.remote.key(&req).map_err(|e| StepError::Copy {
            instruction: keyword,
            source: e.into(),
        })?;
        // Named without the URL's credentials: names are kept to explain misses.
        k.push(format!("remote {}", redact(url)), key);
    }
    Ok(())
}

/// The inputs RUN's mounts add: what each bind mount reads, and the source a cache mount
/// is seeded from.
fn run_mounts(cx: &StepCx<'_, '_>, r: &RunAction, k: &mut KeyInputs) -> StepResult<()> {
    for m in r.mounts.iter().filter(|m| m.mount.kind == MountType::Bind) {
        let from = m.from.clone().unwrap_or(Source::BuildContext);
        let source = m.mount.source.clone().unwrap_or_else(|| "/".to_string());
        let (value, files) = tree_digest(cx, &from, |root, stat| {
            digest_sources(root, std::slice::from_ref(&source), &[], false, stat).map_err(
                |source| StepError::Copy {
                    instruction: "RUN --mount",
                    source,
                },
            )
        })?;
        let name = format!("mount {}", m.target);
        k.sources(name.clone(), name, value, files);
    }
    // A cache seeded from a stage, image or context: that source is an input of
    // the step, as in BuildKit (the cache's later contents are not).
    for m in r.mounts.iter().filter(|m| m.mount.kind == MountType::Cache) {
        if let Some(from) = &m.from {
            let source = m.mount.source.clone().unwrap_or_else(|| "/".to_string());
            let value = mount_source_identity(cx, from, &source)?;
            k.push(format!("cache mount {} source", m.target), value);
        }
    }
    Ok(())
}

/// What a mount reads from `source` of `from`, as text: the content digest of the
/// selected files of a directory tree, else `stage CHAIN` / `image CHAIN` (the top chain id
/// of its layers). Keys a cache mount seeded from it, as BuildKit keys one by its id and
/// the source snapshot.
pub(crate) fn mount_source_identity(
    cx: &StepCx<'_, '_>,
    from: &Source,
    source: &str,
) -> StepResult<String> {
    let (value, _) = tree_digest(cx, from, |root, stat| {
        digest_sources(root, &[source.to_string()], &[], false, stat).map_err(|source| {
            StepError::Copy {
                instruction: "RUN --mount",
                source,
            }
        })
    })?;
    Ok(value)
}

/// What the stage starts from, for explanations: an image's digest, `scratch`, or
/// `stage NAME CHAIN`.
pub(crate) fn base_identity(
    stores: &Stores<'_>,
    inputs: &Inputs<'_>,
    sp: &StagePlan,
    plans: &[StagePlan],
    base: &StageResult,
) -> String {
    match &sp.base {
        Source::Scratch => "scratch".into(),
        Source::Stage(j) => {
            let label = plans
                .iter()
                .find(|p| p.index == *j)
                .map_or_else(|| format!("stage-{j}"), StagePlan::label);
            format!("stage {label} {}", top_chain(&base.layers))
        }
        Source::Image(reference) => match stores.names.get(reference) {
            Ok(Some(record)) => record.digest.to_string(),
            _ => format!("image {reference} {}", top_chain(&base.layers)),
        },
        Source::Context(name) => match inputs.contexts.get(name) {
            Some(NamedContext::Image(digest)) => digest.to_string(),
            _ => format!("context {name}"),
        },
        Source::BuildContext => "context".into(),
    }
}

/// The chain id of the top of `layers` (`none` for no layers).
pub(crate) fn top_chain(layers: &[Layer]) -> String {
    top_chain_id(layers).map_or_else(|| "none".to_string(), |d| d.to_string())
}

/// Every selected file of a source tree and its digest.
type FileDigests = Vec<(String, oci_spec::image::Digest)>;

/// The digest of what a step reads from `from`: `digest` over a directory tree (the build
/// context with its ignore rules and stat cache, or a named directory), else the top
/// chain id of the stage or image.
fn tree_digest(
    cx: &StepCx<'_, '_>,
    from: &Source,
    digest: impl Fn(
        &SourceRoot<'_>,
        Option<&crate::cache::stat::StatCache>,
    ) -> StepResult<SourcesDigest>,
) -> StepResult<(String, Option<FileDigests>)> {
    let by_files = |d: SourcesDigest| (d.digest.to_string(), Some(d.files));
    let (stores, inputs, platform) = (cx.stores, cx.inputs, cx.platform());
    Ok(match from {
        Source::BuildContext => {
            let root = SourceRoot {
                dir: &inputs.context.root,
                ignore: Some(&inputs.context.ignore),
                kind: SourceKind::Context,
            };
            let stat = cx.cache.and_then(|c| c.stat.as_ref());
            by_files(digest(&root, stat)?)
        }
        Source::Context(name) => match inputs.contexts.get(name) {
            Some(NamedContext::Dir(dir)) => {
                let root = SourceRoot {
                    dir,
                    ignore: None,
                    kind: SourceKind::NamedContext(name.clone()),
                };
                by_files(digest(&root, None)?)
            }
            Some(NamedContext::Image(d)) => {
                let image = images::load(stores.store, d, platform)?;
                (top_chain(&image.layers), None)
            }
            None => {
                return Err(StepError::Context {
                    name: name.clone(),
                    reason: "not given with --build-context".into(),
                })
            }
        },
        Source::Stage(j) => {
            let result = cx.scope.done.get(j).ok_or_else(|| {
                StepError::Internal(format!("stage {j} was not built before it was used"))
            })?;
            (format!("stage {}", top_chain(&result.layers)), None)
        }
        Source::Image(reference) => {
            let image = images::find(stores.store, stores.names, reference, platform)?;
            (format!("image {}", top_chain(&image.layers)), None)
        }
        Source::Scratch => ("scratch".into(), None),
    })
}

/// The build args `step` can see, `(name, value)`: for RUN every ARG in scope, for other
/// steps those their expansion used; never proxy args.
fn visible_args(step: &Step) -> Vec<(&str, &str)> {
    let all_of_them = matches!(step.action, Action::Run(_));
    step.build_args
        .iter()
        .filter(|(name, _)| !is_proxy_arg(name))
        .filter(|(name, _)| all_of_them || step.used_args.contains(name))
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

fn run_instruction(r: &RunAction, build_args: &[(String, String)]) -> String {
    // Build args reach RUN's environment; they are inputs of their own (so a change is
    // explained by name), and proxy args are no input at all.
    let env: Vec<&String> = r
        .env
        .iter()
        .filter(|e| {
            let (k, v) = e.split_once('=').unwrap_or((e.as_str(), ""));
            !build_args
                .iter()
                .any(|(bk, bv)| bk == k && (bv == v || is_proxy_arg(k)))
        })
        .collect();
    let mut out = String::from("RUN\n");
    field(&mut out, "args", &json(&r.args));
    field(&mut out, "env", &json(&env));
    field(&mut out, "user", &json(&r.user));
    field(&mut out, "workdir", &json(&r.workdir));
    field(&mut out, "network", &format!("{:?}", r.network));
    field(&mut out, "security", &format!("{:?}", r.security));
    for m in &r.mounts {
        field(
            &mut out,
            "mount",
            &format!("{:?} {} {:?}", m.mount, json(&m.target), m.from),
        );
    }
    if let Some(script) = &r.script {
        field(
            &mut out,
            "script",
            &format!("{} {}", json(&script.name), json(&script.content)),
        );
    }
    out
}

fn copy_instruction(c: &CopyAction, workdir: &str) -> String {
    let mut out = String::from(if c.add { "ADD\n" } else { "COPY\n" });
    field(&mut out, "from", &format!("{:?}", c.from));
    field(&mut out, "sources", &json(&c.sources));
    for f in &c.inline {
        field(
            &mut out,
            "inline",
            &format!("{} {}", json(&f.name), json(&f.content)),
        );
    }
    field(&mut out, "dest", &json(&c.dest));
    field(&mut out, "workdir", &json(&workdir));
    field(&mut out, "chown", &json(&c.chown));
    field(
        &mut out,
        "chmod",
        &json(&c.chmod.as_ref().map(Chmod::as_str)),
    );
    field(&mut out, "link", &c.link.to_string());
    field(&mut out, "parents", &c.parents.to_string());
    field(&mut out, "exclude", &json(&c.exclude));
    field(&mut out, "checksum", &json(&c.checksum));
    field(&mut out, "unpack", &json(&c.unpack));
    field(&mut out, "keep_git_dir", &json(&c.keep_git_dir));
    out
}

/// How new layers are written: compression, level, clamped times, and whether owners are
/// applied (a build without privileges writes other owners).
fn layer_format(policy: &LayerPolicy) -> String {
    let l = &policy.settings;
    format!(
        "compression={:?} level={:?} source_date_epoch={:?} ownership={:?}",
        l.compression, l.level, l.source_date_epoch, policy.ownership
    )
}

fn field(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push('=');
    out.push_str(value);
    out.push('\n');
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_step(env: &[&str], args: &[(&str, &str)]) -> String {
        let r = RunAction {
            args: vec!["/bin/sh".into(), "-c".into(), "make".into()],
            env: env.iter().map(|s| s.to_string()).collect(),
            proxy_env: vec![("HTTP_PROXY".into(), "http://p".into())],
            user: String::new(),
            workdir: "/".into(),
            network: Default::default(),
            security: Default::default(),
            mounts: Vec::new(),
            script: None,
        };
        let args: Vec<(String, String)> = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        run_instruction(&r, &args)
    }

    #[test]
    fn run_keys_leave_build_args_and_proxies_to_their_own_inputs() {
        let with = run_step(
            &["PATH=/bin", "V=1", "HTTP_PROXY=x"],
            &[("V", "1"), ("HTTP_PROXY", "x")],
        );
        let other = run_step(
            &["PATH=/bin", "V=2", "HTTP_PROXY=y"],
            &[("V", "2"), ("HTTP_PROXY", "y")],
        );
        assert_eq!(with, other);
        assert!(with.contains("env=[\"PATH=/bin\"]"), "{with}");
        // An ENV that overrides an ARG of the same name stays in the instruction.
        let env_wins = run_step(&["PATH=/bin", "V=env"], &[("V", "1")]);
        assert!(env_wins.contains("V=env"), "{env_wins}");
        assert!(!with.contains("http://p"));
    }
}
