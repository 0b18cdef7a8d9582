//! Unit tests of the planner from Dockerfile text: ARG/ENV scoping, config effects, stage
//! references and errors. The golden plans in `testdata/plans/` cover the rendered whole.

use std::collections::BTreeMap;

use super::*;
use crate::dockerfile::error::ParseError;
use crate::dockerfile::instructions::parse_dockerfile;
use crate::domain::config::ExecConfig;
use crate::domain::DEFAULT_PATH;

fn plan_with(
    src: &str,
    f: impl FnOnce(&mut PlanOptions),
    images: &dyn BaseImages,
) -> Result<Plan, ParseError> {
    let ast = crate::dockerfile::parse(src)?;
    let df = parse_dockerfile(&ast)?;
    let mut opts = PlanOptions::new(Platform::linux_amd64());
    f(&mut opts);
    plan(&df, &opts, images)
}

fn plan_of(src: &str) -> Plan {
    plan_with(src, |_| {}, &UnknownImages).unwrap()
}

fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn target(p: &Plan) -> &StagePlan {
    p.target().unwrap()
}

fn run(step: &Step) -> &RunAction {
    match &step.action {
        Action::Run(r) => r,
        other => panic!("not a RUN: {other:?}"),
    }
}

fn history(step: &Step) -> &str {
    &step.history.as_ref().unwrap().created_by
}

fn env_has(env: &[String], kv: &str) -> bool {
    env.iter().any(|e| e == kv)
}

#[test]
fn global_args_are_only_visible_in_from_unless_redeclared() {
    let p = plan_of("ARG V=1\nFROM alpine:$V\nRUN echo a\nARG V\nRUN echo b\n");
    let s = target(&p);
    assert_eq!(s.base, Source::Image("docker.io/library/alpine:1".into()));
    assert!(!run(&s.steps[0]).env.iter().any(|e| e.starts_with("V=")));
    assert_eq!(history(&s.steps[0]), "RUN /bin/sh -c echo a # buildkit");
    assert!(env_has(&run(&s.steps[2]).env, "V=1"));
    assert_eq!(
        history(&s.steps[2]),
        "RUN |1 V=1 /bin/sh -c echo b # buildkit"
    );
}

#[test]
fn build_args_override_defaults_in_both_scopes() {
    let p = plan_with(
        "ARG V=1\nFROM alpine:$V\nARG W=x\nRUN true\n",
        |o| o.build_args = args(&[("V", "2"), ("W", "y"), ("EXTRA", "z")]),
        &UnknownImages,
    )
    .unwrap();
    let s = target(&p);
    assert_eq!(s.base, Source::Image("docker.io/library/alpine:2".into()));
    assert!(env_has(&run(&s.steps[1]).env, "W=y"));
    assert_eq!(p.unused_build_args, vec!["EXTRA".to_string()]);
}

#[test]
fn arg_values_reach_run_but_never_the_image_env() {
    let p = plan_of("FROM alpine\nARG SECRETISH=v\nRUN true\n");
    let s = target(&p);
    assert!(env_has(&run(&s.steps[1]).env, "SECRETISH=v"));
    assert!(!s.config.env.iter().any(|e| e.starts_with("SECRETISH")));
}

#[test]
fn env_overrides_an_earlier_arg_and_expands_against_the_old_env() {
    let p = plan_of("FROM alpine\nARG X=arg\nENV X=env\nENV a=1\nENV a=2 b=$a\nRUN true\n");
    let s = target(&p);
    let r = run(&s.steps[4]);
    assert!(env_has(&r.env, "X=env"));
    assert!(env_has(&r.env, "b=1"));
    assert_eq!(
        history(&s.steps[4]),
        "RUN |1 X=env /bin/sh -c true # buildkit"
    );
    assert_eq!(history(&s.steps[3]), "ENV a=2 b=1");
}

