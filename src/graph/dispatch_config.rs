//! Config-only instructions (and WORKDIR): their effect on the image config and the stage's
//! variables, and the history text BuildKit writes for each (`convert.go` `dispatch*`):
//!
//! | instruction | history `created_by` |
//! |---|---|
//! | ENV | `ENV a=b c=d` |
//! | LABEL | `LABEL a=b` |
//! | ARG | `ARG A=1 B` (resolved values) |
//! | USER | `USER app` |
//! | WORKDIR | `WORKDIR /abs/path` (a layer unless `/`) |
//! | EXPOSE | `EXPOSE [80/tcp 53/udp]` |
//! | VOLUME | `VOLUME [/a /b]` |
//! | STOPSIGNAL | `STOPSIGNAL SIGTERM` |
//! | SHELL | `SHELL [/bin/bash -c]` |
//! | CMD, ENTRYPOINT | `CMD ["/bin/sh" "-c" "x"]` (Go `%q`) |
//! | HEALTHCHECK | `HEALTHCHECK {Test:[...] Interval:30s ...}` (Go `%+v`) |
//! | MAINTAINER | `MAINTAINER name` |
//! | ONBUILD | none: the trigger is only recorded in the config |

use std::collections::BTreeSet;

use crate::dockerfile::error::ParseError;
use crate::dockerfile::instructions::{
    ArgCommand, CommandLine, HealthConfig, Instruction, WorkdirCommand,
};

use super::args::{stage_arg_value, ArgDecl, EnvList};
use super::dispatch::{display_name, normalize_workdir, Ctx, Outcome, StageState};
use super::expose::parse_port_specs;
use super::gofmt;
use super::model::{Action, LayerKind};
use super::signal::parse_signal;
use crate::domain::config::{Healthcheck, History};

/// Names BuildKit never puts into a stage's variables.
const NON_ENV_ARGS: [&str; 2] = ["BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"];

/// The shell a shell-form command runs under: SHELL, else the platform default.
pub(super) fn with_shell(state: &StageState, args: &[String]) -> Vec<String> {
    let mut shell = if state.config.shell.is_empty() {
        if state.platform.os == "windows" {
            vec!["cmd".to_string(), "/S".to_string(), "/C".to_string()]
        } else {
            vec!["/bin/sh".to_string(), "-c".to_string()]
        }
    } else {
        state.config.shell.clone()
    };
    shell.push(args.join(" "));
    shell
}

/// ARG: each `NAME[=default]` in order, its value resolved (build arg, expanded default,
/// global value) and put into the stage's variables.
pub(super) fn arg(
    ctx: &Ctx<'_>,
    state: &mut StageState,
    c: &ArgCommand,
    used: &mut BTreeSet<String>,
) -> Result<Outcome, ParseError> {
    let mut parts = Vec::new();
    for pair in &c.args {
        let decl = ArgDecl {
            key: &pair.key,
            value: pair.value.as_deref(),
            span: c.span,
        };
        let (value, refs) =
            stage_arg_value(&decl, ctx.build_args, ctx.global, &state.env, &ctx.lexer)?;
        used.extend(refs);
        if let Some(v) = &value {
            if !NON_ENV_ARGS.contains(&pair.key.as_str()) {
                state.env.set(&pair.key, v);
            }
        }
        parts.push(match &value {
            Some(v) => format!("{}={v}", pair.key),
            None => pair.key.clone(),
        });
        state.build_args.push((pair.key.clone(), value));
    }
    Ok(Outcome::config(format!("ARG {}", parts.join(" "))))
}

