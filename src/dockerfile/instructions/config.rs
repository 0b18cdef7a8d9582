//! Instructions that only change the image config: ENV, LABEL, USER, WORKDIR, EXPOSE,
//! VOLUME, STOPSIGNAL and MAINTAINER (BuildKit's `parseEnv`, `parseLabel`, ...).

use crate::dockerfile::ast::{Node, Span};
use crate::dockerfile::error::ParseError;

use super::common::{at_least_one, err_at, exactly_one, no_flags, parse_kvps, values, KeyValue};
use super::expand::{self, Expander};

/// `ENV key=value ...` (or the legacy `ENV key value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvCommand {
    /// The pairs, in order.
    pub env: Vec<KeyValue>,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

/// `LABEL key=value ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelCommand {
    /// The pairs, in order.
    pub labels: Vec<KeyValue>,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

/// `USER user[:group]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCommand {
    /// The user, not yet expanded.
    pub user: String,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

/// `WORKDIR path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkdirCommand {
    /// The path, not yet expanded (relative paths join the current WORKDIR).
    pub path: String,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

/// `EXPOSE port[/proto] ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposeCommand {
    /// The words, sorted byte-wise as BuildKit sorts them at parse time.
    pub ports: Vec<String>,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

/// `VOLUME path ...` (or JSON form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeCommand {
    /// The paths, trimmed, in order.
    pub volumes: Vec<String>,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

/// `STOPSIGNAL signal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopSignalCommand {
    /// The signal as written (validated by the image layer, not here).
    pub signal: String,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

/// `MAINTAINER name` (deprecated; sets the image author).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintainerCommand {
    /// The author text.
    pub maintainer: String,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

fn expand_pairs(
    ex: &mut dyn Expander,
    span: Span,
    pairs: &mut [KeyValue],
) -> Result<(), ParseError> {
    for kv in pairs {
        expand::word_in_place(ex, span, &mut kv.key)?;
        expand::word_in_place(ex, span, &mut kv.value)?;
    }
    Ok(())
}

impl EnvCommand {
    /// Expand keys and values.
    pub fn expand(&mut self, ex: &mut dyn Expander) -> Result<(), ParseError> {
        expand_pairs(ex, self.span, &mut self.env)
    }
}

impl LabelCommand {
    /// Expand keys and values.
    pub fn expand(&mut self, ex: &mut dyn Expander) -> Result<(), ParseError> {
        expand_pairs(ex, self.span, &mut self.labels)
    }
}

impl UserCommand {
    /// Expand the user.
    pub fn expand(&mut self, ex: &mut dyn Expander) -> Result<(), ParseError> {
        expand::word_in_place(ex, self.span, &mut self.user)
    }
}

impl WorkdirCommand {
    /// Expand the path.
    pub fn expand(&mut self, ex: &mut dyn Expander) -> Result<(), ParseError> {
        expand::word_in_place(ex, self.span, &mut self.path)
    }
}

impl ExposeCommand {
    /// Expand each word with [`Expander::words`] and flatten (BuildKit re-splits EXPOSE
    /// after expansion, so `EXPOSE $PORTS` may give several ports).
    pub fn expand(&mut self, ex: &mut dyn Expander) -> Result<(), ParseError> {
        let mut out = Vec::with_capacity(self.ports.len());
        for p in &self.ports {
            out.extend(ex.words(p).map_err(|m| ParseError::new(self.span, m))?);
        }
        self.ports = out;
        Ok(())
    }
}

impl VolumeCommand {
    /// Expand each path.
    pub fn expand(&mut self, ex: &mut dyn Expander) -> Result<(), ParseError> {
        expand::words_in_place(ex, self.span, &mut self.volumes)
    }
}

impl StopSignalCommand {
    /// Expand the signal.
    pub fn expand(&mut self, ex: &mut dyn Expander) -> Result<(), ParseError> {
        expand::word_in_place(ex, self.span, &mut self.signal)
    }
}

fn original(node: &Node) -> String {
    node.original.trim().to_string()
}

/// The single argument of USER, WORKDIR, STOPSIGNAL or MAINTAINER.
fn exactly_one_value(node: &Node, command: &str) -> Result<String, ParseError> {
    let mut args = values(node);
    match (args.pop(), args.is_empty()) {
        (Some(v), true) => Ok(v),
        _ => Err(err_at(node, exactly_one(command))),
    }
}

pub(crate) fn parse_env(node: &Node) -> Result<EnvCommand, ParseError> {
    no_flags(node)?;
    Ok(EnvCommand {
        env: parse_kvps(node, "ENV")?,
        span: node.span,
        original: original(node),
    })
}

pub(crate) fn parse_label(node: &Node) -> Result<LabelCommand, ParseError> {
    no_flags(node)?;
    Ok(LabelCommand {
        labels: parse_kvps(node, "LABEL")?,
        span: node.span,
        original: original(node),
    })
}

pub(crate) fn parse_maintainer(node: &Node) -> Result<MaintainerCommand, ParseError> {
    let maintainer = exactly_one_value(node, "MAINTAINER")?;
    no_flags(node)?;
    Ok(MaintainerCommand {
        maintainer,
        span: node.span,
        original: original(node),
    })
}

pub(crate) fn parse_user(node: &Node) -> Result<UserCommand, ParseError> {
    let user = exactly_one_value(node, "USER")?;
    no_flags(node)?;
    Ok(UserCommand {
        user,
        span: node.span,
        original: original(node),
    })
}

pub(crate) fn parse_workdir(node: &Node) -> Result<WorkdirCommand, ParseError> {
    let path = exactly_one_value(node, "WORKDIR")?;
    no_flags(node)?;
    Ok(WorkdirCommand {
        path,
        span: node.span,
        original: original(node),
    })
}

/// STOPSIGNAL: BuildKit never parses its flags, so they are ignored.
pub(crate) fn parse_stopsignal(node: &Node) -> Result<StopSignalCommand, ParseError> {
    Ok(StopSignalCommand {
        signal: exactly_one_value(node, "STOPSIGNAL")?,
        span: node.span,
        original: original(node),
    })
}

pub(crate) fn parse_expose(node: &Node) -> Result<ExposeCommand, ParseError> {
    let mut ports = values(node);
    if ports.is_empty() {
        return Err(err_at(node, at_least_one("EXPOSE")));
    }
    no_flags(node)?;
    ports.sort();
    Ok(ExposeCommand {
        ports,
        span: node.span,
        original: original(node),
    })
}

pub(crate) fn parse_volume(node: &Node) -> Result<VolumeCommand, ParseError> {
    let args = values(node);
    if args.is_empty() {
        return Err(err_at(node, at_least_one("VOLUME")));
    }
    no_flags(node)?;
    let mut volumes = Vec::with_capacity(args.len());
    for v in args {
        let v = v.trim();
        if v.is_empty() {
            return Err(err_at(node, "VOLUME specified can not be an empty string"));
        }
        volumes.push(v.to_string());
    }
    Ok(VolumeCommand {
        volumes,
        span: node.span,
        original: original(node),
    })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
