//! Build checks: BuildKit's lint warnings on the plain progress (`#N WARN: Rule: message
//! (line N)`) and in the summary after the build, `# check=skip=...` silencing rules,
//! `# check=error=true` failing the build, and the `BUILDKIT_DOCKERFILE_CHECK` build arg
//! overriding the directive.

use crate::build_support::Work;
use crate::common::text;

/// Three rules broken: FromAsCasing (line 1), MaintainerDeprecated (2), LegacyKeyValueFormat (3).
const LINTED: &str = "FROM scratch as base\nMAINTAINER me@example.com\nENV foo bar\nCOPY a /a\n";

const FROM_AS: &str = "FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)";
const MAINTAINER: &str =
    "MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 2)";
const LEGACY: &str = "LegacyKeyValueFormat: \"ENV key=value\" should be used instead of legacy \
                      \"ENV key value\" format (line 3)";

fn work(dockerfile: &str) -> Work {
    let w = Work::new();
    w.file("a", "a\n", 0o644);
    w.dockerfile(dockerfile);
    w
}

#[test]
fn checks_warn_on_the_progress_and_in_the_summary() {
    let w = work(LINTED);
    let err = w.build_ok(&["-t", "app"]);
    for rule in [FROM_AS, MAINTAINER, LEGACY] {
        assert!(
            err.contains(&format!(" WARN: {rule}\n")),
            "{rule}; stderr:\n{err}"
        );
    }
    let summary = format!(
        "\n 3 warnings found (use --progress=plain to see them in context):\n - {FROM_AS}\n - \
         {MAINTAINER}\n - {LEGACY}\n"
    );
    assert!(err.ends_with(&summary), "stderr:\n{err}");
}

#[test]
fn checks_clean_dockerfile_says_nothing() {
    let w = work("FROM scratch AS base\nLABEL a=b\nCOPY a /a\n");
    let err = w.build_ok(&[]);
    assert!(!err.contains("WARN"), "{err}");
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn checks_skip_directive_silences_rules() {
    let w = work(&format!(
        "# check=skip=FromAsCasing, MaintainerDeprecated\n{LINTED}"
    ));
    let err = w.build_ok(&[]);
    assert!(!err.contains("FromAsCasing"), "{err}");
    assert!(!err.contains("MaintainerDeprecated"), "{err}");
    assert!(err.contains(" WARN: LegacyKeyValueFormat:"), "{err}");
    assert!(err.contains("\n 1 warning found ("), "{err}");

    let w = work(&format!("# check=skip=all\n{LINTED}"));
    let err = w.build_ok(&[]);
    assert!(!err.contains("WARN"), "{err}");
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn checks_error_true_fails_the_build() {
    let w = work(&format!("# check=error=true\n{LINTED}"));
    let out = w.build(&["-t", "app"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{err}");
    // The warnings are told first (lines moved down by the directive).
    assert!(err.contains(" WARN: MaintainerDeprecated:"), "{err}");
    assert!(
        err.contains(
            "ERROR: failed to solve: lint violation found for rules: FromAsCasing, \
             MaintainerDeprecated, LegacyKeyValueFormat"
        ),
        "{err}"
    );
    let images = text(&w.builder(&["images"]).stdout);
    assert!(!images.contains("app"), "{images}");

    // Nothing to report: error=true builds.
    let w = work("# check=error=true\nFROM scratch\nCOPY a /a\n");
    w.build_ok(&[]);
}

#[test]
fn checks_build_arg_overrides_the_directive() {
    let w = work(&format!("# check=error=true\n{LINTED}"));
    let err = w.build_ok(&["--build-arg", "BUILDKIT_DOCKERFILE_CHECK=skip=all"]);
    assert!(!err.contains("WARN"), "{err}");

    let w = work(LINTED);
    let out = w.build(&[
        "--build-arg",
        "BUILDKIT_DOCKERFILE_CHECK=skip=MaintainerDeprecated;error=true",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{err}");
    assert!(
        err.contains("lint violation found for rules: FromAsCasing, LegacyKeyValueFormat"),
        "{err}"
    );
}

#[test]
fn checks_bad_options_are_refused() {
    let w = work(&format!("# check=bogus\n{LINTED}"));
    let out = w.build(&[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{err}");
    assert!(
        err.contains("failed to parse check options: invalid check option \"bogus\""),
        "{err}"
    );

    let w = work(LINTED);
    let out = w.build(&["--build-arg", "BUILDKIT_DOCKERFILE_CHECK=error=maybe"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{err}");
    assert!(
        err.contains("failed to parse BUILDKIT_DOCKERFILE_CHECK"),
        "{err}"
    );
}

#[test]
fn checks_rawjson_carries_warnings_without_summary() {
    let w = work(LINTED);
    let out = w.builder(&["build", "--progress", "rawjson", "ctx"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{err}");
    let warn_lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("WARN: MaintainerDeprecated"))
        .collect();
    assert_eq!(warn_lines.len(), 1, "{err}");
    assert!(warn_lines[0].starts_with('{'), "{err}");
    assert!(!err.contains("warnings found"), "{err}");
}
