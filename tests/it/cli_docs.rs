//! What is generated from the clap definitions: the manual pages committed under `docs/man/`
//! must equal what `builder docs --man` writes now (`UPDATE_GOLDEN=1` rewrites them), every
//! completion script is printed and knows `build` and `--no-cache`, and every command and
//! flag has help text.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{dir_names, stderr, stdout, text};

fn builder(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_builder"))
        .args(args)
        .env_remove("BUILDER_ROOT")
        .output()
        .expect("run builder")
}

fn committed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/man")
}

#[test]
fn man_pages_are_up_to_date() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man");
    let out = builder(&["docs", "--man", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let made = dir_names(&dir);
    assert!(made.contains(&"builder.1".to_string()), "{made:?}");
    assert!(made.contains(&"builder-build.1".to_string()), "{made:?}");
    assert_eq!(stdout(&out).lines().count(), made.len());
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let docs = committed();
        if docs.is_dir() {
            std::fs::remove_dir_all(&docs).unwrap();
        }
        std::fs::create_dir_all(&docs).unwrap();
        for name in &made {
            std::fs::copy(dir.join(name), docs.join(name)).unwrap();
        }
        return;
    }
    let docs = committed();
    let have = if docs.is_dir() {
        dir_names(&docs)
    } else {
        Vec::new()
    };
    assert_eq!(
        have, made,
        "docs/man lists other pages than the commands have (UPDATE_GOLDEN=1 rewrites them)"
    );
    for name in &made {
        let want = std::fs::read_to_string(docs.join(name)).unwrap();
        let got = std::fs::read_to_string(dir.join(name)).unwrap();
        assert_eq!(
            got, want,
            "docs/man/{name} is out of date with the clap definitions (UPDATE_GOLDEN=1 rewrites it)"
        );
    }
}

#[test]
fn completion_scripts_know_build_and_no_cache() {
    for shell in ["bash", "zsh", "fish"] {
        let out = builder(&["completion", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(script.contains("build"), "{shell}");
        assert!(script.contains("no-cache"), "{shell}");
        assert!(script.contains("builder"), "{shell}");
    }
}

#[test]
fn completion_for_an_unknown_shell_is_a_usage_error() {
    let out = builder(&["completion", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("bash") && err.contains("zsh") && err.contains("fish"),
        "{err}"
    );
}

#[test]
fn bash_completion_script_is_valid_bash() {
    let out = builder(&["completion", "bash"]);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("builder.bash");
    std::fs::write(&path, &out.stdout).unwrap();
    let check = Command::new("bash").arg("-n").arg(&path).output();
    if let Ok(check) = check {
        assert!(check.status.success(), "{}", text(&check.stderr));
    }
}

/// The visible commands, as `builder --help` lists them.
fn commands() -> Vec<String> {
    let help = stdout(&builder(&["--help"]));
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_command_and_flag_has_help() {
    let cmds = commands();
    for cmd in [
        "build",
        "save",
        "load",
        "push",
        "pull",
        "prune",
        "completion",
    ] {
        assert!(cmds.iter().any(|c| c == cmd), "{cmd} in {cmds:?}");
    }
    for cmd in &cmds {
        let out = builder(&[cmd, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{cmd}: {}", stderr(&out));
        // Every option line of the summary has text after its name and value.
        let short = stdout(&builder(&[cmd, "-h"]));
        for line in short
            .lines()
            .map(str::trim_start)
            .filter(|l| l.starts_with('-'))
        {
            let words = line.split("  ").filter(|w| !w.trim().is_empty()).count();
            assert!(words >= 2, "{cmd}: {line:?} has no help:\n{short}");
        }
    }
}

#[test]
fn long_help_of_the_main_commands_has_examples() {
    for cmd in ["build", "save", "load", "push", "prune"] {
        let help = stdout(&builder(&[cmd, "--help"]));
        assert!(help.contains("Example"), "{cmd}:\n{help}");
        assert!(help.contains(&format!("builder {cmd} ")), "{cmd}:\n{help}");
    }
}
