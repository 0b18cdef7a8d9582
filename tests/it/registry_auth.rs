//! Authentication against real registries on 127.0.0.1: htpasswd basic auth (credentials from
//! a `config.json` in a temp `DOCKER_CONFIG`, in each spelling Docker writes, and from a
//! credential helper), the bearer-token flow through a token server written in the test
//! (anonymous pull, authenticated push, tokens cached per scope), `builder login` and
//! `builder logout`, and the "builder login" hint when credentials are missing.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::registry_support::{
    builder, busybox_layout, ok, skopeo_copy, skopeo_inspect, text, Registry, RegistryAuth,
    TokenServer,
};

const USER: &str = "tester";
const PASSWORD: &str = "s3cret-pw";

fn write_config(dir: &Path, json: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("config.json"), json).unwrap();
}

/// `builder login` with the password on stdin.
fn login(
    root: &Path,
    cfg: &Path,
    registry: &str,
    user: &str,
    password: &str,
) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_builder"))
        .arg("--root")
        .arg(root)
        .args(["login", registry, "-u", user, "--password-stdin"])
        .env("DOCKER_CONFIG", cfg)
        .env_remove("BUILDER_INSECURE_REGISTRIES")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn basic_auth_from_config_json_login_and_logout() {
    let test = "basic_auth_from_config_json_login_and_logout";
    let dir = tempfile::tempdir().unwrap();
    let Some(layout) = busybox_layout(dir.path(), test) else {
        return;
    };
    let Some(reg) = Registry::start(
        RegistryAuth::Htpasswd {
            user: USER.into(),
            password: PASSWORD.into(),
        },
        test,
    ) else {
        return;
    };
    let host = reg.host();
    skopeo_copy(
        &["--dest-creds", &format!("{USER}:{PASSWORD}")],
        &format!("oci:{}:latest", layout.display()),
        &format!("docker://{host}/busybox:latest"),
    );
    let root = dir.path().join("root");
    let name = format!("{host}/busybox");

    // No credentials: the error names the registry and says how to log in.
    let none = dir.path().join("none");
    let out = builder(&root, &none, &["pull", &name], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "{host} requires authentication: run `builder login {host}`"
        )),
        "{err}"
    );

    // base64 `auth`, and username/password fields.
    let b64 = dir.path().join("b64");
    let auth = STANDARD.encode(format!("{USER}:{PASSWORD}"));
    write_config(
        &b64,
        &format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#),
    );
    ok(
        &builder(&root, &b64, &["pull", &name], &[]),
        "pull with auth",
    );
    let fields = dir.path().join("fields");
    write_config(
        &fields,
        &format!(
            r#"{{"auths":{{"http://{host}/v2/":{{"username":"{USER}","password":"{PASSWORD}"}}}}}}"#
        ),
    );
    let out = ok(
        &builder(
            &root,
            &fields,
            &["push", &name, &format!("{host}/pushed:1")],
            &[],
        ),
        "push with username/password",
    );
    let remote = skopeo_inspect(
        &["--creds", &format!("{USER}:{PASSWORD}")],
        &format!("{host}/pushed:1"),
    );
    assert_eq!(remote["Digest"], out.trim());

    // Wrong credentials: refused, naming the registry.
    let wrong = dir.path().join("wrong");
    let bad = STANDARD.encode(format!("{USER}:nope"));
    write_config(
        &wrong,
        &format!(r#"{{"auths":{{"{host}":{{"auth":"{bad}"}}}}}}"#),
    );
    let out = builder(&root, &wrong, &["pull", &name], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("{host} denied access")),
        "{}",
        text(&out.stderr)
    );

    // builder login checks the password before writing anything.
    let cfg = dir.path().join("login");
    let out = login(&root, &cfg, &host, USER, "nope");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(!cfg.join("config.json").exists());
    let out = login(&root, &cfg, &host, USER, PASSWORD);
    assert_eq!(ok(&out, "login").trim(), "Login Succeeded");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cfg.join("config.json")).unwrap()).unwrap();
    assert_eq!(written["auths"][&host]["auth"], auth.as_str());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(cfg.join("config.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    ok(
        &builder(&root, &cfg, &["pull", &name], &[]),
        "pull after login",
    );
    let out = ok(&builder(&root, &cfg, &["logout", &host], &[]), "logout");
    assert!(out.contains("Removing login credentials"), "{out}");
    let out = builder(&root, &cfg, &["pull", &name], &[]);
    assert!(
        text(&out.stderr).contains("builder login"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn credentials_from_a_helper() {
    let test = "credentials_from_a_helper";
    let dir = tempfile::tempdir().unwrap();
    let Some(layout) = busybox_layout(dir.path(), test) else {
        return;
    };
    let Some(reg) = Registry::start(
        RegistryAuth::Htpasswd {
            user: USER.into(),
            password: PASSWORD.into(),
        },
        test,
    ) else {
        return;
    };
    let host = reg.host();
    skopeo_copy(
        &["--dest-creds", &format!("{USER}:{PASSWORD}")],
        &format!("oci:{}:latest", layout.display()),
        &format!("docker://{host}/busybox:latest"),
    );
    // docker-credential-fake answers `get` for this registry only, and logs what it was asked.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-fake");
    let log = dir.path().join("helper.log");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread -r server\necho \"$1 $server\" >> {log}\ncase \"$1\" in\n  get) if [ \"$server\" = {host} ]; then printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"; else echo 'credentials not found in native keychain'; exit 1; fi ;;\n  store|erase) exit 0 ;;\nesac\n",
            log = log.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let root = dir.path().join("root");
    for (kind, json) in [
        (
            "credHelpers",
            format!(r#"{{"credHelpers":{{"{host}":"fake"}}}}"#),
        ),
        ("credsStore", r#"{"credsStore":"fake"}"#.to_string()),
    ] {
        let cfg = dir.path().join(kind);
        write_config(&cfg, &json);
        ok(
            &builder(
                &root,
                &cfg,
                &["pull", &format!("{host}/busybox")],
                &[("PATH", &path)],
            ),
            kind,
        );
    }
    let asked = std::fs::read_to_string(&log).unwrap();
    assert_eq!(asked, format!("get {host}\nget {host}\n"));

    // With a credsStore, login hands the password to the helper and leaves the file entry
    // empty, as Docker does; logout asks the helper to erase it.
    std::fs::remove_file(&log).unwrap();
    let cfg = dir.path().join("credsStore");
    let mut child = Command::new(env!("CARGO_BIN_EXE_builder"))
        .arg("--root")
        .arg(&root)
        .args(["login", &host, "-u", USER, "--password-stdin"])
        .env("DOCKER_CONFIG", &cfg)
        .env("PATH", &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    ok(&child.wait_with_output().unwrap(), "login through a helper");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cfg.join("config.json")).unwrap()).unwrap();
    assert_eq!(written["auths"][&host], serde_json::json!({}));
    assert_eq!(written["credsStore"], "fake");
    ok(
        &builder(&root, &cfg, &["logout", &host], &[("PATH", &path)]),
        "logout through a helper",
    );
    let asked = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = asked.lines().collect();
    assert_eq!(lines.len(), 2, "{asked}");
    assert!(
        lines[0].starts_with("store {") && lines[0].contains(&format!("\"Username\":\"{USER}\"")),
        "{asked}"
    );
    assert_eq!(lines[1], format!("erase {host}"));
}

#[test]
fn bearer_tokens_from_a_token_server() {
    let test = "bearer_tokens_from_a_token_server";
    let dir = tempfile::tempdir().unwrap();
    let Some(layout) = busybox_layout(dir.path(), test) else {
        return;
    };
    let Some(tokens) = TokenServer::start(USER, PASSWORD, test) else {
        return;
    };
    let Some(reg) = Registry::start(
        RegistryAuth::Token {
            server: tokens.clone(),
        },
        test,
    ) else {
        return;
    };
    let host = reg.host();
    skopeo_copy(
        &["--dest-creds", &format!("{USER}:{PASSWORD}")],
        &format!("oci:{}:latest", layout.display()),
        &format!("docker://{host}/busybox:latest"),
    );
    let before = tokens.requests().len();
    let root = dir.path().join("root");
    let anon = dir.path().join("anon");

    // Anonymous callers may pull: one anonymous token for the repository's pull scope.
    ok(
        &builder(&root, &anon, &["pull", &format!("{host}/busybox")], &[]),
        "anonymous pull",
    );
    let asked = &tokens.requests()[before..];
    assert_eq!(asked.len(), 1, "one token for the whole pull: {asked:?}");
    assert!(asked[0].path.contains("service=test-registry"), "{asked:?}");
    assert!(
        asked[0].path.contains("scope=repository%3Abusybox%3Apull"),
        "{asked:?}"
    );
    assert!(asked[0].header("authorization").is_none());

    // Pushing needs a login: the anonymous token has no push.
    let dest = format!("{host}/pushed/app:1");
    let out = builder(
        &root,
        &anon,
        &["push", &format!("{host}/busybox"), &dest],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("run `builder login {host}`")),
        "{}",
        text(&out.stderr)
    );

    // builder login goes through the token server; the push then gets a push token.
    let cfg = dir.path().join("cfg");
    assert!(login(&root, &cfg, &host, USER, "wrong").status.code() == Some(1));
    ok(&login(&root, &cfg, &host, USER, PASSWORD), "login");
    let before = tokens.requests().len();
    let out = ok(
        &builder(
            &root,
            &cfg,
            &["push", &format!("{host}/busybox"), &dest],
            &[],
        ),
        "authenticated push",
    );
    let asked = &tokens.requests()[before..];
    assert!(
        asked.len() <= 3,
        "tokens are cached per scope, not fetched per request: {asked:?}"
    );
    assert!(asked.iter().all(|r| r.header("authorization").is_some()));
    assert!(
        asked
            .iter()
            .any(|r| r.path.contains("pushed%2Fapp%3Apull%2Cpush")),
        "{asked:?}"
    );
    let remote = skopeo_inspect(&["--creds", &format!("{USER}:{PASSWORD}")], &dest);
    assert_eq!(remote["Digest"], out.trim());
}
