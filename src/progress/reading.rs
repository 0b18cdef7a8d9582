//! [`Reading`]: a reader that tells a vertex how far it has read, for transfers that are
//! plain reads (a layer being unpacked from the store).

use std::io::Read;

use super::{Reporter, VertexId};

/// Reads from `inner`, reporting [`Reporter::progress`] for `item` of `id` as bytes go by
/// (and once at the end of the stream, as complete).
pub struct Reading<'a, R> {
    inner: R,
    reporter: &'a dyn Reporter,
    id: VertexId,
    item: String,
    done: u64,
    total: Option<u64>,
}

impl<'a, R: Read> Reading<'a, R> {
    /// `inner`, read as `item` (`total` bytes when known) of vertex `id`.
    pub fn new(
        inner: R,
        reporter: &'a dyn Reporter,
        id: VertexId,
        item: String,
        total: Option<u64>,
    ) -> Self {
        reporter.progress(id, &item, 0, total);
        Reading {
            inner,
            reporter,
            id,
            item,
            done: 0,
            total,
        }
    }
}

impl<R: Read> Read for Reading<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        let total = if n == 0 { Some(self.done) } else { self.total };
        if n > 0 || self.total != Some(self.done) {
            self.reporter
                .progress(self.id, &self.item, self.done, total);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::{Event, Recorder};

    #[test]
    fn reads_are_reported_and_the_end_is_complete() {
        let r = Recorder::default();
        let mut reading = Reading::new(&b"abcdef"[..], &r, 1, "extracting x".into(), Some(6));
        let mut buf = [0u8; 4];
        assert_eq!(reading.read(&mut buf).unwrap(), 4);
        let mut rest = Vec::new();
        reading.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"ef");
        let progress: Vec<(u64, Option<u64>)> = r
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Progress(_, _, c, t) => Some((c, t)),
                _ => None,
            })
            .collect();
        assert_eq!(progress, [(0, Some(6)), (4, Some(6)), (6, Some(6))]);
    }
}
