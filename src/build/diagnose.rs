//! A failed build as the user reads it, in BuildKit's shape: for a RUN, the end of its
//! output in a box; the Dockerfile excerpt (`Dockerfile:3`, the failing lines marked `>>>`);
//! `ERROR: failed to solve: ` with the cause chain, each cause once; then a `hint:` line
//! where one helps ([`super::hint`]).
//!
//! ```text
//! ------
//!  > [2/3] RUN false:
//! ------
//! Dockerfile:3
//! --------------------
//!    1 |     FROM busybox
//!    2 |     COPY a /a
//!    3 | >>> RUN false
//!    4 |     CMD ["sh"]
//!    5 |
//! --------------------
//! ERROR: failed to solve: process "/bin/sh -c false" did not complete successfully: exit code: 1
//! ```
//!
//! Parse and plan errors become [`Error::Dockerfile`] (exit 2), failed steps and missing base
//! images [`Error::Build`] (exit 1).

use std::path::Path;

use super::hint;
use crate::dockerfile::ast::Span;
use crate::dockerfile::error::render;
use crate::dockerfile::instructions::suggest;
use crate::dockerfile::{self, ParseError};
use crate::error::Error;
use crate::solve::SolveError;

/// The name BuildKit gives the Dockerfile in an excerpt: its file name (`Dockerfile`,
/// `prod.Dockerfile`), `Dockerfile` when it came from stdin.
pub fn file_name(label: &str) -> &str {
    if label == "-" {
        return "Dockerfile";
    }
    Path::new(label)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(label)
}

/// The excerpt for `span`, `ERROR: failed to solve: message`, and the hint if any.
pub(super) fn located(
    label: &str,
    text: &str,
    span: Span,
    message: &str,
    hint: Option<String>,
) -> String {
    let mut out = render(
        file_name(label),
        text,
        span,
        &format!("failed to solve: {message}"),
    );
    if let Some(h) = hint {
        out.push_str("\nhint: ");
        out.push_str(&h);
    }
    out
}

/// A Dockerfile that does not parse (`dockerfile parse error on line 2: unknown
/// instruction: FRUM (did you mean FROM?)`): exit 2.
pub fn parse_failure(label: &str, text: &str, err: &ParseError) -> Error {
    let message = match err.span.start {
        // No line to quote: name the file instead (`Dockerfile: file with no instructions`).
        0 => format!("{}: {}", file_name(label), err.message),
        _ => err.parse_message(),
    };
    Error::dockerfile(located(label, text, err.span, &message, None), err.clone())
}

/// A Dockerfile that parses but cannot be planned (an unknown `--target`, a cycle between
/// stages, a bad `--platform` in FROM): exit 2.
pub fn plan_failure(label: &str, text: &str, err: &ParseError) -> Error {
    Error::dockerfile(
        located(label, text, err.span, &err.message, None),
        err.clone(),
    )
}

/// A step that failed: the RUN's output tail first (as BuildKit), then the excerpt and the
/// cause: exit 1.
pub fn step_failure(label: &str, text: &str, err: SolveError) -> Error {
    step_failure_in(label, text, err, false)
}

/// [`step_failure`] of a build whose context is empty because its Dockerfile came on
/// stdin in its place (`empty_context`): a COPY from the context says so.
pub(super) fn step_failure_in(
    label: &str,
    text: &str,
    err: SolveError,
    empty_context: bool,
) -> Error {
    let hint = if empty_context && hint::reads_context(&err.error) {
        Some(hint::EMPTY_CONTEXT.to_string())
    } else {
        hint::hint(&err.error)
    };
    let mut rendered = err.log().unwrap_or_default();
    rendered.push_str(&located(
        label,
        text,
        err.span,
        &crate::error::chain(&err.error),
        hint,
    ));
    Error::build(rendered, err)
}

/// A base image (`FROM`, `COPY --from`, `RUN --mount from=`) at `span` that is neither in
/// the local store nor could be pulled; a name that looks like a mistyped stage name says
/// so: exit 1.
pub fn missing_image<E: std::error::Error + Send + Sync + 'static>(
    label: &str,
    text: &str,
    reference: &str,
    span: Span,
    cause: E,
) -> Error {
    let written = written_name(reference);
    let message = format!(
        "image {reference:?} is not in the local store and could not be pulled: {}",
        crate::error::chain(&cause)
    );
    let hint = stage_hint(text, &written, span).unwrap_or_else(|| hint::missing_image(reference));
    Error::build(located(label, text, span, &message, Some(hint)), cause)
}

/// The short name of a reference as a Dockerfile writes it (`busybox`, `alpine:3.19`).
fn written_name(reference: &str) -> String {
    crate::domain::reference::Reference::parse(reference)
        .map(|r| r.familiar_short())
        .unwrap_or_else(|_| reference.to_string())
}

