//! `builder debug ...`: show how a Dockerfile is understood — the parse tree (or BuildKit's
//! parser-test dump) and the build plan.

use clap::{Args, Subcommand};

use crate::dockerfile::{self, Arg, Node};
use crate::error::Result;

/// The debug commands.
#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Print the parsed Dockerfile.
    Parse(ParseArgs),
}

/// Arguments of `builder debug parse`.
#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Print exactly BuildKit's parser-test dump format.
    #[arg(long)]
    pub dump: bool,
    /// The Dockerfile (`-` reads stdin).
    pub file: String,
}

/// Run a debug command.
pub fn run(cmd: &DebugCommand) -> Result<()> {
    match cmd {
        DebugCommand::Parse(args) => parse(args),
    }
}

fn parse(args: &ParseArgs) -> Result<()> {
    let source = crate::build::DockerfileSource::locate(".", Some(&args.file))?;
    let label = source.label();
    let text = source.read()?;
    let ast = dockerfile::parse(&text).map_err(|e| crate::build::diagnostic(&label, &text, &e))?;
    if args.dump {
        println!("{}", dockerfile::dump::dump(&ast));
        return Ok(());
    }
    for d in &ast.directives {
        println!("# directive {}={} (line {})", d.name, d.value, d.line);
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
    println!("{indent}{lines}: {}{form}", node.keyword.to_uppercase());
    for f in &node.flags {
        println!("{indent}  flag {f:?}");
    }
    for a in &node.args {
        match a {
            Arg::Value(v) => println!("{indent}  arg {v:?}"),
            Arg::Nested(n) => print_node(n, depth + 1),
        }
    }
    for h in &node.heredocs {
        let expand = if h.expand { "" } else { ", not expanded" };
        println!(
            "{indent}  heredoc <<{} ({} bytes{expand})",
            h.name,
            h.content.len()
        );
    }
}
