//! Dispatch: running a stage's instructions in order over a [`StageState`] — the stage's
//! variables (ARG values and ENV, BuildKit's llb state env), working directory, user, image
//! config and history — and recording one [`Step`] per instruction.
//!
//! Every instruction but ARG is first expanded against the variables in force *before* it
//! ([`StageExpander`]), so `ENV a=x b=$a` sees the old `a`. The per-instruction effects live
//! in `dispatch_config.rs`, `dispatch_run.rs` and `dispatch_copy.rs`.

use std::collections::{BTreeMap, BTreeSet};

use crate::dockerfile::ast::Span;
use crate::dockerfile::error::ParseError;
use crate::dockerfile::instructions::{Expander, Instruction};
use crate::dockerfile::shell::Lexer;

use super::args::EnvList;
use super::config::StageConfig;
use super::model::{Action, LayerKind, Source, Step};
use super::stages::StageHead;
use super::{dispatch_config, dispatch_copy, dispatch_run};
use crate::domain::config::History;
use crate::domain::Platform;

/// What every stage's dispatch shares.
pub(super) struct Ctx<'a> {
    /// The Dockerfile's lexer (its escape character).
    pub lexer: Lexer,
    /// The global scope (automatic args and meta ARGs).
    pub global: &'a EnvList,
    /// `--build-arg` values.
    pub build_args: &'a BTreeMap<String, String>,
    /// Proxy variables for RUN.
    pub proxy_env: Vec<(String, String)>,
    /// All stages, for `--from` lookups.
    pub heads: &'a [StageHead],
    /// `--build-context` names.
    pub contexts: &'a BTreeSet<String>,
}

impl Ctx<'_> {
    /// The stage name BuildKit uses in messages.
    pub fn stage_name(&self, index: usize) -> String {
        super::stages::stage_label(self.heads, index)
    }
}

/// A stage being dispatched.
#[derive(Debug, Clone)]
pub(super) struct StageState {
    /// Dockerfile index.
    pub index: usize,
    /// The FROM line (also the location of ONBUILD triggers).
    pub span: Span,
    /// Platform.
    pub platform: Platform,
    /// The config the stage started with.
    pub base_config: StageConfig,
    /// Image config so far.
    pub config: StageConfig,
    /// Variables in force: ENV and ARG values.
    pub env: EnvList,
    /// Working directory in force (absolute; `/` when none).
    pub workdir: String,
    /// User in force.
    pub user: String,
    /// ARGs declared in this stage and its base stages, with their values.
    pub build_args: Vec<(String, Option<String>)>,
    /// History so far (a base stage's included).
    pub history: Vec<History>,
    /// History entries written by this stage.
    pub own_history: Vec<History>,
    /// CMD was set in this stage (ENTRYPOINT then keeps it).
    pub cmd_set: bool,
    /// Steps recorded.
    pub steps: Vec<Step>,
    /// Stages this stage needs.
    pub deps: BTreeSet<usize>,
}

impl StageState {
    /// A stage starting from `config`, as BuildKit initialises a state from its base image:
    /// PATH filled in, the image's variables, working directory and user in force.
    pub fn from_config(
        index: usize,
        span: Span,
        platform: Platform,
        mut config: StageConfig,
    ) -> Self {
        config.ensure_path(&platform.os);
        let mut state = StageState {
            index,
            span,
            platform,
            base_config: StageConfig::default(),
            config: StageConfig::default(),
            env: EnvList::new(),
            workdir: "/".to_string(),
            user: String::new(),
            build_args: Vec::new(),
            history: Vec::new(),
            own_history: Vec::new(),
            cmd_set: false,
            steps: Vec::new(),
            deps: BTreeSet::new(),
        };
        state.apply_base(config);
        state
    }

    /// A stage starting from a dispatched parent stage (BuildKit's `init`): its variables,
    /// ARGs, history and config, minus ONBUILD triggers.
    pub fn from_parent(index: usize, span: Span, parent: &StageState) -> Self {
        let mut config = parent.config.clone();
        config.on_build.clear();
        config.ensure_path(&parent.platform.os);
        let mut state = StageState {
            index,
            span,
            platform: parent.platform.clone(),
            base_config: StageConfig::default(),
            config: StageConfig::default(),
            env: parent.env.clone(),
            workdir: parent.workdir.clone(),
            user: parent.user.clone(),
            build_args: parent.build_args.clone(),
            history: parent.history.clone(),
            own_history: Vec::new(),
            cmd_set: false,
            steps: Vec::new(),
            deps: BTreeSet::new(),
        };
        state.apply_base(config);
        state
    }

    fn apply_base(&mut self, mut config: StageConfig) {
        for e in &config.env {
            let (k, v) = e.split_once('=').unwrap_or((e.as_str(), ""));
            self.env.set(k, v);
        }
        if !config.working_dir.is_empty() {
            let wd = normalize_workdir("/", &config.working_dir);
            config.working_dir = wd.clone();
            self.workdir = wd;
        }
        self.user = config.user.clone();
        self.base_config = config.clone();
        self.config = config;
    }

