use super::*;
use crate::dockerfile::instructions::test_support::Recorder;

fn lit(raw: &str) -> Result<Mount, String> {
    MountSpec::first_pass(raw)?.resolve_literal()
}

#[test]
fn bind_is_the_default_and_read_only() {
    let m = lit("target=/src").unwrap();
    assert_eq!(m.kind, MountType::Bind);
    assert_eq!(m.target.as_deref(), Some("/src"));
    assert!(m.read_only);
    let m = lit("type=bind,source=a,from=build,dst=/x,rw").unwrap();
    assert_eq!(m.source.as_deref(), Some("a"));
    assert_eq!(m.from.as_deref(), Some("build"));
    assert!(!m.read_only);
}

#[test]
fn target_aliases() {
    for key in ["target", "dst", "destination", "TARGET"] {
        let m = lit(&format!("{key}=/t")).unwrap();
        assert_eq!(m.target.as_deref(), Some("/t"), "{key}");
    }
    assert_eq!(lit("src=a").unwrap().source.as_deref(), Some("a"));
}

#[test]
fn readonly_forms() {
    assert!(lit("type=cache,target=/c,ro").unwrap().read_only);
    assert!(lit("type=cache,target=/c,readonly").unwrap().read_only);
    assert!(lit("type=cache,target=/c,readonly=true").unwrap().read_only);
    assert!(lit("type=cache,target=/c,ro=1").unwrap().read_only);
    assert!(!lit("type=bind,target=/c,readwrite").unwrap().read_only);
    assert!(!lit("type=bind,target=/c,rw=true").unwrap().read_only);
    assert!(lit("type=bind,target=/c,rw=false").unwrap().read_only);
    assert!(!lit("type=bind,target=/c,ro=F").unwrap().read_only);
    assert_eq!(
        lit("target=/c,ro=maybe").unwrap_err(),
        "invalid value for ro: maybe"
    );
    assert_eq!(
        lit("target=/c,readwrite=2").unwrap_err(),
        "invalid value for readwrite: 2"
    );
}

#[test]
fn cache_defaults_and_options() {
    let m = lit("type=cache,target=/root/.cache/").unwrap();
    assert_eq!(m.kind, MountType::Cache);
    assert!(!m.read_only);
    assert_eq!(m.sharing, None);
    assert_eq!(m.sharing_or_default(), ShareMode::Shared);
    assert_eq!(m.cache_id(), "/root/.cache");
    assert_eq!(m.mode_or_default(), 0o755);
    let m = lit("type=cache,target=/c,id=go,sharing=locked,mode=0700,uid=1000,gid=1001,from=base,source=sub")
        .unwrap();
    assert_eq!(m.cache_id(), "go");
    assert_eq!(m.sharing, Some(ShareMode::Locked));
    assert_eq!(
        (m.mode, m.uid, m.gid),
        (Some(0o700), Some(1000), Some(1001))
    );
    assert_eq!(m.from.as_deref(), Some("base"));
    assert_eq!(m.source.as_deref(), Some("sub"));
    assert_eq!(
        lit("type=cache,target=/c,sharing=PRIVATE").unwrap().sharing,
        Some(ShareMode::Private)
    );
}

#[test]
fn sharing_errors() {
    assert_eq!(
        lit("type=cache,target=/c,sharing=lockd").unwrap_err(),
        "unsupported sharing value \"lockd\" (did you mean locked?)"
    );
    assert_eq!(
        lit("target=/c,sharing=shared").unwrap_err(),
        "invalid cache sharing set for bind mount"
    );
    assert_eq!(
        lit("type=tmpfs,target=/c,sharing=shared").unwrap_err(),
        "invalid cache sharing set for tmpfs mount"
    );
}

