//! The `builder debug plan` text: a stable, line-oriented rendering of a [`Plan`] — the
//! stages in run order with base, platform, dependencies and parallel group, then every step
//! numbered and expanded, marked `layer`, `mkdir` or `config`, with the config changes it
//! makes and its history entry. Golden files under `testdata/plans/` pin this format.

use super::args::is_automatic_arg;
use super::config::StageConfig;
use super::gofmt;
use super::model::{Action, CopyAction, LayerKind, Plan, RunAction, Source, StagePlan, Step};
use crate::domain::config::History;

/// Render `plan` as text (ends with a newline).
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let target = plan.target().map(StagePlan::label).unwrap_or_default();
    line(&mut out, 0, &format!("target: {target}"));
    line(
        &mut out,
        0,
        &format!(
            "platforms: target {}, build {}",
            plan.target_platform, plan.build_platform
        ),
    );
    let globals: Vec<String> = plan
        .global_args
        .iter()
        .filter(|(k, _)| !is_automatic_arg(k))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !globals.is_empty() {
        line(&mut out, 0, &format!("global args: {}", globals.join(" ")));
    }
    if !plan.unused_build_args.is_empty() {
        line(
            &mut out,
            0,
            &format!("unused build args: {}", plan.unused_build_args.join(" ")),
        );
    }
    for stage in &plan.stages {
        out.push('\n');
        render_stage(&mut out, plan, stage);
    }
    if let Some(t) = plan.target() {
        out.push('\n');
        line(&mut out, 0, &format!("== image (target {}) ==", t.label()));
        for l in config_lines(&t.config) {
            line(&mut out, 1, &l);
        }
        line(&mut out, 0, "history:");
        for h in &t.history {
            line(&mut out, 1, &history_text(h));
        }
    }
    out
}

fn line(out: &mut String, indent: usize, text: &str) {
    for _ in 0..indent {
        out.push_str("  ");
    }
    out.push_str(text);
    out.push('\n');
}

fn source_text(plan: &Plan, s: &Source) -> String {
    match s {
        Source::BuildContext => "context".to_string(),
        Source::Scratch => "scratch".to_string(),
        Source::Stage(i) => match plan.stage(*i) {
            Some(st) => format!("stage {}", st.label()),
            None => format!("stage {i}"),
        },
        Source::Image(r) => format!("image {r}"),
        Source::Context(n) => format!("named context {n}"),
    }
}

fn render_stage(out: &mut String, plan: &Plan, stage: &StagePlan) {
    line(
        out,
        0,
        &format!(
            "== stage {} {} (line {}) ==",
            stage.index,
            stage.label(),
            stage.span.start
        ),
    );
    line(out, 0, &format!("from: {}", source_text(plan, &stage.base)));
    line(out, 0, &format!("platform: {}", stage.platform));
    let deps: Vec<String> = stage
        .deps
        .iter()
        .map(|d| {
            plan.stage(*d)
                .map(StagePlan::label)
                .unwrap_or(d.to_string())
        })
        .collect();
    let deps = if deps.is_empty() {
        "none".to_string()
    } else {
        deps.join(", ")
    };
    line(out, 0, &format!("deps: {deps}"));
    line(out, 0, &format!("parallel group: {}", stage.level));
    match &stage.base {
        Source::Stage(_) => {}
        _ => {
            line(out, 0, "config at start:");
            for l in config_lines(&stage.base_config) {
                line(out, 1, &l);
            }
        }
    }
    let mut before = stage.base_config.clone();
    for (n, step) in stage.steps.iter().enumerate() {
        render_step(out, plan, n + 1, step, &before);
        before = step.config.clone();
    }
}

