//! The one streaming pass: tar bytes are hashed (diff_id) as they are produced, cut into
//! 1 MiB chunks and handed to a compressor thread, which compresses (gzip: block-parallel
//! on every core, see `pgzip`; zstd: its own worker threads), hashes again (blob digest
//! and size) and writes to the sink. File data is read straight into the chunk buffer, so
//! it is copied once.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

use super::error::{DiffError, Result};
use super::{pgzip, Compression};
use crate::store::digest::{HashingWriter, Sha256};
use oci_spec::image::Digest;

/// Size of the chunks handed from the tar side to the compressor.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between the two threads.
const IN_FLIGHT: usize = 4;

/// The tar side: a `Write` that hashes and batches into chunks for the compressor.
pub(crate) struct TarOut {
    buf: Vec<u8>,
    diff: Sha256,
    total: u64,
    tx: SyncSender<Vec<u8>>,
    back: Receiver<Vec<u8>>,
}

impl TarOut {
    /// Copy exactly `size` bytes of `file` into the stream.
    pub(crate) fn copy_file(&mut self, path: &Path, file: &mut File, size: u64) -> Result<()> {
        let mut left = size;
        while left > 0 {
            if self.buf.len() == CHUNK {
                self.submit().map_err(DiffError::Write)?;
            }
            let start = self.buf.len();
            let want = (CHUNK - start).min(usize::try_from(left).unwrap_or(CHUNK));
            self.buf.resize(start + want, 0);
            let n = match file.read(&mut self.buf[start..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                Err(source) => {
                    return Err(DiffError::Read {
                        path: path.to_path_buf(),
                        source,
                    })
                }
            };
            self.buf.truncate(start + n);
            if n == 0 {
                return Err(DiffError::Changed {
                    path: path.to_path_buf(),
                    expected: size,
                });
            }
            self.diff.update(&self.buf[start..]);
            self.total += n as u64;
            left -= n as u64;
        }
        Ok(())
    }

    fn submit(&mut self) -> io::Result<()> {
        let next = match self.back.try_recv() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(_) => Vec::with_capacity(CHUNK),
        };
        let full = std::mem::replace(&mut self.buf, next);
        self.tx
            .send(full)
            .map_err(|_| io::Error::other("layer compressor stopped"))
    }
}

impl Write for TarOut {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() == CHUNK {
            self.submit()?;
        }
        let n = data.len().min(CHUNK - self.buf.len());
        let part = &data[..n];
        self.buf.extend_from_slice(part);
        self.diff.update(part);
        self.total += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the pass measured.
pub(crate) struct Measured {
    /// `sha256:` of the uncompressed tar.
    pub diff_id: Digest,
    /// Uncompressed length.
    pub uncompressed_size: u64,
    /// `sha256:` of the blob as written.
    pub digest: Digest,
    /// Blob length as written.
    pub size: u64,
}

/// Run `produce` (the tar side) on this thread and the compressor on another, writing the
/// blob to `sink`.
pub(crate) fn run<W: Write + Send>(
    compression: Compression,
    level: i32,
    sink: W,
    produce: impl FnOnce(&mut TarOut) -> Result<()>,
) -> Result<Measured> {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
    let (back_tx, back_rx) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || compress(compression, level, sink, rx, back_tx));
        let mut out = TarOut {
            buf: Vec::with_capacity(CHUNK),
            diff: Sha256::new(),
            total: 0,
            tx,
            back: back_rx,
        };
        let produced = produce(&mut out).and_then(|()| {
            if !out.buf.is_empty() {
                out.submit().map_err(DiffError::Write)?;
            }
            Ok(())
        });
        let TarOut {
            diff, total, tx, ..
        } = out;
        drop(tx); // the compressor finishes when the channel closes
        let compressed = worker
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("layer compressor panicked")));
        // A compressor failure explains a failed send better than the send itself.
        let (digest, size) = match (produced, compressed) {
            (Ok(()), Ok(r)) => r,
            (_, Err(e)) => return Err(DiffError::Write(e)),
            (Err(e), Ok(_)) => return Err(e),
        };
        let diff_id = diff.finish();
        let digest = digest.unwrap_or_else(|| diff_id.clone());
        Ok(Measured {
            diff_id,
            uncompressed_size: total,
            digest,
            size,
        })
    })
}

/// The compressor thread: returns the blob digest (`None` when uncompressed, where it
/// equals the diff_id) and the blob size.
fn compress<W: Write>(
    compression: Compression,
    level: i32,
    sink: W,
    rx: Receiver<Vec<u8>>,
    back: Sender<Vec<u8>>,
) -> io::Result<(Option<Digest>, u64)> {
    let out = BufWriter::with_capacity(CHUNK, sink);
    match compression {
        Compression::Uncompressed => {
            let mut w = CountingWriter {
                inner: out,
                count: 0,
            };
            feed(rx, &back, &mut w)?;
            w.inner.flush()?;
            Ok((None, w.count))
        }
        Compression::Gzip => {
            let level = u32::try_from(level.clamp(0, 9)).unwrap_or(6);
            let w = pgzip::compress(level, rx, back, HashingWriter::new(out))?;
            let (mut inner, digest, size) = w.finish();
            inner.flush()?;
            Ok((Some(digest), size))
        }
        Compression::Zstd => {
            let mut enc = zstd::stream::Encoder::new(HashingWriter::new(out), level)?;
            let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
            // With at least one worker the output does not depend on the worker count.
            enc.multithread(u32::try_from(workers).unwrap_or(1).max(1))?;
            enc.include_checksum(true)?;
            feed(rx, &back, &mut enc)?;
            let (mut inner, digest, size) = enc.finish()?.finish();
            inner.flush()?;
            Ok((Some(digest), size))
        }
    }
}

fn feed(rx: Receiver<Vec<u8>>, back: &Sender<Vec<u8>>, w: &mut dyn Write) -> io::Result<()> {
    for chunk in rx {
        w.write_all(&chunk)?;
        let _ = back.send(chunk);
    }
    Ok(())
}

struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
