//! The one streaming pass: tar bytes are hashed (diff_id) as they are produced, cut into
//! chunks at content-defined points and handed to a compressor thread, which compresses
//! them chunk-parallel (see `parallel`), hashes again (blob digest and size) and writes to
//! the sink. File data is read straight into the chunk buffer, so it is copied once.
//!
//! Where chunks end depends only on the tar's content, so that an unchanged run of entries
//! gives the same chunks in the next layer (and the chunk index can supply them compressed):
//! - before an entry with at least [`MIN_CHUNK`] bytes of data, the chunk is cut (a large
//!   file starts a chunk of its own, whatever came before it);
//! - after an entry, the chunk is cut when it holds at least [`MIN_CHUNK`] bytes and a
//!   hash of the entry's name is 0 modulo [`CUT_ONE_IN`];
//! - a chunk never exceeds [`MAX_CHUNK`] (a large file is cut every `MAX_CHUNK` bytes
//!   from its header).

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

use super::chunk_index::{self, ChunkIndex};
use super::error::{DiffError, Result};
use super::parallel::{self, Written};
use super::Compression;
use crate::store::digest::{HashingWriter, Sha256};
use oci_spec::image::Digest;

/// Chunks are cut at entry boundaries once they hold this much.
pub(crate) const MIN_CHUNK: usize = 1 << 20;
/// No chunk is larger.
pub(crate) const MAX_CHUNK: usize = 4 << 20;
/// After [`MIN_CHUNK`], one entry name in this many ends a chunk.
pub(crate) const CUT_ONE_IN: u64 = 32;
/// Chunks in flight between the two threads.
const IN_FLIGHT: usize = 2;
const CHUNK: usize = MAX_CHUNK;

/// The tar side: a `Write` that hashes and batches into chunks for the compressor.
pub(crate) struct TarOut {
    buf: Vec<u8>,
    diff: Sha256,
    total: u64,
    tx: SyncSender<Vec<u8>>,
    back: Receiver<Vec<u8>>,
}

impl TarOut {
    /// An entry with `data_len` bytes of content is about to be written.
    pub(crate) fn begin_entry(&mut self, data_len: u64) -> Result<()> {
        if data_len >= MIN_CHUNK as u64 && !self.buf.is_empty() {
            self.submit().map_err(DiffError::Write)?;
        }
        Ok(())
    }

    /// The entry named `name` (its tar name) is complete.
    pub(crate) fn end_entry(&mut self, name: &[u8]) -> Result<()> {
        if self.buf.len() >= MIN_CHUNK && fnv1a(name) % CUT_ONE_IN == 0 {
            self.submit().map_err(DiffError::Write)?;
        }
        Ok(())
    }

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
        if self.buf.is_empty() {
            return Ok(());
        }
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
    /// The chunks of the blob (empty when uncompressed).
    pub written: Written,
}

/// How the tar is compressed.
pub(crate) struct Settings<'a> {
    pub compression: Compression,
    pub level: i32,
    /// Compressed chunks of older blobs that may be copied.
    pub reuse: Option<&'a ChunkIndex>,
}

/// FNV-1a, 64 bits: a stable hash of an entry name for chunk cuts.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Run `produce` (the tar side) on this thread and the compressor on another, writing the
/// blob to `sink`.
pub(crate) fn run<W: Write + Send>(
    settings: &Settings<'_>,
    sink: W,
    produce: impl FnOnce(&mut TarOut) -> Result<()>,
) -> Result<Measured> {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
    let (back_tx, back_rx) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || compress(settings, sink, rx, back_tx));
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
        let (digest, size, written) = match (produced, compressed) {
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
            written,
        })
    })
}

