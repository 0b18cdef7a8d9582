//! COPY and ADD: sources (paths and heredoc bodies), the destination and each instruction's
//! flags, as BuildKit's `parseCopy`/`parseAdd` accept them (Dockerfile frontend 1.20+:
//! `--exclude` and `--parents` are stable). `--chmod` stays text here: it is parsed after
//! expansion ([`crate::domain::Chmod`]), as BuildKit does.

use crate::dockerfile::ast::{Node, Span};
use crate::dockerfile::error::ParseError;

use super::bflag::FlagSet;
use super::common::{bad_heredoc, err_at, no_destination, non_empty, values};
use super::expand::{self, Expander};

/// Sources and destination of COPY or ADD, split as BuildKit splits them: path sources
/// first, then heredoc sources (the order LLB copies them in).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourcesAndDest {
    /// The destination, as written (relative to WORKDIR unless absolute; a trailing `/`
    /// matters).
    pub dest: String,
    /// Path, URL or git sources, in order.
    pub paths: Vec<String>,
    /// Heredoc sources (`COPY <<EOF /dest`), in order.
    pub contents: Vec<SourceContent>,
}

/// A file whose content is a heredoc body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceContent {
    /// The file name: the heredoc delimiter.
    pub path: String,
    /// The body (leading tabs already removed for `<<-`).
    pub data: String,
    /// True when the delimiter was unquoted: the body is expanded (raw).
    pub expand: bool,
}

impl SourcesAndDest {
    fn expand(&mut self, ex: &mut dyn Expander, span: Span) -> Result<(), ParseError> {
        expand::words_in_place(ex, span, &mut self.paths)?;
        expand::word_in_place(ex, span, &mut self.dest)?;
        for c in self.contents.iter_mut().filter(|c| c.expand) {
            c.data = ex.raw(&c.data).map_err(|m| ParseError::new(span, m))?;
        }
        Ok(())
    }
}

