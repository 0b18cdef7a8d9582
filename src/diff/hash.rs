//! SHA-256 while streaming: a writer that hashes and counts every byte it passes on.
//!
//! Kept private and behind [`Sha256Writer`] so it can be swapped for the store's
//! `HashingWriter` later without touching the layer pipeline.

use std::io::{self, Write};

use ring::digest::{Context, SHA256};

/// Passes bytes through to `inner`, hashing and counting them on the way.
pub(crate) struct Sha256Writer<W> {
    inner: W,
    ctx: Context,
    count: u64,
}

impl<W: Write> Sha256Writer<W> {
    /// Wrap `inner`.
    pub(crate) fn new(inner: W) -> Self {
        Sha256Writer {
            inner,
            ctx: Context::new(&SHA256),
            count: 0,
        }
    }

    /// The digest (`sha256:<hex>`), the byte count, and the inner writer.
    pub(crate) fn finish(self) -> (String, u64, W) {
        (hex_digest(self.ctx), self.count, self.inner)
    }
}

impl<W: Write> Write for Sha256Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let done = buf.get(..n).unwrap_or(buf);
        self.ctx.update(done);
        self.count += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)?;
        self.ctx.update(buf);
        self.count += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `sha256:<hex>` of `data` in one call.
#[cfg(test)]
pub(crate) fn sha256_of(data: &[u8]) -> String {
    let mut ctx = Context::new(&SHA256);
    ctx.update(data);
    hex_digest(ctx)
}

/// A fresh streaming SHA-256 state, for callers that hash without a writer.
pub(crate) fn sha256_context() -> Context {
    Context::new(&SHA256)
}

/// `sha256:<hex>` of a finished context.
pub(crate) fn hex_digest(ctx: Context) -> String {
    let digest = ctx.finish();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in digest.as_ref() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_counts() {
        let mut w = Sha256Writer::new(Vec::new());
        w.write_all(b"abc").unwrap();
        let (digest, n, inner) = w.finish();
        assert_eq!(
            digest,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(n, 3);
        assert_eq!(inner, b"abc");
        assert_eq!(sha256_of(b"abc"), digest);
    }
}
