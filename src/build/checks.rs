//! Build checks at the front of a build: the `check` configuration (the
//! `BUILDKIT_DOCKERFILE_CHECK` build arg, else the `# check=` directive), the rules of
//! [`crate::dockerfile::checks`] run on the parsed Dockerfile, each finding told as a
//! warning, and with `error=true` the build failed once they are all told.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::dockerfile::checks::{self, CheckConfig, CHECK_BUILD_ARG};
use crate::dockerfile::instructions::Dockerfile;
use crate::error::{Error, Result};
use crate::progress::{Outcome, OutputLine, Reporter, VertexId};

/// Run the checks on `text` (already parsed into `dockerfile`), telling each finding shown
/// to `warn` in BuildKit's short form; the configuration in force, for later warnings.
pub(super) fn run(
    text: &str,
    dockerfile: &Dockerfile,
    build_args: &BTreeMap<String, String>,
    mut warn: impl FnMut(&str),
) -> Result<CheckConfig> {
    // The text parsed once already; a failure here cannot happen, and would only mean no
    // checks.
    let Ok(ast) = crate::dockerfile::parse(text) else {
        return Ok(CheckConfig::default());
    };
    let arg = build_args.get(CHECK_BUILD_ARG).map(String::as_str);
    // A bad build arg is a usage error; a bad directive an error of the Dockerfile.
    let config = CheckConfig::resolve(&ast, arg).map_err(|e| match arg {
        Some(_) => Error::Usage(e),
        None => Error::Dockerfile {
            rendered: format!("ERROR: failed to solve: failed to parse check options: {e}"),
            cause: None,
        },
    })?;
    let shown = config.filter(checks::run(&ast, dockerfile));
    for finding in &shown {
        warn(&finding.short());
    }
    match config.failure(&shown) {
        Some(message) => Err(Error::Build {
            rendered: format!("ERROR: failed to solve: {message}"),
            cause: None,
        }),
        None => Ok(config),
    }
}

/// A reporter that drops the warnings of skipped rules and passes everything else on,
/// keeping the rules of those it passed on.
#[derive(Debug)]
pub(super) struct Skipping<'a> {
    inner: &'a dyn Reporter,
    config: &'a CheckConfig,
    rules: Mutex<Vec<String>>,
}

impl<'a> Skipping<'a> {
    /// Filter the warnings told to `inner` by `config`.
    pub(super) fn new(inner: &'a dyn Reporter, config: &'a CheckConfig) -> Self {
        Skipping {
            inner,
            config,
            rules: Mutex::new(Vec::new()),
        }
    }

    /// With `error=true`, the build's failure when a warning was passed on.
    pub(super) fn failure(&self) -> Result<()> {
        let rules = crate::domain::lock(&self.rules);
        if !self.config.error || rules.is_empty() {
            return Ok(());
        }
        Err(Error::Build {
            rendered: format!(
                "ERROR: failed to solve: lint violation found for rules: {}",
                rules.join(", ")
            ),
            cause: None,
        })
    }
}

impl Reporter for Skipping<'_> {
    fn start(&self, name: &str) -> VertexId {
        self.inner.start(name)
    }
    fn log(&self, id: VertexId, line: &str) {
        self.inner.log(id, line);
    }
    fn output(&self, id: VertexId, data: &[u8], lines: &[OutputLine]) {
        self.inner.output(id, data, lines);
    }
    fn warn(&self, id: VertexId, short: &str) {
        let rule = short.split(':').next().unwrap_or_default();
        if !self.config.skips(rule) {
            let mut rules = crate::domain::lock(&self.rules);
            if !rules.iter().any(|r| r == rule) {
                rules.push(rule.to_string());
            }
            drop(rules);
            self.inner.warn(id, short);
        }
    }
    fn cached(&self, id: VertexId) {
        self.inner.cached(id);
    }
    fn miss(&self, id: VertexId, reason: &str) {
        self.inner.miss(id, reason);
    }
    fn progress(&self, id: VertexId, item: &str, current: u64, total: Option<u64>) {
        self.inner.progress(id, item, current, total);
    }
    fn done(&self, id: VertexId, elapsed: Duration) {
        self.inner.done(id, elapsed);
    }
    fn error(&self, id: VertexId, message: &str) {
        self.inner.error(id, message);
    }
    fn finish(&self, outcome: &Outcome<'_>) {
        self.inner.finish(outcome);
    }
}
