use super::*;

/// The short forms of every finding for `src`.
fn lint(src: &str) -> Vec<String> {
    let ast = crate::dockerfile::parse(src).expect("parse");
    let df = crate::dockerfile::instructions::parse_dockerfile(&ast).expect("instructions");
    run(&ast, &df).iter().map(Finding::short).collect()
}

fn rules(src: &str) -> Vec<&'static str> {
    let ast = crate::dockerfile::parse(src).expect("parse");
    let df = crate::dockerfile::instructions::parse_dockerfile(&ast).expect("instructions");
    run(&ast, &df).iter().map(|f| f.rule).collect()
}

#[test]
fn stage_name_casing() {
    assert_eq!(
        lint("FROM alpine AS BuilderBase\n"),
        ["StageNameCasing: Stage name 'BuilderBase' should be lowercase (line 1)"]
    );
    assert!(lint("FROM alpine AS builder-base\n").is_empty());
}

#[test]
fn from_as_casing() {
    assert_eq!(
        lint("FROM debian:latest as builder\n"),
        ["FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)"]
    );
    assert!(lint("FROM debian:latest AS deb-builder\n").is_empty());
    assert!(lint("from debian:latest as deb-builder\n").is_empty());
}

#[test]
fn no_empty_continuation() {
    let bad = "FROM alpine\nEXPOSE \\\n\n80\n";
    assert_eq!(
        lint(bad),
        ["NoEmptyContinuation: Empty continuation line (line 4)"]
    );
    assert!(lint("FROM alpine\nEXPOSE \\\n# Port\n80\n").is_empty());
}

#[test]
fn consistent_instruction_casing() {
    let bad =
        "From alpine\nRun echo hello > /greeting.txt\nEntRYpOiNT [\"cat\", \"/greeting.txt\"]\n";
    assert_eq!(
        lint(bad),
        [
            "ConsistentInstructionCasing: Command 'From' should match the case of the command majority (uppercase) (line 1)",
            "ConsistentInstructionCasing: Command 'Run' should match the case of the command majority (uppercase) (line 2)",
            "ConsistentInstructionCasing: Command 'EntRYpOiNT' should match the case of the command majority (uppercase) (line 3)",
        ]
    );
    assert_eq!(
        rules("FROM alpine\nrun true\nrun true\n"),
        ["ConsistentInstructionCasing"]
    );
    assert!(lint("from alpine\nrun echo hello > /g\nentrypoint [\"cat\", \"/g\"]\n").is_empty());
}

#[test]
fn duplicate_and_reserved_stage_names() {
    assert_eq!(
        lint("FROM alpine AS builder\nFROM alpine AS builder\n"),
        ["DuplicateStageName: Duplicate stage name \"builder\", stage names should be unique (line 2)"]
    );
    assert_eq!(
        lint("FROM alpine AS scratch\n"),
        ["ReservedStageName: Stage name should not use the same name as reserved stage \"scratch\" (line 1)"]
    );
    assert!(lint("FROM alpine AS builder\nFROM alpine AS deb-builder\n").is_empty());
}

#[test]
fn json_args_recommended() {
    assert_eq!(
        lint("FROM alpine\nENTRYPOINT my-program start\n"),
        ["JSONArgsRecommended: JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to OS signals (line 2)"]
    );
    assert!(lint("FROM alpine\nENTRYPOINT [\"my-program\", \"start\"]\n").is_empty());
    assert!(lint("FROM alpine\nSHELL [\"/bin/bash\", \"-c\"]\nCMD run\n").is_empty());
    assert!(lint("FROM alpine AS a\nSHELL [\"/bin/sh\", \"-c\"]\nFROM a\nCMD run\n").is_empty());
}

#[test]
fn maintainer_deprecated() {
    assert_eq!(
        lint("FROM alpine\nMAINTAINER moby@example.com\n"),
        ["MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 2)"]
    );
    assert!(
        lint("FROM alpine\nLABEL org.opencontainers.image.authors=\"moby@example.com\"\n")
            .is_empty()
    );
}

#[test]
fn undefined_arg_in_from() {
    assert_eq!(
        lint("FROM node:22${VARIANT} AS jsbuilder\n"),
        ["UndefinedArgInFrom: FROM argument 'VARIANT' is not declared (line 1)"]
    );
    assert!(lint("ARG VARIANT=\"-alpine3.20\"\nFROM node:22${VARIANT} AS jsbuilder\n").is_empty());
    assert!(lint("FROM --platform=$BUILDPLATFORM alpine AS b\n").is_empty());
    assert_eq!(
        lint("ARG VERSION=1\nFROM alpine:3${VERSOIN}\n"),
        ["UndefinedArgInFrom: FROM argument 'VERSOIN' is not declared (did you mean VERSION?) (line 2)"]
    );
}