#[test]
fn automatic_platform_args_need_a_declaration_in_a_stage() {
    let p = plan_with(
        "FROM --platform=$BUILDPLATFORM alpine\nRUN a\nARG TARGETARCH\nRUN b\n",
        |o| o.target_platform = Some(Platform::new("linux", "arm64", "")),
        &UnknownImages,
    )
    .unwrap();
    let s = target(&p);
    assert_eq!(s.platform.to_string(), "linux/amd64");
    assert!(!run(&s.steps[0])
        .env
        .iter()
        .any(|e| e.starts_with("TARGETARCH")));
    assert!(env_has(&run(&s.steps[2]).env, "TARGETARCH=arm64"));
}

#[test]
fn proxy_args_reach_run_without_declaration_and_stay_out_of_history() {
    let p = plan_with(
        "FROM alpine\nRUN true\n",
        |o| o.build_args = args(&[("https_proxy", "http://p")]),
        &UnknownImages,
    )
    .unwrap();
    let step = &target(&p).steps[0];
    assert_eq!(run(step).proxy_env.len(), 2);
    assert_eq!(history(step), "RUN /bin/sh -c true # buildkit");
    assert!(p.unused_build_args.is_empty());
}

#[test]
fn entrypoint_resets_only_an_inherited_cmd() {
    let mut images = BTreeMap::new();
    images.insert(
        "docker.io/library/base:latest".to_string(),
        StageConfig {
            exec: ExecConfig {
                cmd: vec!["sh".into()],
                ..ExecConfig::default()
            },
            ..StageConfig::default()
        },
    );
    let p = plan_with("FROM base\nENTRYPOINT [\"/e\"]\n", |_| {}, &images).unwrap();
    assert!(target(&p).config.cmd.is_empty());
    let p = plan_with(
        "FROM base\nCMD [\"c\"]\nENTRYPOINT [\"/e\"]\n",
        |_| {},
        &images,
    )
    .unwrap();
    assert_eq!(target(&p).config.cmd, vec!["c"]);
    assert_eq!(target(&p).config.entrypoint, vec!["/e"]);
}

#[test]
fn shell_and_exec_forms() {
    let p = plan_of("FROM alpine\nSHELL [\"bash\", \"-c\"]\nCMD echo hi\nENTRYPOINT [\"x\"]\n");
    let c = &target(&p).config;
    assert_eq!(c.cmd, vec!["bash", "-c", "echo hi"]);
    assert!(c.args_escaped);
    assert_eq!(
        history(&target(&p).steps[1]),
        r#"CMD ["bash" "-c" "echo hi"]"#
    );
    assert_eq!(history(&target(&p).steps[0]), "SHELL [bash -c]");
}

#[test]
fn workdir_is_relative_to_the_previous_one_and_makes_a_directory() {
    let p = plan_of("FROM alpine\nWORKDIR /a\nWORKDIR b/../c\nWORKDIR /\n");
    let s = target(&p);
    assert_eq!(s.steps[1].config.working_dir, "/a/c");
    assert_eq!(s.steps[1].layer, LayerKind::Mkdir);
    assert!(!s.steps[1].history.as_ref().unwrap().empty_layer);
    assert_eq!(s.steps[2].layer, LayerKind::None);
    assert!(s.steps[2].history.as_ref().unwrap().empty_layer);
}

#[test]
fn config_instructions_and_their_history() {
    let p = plan_of(concat!(
        "FROM alpine\n",
        "LABEL a=1 \"b c\"=\"d e\"\n",
        "EXPOSE 80 53/udp\n",
        "VOLUME /v\n",
        "USER u\n",
        "STOPSIGNAL 9\n",
        "HEALTHCHECK --interval=1m CMD true\n",
        "ONBUILD RUN x\n",
        "MAINTAINER m\n",
    ));
    let s = target(&p);
    let h: Vec<&str> = s
        .steps
        .iter()
        .filter_map(|st| st.history.as_ref())
        .map(|h| h.created_by.as_str())
        .collect();
    assert_eq!(
        h,
        vec![
            "LABEL a=1 b c=d e",
            "EXPOSE [53/udp 80/tcp]",
            "VOLUME [/v]",
            "USER u",
            "STOPSIGNAL 9",
            "HEALTHCHECK {Test:[CMD-SHELL true] Interval:1m0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}",
            "MAINTAINER m",
        ]
    );
    assert_eq!(s.config.on_build, vec!["RUN x"]);
    assert_eq!(s.config.author, "m");
    assert_eq!(s.config.labels.get("b c").map(String::as_str), Some("d e"));
}

