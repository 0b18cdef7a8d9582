use super::*;
use crate::dockerfile::instructions::{NetworkMode, SecurityMode};
use crate::graph::RunAction;

fn action(env: &[&str]) -> RunAction {
    RunAction {
        args: vec!["/bin/sh".into(), "-c".into(), "true".into()],
        env: env.iter().map(|s| s.to_string()).collect(),
        proxy_env: vec![("HTTP_PROXY".into(), "http://p:3128".into())],
        user: String::new(),
        workdir: "/".into(),
        network: NetworkMode::Default,
        security: SecurityMode::Sandbox,
        mounts: Vec::new(),
        script: None,
    }
}

#[test]
fn environment_adds_path_proxies_and_secrets() {
    let env = environment(&action(&["A=1"]), &["TOKEN=s3cret".to_string()]);
    assert_eq!(
        env,
        vec![
            "A=1",
            format!("PATH={DEFAULT_PATH}").as_str(),
            "HTTP_PROXY=http://p:3128",
            "TOKEN=s3cret"
        ]
    );
    let env = environment(&action(&["PATH=/opt/bin", "A=1"]), &[]);
    assert_eq!(
        env,
        vec!["PATH=/opt/bin", "A=1", "HTTP_PROXY=http://p:3128"]
    );
}

fn ssh_mount(target: &str) -> crate::graph::PlannedMount {
    crate::graph::PlannedMount {
        mount: crate::dockerfile::instructions::Mount {
            kind: MountType::Ssh,
            ..Default::default()
        },
        target: target.into(),
        from: None,
    }
}

#[test]
fn ssh_auth_sock_names_the_first_ssh_mount_unless_set() {
    let mut a = action(&["A=1"]);
    a.mounts = vec![ssh_mount("/first"), ssh_mount("/run/buildkit/ssh_agent.1")];
    let env = environment(&a, &[]);
    assert!(env.contains(&"SSH_AUTH_SOCK=/first".to_string()), "{env:?}");
    let mut a = action(&["SSH_AUTH_SOCK=/mine"]);
    a.mounts = vec![ssh_mount("/first")];
    let env = environment(&a, &[]);
    assert_eq!(
        env.iter()
            .filter(|e| e.starts_with("SSH_AUTH_SOCK="))
            .count(),
        1
    );
    assert_eq!(env[0], "SSH_AUTH_SOCK=/mine");
    assert!(!environment(&action(&[]), &[])
        .iter()
        .any(|e| e.starts_with("SSH_AUTH_SOCK")));
}

#[test]
fn users_resolve_against_the_image() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("etc")).unwrap();
    std::fs::write(
        t.path().join("etc/passwd"),
        "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(t.path().join("etc/group"), "root:x:0:\nstaff:x:50:app\n").unwrap();
    let view = LayeredDest::new(vec![t.path().to_path_buf()]);
    let app = resolve_user(&view, "app").unwrap();
    assert_eq!(
        (app.uid, app.gid, app.additional_gids),
        (1000, 1000, vec![50])
    );
    assert_eq!(resolve_user(&view, "").unwrap(), sandbox::User::root());
    let e = resolve_user(&view, "nobody").unwrap_err();
    assert_eq!(
        crate::progress::chain(&e),
        "unable to find user nobody: no matching entries in passwd file"
    );
}

#[test]
fn a_failure_log_is_rendered_like_buildkit() {
    let log = RunLog {
        name: "[2/2] RUN make".into(),
        tail: vec!["0.120 cc main.c".into(), "0.300 error".into()],
    };
    assert_eq!(
        log.render(),
        "------\n > [2/2] RUN make:\n0.120 cc main.c\n0.300 error\n------\n"
    );
}