/// The compressor thread: returns the blob digest (`None` when uncompressed, where it
/// equals the diff_id), the blob size and the chunks.
fn compress<W: Write>(
    settings: &Settings<'_>,
    sink: W,
    rx: Receiver<Vec<u8>>,
    back: Sender<Vec<u8>>,
) -> io::Result<(Option<Digest>, u64, Written)> {
    let out = BufWriter::with_capacity(1 << 20, sink);
    match chunk_index::codec(settings.compression, settings.level) {
        None => {
            let mut w = CountingWriter {
                inner: out,
                count: 0,
            };
            feed(rx, &back, &mut w)?;
            w.inner.flush()?;
            Ok((None, w.count, Written::default()))
        }
        Some(codec) => {
            let (w, written) =
                parallel::compress(codec, settings.reuse, rx, back, HashingWriter::new(out))?;
            let (mut inner, digest, size) = w.finish();
            inner.flush()?;
            Ok((Some(digest), size, written))
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use crate::diff::segment::noise;
    use crate::diff::{chunk_index, write_layer, ChunkIndex, Compression, LayerOptions};
    use crate::store::digest::sha256;

    /// Text files, a 6 MiB random file, more text files.
    fn tree(root: &Path) {
        for (dir, seed) in [("a", 1u64), ("c", 2)] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
            for f in 0..40u64 {
                let line = format!("{dir} file {f} line of text {}\n", seed * f);
                std::fs::write(root.join(dir).join(format!("f{f:03}")), line.repeat(2000)).unwrap();
            }
        }
        std::fs::write(root.join("b.bin"), noise(6 << 20, 3)).unwrap();
    }

    #[test]
    fn stored_chunks_are_reused_across_rebuilds() {
        let t = tempfile::tempdir().unwrap();
        let (ctx, blobs, index_dir) = (
            t.path().join("ctx"),
            t.path().join("blobs"),
            t.path().join("chunks"),
        );
        tree(&ctx);
        std::fs::create_dir(&blobs).unwrap();
        let opts = LayerOptions::default();
        let mut first = Vec::new();
        let info = write_layer(&ctx, &opts, &mut first).unwrap();
        assert!(first.len() > 6 << 20, "the random file is stored");
        std::fs::write(blobs.join(info.digest.digest()), &first).unwrap();
        chunk_index::save(&index_dir, &info.digest, Compression::Gzip, 6, &info.chunks).unwrap();

        // A text file after the random one changes.
        std::fs::write(ctx.join("c/f039"), "changed\n").unwrap();
        let path_of = |d: &oci_spec::image::Digest| Some(blobs.join(d.digest()));
        let index = ChunkIndex::load(&index_dir, Compression::Gzip, 6, &path_of);
        let reuse = LayerOptions {
            reuse: Some(&index),
            ..LayerOptions::default()
        };
        let (mut again, mut fresh) = (Vec::new(), Vec::new());
        let reused = write_layer(&ctx, &reuse, &mut again).unwrap();
        let compressed = write_layer(&ctx, &opts, &mut fresh).unwrap();
        assert!(reused.reused_bytes >= 4 << 20, "{reused:?}");
        assert!(again == fresh);
        assert_eq!(reused.digest, sha256(&fresh));
        assert_eq!(compressed.digest, reused.digest);
        let mut tar = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&again[..]), &mut tar)
            .unwrap();
        assert_eq!(sha256(&tar), reused.diff_id);
    }

    fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1e3
    }

    /// Layer pipeline timings (walk, tar, hash, compress; the blob goes nowhere): run with
    /// `BUILDER_LAYER_BENCH=DIR[:DIR...] cargo test --release --lib layer_pipeline_bench --
    /// --ignored --nocapture`. Prints the median of `BUILDER_BENCH_ROUNDS` (5) runs and the
    /// blob size, for gzip, zstd and a plain tar (the floor); reports, does not assert
    /// timings.
    #[test]
    #[ignore]
    fn layer_pipeline_bench() {
        let Some(dirs) = std::env::var_os("BUILDER_LAYER_BENCH") else {
            eprintln!("set BUILDER_LAYER_BENCH to the directories to write as layers");
            return;
        };
        let rounds = std::env::var("BUILDER_BENCH_ROUNDS").map_or(5, |v| v.parse().unwrap());
        for dir in std::env::split_paths(&dirs) {
            for compression in [
                Compression::Gzip,
                Compression::Zstd,
                Compression::Uncompressed,
            ] {
                let opts = LayerOptions {
                    compression,
                    ..LayerOptions::default()
                };
                let mut times: Vec<Duration> = Vec::new();
                let mut info = None;
                for _ in 0..rounds {
                    let started = Instant::now();
                    info = Some(write_layer(&dir, &opts, std::io::sink()).unwrap());
                    times.push(started.elapsed());
                }
                times.sort();
                let info = info.unwrap();
                println!(
                    "{} {compression:?}: median {:.1} ms (min {:.1}, max {:.1}), {} -> {} bytes ({:.4}), {}",
                    dir.display(),
                    ms(times[times.len() / 2]),
                    ms(times[0]),
                    ms(times[times.len() - 1]),
                    info.uncompressed_size,
                    info.size,
                    info.size as f64 / info.uncompressed_size as f64,
                    info.digest,
                );
            }
        }
    }
}