#[test]
fn tmpfs_size() {
    let m = lit("type=tmpfs,target=/t").unwrap();
    assert_eq!(m.kind, MountType::Tmpfs);
    assert!(!m.read_only);
    assert_eq!(m.size_limit, None);
    for (size, want) in [
        ("100", 100),
        ("1k", 1024),
        ("1KiB", 1024),
        ("64m", 64 << 20),
        ("1.5g", 3 << 29),
        ("2 GB", 2 << 30),
        ("1t", 1 << 40),
        ("1p", 1 << 50),
    ] {
        let m = lit(&format!("type=tmpfs,target=/t,size={size}")).unwrap();
        assert_eq!(m.size_limit, Some(want), "{size}");
    }
    assert_eq!(
        lit("type=tmpfs,target=/t,size=lots").unwrap_err(),
        "invalid value for size: lots"
    );
    assert!(lit("type=tmpfs,target=/t,size=1.").is_err());
    assert!(lit("type=tmpfs,target=/t,size=1x").is_err());
    assert_eq!(lit("type=tmpfs,target=/t,size=0").unwrap().size_limit, None);
    assert_eq!(
        lit("target=/t,size=1m").unwrap_err(),
        "unexpected key 'size' for mount type 'bind'"
    );
    assert_eq!(
        lit("size=1m,type=tmpfs,target=/t").unwrap_err(),
        "unexpected key 'size' for mount type 'bind'"
    );
}

#[test]
fn secret_mounts() {
    let m = lit("type=secret,id=aws,target=/root/.aws/credentials,required").unwrap();
    assert_eq!(m.kind, MountType::Secret);
    assert!(m.read_only && m.required);
    assert_eq!(m.secret_id().as_deref(), Some("aws"));
    assert_eq!(m.secret_target().as_deref(), Some("/root/.aws/credentials"));
    assert_eq!(m.mode_or_default(), 0o400);

    let m = lit("type=secret,id=tok").unwrap();
    assert_eq!(m.secret_target().as_deref(), Some("/run/secrets/tok"));
    let m = lit("type=secret,target=/a/b/key").unwrap();
    assert_eq!(m.secret_id().as_deref(), Some("key"));
    let m = lit("type=secret,source=src-id,mode=0440,uid=1,gid=2").unwrap();
    assert_eq!(m.secret_id().as_deref(), Some("src-id"));
    assert_eq!(m.mode_or_default(), 0o440);
    let m = lit("type=secret,id=API_KEY,env=API_KEY").unwrap();
    assert_eq!(m.env.as_deref(), Some("API_KEY"));
    assert_eq!(m.secret_target(), None);
    let m = lit("type=secret,id=k,env=").unwrap();
    assert_eq!(m.env.as_deref(), Some(""));
    let m = lit("type=secret,id=k,required=false").unwrap();
    assert!(!m.required);
}

#[test]
fn secret_errors() {
    assert_eq!(
        lit("type=secret,id=a,from=x").unwrap_err(),
        "secret mount should not have a from"
    );
    assert_eq!(
        lit("type=secret,id=a,sharing=locked").unwrap_err(),
        "secret mount should not define sharing"
    );
    assert_eq!(
        lit("type=secret").unwrap_err(),
        "invalid secret mount. one of source, target required"
    );
    assert_eq!(
        lit("type=secret,id=a,source=b").unwrap_err(),
        "both source and id can't be set"
    );
    assert_eq!(
        lit("type=secret,id=a,required=maybe").unwrap_err(),
        "invalid value for required: maybe"
    );
}

#[test]
fn ssh_mounts() {
    let m = lit("type=ssh").unwrap();
    assert_eq!(m.kind, MountType::Ssh);
    assert!(m.read_only && !m.required);
    assert_eq!(m.ssh_id(), "default");
    assert_eq!(m.mode_or_default(), 0o600);
    let m = lit("type=ssh,id=gitlab,target=/s.sock,required=true,mode=0666,uid=5,gid=6").unwrap();
    assert_eq!(m.ssh_id(), "gitlab");
    assert!(m.required);
    assert_eq!((m.mode, m.uid, m.gid), (Some(0o666), Some(5), Some(6)));
}

#[test]
fn required_only_for_secret_and_ssh() {
    assert_eq!(
        lit("target=/x,required").unwrap_err(),
        "unexpected key 'required' for mount type 'bind'"
    );
    assert_eq!(
        lit("type=cache,target=/x,required=true").unwrap_err(),
        "unexpected key 'required' for mount type 'cache'"
    );
    // Order matters, as in BuildKit: the type must come first.
    assert!(lit("required,type=secret,id=a").is_err());
}