#[test]
fn path_is_added_only_when_missing() {
    let mut images = BTreeMap::new();
    images.insert(
        "docker.io/library/withpath:latest".to_string(),
        StageConfig {
            exec: ExecConfig {
                env: vec!["PATH=/x".into()],
                ..ExecConfig::default()
            },
            ..StageConfig::default()
        },
    );
    let p = plan_with("FROM withpath\n", |_| {}, &images).unwrap();
    assert_eq!(target(&p).config.env, vec!["PATH=/x"]);
    let p = plan_of("FROM unknown\n");
    assert_eq!(target(&p).config.env, vec![format!("PATH={DEFAULT_PATH}")]);
}

#[test]
fn onbuild_triggers_of_a_parent_stage_run_first_once() {
    let p = plan_of("FROM alpine AS a\nONBUILD RUN t\nFROM a AS b\nRUN own\nFROM b\n");
    let b = p.stage(1).unwrap();
    assert!(b.steps[0].onbuild);
    assert_eq!(b.steps[0].span, b.span);
    assert!(b.config.on_build.is_empty());
    assert!(target(&p).steps.is_empty());
}

#[test]
fn targets_prune_and_levels_group() {
    let src =
        "FROM alpine AS a\nFROM alpine AS b\nFROM a AS c\nCOPY --from=b / /\nFROM alpine AS d\n";
    let p = plan_with(src, |o| o.target = Some("C".into()), &UnknownImages).unwrap();
    let idx: Vec<usize> = p.stages.iter().map(|s| s.index).collect();
    assert_eq!(idx, vec![0, 1, 2]);
    let lv: Vec<usize> = p.stages.iter().map(|s| s.level).collect();
    assert_eq!(lv, vec![0, 0, 1]);
    assert_eq!(p.stage(2).unwrap().deps, [0, 1].into());
}

#[test]
fn reference_errors_point_at_their_lines() {
    let e = plan_with(
        "FROM alpine AS a\nCOPY --from=a / /\n",
        |_| {},
        &UnknownImages,
    )
    .unwrap_err();
    assert_eq!(e.message, "circular dependency detected on stage: a");
    assert_eq!(e.span.start, 2);
    let e = plan_with(
        "FROM alpine\nFROM alpine\n",
        |o| o.target = Some("x".into()),
        &UnknownImages,
    )
    .unwrap_err();
    assert_eq!(e.span.start, 0);
    let e = plan_with("FROM alpine\nENV A=${B:?no}\n", |_| {}, &UnknownImages).unwrap_err();
    assert_eq!(e.span.start, 2);
    assert!(e.message.ends_with("B: no"), "{}", e.message);
}

/// Knows the config of one named context.
struct OneContext(StageConfig);

impl BaseImages for OneContext {
    fn config(&self, _reference: &str, _platform: &Platform) -> Option<StageConfig> {
        None
    }
    fn context_config(&self, name: &str, _platform: &Platform) -> Option<StageConfig> {
        (name == "base").then(|| self.0.clone())
    }
}