/// When `name` is a plain word and the Dockerfile has a stage of a close name (or the
/// failing line is a `--from` rather than a FROM), the image is most likely a stage name
/// gone wrong.
fn stage_hint(text: &str, name: &str, span: Span) -> Option<String> {
    if name.contains(['/', ':', '@', '.']) {
        return None;
    }
    let stages: Vec<String> = dockerfile::parse(text)
        .ok()
        .and_then(|ast| dockerfile::instructions::parse_dockerfile(&ast).ok())
        .map(|df| df.stages.into_iter().filter_map(|s| s.name).collect())
        .unwrap_or_default();
    let options: Vec<&str> = stages.iter().map(String::as_str).collect();
    let close = suggest::closest(name, &options, false);
    let line = text
        .lines()
        .nth(span.start.saturating_sub(1))
        .unwrap_or_default();
    let is_from = line.trim_start().to_ascii_uppercase().starts_with("FROM");
    if close.is_none() && is_from {
        return None;
    }
    let mut out = format!("no stage is named {name:?}");
    if let Some(c) = close {
        out.push_str(&format!(" (did you mean {c}?)"));
    } else if !stages.is_empty() {
        out.push_str(&format!(" (stages: {})", stages.join(", ")));
    }
    out.push_str(
        ", so it was taken for an image; --from takes a stage name or index, a \
         --build-context name, or an image",
    );
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::ExitStatus;
    use crate::solve::error::RunLog;
    use crate::solve::StepError;

    const DF: &str = "FROM busybox AS build\nRUN make\nFROM busybox\nCOPY --from=biuld /a /a\n";

    #[test]
    fn file_name_is_the_base_name_and_stdin_is_dockerfile() {
        assert_eq!(file_name("ctx/sub/prod.Dockerfile"), "prod.Dockerfile");
        assert_eq!(file_name("./Dockerfile"), "Dockerfile");
        assert_eq!(file_name("-"), "Dockerfile");
    }

    #[test]
    fn parse_failure_is_a_usage_exit_with_buildkit_words() {
        let err = parse_failure(
            "Dockerfile",
            "FROM a\nFRUM b\n",
            &ParseError::at_line(2, "unknown instruction: FRUM (did you mean FROM?)"),
        );
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(text.ends_with(
            "ERROR: failed to solve: dockerfile parse error on line 2: unknown instruction: FRUM (did you mean FROM?)"
        ), "{text}");
    }

    #[test]
    fn step_failure_puts_the_log_box_first_and_the_cause_once() {
        let err = StepError::RunFailed {
            process: "/bin/sh -c make".into(),
            status: ExitStatus::Code(2),
            log: RunLog {
                name: "[build 2/2] RUN make".into(),
                tail: vec!["0.010 make: *** No targets.  Stop.".into()],
            },
        }
        .at(Span::new(2, 2));
        let err = step_failure("ctx/Dockerfile", DF, err);
        assert_eq!(err.exit_code(), 1);
        let text = err.to_string();
        assert!(
            text.starts_with("------\n > [build 2/2] RUN make:\n0.010 make"),
            "{text}"
        );
        assert!(text.contains("------\nDockerfile:2\n"), "{text}");
        assert!(text.ends_with(
            "ERROR: failed to solve: process \"/bin/sh -c make\" did not complete successfully: exit code: 2"
        ), "{text}");
        assert_eq!(text.matches("exit code: 2").count(), 1);
    }

    #[test]
    fn mistyped_stage_in_from_flag_suggests_the_stage() {
        let cause = std::io::Error::other("connection refused");
        let err = missing_image(
            "Dockerfile",
            DF,
            "docker.io/library/biuld:latest",
            Span::new(4, 4),
            cause,
        );
        let text = err.to_string();
        assert!(
            text.contains("   4 | >>> COPY --from=biuld /a /a\n"),
            "{text}"
        );
        assert!(text.contains("ERROR: failed to solve: image \"docker.io/library/biuld:latest\" is not in the local store and could not be pulled: connection refused"), "{text}");
        assert!(
            text.contains("hint: no stage is named \"biuld\" (did you mean build?)"),
            "{text}"
        );
    }

    #[test]
    fn missing_base_image_hints_at_pull_and_build_context() {
        let cause = std::io::Error::other("not found");
        let err = missing_image(
            "Dockerfile",
            "FROM alpine:3.19\n",
            "docker.io/library/alpine:3.19",
            Span::new(1, 1),
            cause,
        );
        let text = err.to_string();
        assert!(text.contains("`builder pull alpine:3.19`"), "{text}");
        assert!(
            text.contains("--build-context alpine:3.19=oci-layout://DIR"),
            "{text}"
        );
    }
}
