//! `builder debug ...`: show how a Dockerfile is understood — the parse tree (or BuildKit's
//! parser-test dump) and the build plan.

use std::collections::{BTreeMap, BTreeSet};

use clap::{Args, Subcommand};

use crate::dockerfile::{self, Arg, Node};
use crate::error::{Error, Result};
use crate::graph::{self, PlanOptions, Platform};

/// The debug commands.
#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Print the parsed Dockerfile.
    Parse(ParseArgs),
    /// Print the build plan: stages in run order, expanded steps, config and history.
    Plan(PlanArgs),
    /// Run a command in the RUN sandbox on a root directory (testing aid).
    #[command(hide = true)]
    Run(super::debug_run::RunArgs),
}

/// Arguments of `builder debug plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The Dockerfile; `-` reads it from standard input.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<String>,
    /// The Dockerfile, as a positional argument (default: ./Dockerfile).
    #[arg(value_name = "FILE", conflicts_with = "file")]
    pub path: Option<String>,
    /// Plan this stage and the ones it needs (name or index) [default: the last one].
    #[arg(long)]
    pub target: Option<String>,
    /// Set a build argument (`KEY=VALUE`, or `KEY` to take it from the environment).
    #[arg(long = "build-arg", value_name = "KEY[=VALUE]")]
    pub build_args: Vec<String>,
    /// Target platform (`linux/arm64`); the build platform of a plan is `linux/amd64`.
    #[arg(long)]
    pub platform: Option<String>,
    /// A named context (`NAME=SOURCE`); only the name matters for the plan.
    #[arg(long = "build-context", value_name = "NAME=SOURCE")]
    pub build_contexts: Vec<String>,
    /// Use the image config JSON in FILE for base image REF (otherwise bases are unknown
    /// and start empty).
    #[arg(long = "image-config", value_name = "REF=FILE")]
    pub image_configs: Vec<String>,
}

/// Arguments of `builder debug parse`.
#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Print exactly the format of BuildKit's parser test `result` files.
    #[arg(long)]
    pub dump: bool,
    /// The Dockerfile; `-` reads it from standard input.
    pub file: String,
}

/// Run a debug command.
pub fn run(cmd: &DebugCommand) -> Result<()> {
    match cmd {
        DebugCommand::Parse(args) => parse(args),
        DebugCommand::Plan(args) => plan(args),
        DebugCommand::Run(args) => super::debug_run::run(args),
    }
}

fn plan(args: &PlanArgs) -> Result<()> {
    let file = args.file.as_deref().or(args.path.as_deref());
    let source = crate::build::DockerfileSource::locate(".", file)?;
    let label = source.label();
    let text = source.read()?;
    let ast = dockerfile::parse(&text).map_err(|e| crate::build::diagnostic(&label, &text, &e))?;
    let df = dockerfile::instructions::parse_dockerfile(&ast)
        .map_err(|e| crate::build::diagnostic(&label, &text, &e))?;
    // Deterministic: the host is taken to be linux/amd64.
    let mut opts = PlanOptions::new(Platform::linux_amd64());
    opts.target = args.target.clone();
    opts.build_args =
        crate::build::resolve_build_args(&args.build_args, |k| std::env::var(k).ok())?;
    if let Some(p) = &args.platform {
        let parsed = Platform::parse(p, &opts.build_platform)
            .map_err(|e| Error::Usage(format!("invalid --platform: {e}")))?;
        opts.target_platform = Some(parsed);
    }
    let mut names = BTreeSet::new();
    for c in &args.build_contexts {
        match c.split_once('=') {
            Some((name, _)) if !name.is_empty() => {
                names.insert(name.to_string());
            }
            _ => {
                return Err(Error::Usage(format!(
                    "invalid --build-context {c:?}: expected NAME=SOURCE"
                )))
            }
        }
    }
    opts.named_contexts = names;
    let mut images = BTreeMap::new();
    for spec in &args.image_configs {
        let Some((reference, path)) = spec.split_once('=') else {
            return Err(Error::Usage(format!(
                "invalid --image-config {spec:?}: expected REF=FILE"
            )));
        };
        let reference = crate::domain::reference::Reference::parse(reference)
            .map_err(|e| Error::Usage(format!("invalid --image-config reference: {e}")))?;
        let json = std::fs::read_to_string(path).map_err(|source| Error::Io {
            action: "read image config",
            path: path.into(),
            source,
        })?;
        let config = graph::StageConfig::from_json(&json)
            .map_err(|e| Error::Usage(format!("{path}: {e}")))?;
        images.insert(reference.to_string(), config);
    }
    let plan = graph::plan(&df, &opts, &images)
        .map_err(|e| crate::build::diagnostic(&label, &text, &e))?;
    print!("{}", graph::render(&plan));
    Ok(())
}

fn parse(args: &ParseArgs) -> Result<()> {
    let source = crate::build::DockerfileSource::locate(".", Some(&args.file))?;
    let label = source.label();
    let text = source.read()?;
    let ast = dockerfile::parse(&text).map_err(|e| crate::build::diagnostic(&label, &text, &e))?;
    if args.dump {
        outln!("{}", dockerfile::dump::dump(&ast));
        return Ok(());
    }
    for d in &ast.directives {
        outln!("# directive {}={} (line {})", d.name, d.value, d.line);
    }
    for node in &ast.children {
        print_node(node, 0);
    }
    for w in &ast.warnings {
        eprintln!("warning: {label}:{}: {}", w.line, w.message);
    }
    Ok(())
}

fn print_node(node: &Node, depth: usize) {
    let indent = "  ".repeat(depth);
    let lines = if node.span.start == node.span.end {
        format!("{}", node.span.start)
    } else {
        format!("{}-{}", node.span.start, node.span.end)
    };
    let form = if node.json { " (exec form)" } else { "" };
    outln!("{indent}{lines}: {}{form}", node.keyword.to_uppercase());
    for f in &node.flags {
        outln!("{indent}  flag {f:?}");
    }
    for a in &node.args {
        match a {
            Arg::Value(v) => outln!("{indent}  arg {v:?}"),
            Arg::Nested(n) => print_node(n, depth + 1),
        }
    }
    for h in &node.heredocs {
        let expand = if h.expand { "" } else { ", not expanded" };
        outln!(
            "{indent}  heredoc <<{} ({} bytes{expand})",
            h.name,
            h.content.len()
        );
    }
}
