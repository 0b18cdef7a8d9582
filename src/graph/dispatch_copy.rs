//! COPY and ADD: where sources come from (`--from` stage, index, image or named context; the
//! build context otherwise), the destination made absolute against WORKDIR, flag checks
//! BuildKit makes at dispatch (`--chmod`, `--checksum`, URLs and git sources only for ADD),
//! and the history text `COPY [--parents] [--chown=X] [--chmod=Y] src... dest # buildkit`.

use crate::dockerfile::ast::Span;
use crate::dockerfile::error::ParseError;
use crate::dockerfile::instructions::{AddCommand, CopyCommand, SourcesAndDest};
use crate::domain::config::History;
use crate::domain::remote_source::{is_git_source, is_http_source};
use crate::domain::Chmod;

use super::args::EnvList;
use super::dispatch::{display_name, path_in_workdir, source_stage, Ctx, Outcome, StageState, Use};
use super::model::{Action, CopyAction, InlineFile, LayerKind, Source};
use super::stages::resolve_from;

/// A COPY or ADD, its flags as written (ADD-only ones are `None` for COPY).
struct CopyParams<'a> {
    /// ADD rather than COPY.
    add: bool,
    /// Sources (paths and heredocs) and the destination.
    files: &'a SourcesAndDest,
    /// `--from`.
    from_flag: Option<&'a str>,
    /// `--chown`.
    chown: Option<&'a str>,
    /// `--chmod`.
    chmod: Option<&'a str>,
    /// `--link`.
    link: bool,
    /// `--parents`.
    parents: bool,
    /// `--exclude` patterns.
    excludes: &'a [String],
    /// `--checksum` (ADD).
    checksum: Option<&'a str>,
    /// `--keep-git-dir` (ADD).
    keep_git_dir: Option<bool>,
    /// `--unpack` (ADD).
    unpack: Option<bool>,
    /// The instruction as written.
    original: &'a str,
}

/// Dispatch a COPY or ADD: resolve `--from`, check the flags and sources, then the action
/// and its history text.
fn dispatch(
    ctx: &Ctx<'_>,
    state: &mut StageState,
    p: CopyParams<'_>,
    env: &EnvList,
    span: Span,
) -> Result<Outcome, ParseError> {
    let mut deps = Vec::new();
    let from = match p.from_flag {
        Some(f) => {
            let src = resolve_from(ctx.heads, f, true, ctx.contexts, span)?;
            if let Some(j) = source_stage(ctx, state, &src, f, Use::Copy, span)? {
                deps.push(j);
            }
            src
        }
        None => Source::BuildContext,
    };
    let chmod = match p.chmod {
        Some(m) => Some(Chmod::parse(m).map_err(|e| ParseError::new(span, e.to_string()))?),
        None => None,
    };
    p.check_checksum(span)?;
    let msg = p.history_text(span)?;
    let action = p.action(from, chmod, &state.workdir);
    Ok(Outcome {
        display: display_name(&ctx.lexer, p.original, env),
        action: Action::Copy(action),
        layer: LayerKind::Layer,
        history: Some(History::new(msg, false)),
        deps,
    })
}

impl CopyParams<'_> {
    /// `--checksum` only on ADD, of one HTTP(S) or git source.
    fn check_checksum(&self, span: Span) -> Result<(), ParseError> {
        let err = |m: &str| ParseError::new(span, m);
        if self.checksum.is_some() {
            if !self.add {
                return Err(err("checksum can't be specified for COPY"));
            }
            let [only] = self.files.paths.as_slice() else {
                return Err(err("checksum can't be specified for multiple sources"));
            };
            if !is_http_source(only) && !is_git_source(only) {
                return Err(err("checksum requires HTTP(S) or Git sources"));
            }
        }
        Ok(())
    }

    /// The history text, `COPY [--parents] [--chown=X] [--chmod=Y] src... dest # buildkit`;
    /// fails on a git or URL source of a COPY.
    fn history_text(&self, span: Span) -> Result<String, ParseError> {
        let err = |m: &str| ParseError::new(span, m);
        let mut msg = String::from(if self.add { "ADD" } else { "COPY" });
        if self.parents {
            msg.push_str(" --parents");
        }
        if let Some(c) = self.chown {
            msg.push_str(&format!(" --chown={c}"));
        }
        if let Some(c) = self.chmod {
            msg.push_str(&format!(" --chmod={c}"));
        }
        for src in &self.files.paths {
            if !self.add && is_git_source(src) {
                return Err(err("source can't be a git ref for COPY"));
            }
            if !self.add && is_http_source(src) {
                return Err(err("source can't be a URL for COPY"));
            }
            msg.push(' ');
            msg.push_str(src);
        }
        for c in &self.files.contents {
            msg.push_str(&format!(" <<{}", c.path));
        }
        msg.push(' ');
        msg.push_str(&self.files.dest);
        msg.push_str(" # buildkit");
        Ok(msg)
    }

    /// The copy action, from `from`, its destination made absolute against `workdir`.
    fn action(&self, from: Source, chmod: Option<Chmod>, workdir: &str) -> CopyAction {
        // BuildKit links (copies onto an empty tree, merged on top) only without
        // `--chmod`; with it the copy is made on the stage, seeing its directories.
        let link = self.link && chmod.is_none();
        CopyAction {
            add: self.add,
            from,
            from_flag: self.from_flag.map(str::to_string),
            sources: self.files.paths.clone(),
            inline: self
                .files
                .contents
                .iter()
                .map(|c| InlineFile {
                    name: c.path.clone(),
                    content: c.data.clone(),
                })
                .collect(),
            dest_raw: self.files.dest.clone(),
            dest: path_in_workdir(workdir, &self.files.dest),
            chown: self.chown.map(str::to_string),
            chmod,
            link,
            parents: self.parents,
            exclude: self.excludes.to_vec(),
            checksum: self.checksum.map(str::to_string),
            keep_git_dir: self.keep_git_dir,
            unpack: self.unpack,
        }
    }
}

/// Dispatch an expanded COPY.
pub(super) fn copy(
    ctx: &Ctx<'_>,
    state: &mut StageState,
    c: &CopyCommand,
    env: &EnvList,
    span: Span,
) -> Result<Outcome, ParseError> {
    let p = CopyParams {
        add: false,
        files: &c.files,
        from_flag: c.from.as_deref(),
        chown: c.chown.as_deref(),
        chmod: c.chmod.as_deref(),
        link: c.link,
        parents: c.parents,
        excludes: &c.excludes,
        checksum: None,
        keep_git_dir: None,
        unpack: None,
        original: &c.original,
    };
    dispatch(ctx, state, p, env, span)
}

/// Dispatch an expanded ADD.
pub(super) fn add(
    ctx: &Ctx<'_>,
    state: &mut StageState,
    c: &AddCommand,
    env: &EnvList,
    span: Span,
) -> Result<Outcome, ParseError> {
    let p = CopyParams {
        add: true,
        files: &c.files,
        from_flag: None,
        chown: c.chown.as_deref(),
        chmod: c.chmod.as_deref(),
        link: c.link,
        parents: false,
        excludes: &c.excludes,
        checksum: c.checksum.as_deref(),
        keep_git_dir: c.keep_git_dir.then_some(true),
        unpack: c.unpack,
        original: &c.original,
    };
    dispatch(ctx, state, p, env, span)
}
