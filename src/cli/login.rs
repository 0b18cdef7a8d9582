//! `builder login REGISTRY [-u USER] [--password-stdin]`: check credentials against a
//! registry and keep them in Docker's `config.json` (`$DOCKER_CONFIG` or `~/.docker`), or in
//! its configured credential helper.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;

use crate::error::{Error, Result};
use crate::registry::login::{login, normalize_registry};
use crate::registry::Auth;

/// Arguments of `builder login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry host, e.g. `127.0.0.1:5000`, `ghcr.io`; `docker.io` for Docker Hub.
    pub registry: String,
    /// The user name (asked for when missing and stdin is a terminal).
    #[arg(short, long)]
    pub username: Option<String>,
    /// The password or token (visible to other users of this machine in the process list;
    /// prefer --password-stdin).
    #[arg(short, long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password or token from standard input, e.g.
    /// `echo "$TOKEN" | builder login -u me --password-stdin ghcr.io`.
    #[arg(long)]
    pub password_stdin: bool,
    /// Use plain HTTP for this registry (registries on localhost and 127.0.0.1 always do).
    #[arg(long)]
    pub insecure: bool,
}

/// One line from stdin, without its line ending.
fn read_line(prompt: Option<&str>) -> Result<String> {
    if let Some(p) = prompt {
        eprint!("{p}");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::Io {
            action: "read",
            path: "<stdin>".into(),
            source: e,
        })?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Run `builder login`.
pub fn run(args: &LoginArgs) -> Result<()> {
    let registry = normalize_registry(&args.registry)?;
    let tty = std::io::stdin().is_terminal();
    let username = match &args.username {
        Some(u) => u.clone(),
        None if tty && !args.password_stdin => read_line(Some("Username: "))?,
        None => return Err(Error::Usage("give the user name with -u USER".into())),
    };
    let password = match (&args.password, args.password_stdin) {
        (Some(p), _) => p.clone(),
        (None, true) => read_line(None)?,
        (None, false) if tty => read_line(Some("Password: "))?,
        (None, false) => {
            return Err(Error::Usage(
                "give the password with --password-stdin".into(),
            ))
        }
    };
    if username.is_empty() || password.is_empty() {
        return Err(Error::Usage(
            "user name and password must not be empty".into(),
        ));
    }
    let mut auth = Auth::from_env();
    if args.insecure {
        auth = auth.insecure();
    }
    let config = auth.config.clone().ok_or_else(|| {
        Error::Usage("cannot find config.json: set $DOCKER_CONFIG or $HOME".into())
    })?;
    login(&registry, &username, &password, &config, &auth)?;
    outln!("Login Succeeded");
    Ok(())
}