/// `COPY [--from] [--chown] [--chmod] [--link] [--parents] [--exclude]... <src>... <dest>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyCommand {
    /// Sources and destination.
    pub files: SourcesAndDest,
    /// `--from`: stage name, stage index, named context or image. Not expanded by
    /// [`CopyCommand::expand`]: BuildKit expands it against global ARGs only, when it builds
    /// the stage graph, and a variable it cannot resolve there fails with `variable
    /// expansion is not supported for --from, define a new stage with FROM using ARG from
    /// global scope as a workaround`.
    pub from: Option<String>,
    /// `--chown=user[:group]`.
    pub chown: Option<String>,
    /// `--chmod`, octal or symbolic (parsed with [`crate::domain::Chmod`] after expansion).
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--parents`: keep the source's parent directories.
    pub parents: bool,
    /// `--exclude` patterns, in order. Never expanded.
    pub excludes: Vec<String>,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

/// `ADD [--chown] [--chmod] [--link] [--keep-git-dir] [--checksum] [--unpack] [--exclude]...
/// <src>... <dest>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCommand {
    /// Sources and destination.
    pub files: SourcesAndDest,
    /// `--chown=user[:group]`.
    pub chown: Option<String>,
    /// `--chmod`, octal or symbolic (parsed with [`crate::domain::Chmod`] after expansion).
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--keep-git-dir`: keep `.git` of a git source.
    pub keep_git_dir: bool,
    /// `--checksum`: expected digest of an HTTP source or commit of a git source.
    pub checksum: Option<String>,
    /// `--unpack`: `None` when not given (local archives unpacked, remote ones not).
    pub unpack: Option<bool>,
    /// `--exclude` patterns, in order. Never expanded.
    pub excludes: Vec<String>,
    /// Source lines.
    pub span: Span,
    /// The instruction as written, trimmed.
    pub original: String,
}

impl CopyCommand {
    /// Expand sources, destination, `--chown`, `--chmod` and unquoted heredoc bodies.
    pub fn expand(&mut self, ex: &mut dyn Expander) -> Result<(), ParseError> {
        expand::option_in_place(ex, self.span, &mut self.chown)?;
        expand::option_in_place(ex, self.span, &mut self.chmod)?;
        self.files.expand(ex, self.span)
    }
}

impl AddCommand {
    /// Expand sources, destination, `--chown`, `--chmod`, `--checksum` and unquoted heredoc
    /// bodies.
    pub fn expand(&mut self, ex: &mut dyn Expander) -> Result<(), ParseError> {
        expand::option_in_place(ex, self.span, &mut self.chown)?;
        expand::option_in_place(ex, self.span, &mut self.chmod)?;
        expand::option_in_place(ex, self.span, &mut self.checksum)?;
        self.files.expand(ex, self.span)
    }
}

pub(crate) fn parse_copy(node: &Node) -> Result<CopyCommand, ParseError> {
    if node.values().count() < 2 {
        return Err(err_at(node, no_destination("COPY")));
    }
    let mut fs = FlagSet::new(&node.flags);
    let chown = fs.string("chown", "");
    let from = fs.string("from", "");
    let chmod = fs.string("chmod", "");
    let link = fs.bool("link", false);
    let exclude = fs.strings("exclude");
    let parents = fs.bool("parents", false);
    let flags = fs.parse().map_err(|e| err_at(node, e))?;
    Ok(CopyCommand {
        files: sources_and_dest(node, "COPY")?,
        from: non_empty(flags.string(from)),
        chown: non_empty(flags.string(chown)),
        chmod: non_empty(flags.string(chmod)),
        link: flags.bool(link),
        parents: flags.bool(parents),
        excludes: flags.strings(exclude).to_vec(),
        span: node.span,
        original: node.original.trim().to_string(),
    })
}

pub(crate) fn parse_add(node: &Node) -> Result<AddCommand, ParseError> {
    if node.values().count() < 2 {
        return Err(err_at(node, no_destination("ADD")));
    }
    let mut fs = FlagSet::new(&node.flags);
    let chown = fs.string("chown", "");
    let chmod = fs.string("chmod", "");
    let link = fs.bool("link", false);
    let keep_git_dir = fs.bool("keep-git-dir", false);
    let checksum = fs.string("checksum", "");
    let unpack = fs.bool("unpack", false);
    let exclude = fs.strings("exclude");
    let flags = fs.parse().map_err(|e| err_at(node, e))?;
    Ok(AddCommand {
        files: sources_and_dest(node, "ADD")?,
        chown: non_empty(flags.string(chown)),
        chmod: non_empty(flags.string(chmod)),
        link: flags.bool(link),
        keep_git_dir: flags.bool(keep_git_dir),
        checksum: non_empty(flags.string(checksum)),
        unpack: flags.is_used(unpack).then(|| flags.bool(unpack)),
        excludes: flags.strings(exclude).to_vec(),
        span: node.span,
        original: node.original.trim().to_string(),
    })
}

fn sources_and_dest(node: &Node, command: &str) -> Result<SourcesAndDest, ParseError> {
    let mut args = values(node);
    let Some(dest) = args.pop() else {
        return Err(err_at(node, no_destination(command)));
    };
    if heredoc_word(&dest).is_some() {
        return Err(err_at(node, bad_heredoc(command, "a destination")));
    }
    let mut out = SourcesAndDest {
        dest,
        ..SourcesAndDest::default()
    };
    let mut next_positional = 0;
    for src in args {
        let Some(word) = heredoc_word(&src) else {
            out.paths.push(src);
            continue;
        };
        let body = node
            .heredocs
            .iter()
            .find(|h| h.name == word.name)
            .or_else(|| node.heredocs.get(next_positional));
        next_positional += 1;
        let (data, expand) = match body {
            Some(h) => (h.content.clone(), h.expand && !word.quoted),
            None => (String::new(), !word.quoted),
        };
        let data = if word.chomp { chomp(&data) } else { data };
        out.contents.push(SourceContent {
            path: word.name,
            data,
            expand,
        });
    }
    Ok(out)
}

/// A heredoc word on an instruction line (`<<EOF`, `<<-"EOF"`, `3<<EOF`).
struct HeredocWord {
    name: String,
    chomp: bool,
    quoted: bool,
}

/// BuildKit's `^(\d*)<<(-?)\s*([^<]*)$`, where the rest must lex to one word.
fn heredoc_word(word: &str) -> Option<HeredocWord> {
    let rest = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest.strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start();
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let (name, quoted) = unquote_single_word(rest)?;
    Some(HeredocWord {
        name,
        chomp,
        quoted,
    })
}

/// Remove shell quotes and backslash escapes from a single word; `None` if it is several
/// words or has an unterminated quote. The flag says whether any quote was present.
fn unquote_single_word(s: &str) -> Option<(String, bool)> {
    let mut out = String::new();
    let mut quoted = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        ch => out.push(ch),
                    }
                }
            }
            '"' => {
                quoted = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => out.push(chars.next()?),
                        ch => out.push(ch),
                    }
                }
            }
            '\\' => out.push(chars.next()?),
            c if c.is_whitespace() => return None,
            c => out.push(c),
        }
    }
    Some((out, quoted))
}

/// Remove leading tabs from every line (`<<-`).
fn chomp(s: &str) -> String {
    s.split_inclusive('\n')
        .map(|l| l.trim_start_matches('\t'))
        .collect()
}

#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;