#[test]
fn invalid_default_arg_in_from() {
    assert_eq!(
        lint("ARG TAG\nFROM busybox:${TAG}\n"),
        ["InvalidDefaultArgInFrom: Default value for ARG busybox:${TAG} results in empty or invalid base image name (line 2)"]
    );
    assert!(lint("ARG TAG=latest\nFROM busybox:${TAG}\n").is_empty());
    assert!(lint("ARG VARIANT\nFROM busybox:stable${VARIANT}\n").is_empty());
    assert!(lint("ARG TAG\nFROM alpine:${TAG:-3.14}\n").is_empty());
}

#[test]
fn workdir_relative_path() {
    assert_eq!(
        lint("FROM nginx AS web\nWORKDIR usr/share/nginx/html\nCOPY public .\n"),
        ["WorkdirRelativePath: Relative workdir \"usr/share/nginx/html\" can have unexpected results if the base image changes (line 2)"]
    );
    assert!(lint("FROM nginx AS web\nWORKDIR /usr/share/nginx/html\nCOPY public .\n").is_empty());
    assert!(lint("FROM nginx\nWORKDIR /usr\nWORKDIR share\n").is_empty());
    // BuildKit's testWorkdirRelativePath: the parent stage's WORKDIR counts.
    assert!(lint("FROM scratch AS a\nWORKDIR /app\n\nFROM a AS b\nWORKDIR subdir/\n").is_empty());
}

#[test]
fn multiple_instructions_disallowed() {
    let bad = "FROM alpine\nENTRYPOINT [\"echo\", \"Hello, Norway!\"]\nENTRYPOINT [\"echo\", \"Hello, Sweden!\"]\n";
    assert_eq!(
        lint(bad),
        ["MultipleInstructionsDisallowed: Multiple ENTRYPOINT instructions should not be used in the same stage because only the last one will be used (line 2)"]
    );
    assert!(lint(
        "FROM alpine\nENTRYPOINT [\"echo\", \"x\"]\nFROM alpine\nENTRYPOINT [\"echo\"]\n"
    )
    .is_empty());
}

#[test]
fn legacy_key_value_format() {
    assert_eq!(
        lint("FROM alpine\nENV foo bar\n"),
        ["LegacyKeyValueFormat: \"ENV key=value\" should be used instead of legacy \"ENV key value\" format (line 2)"]
    );
    assert_eq!(
        rules("FROM alpine\nLABEL foo bar\n"),
        ["LegacyKeyValueFormat"]
    );
    assert!(lint("FROM alpine\nENV foo=bar\nLABEL a=b c=d\n").is_empty());
}

#[test]
fn redundant_target_platform() {
    assert_eq!(
        lint("FROM --platform=$TARGETPLATFORM alpine AS builder\n"),
        ["RedundantTargetPlatform: Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior (line 1)"]
    );
    assert!(lint("FROM alpine AS builder\n").is_empty());
}

#[test]
fn secrets_used_in_arg_or_env() {
    assert_eq!(
        lint("FROM alpine\nARG AWS_SECRET_ACCESS_KEY\nENV github_token=x\n"),
        [
            "SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG \"AWS_SECRET_ACCESS_KEY\") (line 2)",
            "SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV \"github_token\") (line 3)",
        ]
    );
    assert!(lint("FROM alpine\nARG PUBLIC_KEY\nARG KEYBOARD\nENV GPG_KEY_FILE=x\n").is_empty());
}

#[test]
fn from_platform_flag_const_disallowed() {
    assert_eq!(
        lint("FROM --platform=linux/amd64 alpine AS base\n"),
        ["FromPlatformFlagConstDisallowed: FROM --platform flag should not use constant value \"linux/amd64\" (line 1)"]
    );
    assert!(lint("FROM --platform=${BUILDPLATFORM} alpine AS base\n").is_empty());
    assert!(lint("FROM --platform=linux/amd64 alpine AS build_amd64\n").is_empty());
}

#[test]
fn expose_rules() {
    assert_eq!(
        lint("FROM alpine\nEXPOSE 80/TcP\n"),
        ["ExposeProtoCasing: Defined protocol '80/TcP' in EXPOSE instruction should be lowercase (line 2)"]
    );
    assert_eq!(
        lint("FROM alpine\nEXPOSE 127.0.0.1:80:80\n"),
        ["ExposeInvalidFormat: EXPOSE instruction should not define an IP address or host-port mapping, found '127.0.0.1:80:80' (line 2)"]
    );
    assert!(lint("FROM alpine\nEXPOSE 80/tcp 443\n").is_empty());
}

#[test]
fn config_parse_and_apply() {
    let c = CheckConfig::parse("skip=JSONArgsRecommended, StageNameCasing;error=true").unwrap();
    assert_eq!(c.skip, ["JSONArgsRecommended", "StageNameCasing"]);
    assert!(c.error && !c.skip_all);
    assert!(CheckConfig::parse("skip=all").unwrap().skip_all);
    assert!(CheckConfig::parse("bogus").is_err());
    assert!(CheckConfig::parse("error=maybe").is_err());
    assert!(CheckConfig::parse("nope=1").is_err());
    let f = vec![
        Finding::new("A", "a", 1),
        Finding::new("B", "b", 2),
        Finding::new("A", "c", 3),
    ];
    let skip_b = CheckConfig::parse("skip=B;error=1").unwrap();
    let shown = skip_b.filter(f.clone());
    assert_eq!(shown.len(), 2);
    assert_eq!(
        skip_b.failure(&shown).as_deref(),
        Some("lint violation found for rules: A")
    );
    assert!(CheckConfig::parse("skip=all;error=true")
        .unwrap()
        .filter(f)
        .is_empty());
}