#[test]
fn named_context_with_a_known_image_config_starts_from_it() {
    let known = StageConfig {
        exec: ExecConfig {
            env: vec!["PATH=/bin".into(), "A=1".into()],
            cmd: vec!["sh".into()],
            on_build: vec!["LABEL from=trigger".into()],
            ..ExecConfig::default()
        },
        ..StageConfig::default()
    };
    let p = plan_with(
        "FROM base\nENV B=2\n",
        |o| {
            o.named_contexts.insert("base".into());
        },
        &OneContext(known),
    )
    .unwrap();
    let s = target(&p);
    assert_eq!(s.base, Source::Context("base".into()));
    assert_eq!(s.config.env, vec!["PATH=/bin", "A=1", "B=2"]);
    assert_eq!(s.config.cmd, vec!["sh"]);
    assert!(s.config.on_build.is_empty());
    assert_eq!(s.steps.first().map(|st| st.onbuild), Some(true));
    assert_eq!(
        s.config.labels.get("from").map(String::as_str),
        Some("trigger")
    );

    // Unknown: BuildKit's empty image.
    let p = plan_with(
        "FROM other\n",
        |o| {
            o.named_contexts.insert("other".into());
        },
        &OneContext(StageConfig::default()),
    )
    .unwrap();
    assert_eq!(target(&p).config.working_dir, "/");
}

/// The image references a plan reads, in first-use order, as the build used to list them
/// from the plan itself.
fn plan_images(p: &Plan) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    let mut add = |s: &Source, line: usize| {
        if let Source::Image(r) = s {
            if !out.iter().any(|(x, _)| x == r) {
                out.push((r.clone(), line));
            }
        }
    };
    for stage in &p.stages {
        add(&stage.base, stage.span.start);
        for step in &stage.steps {
            match &step.action {
                Action::Copy(c) => add(&c.from, step.span.start),
                Action::Run(r) => r
                    .mounts
                    .iter()
                    .filter_map(|m| m.from.as_ref())
                    .for_each(|s| add(s, step.span.start)),
                _ => {}
            }
        }
    }
    out
}

#[test]
fn base_images_are_the_plans_images_without_dispatch() {
    let src = "ARG TAG=1\n\
               FROM unused:$TAG AS skipped\n\
               FROM alpine:$TAG AS build\n\
               RUN --mount=type=bind,from=tools:2,target=/t true\n\
               COPY --from=busybox /bin/sh /sh\n\
               FROM build\n\
               COPY --from=build /sh /sh2\n\
               COPY --from=alpine:1 /x /x\n\
               FROM other AS extra\n";
    let images: BTreeMap<String, StageConfig> = [(
        "docker.io/library/alpine:2".to_string(),
        StageConfig {
            exec: crate::domain::config::ExecConfig {
                on_build: vec!["COPY --from=trigger /a /a".to_string()],
                ..Default::default()
            },
            ..StageConfig::default()
        },
    )]
    .into_iter()
    .collect();
    for (build_args, target) in [
        (args(&[]), None),
        (args(&[("TAG", "2")]), None),
        (args(&[]), Some("extra")),
    ] {
        let ast = crate::dockerfile::parse(src).unwrap();
        let df = parse_dockerfile(&ast).unwrap();
        let mut opts = PlanOptions::new(Platform::linux_amd64());
        opts.build_args = build_args.clone();
        opts.target = target.map(String::from);
        let listed: Vec<(String, usize)> = base_images(&df, &opts, &images)
            .unwrap()
            .into_iter()
            .map(|(r, span)| (r, span.start))
            .collect();
        let planned = plan_images(&plan(&df, &opts, &images).unwrap());
        assert_eq!(listed, planned, "{build_args:?} {target:?}");
    }
}

#[test]
fn ssh_mounts_default_to_their_index_among_the_steps_ssh_mounts() {
    let p = plan_of(
        "FROM scratch\n\
         RUN --mount=type=ssh,target=/first --mount=type=ssh,id=b --mount=type=ssh,target=rel true\n",
    );
    let targets: Vec<&str> = run(&target(&p).steps[0])
        .mounts
        .iter()
        .map(|m| m.target.as_str())
        .collect();
    assert_eq!(targets, ["/first", "/run/buildkit/ssh_agent.1", "/rel"]);
}