    /// Append a history entry.
    pub fn commit(&mut self, entry: History) {
        self.history.push(entry.clone());
        self.own_history.push(entry);
    }

    /// The ARGs in scope with their values as RUN's history shows them: the variable's
    /// current value if set (ENV may have overridden it), else the ARG's own value; one
    /// entry per name, in first-declaration order.
    pub fn args_in_scope(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in &self.build_args {
            let value = self
                .env
                .lookup(k)
                .map(str::to_string)
                .unwrap_or_else(|| v.clone().unwrap_or_default());
            match out.iter_mut().find(|(ok, _)| ok == k) {
                Some(slot) => slot.1 = value,
                None => out.push((k.clone(), value)),
            }
        }
        out
    }
}

/// Go's `path.Clean` of an absolute path.
pub(super) fn clean_abs(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// BuildKit's `NormalizeWorkdir` on Linux: `wd` made absolute against `current`, cleaned.
pub(super) fn normalize_workdir(current: &str, wd: &str) -> String {
    if wd.starts_with('/') {
        clean_abs(wd)
    } else {
        clean_abs(&format!("{current}/{wd}"))
    }
}

/// BuildKit's `pathRelativeToWorkingDir` for COPY destinations and mount targets: absolute
/// and cleaned, a trailing `/` (or `/.`) kept.
pub(super) fn path_in_workdir(workdir: &str, p: &str) -> String {
    let p = if p.is_empty() || p == "." { "./" } else { p };
    let joined = if p.starts_with('/') {
        clean_abs(p)
    } else {
        clean_abs(&format!("{workdir}/{p}"))
    };
    if p.ends_with("/.") {
        if joined == "/" {
            "/.".to_string()
        } else {
            format!("{joined}/.")
        }
    } else if p.ends_with('/') && !joined.ends_with('/') {
        format!("{joined}/")
    } else {
        joined
    }
}

/// Expands words against a stage's variables and records which ones were used.
pub(super) struct StageExpander<'a> {
    lexer: Lexer,
    env: &'a EnvList,
    /// Variable names referenced and set.
    pub used: BTreeSet<String>,
}

impl<'a> StageExpander<'a> {
    /// An expander over `env` with `lexer`.
    pub fn new(lexer: Lexer, env: &'a EnvList) -> Self {
        StageExpander {
            lexer,
            env,
            used: BTreeSet::new(),
        }
    }
}

impl Expander for StageExpander<'_> {
    fn word(&mut self, word: &str) -> Result<String, String> {
        let (out, m) = self
            .lexer
            .process_word_with_matches(word, self.env)
            .map_err(|e| e.in_word(word))?;
        self.used.extend(m.matched);
        Ok(out)
    }

    fn words(&mut self, text: &str) -> Result<Vec<String>, String> {
        if let Ok((_, m)) = self.lexer.process_word_with_matches(text, self.env) {
            self.used.extend(m.matched);
        }
        self.lexer
            .process_words(text, self.env)
            .map_err(|e| e.in_word(text))
    }

    fn raw(&mut self, text: &str) -> Result<String, String> {
        let raw = Lexer::new('\\').skip_process_quotes(true);
        let (out, m) = raw
            .process_word_with_matches(text, self.env)
            .map_err(|e| e.in_word(text))?;
        self.used.extend(m.matched);
        Ok(out)
    }
}

/// BuildKit's progress name of a step: the instruction as written, expanded with `lexer`
/// (errors leave it as written), keyword upper-cased.
pub(super) fn display_name(lexer: &Lexer, original: &str, env: &EnvList) -> String {
    let text = lexer
        .process_word(original, env)
        .unwrap_or_else(|_| original.to_string());
    match text.split_once(' ') {
        Some((kw, rest)) => format!("{} {rest}", kw.to_uppercase()),
        None => text.to_uppercase(),
    }
}

/// One instruction to dispatch, and whether it is an ONBUILD trigger of the base.
#[derive(Debug, Clone)]
pub(super) struct Command {
    /// The instruction.
    pub instr: Instruction,
    /// True for a trigger.
    pub onbuild: bool,
}

/// What a dispatched instruction produced, before it becomes a [`Step`].
pub(super) struct Outcome {
    /// Progress name.
    pub display: String,
    /// Typed fields.
    pub action: Action,
    /// Layer effect.
    pub layer: LayerKind,
    /// History entry, if any.
    pub history: Option<History>,
    /// Stage dependency found while dispatching (`COPY --from`, mounts).
    pub deps: Vec<usize>,
}

impl Outcome {
    /// A config-only step with a history entry `created_by` (empty layer).
    pub fn config(created_by: String) -> Self {
        Outcome {
            display: created_by.clone(),
            action: Action::Config,
            layer: LayerKind::None,
            history: Some(History::new(created_by, true)),
            deps: Vec::new(),
        }
    }
}

