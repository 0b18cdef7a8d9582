//! `builder completion bash|zsh|fish`: print a shell completion script, generated from the
//! clap definitions, so it always knows every command and flag.

use std::io::Write as _;

use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell as Generator;

use crate::error::Result;

/// The shells a completion script can be printed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// bash (with the bash-completion package).
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
}

/// Arguments of `builder completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to print the script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let generator = match shell {
        Shell::Bash => Generator::Bash,
        Shell::Zsh => Generator::Zsh,
        Shell::Fish => Generator::Fish,
    };
    let mut cmd = super::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(generator, &mut cmd, "builder", &mut out);
    out
}

/// Run `builder completion SHELL`: the script on standard output.
pub fn run(args: &CompletionArgs) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(&script(args.shell))
        .and_then(|()| stdout.flush())
    {
        super::stdout_failed(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_knows_build_and_its_flags() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = String::from_utf8(script(shell)).unwrap();
            assert!(text.contains("build"), "{shell:?}");
            assert!(text.contains("no-cache"), "{shell:?}");
        }
    }
}
