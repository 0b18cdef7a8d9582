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
