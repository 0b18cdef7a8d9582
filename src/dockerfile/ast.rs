//! The syntax tree the structural parser produces: one [`Node`] per instruction, with its
//! keyword, flags, arguments, heredoc bodies and line span.
//!
//! The shape follows BuildKit's `parser.Node` closely enough that the test dump
//! ([`crate::dockerfile::dump`]) can reproduce BuildKit's `Dump()` byte for byte, but it is
//! typed: arguments are a vector instead of a linked list, and ONBUILD's nested instruction
//! is an explicit [`Arg::Nested`].

/// Inclusive, 1-based range of physical source lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First line (1-based) of the construct.
    pub start: usize,
    /// Last physical line consumed, continuation lines and heredoc bodies included.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`, both inclusive and 1-based.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

/// One argument of an instruction node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// A plain value, as the per-instruction argument parser produced it (not yet expanded).
    Value(String),
    /// ONBUILD's trigger: a complete instruction parsed from ONBUILD's argument text.
    Nested(Box<Node>),
}

impl Arg {
    /// The plain value, or `None` for a nested node.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Arg::Value(v) => Some(v),
            Arg::Nested(_) => None,
        }
    }
}

/// A heredoc attached to a RUN, COPY or ADD instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word, quotes removed (`EOF` for `<<"EOF"`).
    pub name: String,
    /// The body: every line up to (not including) the terminator, each ending in `\n`.
    /// With `<<-` leading tabs are already removed from every line.
    pub content: String,
    /// False when the delimiter was quoted: the body must not be variable-expanded.
    pub expand: bool,
    /// True for `<<-`.
    pub chomp: bool,
}

/// A parser directive found at the top of the file (`# syntax=...`, `# escape=...`,
/// `# check=...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Lower-cased directive name.
    pub name: String,
    /// Value, trimmed.
    pub value: String,
    /// Line it was found on.
    pub line: usize,
}

/// A non-fatal finding of the parser (for example an empty continuation line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Short message in a user's words.
    pub message: String,
    /// Line it refers to.
    pub line: usize,
}

/// One instruction as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The keyword, lower-cased (`from`, `run`, `healthcheck`, or an unknown word).
    pub keyword: String,
    /// Flag words (`--from=build`), quotes removed and escapes applied, in order.
    pub flags: Vec<String>,
    /// Arguments as the instruction's argument parser split them.
    pub args: Vec<Arg>,
    /// True when the arguments came from a JSON array (exec form).
    pub json: bool,
    /// The whole instruction as written, continuations joined (BuildKit's `Original`).
    pub original: String,
    /// Heredoc bodies named on the instruction line, in order.
    pub heredocs: Vec<Heredoc>,
    /// Comment lines directly above the instruction, `#` removed and trimmed.
    pub prev_comment: Vec<String>,
    /// Source lines of the instruction.
    pub span: Span,
}

impl Node {
    /// The plain argument values, skipping a nested node.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.args.iter().filter_map(Arg::as_str)
    }
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ast {
    /// The instructions in source order.
    pub children: Vec<Node>,
    /// Directives from the top of the file.
    pub directives: Vec<Directive>,
    /// The escape character in force (`\` or `` ` ``).
    pub escape: char,
    /// Non-fatal findings.
    pub warnings: Vec<Warning>,
    /// From the first instruction's start line to the last one's end line.
    pub span: Span,
}
