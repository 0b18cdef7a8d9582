//! Progress of one platform of a multi-platform build: every vertex it starts is named with
//! the platform, as BuildKit shows them (`[linux/arm64 build 2/3] RUN make`,
//! `[linux/arm64] exporting`).

use std::time::Duration;

use crate::graph::Platform;
use crate::progress::{OutputLine, Reporter, VertexId};

/// A [`Reporter`] that names each vertex with `platform`.
#[derive(Debug)]
pub(super) struct Prefixed<'a> {
    inner: &'a dyn Reporter,
    platform: String,
}

impl<'a> Prefixed<'a> {
    pub(super) fn new(inner: &'a dyn Reporter, platform: &Platform) -> Self {
        Prefixed {
            inner,
            platform: platform.to_string(),
        }
    }

    /// `name` with the platform inside its leading bracket, or before it in one of its own.
    fn name(&self, name: &str) -> String {
        match name.strip_prefix('[') {
            Some(rest) => format!("[{} {rest}", self.platform),
            None => format!("[{}] {name}", self.platform),
        }
    }
}

impl Reporter for Prefixed<'_> {
    fn start(&self, name: &str) -> VertexId {
        self.inner.start(&self.name(name))
    }
    fn log(&self, id: VertexId, line: &str) {
        self.inner.log(id, line)
    }
    fn output(&self, id: VertexId, data: &[u8], lines: &[OutputLine]) {
        self.inner.output(id, data, lines)
    }
    fn warn(&self, id: VertexId, short: &str) {
        self.inner.warn(id, short)
    }
    fn cached(&self, id: VertexId) {
        self.inner.cached(id)
    }
    fn miss(&self, id: VertexId, reason: &str) {
        self.inner.miss(id, reason)
    }
    fn progress(&self, id: VertexId, item: &str, current: u64, total: Option<u64>) {
        self.inner.progress(id, item, current, total)
    }
    fn done(&self, id: VertexId, elapsed: Duration) {
        self.inner.done(id, elapsed)
    }
    fn error(&self, id: VertexId, message: &str) {
        self.inner.error(id, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Quiet;

    #[test]
    fn vertices_are_named_with_the_platform() {
        let quiet = Quiet::default();
        let p = Prefixed::new(&quiet, &Platform::new("linux", "arm64", ""));
        assert_eq!(
            p.name("[build 2/3] RUN make"),
            "[linux/arm64 build 2/3] RUN make"
        );
        assert_eq!(p.name("exporting"), "[linux/arm64] exporting");
    }
}
