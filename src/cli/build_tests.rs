//! Every `builder build` flag is used or refused: each row gives flags that must change the
//! request the build gets (or the display it reports to), or fail naming the problem.

use clap::Parser;

use super::*;
use crate::cli::{Cli, Command};

fn args(flags: &[&str]) -> std::result::Result<BuildArgs, String> {
    let argv = ["builder", "build"].iter().chain(flags);
    match Cli::try_parse_from(argv)
        .map_err(|e| e.to_string())?
        .command
    {
        Command::Build(b) => Ok(*b),
        other => Err(format!("not a build: {other:?}")),
    }
}

/// The request `flags` (then the context `ctx`, unless they name one) make, as text.
fn request_text(flags: &[&str], root: &Path) -> std::result::Result<String, String> {
    let mut all = flags.to_vec();
    if !flags.contains(&"other-ctx") {
        all.push("ctx");
    }
    let a = args(&all)?;
    let s = |e: Error| e.to_string();
    let checked = check(&a, Some(root)).map_err(s)?;
    let outputs = parse_outputs(&a).map_err(s)?;
    let policy = build_policy().map_err(s)?;
    Ok(format!("{:?}", request(&a, checked, outputs, policy)))
}

#[test]
fn every_build_flag_reaches_the_request() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    let base = request_text(&[], &root).unwrap();
    let rows: &[&[&str]] = &[
        &["other-ctx"],
        &["-f", "Other.Dockerfile"],
        &["-f", "-"],
        &["-t", "app:1"],
        &["--target", "build"],
        &["--build-arg", "A=1"],
        &["--build-arg", "SOURCE_DATE_EPOCH=5"],
        &["--build-context", "src=../shared"],
        &["--no-cache"],
        &["--no-cache=true"],
        &["--no-cache-filter", "build"],
        &["-o", "type=oci,dest=out.tar"],
        &["--push"],
        &["--push=1"],
        &["--load"],
        &["--annotation", "org.opencontainers.image.title=App"],
        &["--pull"],
        &["--pull=True"],
        &["--platform", "linux/arm64"],
        &["--network", "none"],
        &["--network", "host"],
        &["--allow", "security.insecure"],
        &["--secret", "id=npmrc,src=/nonexistent/npmrc"],
        &["--cache-from", "type=local,src=/c"],
        &["--cache-to", "type=local,dest=/c"],
        &["--iidfile", "iid"],
        &["--metadata-file", "meta.json"],
        &["--label", "a=b"],
        &["--add-host", "db:10.0.0.5"],
        &["--add-host", "db6=::1"],
        &["--shm-size", "128m"],
        &["--ulimit", "nofile=1024:2048"],
    ];
    for flags in rows {
        let got = request_text(flags, &root).unwrap_or_else(|e| panic!("{flags:?}: {e}"));
        assert_ne!(got, base, "{flags:?} changed nothing");
    }
    // `--allow network.host` is accepted as buildx scripts pass it, and grants what every
    // build already has (RUN --network=host needs no entitlement here): it is parsed, and
    // nothing else is.
    let e = Entitlements::parse(&["network.host".to_string()]).unwrap();
    assert!(e.network_host && !e.security_insecure);
    // --root: another store.
    let other = request_text(&[], &t.path().join("other")).unwrap();
    assert_ne!(other, base);
    // --ssh ID=SOCKET: an agent socket that exists.
    let sock = t.path().join("agent.sock");
    let _agent = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let spec = format!("deploy={}", sock.display());
    let got = request_text(&["--ssh", &spec], &root).unwrap();
    assert_ne!(got, base, "--ssh changed nothing");
    assert!(got.contains("deploy"), "{got}");
    let e = request_text(&["--ssh", "deploy=/nonexistent/key"], &root).unwrap_err();
    assert!(e.contains("/nonexistent/key"), "{e}");
}