/// Dispatch `commands` over `state`, recording steps.
pub(super) fn dispatch_all(
    ctx: &Ctx<'_>,
    state: &mut StageState,
    commands: &[Command],
) -> Result<(), ParseError> {
    for cmd in commands {
        // Errors of an ONBUILD trigger point at the FROM line that ran it.
        let span = if cmd.onbuild {
            state.span
        } else {
            cmd.instr.span()
        };
        let at_span = |e: ParseError| ParseError::new(span, e.message);
        let before_env = state.env.clone();
        let workdir_before = match state.config.working_dir.as_str() {
            "" => "/".to_string(),
            dir => dir.to_string(),
        };
        let user_before = state.config.user.clone();
        let mut instr = cmd.instr.clone();
        let mut used = BTreeSet::new();
        if !matches!(instr, Instruction::Arg(_)) {
            let mut ex = StageExpander::new(ctx.lexer, &before_env);
            instr.expand(&mut ex).map_err(at_span)?;
            used = ex.used;
        }
        let outcome =
            dispatch_one(ctx, state, &instr, &before_env, span, &mut used).map_err(at_span)?;
        let declared: BTreeSet<&String> = state.build_args.iter().map(|(k, _)| k).collect();
        used.retain(|u| declared.contains(u));
        if let Some(h) = &outcome.history {
            state.commit(h.clone());
        }
        state.deps.extend(outcome.deps.iter().copied());
        let step = Step {
            span,
            keyword: instr.name().to_string(),
            onbuild: cmd.onbuild,
            original: instr.original().to_string(),
            display: outcome.display,
            action: outcome.action,
            layer: outcome.layer,
            build_args: state.args_in_scope(),
            used_args: used,
            config: state.config.clone(),
            workdir_before,
            user_before,
            history: outcome.history,
        };
        state.steps.push(step);
    }
    Ok(())
}

fn dispatch_one(
    ctx: &Ctx<'_>,
    state: &mut StageState,
    instr: &Instruction,
    env: &EnvList,
    span: Span,
    used: &mut BTreeSet<String>,
) -> Result<Outcome, ParseError> {
    let err = |m: String| ParseError::new(span, m);
    match instr {
        Instruction::Run(c) => dispatch_run::run(ctx, state, c, env, span),
        Instruction::Copy(c) => dispatch_copy::copy(ctx, state, c, env, span),
        Instruction::Add(c) => dispatch_copy::add(ctx, state, c, env, span),
        Instruction::Arg(c) => dispatch_config::arg(ctx, state, c, used),
        other => dispatch_config::config(ctx, state, other, env).map_err(err),
    }
}

/// How a step uses another stage, for messages.
#[derive(Debug, Clone, Copy)]
pub(super) enum Use {
    /// `COPY --from`.
    Copy,
    /// `RUN --mount from=`.
    Mount,
}

/// The stage a `--from` source names, if it is a stage; an error when that stage is not
/// built yet (a later stage): `cannot copy from stage "x", it needs to be defined before
/// current stage "y"` (BuildKit's words; the same check for mounts says "mount").
pub(super) fn source_stage(
    ctx: &Ctx<'_>,
    state: &StageState,
    source: &Source,
    from: &str,
    how: Use,
    span: Span,
) -> Result<Option<usize>, ParseError> {
    let verb = match how {
        Use::Copy => "copy",
        Use::Mount => "mount",
    };
    match source {
        Source::Stage(j) if *j >= state.index => Err(ParseError::new(
            span,
            format!(
                "cannot {verb} from stage {from:?}, it needs to be defined before current stage {:?}",
                ctx.stage_name(state.index)
            ),
        )),
        Source::Stage(j) => Ok(Some(*j)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdir_normalisation() {
        assert_eq!(normalize_workdir("/", "app"), "/app");
        assert_eq!(normalize_workdir("/app", "src/../lib/"), "/app/lib");
        assert_eq!(normalize_workdir("/app", "/abs//x/"), "/abs/x");
        assert_eq!(normalize_workdir("/a", ".."), "/");
    }

    #[test]
    fn copy_destination_keeps_trailing_slash() {
        assert_eq!(path_in_workdir("/app", "dst/"), "/app/dst/");
        assert_eq!(path_in_workdir("/app", "."), "/app/");
        assert_eq!(path_in_workdir("/app", ""), "/app/");
        assert_eq!(path_in_workdir("/", "."), "/");
        assert_eq!(path_in_workdir("/app", "/x/../y"), "/y");
        assert_eq!(path_in_workdir("/app", "f"), "/app/f");
        assert_eq!(path_in_workdir("/app", "d/."), "/app/d/.");
    }

    #[test]
    fn args_in_scope_prefer_current_values() {
        let mut s = StageState::from_config(
            0,
            Span::default(),
            Platform::linux_amd64(),
            StageConfig::default(),
        );
        s.build_args.push(("A".into(), Some("1".into())));
        s.build_args.push(("B".into(), None));
        s.build_args.push(("A".into(), Some("2".into())));
        s.env.set("A", "env");
        assert_eq!(
            s.args_in_scope(),
            vec![
                ("A".to_string(), "env".to_string()),
                ("B".to_string(), String::new())
            ]
        );
    }
}
