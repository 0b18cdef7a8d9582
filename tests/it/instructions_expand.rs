//! The instruction layer's expansion hooks driven by the real shell-word lexer, the way the
//! graph layer drives them: parse a Dockerfile, then expand each instruction with the
//! stage's variables.

use std::collections::HashMap;

use builder::dockerfile::instructions::{
    parse_dockerfile, Expander, Instruction, MountType, ShareMode,
};
use builder::dockerfile::parse;
use builder::dockerfile::shell::Lexer;

/// An expander over a fixed set of variables, as BuildKit's dispatch builds one per step.
struct StageVars {
    lexer: Lexer,
    env: HashMap<String, String>,
}

impl StageVars {
    fn new(escape: char, vars: &[(&str, &str)]) -> Self {
        StageVars {
            lexer: Lexer::new(escape),
            env: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
}

impl Expander for StageVars {
    fn word(&mut self, word: &str) -> Result<String, String> {
        self.lexer
            .process_word(word, &self.env)
            .map_err(|e| e.to_string())
    }

    fn words(&mut self, text: &str) -> Result<Vec<String>, String> {
        self.lexer
            .process_words(text, &self.env)
            .map_err(|e| e.to_string())
    }

    fn raw(&mut self, text: &str) -> Result<String, String> {
        // BuildKit expands heredoc bodies with `\` as escape and quotes left alone.
        Lexer::new('\\')
            .skip_process_quotes(true)
            .process_word(text, &self.env)
            .map_err(|e| e.to_string())
    }
}

const DOCKERFILE: &str = r#"ARG BASE=alpine
ARG TAG=3.20
FROM --platform=$TARGETPLATFORM ${BASE}:${TAG} AS build
ENV APP=/srv/app MODE="fast mode"
WORKDIR $APP
USER ${UID:-1000}:${GID:-1000}
COPY --chown=$UID --chmod=0755 ["src dir", "${APP}/"]
COPY <<EOF /etc/motd
hello "$APP"
EOF
RUN --mount=type=cache,target=$APP/.cache,sharing=locked \
    --mount=type=secret,id=${SECRET_ID},required \
    echo $APP
EXPOSE $PORTS 22/tcp
LABEL "org.example.mode"="$MODE"
VOLUME ["$APP/data"]
STOPSIGNAL SIG${SIG}
CMD echo $APP
"#;

#[test]
fn expansion_with_the_shell_lexer() {
    let ast = parse(DOCKERFILE).expect("parse");
    let dockerfile = parse_dockerfile(&ast).expect("instructions");
    assert_eq!(dockerfile.meta_args.len(), 2);

    let globals = StageVars::new(
        ast.escape,
        &[
            ("BASE", "alpine"),
            ("TAG", "3.20"),
            ("TARGETPLATFORM", "linux/amd64"),
        ],
    );
    let stage = &dockerfile.stages[0];
    let mut globals = globals;
    assert_eq!(stage.expanded_base(&mut globals).unwrap(), "alpine:3.20");
    assert_eq!(
        stage.expanded_platform(&mut globals).unwrap().as_deref(),
        Some("linux/amd64")
    );

    let mut vars = StageVars::new(
        ast.escape,
        &[
            ("APP", "/srv/app"),
            ("MODE", "fast mode"),
            ("UID", "10"),
            ("SECRET_ID", "npmrc"),
            ("PORTS", "80/tcp 443/tcp"),
            ("SIG", "TERM"),
        ],
    );
    let mut expanded = Vec::new();
    for ins in &stage.instructions {
        let mut ins = ins.clone();
        ins.expand(&mut vars).expect("expand");
        expanded.push(ins);
    }

    let mut it = expanded.iter();
    match it.next() {
        Some(Instruction::Env(e)) => {
            assert_eq!(e.env[1].value, "fast mode");
        }
        other => panic!("{other:?}"),
    }
    match it.next() {
        Some(Instruction::Workdir(w)) => assert_eq!(w.path, "/srv/app"),
        other => panic!("{other:?}"),
    }
    match it.next() {
        Some(Instruction::User(u)) => assert_eq!(u.user, "10:1000"),
        other => panic!("{other:?}"),
    }
    match it.next() {
        Some(Instruction::Copy(c)) => {
            assert_eq!(c.chown.as_deref(), Some("10"));
            assert_eq!(c.chmod.as_deref(), Some("0755"));
            assert_eq!(c.files.paths, ["src dir"]);
            assert_eq!(c.files.dest, "/srv/app/");
        }
        other => panic!("{other:?}"),
    }
    match it.next() {
        Some(Instruction::Copy(c)) => {
            assert_eq!(c.files.contents[0].path, "EOF");
            assert_eq!(c.files.contents[0].data, "hello \"/srv/app\"\n");
        }
        other => panic!("{other:?}"),
    }
    match it.next() {
        Some(Instruction::Run(r)) => {
            let cache = r.mounts[0].resolved.as_ref().unwrap();
            assert_eq!(cache.kind, MountType::Cache);
            assert_eq!(cache.target.as_deref(), Some("/srv/app/.cache"));
            assert_eq!(cache.sharing, Some(ShareMode::Locked));
            let secret = r.mounts[1].resolved.as_ref().unwrap();
            assert_eq!(secret.secret_id().as_deref(), Some("npmrc"));
            assert!(secret.required);
            assert_eq!(r.cmd_line.args, ["echo $APP"]);
        }
        other => panic!("{other:?}"),
    }
    match it.next() {
        Some(Instruction::Expose(e)) => assert_eq!(e.ports, ["80/tcp", "443/tcp", "22/tcp"]),
        other => panic!("{other:?}"),
    }
    match it.next() {
        Some(Instruction::Label(l)) => {
            assert_eq!(l.labels[0].key, "org.example.mode");
            assert_eq!(l.labels[0].value, "fast mode");
        }
        other => panic!("{other:?}"),
    }
    match it.next() {
        Some(Instruction::Volume(v)) => assert_eq!(v.volumes, ["/srv/app/data"]),
        other => panic!("{other:?}"),
    }
    match it.next() {
        Some(Instruction::StopSignal(s)) => assert_eq!(s.signal, "SIGTERM"),
        other => panic!("{other:?}"),
    }
    match it.next() {
        Some(Instruction::Cmd(c)) => assert_eq!(c.cmd_line.args, ["echo $APP"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn mount_errors_surface_at_expansion_with_the_line() {
    let text = "FROM busybox\nRUN --mount=type=nosuch,target=/x true\n";
    let dockerfile = parse_dockerfile(&parse(text).unwrap()).expect("parse-time check passes");
    let mut ins = dockerfile.stages[0].instructions[0].clone();
    let err = ins
        .expand(&mut StageVars::new('\\', &[]))
        .expect_err("unknown mount type");
    assert_eq!(err.span.start, 2);
    assert_eq!(err.message, "unsupported mount type \"nosuch\"");
}

#[test]
fn quoted_paths_in_shell_form_fail_like_buildkit() {
    // The parser splits shell-form COPY on whitespace before expansion, so the quote is
    // unterminated in each half.
    let text = "FROM busybox\nCOPY \"a b\" /x\n";
    let dockerfile = parse_dockerfile(&parse(text).unwrap()).unwrap();
    let mut ins = dockerfile.stages[0].instructions[0].clone();
    let err = ins.expand(&mut StageVars::new('\\', &[])).unwrap_err();
    assert_eq!(err.span.start, 2);
    assert!(err.message.contains("double-quote"), "{}", err.message);
}

#[test]
fn heredocs_and_onbuild_from_the_parser() {
    let text =
        "FROM a\nONBUILD COPY <<EOF /x\nbody\nEOF\nCOPY <<-A <<\"B\" /d\n\taa $V\nA\nbb $V\nB\n";
    let dockerfile = parse_dockerfile(&parse(text).unwrap()).unwrap();
    let stage = &dockerfile.stages[0];
    match &stage.instructions[0] {
        Instruction::Onbuild(o) => {
            assert_eq!(o.expression, "COPY <<EOF /x\nbody\nEOF");
            assert_eq!(o.trigger.keyword, "copy");
        }
        other => panic!("{other:?}"),
    }
    let mut copy = stage.instructions[1].clone();
    copy.expand(&mut StageVars::new('\\', &[("V", "1")]))
        .unwrap();
    match copy {
        Instruction::Copy(c) => {
            let bodies: Vec<(&str, &str)> = c
                .files
                .contents
                .iter()
                .map(|s| (s.path.as_str(), s.data.as_str()))
                .collect();
            assert_eq!(bodies, [("A", "aa 1\n"), ("B", "bb $V\n")]);
        }
        other => panic!("{other:?}"),
    }
}
