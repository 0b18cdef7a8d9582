//! Build arguments and variable scoping, as BuildKit's dockerfile2llb resolves them:
//!
//! - the automatic platform arguments (`BUILDPLATFORM` ... `TARGETSTAGE`), which exist in the
//!   global scope without a declaration and which `--build-arg` may override;
//! - the global (meta) `ARG`s before the first FROM, visible only in FROM lines unless a
//!   stage redeclares them (`ARG NAME` without a value takes the global value);
//! - a stage `ARG`: its value is the `--build-arg` if given, else its default expanded
//!   against the stage's variables, else the global value;
//! - the proxy arguments (`HTTP_PROXY` ... and lower case), passed to every RUN without a
//!   declaration and kept out of history.
//!
//! [`EnvList`] is the stage's variable list (BuildKit's llb state env): ARG values and ENV
//! both live there for expansion and for RUN's environment; only ENV reaches the image.

use std::collections::{BTreeMap, BTreeSet};

use crate::dockerfile::ast::Span;
use crate::dockerfile::error::ParseError;
use crate::dockerfile::shell::{Env, Lexer};

use crate::domain::Platform;

/// An ordered variable list; setting a variable moves it to the end (llb's `AddOrReplace`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvList {
    vars: Vec<(String, String)>,
}

impl EnvList {
    /// An empty list.
    pub fn new() -> Self {
        EnvList::default()
    }

    /// Set `key` to `value`, moving it to the end.
    pub fn set(&mut self, key: &str, value: &str) {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.to_string(), value.to_string()));
    }

    /// The value of `key`, if set.
    pub fn lookup(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The variables in order.
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }

    /// The variables as `KEY=VALUE` strings, in order.
    pub fn to_strings(&self) -> Vec<String> {
        self.vars.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

impl Env for EnvList {
    fn get(&self, name: &str) -> Option<&str> {
        self.lookup(name)
    }
}

/// The automatic platform arguments, in BuildKit's order, each overridable by a build arg of
/// the same name.
pub fn automatic_args(
    build: &Platform,
    target: &Platform,
    target_stage: &str,
    overrides: &BTreeMap<String, String>,
) -> EnvList {
    let values = [
        ("BUILDPLATFORM", build.to_string()),
        ("BUILDOS", build.os.clone()),
        ("BUILDOSVERSION", String::new()),
        ("BUILDARCH", build.architecture.clone()),
        ("BUILDVARIANT", build.variant.clone()),
        ("TARGETPLATFORM", target.to_string()),
        ("TARGETOS", target.os.clone()),
        ("TARGETOSVERSION", String::new()),
        ("TARGETARCH", target.architecture.clone()),
        ("TARGETVARIANT", target.variant.clone()),
        ("TARGETSTAGE", target_stage.to_string()),
    ];
    let mut env = EnvList::new();
    for (k, v) in values {
        let v = overrides.get(k).cloned().unwrap_or(v);
        env.set(k, &v);
    }
    env
}

/// Names of the automatic platform arguments.
pub fn is_automatic_arg(name: &str) -> bool {
    matches!(
        name,
        "BUILDPLATFORM"
            | "BUILDOS"
            | "BUILDOSVERSION"
            | "BUILDARCH"
            | "BUILDVARIANT"
            | "TARGETPLATFORM"
            | "TARGETOS"
            | "TARGETOSVERSION"
            | "TARGETARCH"
            | "TARGETVARIANT"
            | "TARGETSTAGE"
    )
}

const PROXY_ARGS: [&str; 5] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
];

/// True for the predefined proxy arguments, in either case (`http_proxy`, `HTTP_PROXY`).
pub fn is_proxy_arg(name: &str) -> bool {
    PROXY_ARGS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// The proxy variables every RUN gets from the build args, upper and lower case, in
/// BuildKit's order (`HTTP_PROXY`, `http_proxy`, `HTTPS_PROXY`, ...). Among build args that
/// differ only in case, the one sorting last wins, as in BuildKit.
pub fn proxy_env(build_args: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in PROXY_ARGS {
        let value = build_args
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .next_back();
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            out.push((name.to_string(), v.clone()));
            out.push((name.to_ascii_lowercase(), v.clone()));
        }
    }
    out
}

/// One `NAME[=default]` of an ARG instruction.
#[derive(Debug, Clone, Copy)]
pub struct ArgDecl<'a> {
    /// The name.
    pub key: &'a str,
    /// The default as written, unexpanded.
    pub value: Option<&'a str>,
    /// The ARG instruction's lines.
    pub span: Span,
}

/// The global scope: the automatic arguments plus each meta ARG in order (its build arg if
/// given, else its default expanded against the args before it). Returns the scope and the
/// names the meta ARGs declared.
pub fn global_args(
    automatic: EnvList,
    meta: &[ArgDecl<'_>],
    build_args: &BTreeMap<String, String>,
    lexer: &Lexer,
) -> Result<(EnvList, BTreeSet<String>), ParseError> {
    let mut env = automatic;
    let mut declared = BTreeSet::new();
    for arg in meta {
        declared.insert(arg.key.to_string());
        let value = match (build_args.get(arg.key), arg.value) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(default)) => Some(
                lexer
                    .process_word(default, &env)
                    .map_err(|e| ParseError::new(arg.span, e.in_word(default)))?,
            ),
            (None, None) => None,
        };
        if let Some(v) = value {
            env.set(arg.key, &v);
        }
    }
    Ok((env, declared))
}

