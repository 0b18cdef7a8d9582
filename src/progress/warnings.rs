//! The build's warnings, kept for the summary printed once the display has ended, as buildx
//! prints it:
//!
//! ```text
//!  2 warnings found (use --progress=plain to see them in context):
//!  - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)
//!  - MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 2)
//! ```

use std::sync::Mutex;
use std::time::Duration;

use super::{Outcome, OutputLine, Reporter, VertexId};

/// A reporter that passes every event on to its display and keeps the warnings.
#[derive(Debug)]
pub struct WarningTally {
    inner: Box<dyn Reporter>,
    warnings: Mutex<Vec<String>>,
}

impl WarningTally {
    /// Keep the warnings that pass through to `inner`.
    pub fn new(inner: Box<dyn Reporter>) -> Self {
        WarningTally {
            inner,
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// End the display (dropping it) and return the warnings, in the order they came.
    pub fn into_warnings(self) -> Vec<String> {
        drop(self.inner);
        self.warnings
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Reporter for WarningTally {
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
        crate::domain::lock(&self.warnings).push(short.to_string());
        self.inner.warn(id, short);
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

/// The summary of `warnings` (buildx's `printWarnings`), or `None` when there are none.
/// buildx points at `docker --debug` for the details; here they are in the plain progress.
pub fn warnings_summary(warnings: &[String]) -> Option<String> {
    let count = match warnings.len() {
        0 => return None,
        1 => "1 warning found".to_string(),
        n => format!("{n} warnings found"),
    };
    let mut text = format!("\n {count} (use --progress=plain to see them in context):\n");
    for w in warnings {
        text.push_str(&format!(" - {w}\n"));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Recorder;

    #[test]
    fn summary_counts_and_lists() {
        assert_eq!(warnings_summary(&[]), None);
        assert_eq!(
            warnings_summary(&["A: a (line 1)".to_string()]).as_deref(),
            Some("\n 1 warning found (use --progress=plain to see them in context):\n - A: a (line 1)\n")
        );
        let two = warnings_summary(&["A: a".into(), "B: b".into()]).unwrap_or_default();
        assert!(two.starts_with("\n 2 warnings found"), "{two}");
    }

    #[test]
    fn tally_keeps_warnings() {
        let tally = WarningTally::new(Box::new(Recorder::default()));
        let id = tally.start("v");
        tally.warn(id, "A: a (line 1)");
        tally.log(id, "other");
        assert_eq!(tally.into_warnings(), ["A: a (line 1)"]);
    }
}
