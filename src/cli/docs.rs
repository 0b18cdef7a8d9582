//! `builder docs --man DIR` (hidden): write the manual pages, generated from the clap
//! definitions: `builder.1` and one page per visible subcommand (`builder-build.1`,
//! `builder-debug-parse.1`, ...). The pages committed under `docs/man/` are made this way,
//! and a test fails when they no longer match the definitions.

use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};

use crate::error::{Error, Result};

/// Arguments of `builder docs`.
#[derive(Debug, Args)]
pub struct DocsArgs {
    /// Write the manual pages (roff, section 1) into this directory, creating it.
    #[arg(long, value_name = "DIR")]
    pub man: PathBuf,
}

/// Every manual page: its file name and its roff text, the top-level page first.
pub fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = super::Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    collect(&cmd, &mut pages)?;
    Ok(pages)
}

fn collect(cmd: &clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
    let man =
        clap_mangen::Man::new(cmd.clone()).source(format!("builder {}", env!("CARGO_PKG_VERSION")));
    let mut text = Vec::new();
    man.render(&mut text)?;
    let text = preformat(&String::from_utf8_lossy(&text));
    pages.push((man.get_filename(), text.into_bytes()));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, pages)?;
    }
    Ok(())
}

/// Keep the example lines of the long help (indented by two spaces) as they are: each run
/// of them goes between `.nf` and `.fi`, so that man neither joins nor wraps them.
fn preformat(roff: &str) -> String {
    let mut out = String::new();
    let mut verbatim = false;
    for line in roff.lines() {
        let example = line.starts_with("  ");
        if example && !verbatim {
            out.push_str(".nf\n");
        } else if !example && verbatim {
            out.push_str(".fi\n");
        }
        verbatim = example;
        out.push_str(line);
        out.push('\n');
    }
    if verbatim {
        out.push_str(".fi\n");
    }
    out
}

/// Run `builder docs --man DIR`: every page written atomically; prints their paths.
pub fn run(args: &DocsArgs) -> Result<()> {
    let dir = &args.man;
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        action: "create directory",
        path: dir.clone(),
        source,
    })?;
    let pages = man_pages().map_err(|source| Error::Io {
        action: "render manual pages for",
        path: dir.clone(),
        source,
    })?;
    for (name, text) in pages {
        let path = Path::new(dir).join(name);
        crate::store::atomic::write_atomic(&path, &text)?;
        outln!("{}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_visible_command() {
        let names: Vec<String> = man_pages().unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names.first().map(String::as_str), Some("builder.1"));
        for page in [
            "builder-build.1",
            "builder-save.1",
            "builder-debug-parse.1",
            "builder-completion.1",
        ] {
            assert!(names.iter().any(|n| n == page), "{page} in {names:?}");
        }
        assert!(!names.iter().any(|n| n.contains("docs")), "{names:?}");
        assert!(
            !names.iter().any(|n| n == "builder-debug-run.1"),
            "{names:?}"
        );
    }

    #[test]
    fn example_lines_are_not_filled() {
        let text = preformat(".SH DESCRIPTION\nText.\n.PP\nExamples:\n  a b\n  c d\n.SH OPTIONS\n");
        assert_eq!(
            text,
            ".SH DESCRIPTION\nText.\n.PP\nExamples:\n.nf\n  a b\n  c d\n.fi\n.SH OPTIONS\n"
        );
    }
}