/// The value a stage `ARG` takes, and the variables its default referenced: the build arg if
/// given; else the default expanded against the stage's variables; else, for `ARG NAME`
/// without a default, the global value (`None` when there is none).
pub fn stage_arg_value(
    decl: &ArgDecl<'_>,
    build_args: &BTreeMap<String, String>,
    global: &EnvList,
    stage_env: &EnvList,
    lexer: &Lexer,
) -> Result<(Option<String>, BTreeSet<String>), ParseError> {
    if let Some(v) = build_args.get(decl.key) {
        return Ok((Some(v.clone()), BTreeSet::new()));
    }
    match decl.value {
        Some(default) => {
            let (v, matches) = lexer
                .process_word_with_matches(default, stage_env)
                .map_err(|e| ParseError::new(decl.span, e.in_word(default)))?;
            Ok((Some(v), matches.matched))
        }
        None => Ok((global.lookup(decl.key).map(str::to_string), BTreeSet::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexer() -> Lexer {
        Lexer::new('\\')
    }

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn automatic_args_follow_platforms_and_overrides() {
        let build = Platform::linux_amd64();
        let target = Platform::new("linux", "arm", "v7");
        let env = automatic_args(&build, &target, "final", &args(&[("TARGETOS", "x")]));
        assert_eq!(env.lookup("BUILDPLATFORM"), Some("linux/amd64"));
        assert_eq!(env.lookup("TARGETPLATFORM"), Some("linux/arm/v7"));
        assert_eq!(env.lookup("TARGETVARIANT"), Some("v7"));
        assert_eq!(env.lookup("TARGETOS"), Some("x"));
        assert_eq!(env.lookup("TARGETSTAGE"), Some("final"));
        assert_eq!(env.vars().len(), 11);
    }

    #[test]
    fn meta_args_expand_in_order_and_build_args_win() {
        let span = Span::new(1, 1);
        let meta = [
            ArgDecl {
                key: "A",
                value: Some("1"),
                span,
            },
            ArgDecl {
                key: "B",
                value: Some("${A}-$TARGETARCH"),
                span,
            },
            ArgDecl {
                key: "C",
                value: None,
                span,
            },
            ArgDecl {
                key: "D",
                value: Some("dflt"),
                span,
            },
        ];
        let auto = automatic_args(
            &Platform::linux_amd64(),
            &Platform::linux_amd64(),
            "",
            &BTreeMap::new(),
        );
        let (env, declared) =
            global_args(auto, &meta, &args(&[("D", "given"), ("Z", "u")]), &lexer()).unwrap();
        assert_eq!(env.lookup("B"), Some("1-amd64"));
        assert_eq!(env.lookup("C"), None);
        assert_eq!(env.lookup("D"), Some("given"));
        assert_eq!(env.lookup("Z"), None);
        assert!(declared.contains("C"));
    }

    #[test]
    fn bad_meta_default_points_at_the_arg() {
        let meta = [ArgDecl {
            key: "X",
            value: Some("${NOPE:?is required}"),
            span: Span::new(2, 2),
        }];
        let err = global_args(EnvList::new(), &meta, &BTreeMap::new(), &lexer()).unwrap_err();
        assert_eq!(err.span, Span::new(2, 2));
        assert!(err.message.contains("NOPE: is required"), "{}", err.message);
    }

    #[test]
    fn stage_arg_precedence() {
        let span = Span::new(3, 3);
        let mut global = EnvList::new();
        global.set("V", "global");
        let mut stage = EnvList::new();
        stage.set("E", "env");
        let l = lexer();
        let get = |key, value, ba: &BTreeMap<String, String>| {
            stage_arg_value(&ArgDecl { key, value, span }, ba, &global, &stage, &l)
                .unwrap()
                .0
        };
        let none = BTreeMap::new();
        assert_eq!(get("V", None, &none).as_deref(), Some("global"));
        assert_eq!(get("V", Some("d-$E"), &none).as_deref(), Some("d-env"));
        assert_eq!(
            get("V", Some("d"), &args(&[("V", "cli")])).as_deref(),
            Some("cli")
        );
        assert_eq!(get("W", None, &none), None);
    }

    #[test]
    fn proxy_args_are_recognised_and_doubled() {
        assert!(is_proxy_arg("http_proxy"));
        assert!(is_proxy_arg("NO_PROXY"));
        assert!(!is_proxy_arg("PROXY"));
        let env = proxy_env(&args(&[("https_proxy", "p"), ("OTHER", "x")]));
        assert_eq!(
            env,
            vec![
                ("HTTPS_PROXY".to_string(), "p".to_string()),
                ("https_proxy".to_string(), "p".to_string())
            ]
        );
    }

    #[test]
    fn env_list_moves_replaced_keys_to_the_end() {
        let mut e = EnvList::new();
        e.set("A", "1");
        e.set("B", "2");
        e.set("A", "3");
        assert_eq!(e.to_strings(), vec!["B=2", "A=3"]);
    }
}
