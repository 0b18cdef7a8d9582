use super::*;

fn settings() -> RemoteSettings {
    RemoteSettings {
        timeout: Duration::from_secs(30),
        git_auth_tokens: vec![
            (String::new(), "all-hosts".into()),
            ("127.0.0.1:8080".into(), "one-host".into()),
        ],
        ssh_auth_sock: Some(PathBuf::from("/run/agent.sock")),
        ..RemoteSettings::default()
    }
}

fn url(s: &str) -> GitUrl {
    GitUrl::parse(s).unwrap()
}

fn env_value<'a>(cli: &'a GitCli, name: &str) -> Option<&'a str> {
    cli.env
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn token_goes_to_an_extraheader_in_the_environment() {
    let u = url("http://127.0.0.1:8080/r.git#main");
    let cli = GitCli::new(&settings(), &u);
    let count: usize = env_value(&cli, "GIT_CONFIG_COUNT")
        .unwrap()
        .parse()
        .unwrap();
    let want = format!(
        "Authorization: basic {}",
        base64::engine::general_purpose::STANDARD.encode("x-access-token:one-host")
    );
    let found = (0..count).any(|i| {
        env_value(&cli, &format!("GIT_CONFIG_KEY_{i}"))
            == Some("http.http://127.0.0.1:8080/r.git.extraheader")
            && env_value(&cli, &format!("GIT_CONFIG_VALUE_{i}")) == Some(want.as_str())
    });
    assert!(found, "{:?}", cli.env);
    assert_eq!(
        cli.scrub(&format!("x {want} y")),
        "x Authorization: xxxxx y"
    );
}

#[test]
fn header_order_follows_buildkit() {
    let mut s = settings();
    let other = url("https://example.com/r.git");
    let token = base64::engine::general_purpose::STANDARD.encode("x-access-token:all-hosts");
    assert_eq!(auth_header(&s, &other), Some(format!("basic {token}")));
    s.git_auth_headers = vec![(String::new(), "bearer xyz".into())];
    assert_eq!(auth_header(&s, &other).as_deref(), Some("bearer xyz"));
    s.git_auth_headers
        .push(("example.com".into(), "bearer host".into()));
    assert_eq!(auth_header(&s, &other).as_deref(), Some("bearer host"));
    assert_eq!(auth_header(&s, &url("git@example.com:r.git")), None);
    assert_eq!(auth_header(&s, &url("git://example.com/r.git")), None);
    assert_eq!(
        token_scope("https://github.com/o/r.git"),
        "https://github.com/"
    );
}

#[test]
fn environment_is_clean_and_never_prompts() {
    let cli = GitCli::new(&settings(), &url("git@example.com:o/r.git"));
    assert_eq!(env_value(&cli, "GIT_TERMINAL_PROMPT"), Some("0"));
    assert_eq!(env_value(&cli, "GIT_CONFIG_NOSYSTEM"), Some("1"));
    assert_eq!(env_value(&cli, "GIT_CONFIG_GLOBAL"), Some("/dev/null"));
    assert_eq!(env_value(&cli, "HOME"), Some("/dev/null"));
    assert_eq!(env_value(&cli, "SSH_AUTH_SOCK"), Some("/run/agent.sock"));
    assert!(env_value(&cli, "GIT_ASKPASS").is_none());
    let ssh = env_value(&cli, "GIT_SSH_COMMAND").unwrap();
    assert_eq!(
        ssh,
        "ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
         -o BatchMode=yes -o IdentityFile=none -o LogLevel=ERROR -o ConnectTimeout=30"
    );
    let config: Vec<&str> = cli
        .env
        .iter()
        .filter(|(k, _)| k.starts_with("GIT_CONFIG_KEY_"))
        .map(|(_, v)| v.as_str())
        .collect();
    for key in ["protocol.file.allow", "core.hooksPath", "safe.directory"] {
        assert!(config.contains(&key), "{config:?}");
    }
    assert!(!config.iter().any(|k| k.ends_with("extraheader")));
}

/// A port on 127.0.0.1 that accepts connections and never answers.
fn stalling_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    port
}

#[test]
fn only_remotes_nothing_else_bounds_are_watched() {
    let s = settings();
    for (remote, watched) in [
        ("git://127.0.0.1/r.git", true),
        ("ssh://git@127.0.0.1/r.git", true),
        ("git@127.0.0.1:r.git", true),
        ("http://127.0.0.1/r.git", false),
        ("https://127.0.0.1/r.git", false),
    ] {
        let cli = GitCli::new(&s, &url(remote));
        assert_eq!(cli.idle.is_some(), watched, "{remote}");
    }
    let zero = RemoteSettings {
        timeout: Duration::ZERO,
        ..RemoteSettings::default()
    };
    let cli = GitCli::new(&zero, &url("git://127.0.0.1/r.git"));
    assert_eq!(cli.idle, Some(Duration::from_secs(1)));
}

#[test]
fn a_server_that_never_answers_is_given_up_after_the_timeout() {
    if std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: no git");
        return;
    }
    let port = stalling_server();
    let s = RemoteSettings {
        timeout: Duration::from_secs(1),
        ..RemoteSettings::default()
    };
    for scheme in ["git", "ssh", "http"] {
        let u = url(&format!("{scheme}://127.0.0.1:{port}/r.git"));
        let cli = GitCli::new(&s, &u);
        let started = std::time::Instant::now();
        let err = cli.run_remote(None, &["ls-remote", "--", &u.remote]);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(15), "{scheme}: took {took:?}");
        match (scheme, err) {
            ("git", Err(RunError::Stalled(waited, _))) => {
                assert_eq!(waited, Duration::from_secs(1));
            }
            // ssh bounds its handshake itself (ConnectTimeout); the watchdog is the rest.
            ("ssh", Err(RunError::Stalled(..) | RunError::Failed(_))) => {}
            ("http", Err(RunError::Failed(e))) => assert!(e.contains("too slow"), "{e}"),
            (_, other) => panic!("{scheme}: {:?}", other.map_err(|e| format!("{e:?}"))),
        }
    }
}