#[test]
fn file_info_only_for_cache_secret_ssh() {
    assert_eq!(
        lit("target=/x,mode=0644").unwrap_err(),
        "mode not allowed for \"bind\" type mounts"
    );
    assert_eq!(
        lit("type=tmpfs,target=/x,uid=1").unwrap_err(),
        "uid not allowed for \"tmpfs\" type mounts"
    );
    assert_eq!(
        lit("target=/x,gid=1").unwrap_err(),
        "gid not allowed for \"bind\" type mounts"
    );
    assert_eq!(
        lit("type=cache,target=/x,mode=0999").unwrap_err(),
        "invalid value 0999 for mode"
    );
    assert_eq!(
        lit("type=cache,target=/x,uid=-1").unwrap_err(),
        "invalid value -1 for uid"
    );
    assert_eq!(
        lit("type=cache,target=/x,gid=4294967296").unwrap_err(),
        "invalid value 4294967296 for gid"
    );
}

#[test]
fn key_and_type_errors() {
    assert_eq!(
        lit("type=bnd,target=/x").unwrap_err(),
        "unsupported mount type \"bnd\" (did you mean bind?)"
    );
    assert_eq!(
        lit("type=zzzzzzz").unwrap_err(),
        "unsupported mount type \"zzzzzzz\""
    );
    assert_eq!(lit("type=CACHE,target=/c").unwrap().kind, MountType::Cache);
    assert_eq!(
        lit("target=/x,tagret=/y").unwrap_err(),
        "unexpected key 'tagret' in 'tagret=/y' (did you mean target?)"
    );
    assert_eq!(
        lit("target=/x,bogus").unwrap_err(),
        "invalid field 'bogus' must be a key=value pair"
    );
}

#[test]
fn csv_errors_reach_the_user() {
    assert_eq!(
        MountSpec::first_pass(r#"a"b"#).unwrap_err(),
        "failed to parse csv mounts: parse error on line 1, column 2: bare \" in non-quoted-field"
    );
    let m = lit(r#"type=bind,"source=a b,c",target=/x"#).unwrap();
    assert_eq!(m.source.as_deref(), Some("a b,c"));
}

#[test]
fn first_pass_only_checks_csv_and_from() {
    let s = MountSpec::first_pass("type=$T,target=$DIR,bogus,mode=x").unwrap();
    assert_eq!(s.from, None);
    assert_eq!(s.resolved, None);
    let s = MountSpec::first_pass("from=build,target=/x").unwrap();
    assert_eq!(s.from.as_deref(), Some("build"));
    let s = MountSpec::first_pass("FROM=build$,target=/x").unwrap();
    assert_eq!(s.from.as_deref(), Some("build$"));
    assert_eq!(
        MountSpec::first_pass("from=$STAGE").unwrap_err(),
        "'from' doesn't support variable expansion, define alias stage instead"
    );
    assert!(MountSpec::first_pass("from=a${B}c").is_err());
}

#[test]
fn resolve_expands_every_value() {
    let s = MountSpec::first_pass("type=cache,target=$HOME/.cache,id=$ID,uid=1").unwrap();
    let mut ex = Recorder::default();
    let m = s.resolve(&mut ex).unwrap();
    assert_eq!(m.target.as_deref(), Some("<HOME>/.cache"));
    assert_eq!(m.id.as_deref(), Some("<ID>"));
    assert_eq!(ex.seen, ["cache", "$HOME/.cache", "$ID", "1"]);
    let s = MountSpec::first_pass("target=$BAD").unwrap();
    assert_eq!(
        s.resolve(&mut Recorder::default()).unwrap_err(),
        "BAD: is not allowed to be unset"
    );
}

#[test]
fn empty_values_are_unset() {
    let m = lit("type=cache,target=/c,id=,from=,source=").unwrap();
    assert_eq!((m.id, m.from, m.source), (None, None, None));
    assert_eq!(
        lit("").unwrap(),
        Mount {
            read_only: true,
            ..Mount::default()
        }
    );
}