/// Every other config instruction, expanded already: the variables, filesystem and
/// signal settings here, the command and metadata ones in [`command_config`].
pub(super) fn config(
    ctx: &Ctx<'_>,
    state: &mut StageState,
    instr: &Instruction,
    env: &EnvList,
) -> Result<Outcome, String> {
    match instr {
        Instruction::Env(c) => {
            let mut msg = String::from("ENV");
            for kv in &c.env {
                msg.push_str(&format!(" {}={}", kv.key, kv.value));
                state.env.set(&kv.key, &kv.value);
                state.config.env_set(&kv.key, &kv.value);
            }
            Ok(Outcome::config(msg))
        }
        Instruction::Label(c) => {
            let mut msg = String::from("LABEL");
            for kv in &c.labels {
                msg.push_str(&format!(" {}={}", kv.key, kv.value));
                state.config.labels.insert(kv.key.clone(), kv.value.clone());
            }
            Ok(Outcome::config(msg))
        }
        Instruction::User(c) => {
            state.user = c.user.clone();
            state.config.user = c.user.clone();
            Ok(Outcome::config(format!("USER {}", c.user)))
        }
        Instruction::Workdir(c) => workdir(ctx, state, c, env),
        Instruction::Expose(c) => {
            let ports = parse_port_specs(&c.ports)?;
            state.config.exposed_ports.extend(ports.iter().cloned());
            Ok(Outcome::config(format!("EXPOSE {}", gofmt::slice(&ports))))
        }
        Instruction::Volume(c) => {
            if c.volumes.iter().any(String::is_empty) {
                return Err("VOLUME specified can not be an empty string".to_string());
            }
            state.config.volumes.extend(c.volumes.iter().cloned());
            Ok(Outcome::config(format!(
                "VOLUME {}",
                gofmt::slice(&c.volumes)
            )))
        }
        Instruction::StopSignal(c) => {
            parse_signal(&c.signal)?;
            state.config.stop_signal = c.signal.clone();
            Ok(Outcome::config(format!("STOPSIGNAL {}", c.signal)))
        }
        Instruction::Shell(c) => {
            state.config.shell = c.shell.clone();
            Ok(Outcome::config(format!("SHELL {}", gofmt::slice(&c.shell))))
        }
        other => command_config(state, other),
    }
}

/// The config instructions about the container's command and metadata: CMD, ENTRYPOINT,
/// HEALTHCHECK, MAINTAINER and ONBUILD; anything else is not allowed here.
fn command_config(state: &mut StageState, instr: &Instruction) -> Result<Outcome, String> {
    match instr {
        Instruction::Cmd(c) => {
            let args = command_args(state, &c.cmd_line);
            state.config.cmd = args.clone();
            state.config.args_escaped = true;
            state.cmd_set = true;
            Ok(Outcome::config(format!(
                "CMD {}",
                gofmt::quote_slice(&args)
            )))
        }
        Instruction::Entrypoint(c) => {
            let args = command_args(state, &c.cmd_line);
            state.config.entrypoint = args.clone();
            if !state.cmd_set {
                state.config.cmd.clear();
            }
            Ok(Outcome::config(format!(
                "ENTRYPOINT {}",
                gofmt::quote_slice(&args)
            )))
        }
        Instruction::Healthcheck(c) => {
            let h = healthcheck(&c.health);
            let msg = format!("HEALTHCHECK {}", gofmt::healthcheck(&h));
            state.config.healthcheck = Some(h);
            Ok(Outcome::config(msg))
        }
        Instruction::Maintainer(c) => {
            state.config.author = c.maintainer.clone();
            Ok(Outcome::config(format!("MAINTAINER {}", c.maintainer)))
        }
        Instruction::Onbuild(c) => {
            state.config.on_build.push(c.expression.clone());
            Ok(Outcome {
                display: c.original.clone(),
                action: Action::Config,
                layer: LayerKind::None,
                history: None,
                deps: Vec::new(),
            })
        }
        other => Err(format!("{} is not allowed here", other.name())),
    }
}

/// WORKDIR: the new directory, made as a layer unless it is `/`.
fn workdir(
    ctx: &Ctx<'_>,
    state: &mut StageState,
    c: &WorkdirCommand,
    env: &EnvList,
) -> Result<Outcome, String> {
    if c.path.is_empty() {
        return Err("normalizing workdir: cannot normalize empty path".to_string());
    }
    let wd = normalize_workdir(&state.config.working_dir, &c.path);
    state.config.working_dir = wd.clone();
    state.workdir = wd.clone();
    let layer = wd != "/";
    Ok(Outcome {
        display: display_name(&ctx.lexer, &c.original, env),
        action: Action::Workdir { path: wd.clone() },
        layer: if layer {
            LayerKind::Mkdir
        } else {
            LayerKind::None
        },
        history: Some(History::new(format!("WORKDIR {wd}"), !layer)),
        deps: Vec::new(),
    })
}

/// The argv of CMD or ENTRYPOINT: as written, or under the shell for the shell form.
fn command_args(state: &StageState, line: &CommandLine) -> Vec<String> {
    if line.prepend_shell {
        with_shell(state, &line.args)
    } else {
        line.args.clone()
    }
}

/// The config's healthcheck for HEALTHCHECK, durations in nanoseconds.
fn healthcheck(health: &HealthConfig) -> Healthcheck {
    let nanos = |d: std::time::Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    Healthcheck {
        test: health.test.clone(),
        interval: nanos(health.interval),
        timeout: nanos(health.timeout),
        start_period: nanos(health.start_period),
        start_interval: nanos(health.start_interval),
        retries: i64::from(health.retries),
    }
}