fn render_step(out: &mut String, plan: &Plan, n: usize, step: &Step, before: &StageConfig) {
    let kind = match step.layer {
        LayerKind::Layer => "layer",
        LayerKind::Mkdir => "mkdir",
        LayerKind::None => "config",
    };
    let onbuild = if step.onbuild { " onbuild" } else { "" };
    line(
        out,
        0,
        &format!(
            "step {n} (line {}) [{kind}{onbuild}] {}",
            step.span.start,
            escape(&step.display)
        ),
    );
    match &step.action {
        Action::Run(r) => render_run(out, plan, r),
        Action::Copy(c) => render_copy(out, plan, c),
        Action::Workdir { path } => line(out, 1, &format!("workdir: {path}")),
        Action::Config => {}
    }
    if matches!(step.action, Action::Run(_)) && !step.build_args.is_empty() {
        let a: Vec<String> = step
            .build_args
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        line(out, 1, &format!("args in scope: {}", escape(&a.join(" "))));
    }
    if !step.used_args.is_empty() {
        let u: Vec<&str> = step.used_args.iter().map(String::as_str).collect();
        line(out, 1, &format!("args used: {}", u.join(" ")));
    }
    for l in config_diff(before, &step.config) {
        line(out, 1, &format!("config: {l}"));
    }
    match &step.history {
        Some(h) => line(out, 1, &format!("history: {}", history_text(h))),
        None => line(out, 1, "history: none"),
    }
}

fn render_run(out: &mut String, plan: &Plan, r: &RunAction) {
    line(out, 1, &format!("run: {}", gofmt::quote_slice(&r.args)));
    line(out, 1, &format!("workdir: {}", r.workdir));
    if !r.user.is_empty() {
        line(out, 1, &format!("user: {}", r.user));
    }
    line(out, 1, &format!("env: {}", gofmt::quote_slice(&r.env)));
    if !r.proxy_env.is_empty() {
        let p: Vec<String> = r
            .proxy_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        line(out, 1, &format!("proxy env: {}", p.join(" ")));
    }
    if r.network.as_str() != "default" {
        line(out, 1, &format!("network: {}", r.network.as_str()));
    }
    if r.security.as_str() != "sandbox" {
        line(out, 1, &format!("security: {}", r.security.as_str()));
    }
    for m in &r.mounts {
        let mut parts = vec![format!("type={}", m.mount.kind.as_str())];
        if !m.target.is_empty() {
            parts.push(format!("target={}", m.target));
        }
        if let Some(from) = &m.from {
            parts.push(format!("from={}", source_text(plan, from)));
        }
        if let Some(s) = &m.mount.source {
            parts.push(format!("source={s}"));
        }
        if let Some(id) = &m.mount.id {
            parts.push(format!("id={id}"));
        }
        if m.mount.read_only {
            parts.push("readonly".to_string());
        }
        if let Some(s) = m.mount.sharing {
            parts.push(format!("sharing={}", s.as_str()));
        }
        if let Some(mode) = m.mount.mode {
            parts.push(format!("mode={mode:o}"));
        }
        if let Some(uid) = m.mount.uid {
            parts.push(format!("uid={uid}"));
        }
        if let Some(gid) = m.mount.gid {
            parts.push(format!("gid={gid}"));
        }
        if m.mount.required {
            parts.push("required".to_string());
        }
        if let Some(env) = &m.mount.env {
            parts.push(format!("env={env}"));
        }
        line(out, 1, &format!("mount: {}", parts.join(",")));
    }
    if let Some(f) = &r.script {
        line(
            out,
            1,
            &format!("script: /dev/pipes/{} {}", f.name, gofmt::quote(&f.content)),
        );
    }
}

fn render_copy(out: &mut String, plan: &Plan, c: &CopyAction) {
    line(out, 1, &format!("from: {}", source_text(plan, &c.from)));
    if !c.sources.is_empty() {
        line(
            out,
            1,
            &format!("sources: {}", gofmt::quote_slice(&c.sources)),
        );
    }
    for f in &c.inline {
        line(
            out,
            1,
            &format!("inline: {} {}", f.name, gofmt::quote(&f.content)),
        );
    }
    line(out, 1, &format!("dest: {}", c.dest));
    let mut flags = Vec::new();
    if let Some(v) = &c.chown {
        flags.push(format!("chown={v}"));
    }
    if let Some(v) = &c.chmod {
        flags.push(format!("chmod={v}"));
    }
    if c.link {
        flags.push("link".to_string());
    }
    if c.parents {
        flags.push("parents".to_string());
    }
    for e in &c.exclude {
        flags.push(format!("exclude={e}"));
    }
    if let Some(v) = &c.checksum {
        flags.push(format!("checksum={v}"));
    }
    if let Some(v) = c.keep_git_dir {
        flags.push(format!("keep-git-dir={v}"));
    }
    if let Some(v) = c.unpack {
        flags.push(format!("unpack={v}"));
    }
    if !flags.is_empty() {
        line(out, 1, &format!("flags: {}", flags.join(" ")));
    }
}