#[test]
fn boolean_flags_take_buildx_values() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    let base = request_text(&[], &root).unwrap();
    for off in [
        &["--no-cache=false"][..],
        &["--push=false"],
        &["--pull=0"],
        &["--quiet=false"],
    ] {
        assert_eq!(request_text(off, &root).unwrap(), base, "{off:?}");
    }
    let a = args(&["--quiet=true", "ctx"]).unwrap();
    assert!(a.quiet);
    let a = args(&["-q", "ctx"]).unwrap();
    assert!(a.quiet);
    let a = args(&["--no-cache", "ctx"]).unwrap();
    assert!(a.no_cache && !a.pull && !a.push);
    // As pflag: a value needs `=`; a bare word after the flag is the context.
    let a = args(&["--pull", "ctx"]).unwrap();
    assert!(a.pull);
    assert_eq!(a.context, "ctx");
}

#[test]
fn bad_build_flags_are_refused_naming_the_problem() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    let rows: &[(&[&str], &str)] = &[
        (&["--allow", "device"], "invalid --allow \"device\""),
        (&["-t", "Bad Name"], "invalid tag \"Bad Name\""),
        (
            &[
                "-t",
                "a@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            ],
            "use a tag",
        ),
        (
            &["--secret", "id=a,colour=red"],
            "unexpected key \"colour\"",
        ),
        (&["--secret", "type=ssh,id=a"], "unsupported secret type"),
        (
            &["--cache-from", "type=local,src=/c,tag=t"],
            "unknown key \"tag\"",
        ),
        (
            &["--cache-to", "type=local,dest=/c,mode=min"],
            "mode=min is not supported",
        ),
        (
            &["--cache-to", "type=registry,ref=r/a:c,mode=all"],
            "expected min or max",
        ),
        (
            &["--build-arg", "SOURCE_DATE_EPOCH=soon"],
            "invalid SOURCE_DATE_EPOCH",
        ),
        (&["--build-arg", "=1"], "the name is empty"),
        (
            &["-o", "type=oci,dest=a,colour=red"],
            "unknown key \"colour\"",
        ),
        (&["-o", "type=oci,dest=-", "-o", "-"], "only one output"),
        (&["--network", "bridge"], "invalid value 'bridge'"),
        (&["--progress", "fancy"], "invalid value 'fancy'"),
        (&["--label", "novalue"], "expected KEY=VALUE"),
        (&["--build-context", "novalue"], "expected KEY=VALUE"),
        (&["--push=maybe"], "expected true or false"),
        (&["--annotation", "nokey"], "invalid --annotation"),
        (&["--annotation", "index-descriptor:a=b"], "not supported"),
        (&["--add-host", "db"], "expected HOST:IP"),
        (&["--add-host", "db:10.0.0"], "is not an IP address"),
        (&["--add-host", "db:host-gateway"], "builder runs none"),
        (&["--shm-size", "lots"], "invalid --shm-size"),
        (&["--ulimit", "files=1"], "invalid ulimit type"),
        (&["--ulimit", "nofile=9:8"], "soft limit must be less"),
    ];
    for (flags, text) in rows {
        let e = request_text(flags, &root).expect_err(&format!("{flags:?}"));
        assert!(e.contains(text), "{flags:?}: {e}");
    }
}

#[test]
fn progress_and_quiet_choose_the_display() {
    let mode_of = |flags: &[&str]| {
        let mut all = flags.to_vec();
        all.push("ctx");
        mode(&args(&all).unwrap())
    };
    assert_eq!(mode_of(&["-q"]).unwrap(), ProgressMode::Quiet);
    assert_eq!(
        mode_of(&["--progress", "quiet"]).unwrap(),
        ProgressMode::Quiet
    );
    assert_eq!(
        mode_of(&["--progress", "plain"]).unwrap(),
        ProgressMode::Plain
    );
    assert_eq!(
        mode_of(&["--progress", "rawjson"]).unwrap(),
        ProgressMode::Rawjson
    );
    if !stderr_is_terminal() {
        assert_eq!(mode_of(&[]).unwrap(), ProgressMode::Plain);
        let e = mode_of(&["--progress", "tty"]).unwrap_err().to_string();
        assert!(e.contains("--progress=tty needs a terminal"), "{e}");
    }
    // -q prints the digest where a dest=- output would write.
    let a = args(&["-q", "-o", "-", "ctx"]).unwrap();
    let e = refuse_quiet_with_stdout_output(&a, None).unwrap_err();
    assert!(e.to_string().contains("-q prints the image digest"), "{e}");
}