#[test]
fn config_build_arg_overrides_directive() {
    let ast = crate::dockerfile::parse("# check=skip=all\nFROM alpine\n").unwrap();
    assert!(CheckConfig::resolve(&ast, None).unwrap().skip_all);
    let over = CheckConfig::resolve(&ast, Some("error=true")).unwrap();
    assert!(over.error && !over.skip_all);
    assert!(CheckConfig::resolve(&ast, Some("x"))
        .unwrap_err()
        .starts_with("failed to parse BUILDKIT_DOCKERFILE_CHECK"));
}

/// Cases of BuildKit's `dockerfile_check_test.go`: the rule, message and line expected.
#[test]
fn buildkit_check_test_cases() {
    let cases: [(&str, &str); 6] = [
        (
            "\nFROM scratch\n# warning: empty continuation line\nCOPY Dockerfile \\\n\n.\nCOPY Dockerfile \\\n.\n",
            "NoEmptyContinuation: Empty continuation line (line 6)",
        ),
        (
            "\n# warning\n#\nFrom scratch as base\nFROM scratch AS base2\n",
            "ConsistentInstructionCasing: Command 'From' should match the case of the command majority (uppercase) (line 4)",
        ),
        (
            "\nFROM scratch\n# warning\ncopy Dockerfile /foo\nCOPY Dockerfile /bar\n",
            "ConsistentInstructionCasing: Command 'copy' should match the case of the command majority (uppercase) (line 4)",
        ),
        (
            "\n# warning\n#\nfrOM scratch as base\nfrom scratch as base2\n",
            "ConsistentInstructionCasing: Command 'frOM' should match the case of the command majority (lowercase) (line 4)",
        ),
        (
            "\nfrom scratch\n# warning\nCOPY Dockerfile /foo\ncopy Dockerfile /bar\n",
            "ConsistentInstructionCasing: Command 'COPY' should match the case of the command majority (lowercase) (line 4)",
        ),
        (
            "\n# warning\n#\nfrom scratch\nCOPY Dockerfile /foo\nCOPY Dockerfile /bar\nCOPY Dockerfile /baz\n",
            "ConsistentInstructionCasing: Command 'from' should match the case of the command majority (uppercase) (line 4)",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(lint(src), [want], "{src}");
    }
}

/// BuildKit's `testSecretsUsedInArgOrEnv` (without its per-instruction check comments).
#[test]
fn buildkit_secrets_case() {
    let src = "\nFROM scratch\nARG SECRET_PASSPHRASE\nENV SUPER_Secret=foo\n\
               ENV password=bar secret=baz\nARG super_duper_secret_token=foo auth=bar\n\
               ENV apikey=bar sunflower=foo\nENV git_key=\nENV PUBLIC_KEY=\nARG public_token\n\
               ARG SECRET_PASSPHRASE_FILE\nENV password_file=bar secret_File=baz\n\
               ARG AUTH_MODULE_VERSION\n";
    let msg = |kind: &str, key: &str, line: usize| {
        format!(
            "SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data \
             ({kind} \"{key}\") (line {line})"
        )
    };
    assert_eq!(
        lint(src),
        [
            msg("ARG", "SECRET_PASSPHRASE", 3),
            msg("ENV", "SUPER_Secret", 4),
            msg("ENV", "password", 5),
            msg("ENV", "secret", 5),
            msg("ARG", "super_duper_secret_token", 6),
            msg("ARG", "auth", 6),
            msg("ENV", "apikey", 7),
            msg("ENV", "git_key", 8),
        ]
    );
}

/// BuildKit's `testMultipleInstructionsDisallowed`: the earlier instruction is reported.
#[test]
fn buildkit_multiple_instructions_case() {
    let src = "\nFROM scratch\nENTRYPOINT [\"/myapp\"]\nENTRYPOINT [\"/myotherapp\"]\n\
               CMD [\"/myapp\"]\nCMD [\"/myotherapp\"]\nHEALTHCHECK CMD [\"/myapp\"]\n\
               HEALTHCHECK CMD [\"/myotherapp\"]\n";
    let msg = |name: &str, line: usize| {
        format!(
            "MultipleInstructionsDisallowed: Multiple {name} instructions should not be used in \
             the same stage because only the last one will be used (line {line})"
        )
    };
    assert_eq!(
        lint(src),
        [msg("ENTRYPOINT", 3), msg("CMD", 5), msg("HEALTHCHECK", 7)]
    );
    let split = "\nFROM scratch AS a\nENTRYPOINT [\"/myapp\"]\nCMD [\"/myapp\"]\n\n\
                 FROM a AS b\nENTRYPOINT [\"/myotherapp\"]\nCMD [\"/myotherapp\"]\n";
    assert!(lint(split).is_empty());
}