fn history_text(h: &History) -> String {
    let empty = if h.empty_layer { " (empty layer)" } else { "" };
    format!("{}{empty}", escape(&h.created_by))
}

/// Text with control characters, when present, shown Go-quoted so each item stays on one line.
fn escape(s: &str) -> String {
    if s.chars().any(|c| c.is_control()) {
        gofmt::quote(s)
    } else {
        s.to_string()
    }
}

fn healthcheck_text(c: &StageConfig) -> String {
    match &c.healthcheck {
        Some(h) => gofmt::healthcheck(h),
        None => "none".to_string(),
    }
}

/// Every field of `c` that is set, one per line.
pub(super) fn config_lines(c: &StageConfig) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |name: &str, value: String| out.push(format!("{name}: {}", escape(&value)));
    if !c.env.is_empty() {
        push("Env", gofmt::quote_slice(&c.env));
    }
    if !c.user.is_empty() {
        push("User", c.user.clone());
    }
    if !c.working_dir.is_empty() {
        push("WorkingDir", c.working_dir.clone());
    }
    if !c.entrypoint.is_empty() {
        push("Entrypoint", gofmt::quote_slice(&c.entrypoint));
    }
    if !c.cmd.is_empty() {
        push("Cmd", gofmt::quote_slice(&c.cmd));
    }
    if c.args_escaped {
        push("ArgsEscaped", "true".to_string());
    }
    if !c.shell.is_empty() {
        push("Shell", gofmt::quote_slice(&c.shell));
    }
    if !c.labels.is_empty() {
        let l: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        push("Labels", gofmt::quote_slice(&l));
    }
    if !c.exposed_ports.is_empty() {
        let p: Vec<String> = c.exposed_ports.iter().cloned().collect();
        push("ExposedPorts", gofmt::slice(&p));
    }
    if !c.volumes.is_empty() {
        let v: Vec<String> = c.volumes.iter().cloned().collect();
        push("Volumes", gofmt::slice(&v));
    }
    if !c.stop_signal.is_empty() {
        push("StopSignal", c.stop_signal.clone());
    }
    if c.healthcheck.is_some() {
        push("Healthcheck", healthcheck_text(c));
    }
    if !c.on_build.is_empty() {
        push("OnBuild", gofmt::quote_slice(&c.on_build));
    }
    if !c.author.is_empty() {
        push("Author", c.author.clone());
    }
    out
}

/// The fields that differ between `a` and `b`, as `Field = new value` lines.
fn config_diff(a: &StageConfig, b: &StageConfig) -> Vec<String> {
    let mut out = Vec::new();
    let mut changed = |name: &str, differs: bool, value: String| {
        if differs {
            out.push(format!("{name} = {}", escape(&value)));
        }
    };
    changed("Env", a.env != b.env, gofmt::quote_slice(&b.env));
    changed("User", a.user != b.user, b.user.clone());
    changed(
        "WorkingDir",
        a.working_dir != b.working_dir,
        b.working_dir.clone(),
    );
    changed(
        "Entrypoint",
        a.entrypoint != b.entrypoint,
        gofmt::quote_slice(&b.entrypoint),
    );
    changed("Cmd", a.cmd != b.cmd, gofmt::quote_slice(&b.cmd));
    changed(
        "ArgsEscaped",
        a.args_escaped != b.args_escaped,
        b.args_escaped.to_string(),
    );
    changed("Shell", a.shell != b.shell, gofmt::quote_slice(&b.shell));
    let labels: Vec<String> = b.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    changed("Labels", a.labels != b.labels, gofmt::quote_slice(&labels));
    let ports: Vec<String> = b.exposed_ports.iter().cloned().collect();
    changed(
        "ExposedPorts",
        a.exposed_ports != b.exposed_ports,
        gofmt::slice(&ports),
    );
    let vols: Vec<String> = b.volumes.iter().cloned().collect();
    changed("Volumes", a.volumes != b.volumes, gofmt::slice(&vols));
    changed(
        "StopSignal",
        a.stop_signal != b.stop_signal,
        b.stop_signal.clone(),
    );
    changed(
        "Healthcheck",
        a.healthcheck != b.healthcheck,
        healthcheck_text(b),
    );
    changed(
        "OnBuild",
        a.on_build != b.on_build,
        gofmt::quote_slice(&b.on_build),
    );
    changed("Author", a.author != b.author, b.author.clone());
    out
}
