//! Chunk-parallel compression: the tar's chunks (cut at content-defined points, see
//! `stream`) are compressed each on its own by a pool of worker threads — or, when the
//! chunk index knows a chunk, copied compressed from an older blob — and written in order
//! between the codec's header and trailer. The output depends only on the chunks and the
//! codec, never on the thread count or on which chunks were reused.
//!
//! Memory stays bounded: at most `workers + 2` chunks are past the dispatcher and not yet
//! written.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use super::chunk_index::{ChunkIndex, ChunkRecord};
use super::segment::Codec;
use crate::store::digest::Sha256;

/// Most compressor threads (each holds a chunk and its segment).
const MAX_WORKERS: usize = 8;

struct Job {
    index: u64,
    data: Vec<u8>,
}

struct Done {
    index: u64,
    segment: io::Result<Vec<u8>>,
    crc: u32,
    len: u64,
    hash: String,
    reused: bool,
}

/// What the compression wrote, besides the bytes.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// One record per chunk, in order (offsets in the output).
    pub chunks: Vec<ChunkRecord>,
    /// Chunks copied from older blobs.
    pub reused: u64,
    /// Their uncompressed bytes.
    pub reused_bytes: u64,
}

/// Compress the chunks arriving on `rx` (returned on `back` once used) into `out`.
pub(crate) fn compress<W: Write>(
    codec: Codec,
    reuse: Option<&ChunkIndex>,
    rx: Receiver<Vec<u8>>,
    back: Sender<Vec<u8>>,
    out: W,
) -> io::Result<(W, Written)> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_WORKERS);
    compress_with(workers, codec, reuse, rx, back, out)
}

fn compress_with<W: Write>(
    workers: usize,
    codec: Codec,
    reuse: Option<&ChunkIndex>,
    rx: Receiver<Vec<u8>>,
    back: Sender<Vec<u8>>,
    mut out: W,
) -> io::Result<(W, Written)> {
    let header = codec.header();
    out.write_all(&header)?;
    let written = std::thread::scope(|scope| {
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(workers);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        for _ in 0..workers {
            let (job_rx, done_tx, back) = (Arc::clone(&job_rx), done_tx.clone(), back.clone());
            scope.spawn(move || worker(codec, reuse, &job_rx, &done_tx, &back));
        }
        drop(done_tx);

        let mut writer = InOrder {
            next: 0,
            pending: BTreeMap::new(),
            crc: crc32fast::Hasher::new(),
            len: 0,
            offset: header.len() as u64,
            written: Written::default(),
        };
        let mut sent = 0u64;
        let ahead = (workers + 2) as u64;
        for data in rx {
            // Wait for the oldest chunk when too many are out.
            while sent - writer.next >= ahead {
                match done_rx.recv() {
                    Ok(done) => writer.accept(done, &mut out)?,
                    Err(_) => return Err(io::Error::other("a compressor thread stopped")),
                }
            }
            if job_tx.send(Job { index: sent, data }).is_err() {
                break; // every worker is gone; the error is in `done_rx`
            }
            sent += 1;
            while let Ok(done) = done_rx.try_recv() {
                writer.accept(done, &mut out)?;
            }
        }
        drop(job_tx);
        for done in done_rx {
            writer.accept(done, &mut out)?;
        }
        if writer.next != sent {
            return Err(io::Error::other("a compressor thread stopped early"));
        }
        out.write_all(&codec.trailer(writer.crc.finalize(), writer.len)?)?;
        Ok(writer.written)
    })?;
    Ok((out, written))
}

struct InOrder {
    next: u64,
    pending: BTreeMap<u64, Done>,
    crc: crc32fast::Hasher,
    len: u64,
    offset: u64,
    written: Written,
}

impl InOrder {
    fn accept(&mut self, done: Done, out: &mut impl Write) -> io::Result<()> {
        self.pending.insert(done.index, done);
        while let Some(done) = self.pending.remove(&self.next) {
            let segment = done.segment?;
            out.write_all(&segment)?;
            self.crc
                .combine(&crc32fast::Hasher::new_with_initial_len(done.crc, done.len));
            self.len += done.len;
            if done.reused {
                self.written.reused += 1;
                self.written.reused_bytes += done.len;
            }
            self.written.chunks.push(ChunkRecord {
                hash: done.hash,
                offset: self.offset,
                compressed_len: segment.len() as u64,
                len: done.len,
                crc: done.crc,
                compressed_crc: crc32fast::hash(&segment),
            });
            self.offset += segment.len() as u64;
            self.next += 1;
        }
        Ok(())
    }
}

fn worker(
    codec: Codec,
    reuse: Option<&ChunkIndex>,
    jobs: &Mutex<Receiver<Job>>,
    done: &Sender<Done>,
    back: &Sender<Vec<u8>>,
) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let crc = crc32fast::hash(&job.data);
        let len = job.data.len() as u64;
        let mut h = Sha256::new();
        h.update(&job.data);
        let hash = h.finish().digest().to_string();
        let stored = reuse.and_then(|index| index.fetch(&hash, crc, len));
        let reused = stored.is_some();
        let segment = match stored {
            Some(bytes) => Ok(bytes),
            None => codec.compress(&job.data),
        };
        let _ = back.send(job.data);
        let failed = segment.is_err();
        let sent = done.send(Done {
            index: job.index,
            segment,
            crc,
            len,
            hash,
            reused,
        });
        if sent.is_err() || failed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::diff::segment::noise;

    fn run(workers: usize, codec: Codec, chunks: &[Vec<u8>]) -> (Vec<u8>, Written) {
        let (tx, rx) = mpsc::channel();
        let (back, _keep) = mpsc::channel();
        for c in chunks {
            tx.send(c.clone()).unwrap();
        }
        drop(tx);
        compress_with(workers, codec, None, rx, back, Vec::new()).unwrap()
    }

    fn text(n: u32) -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                format!("entry {} {}\n", i % 97, "abc".repeat((i % 13) as usize)).into_bytes()
            })
            .collect()
    }

    #[test]
    fn output_does_not_depend_on_the_worker_count() {
        let mut chunks: Vec<Vec<u8>> = text(20_000).chunks(4096).map(<[u8]>::to_vec).collect();
        // Random data (stored pieces), alone and after text in one chunk.
        chunks.insert(3, noise(300_000, 1));
        chunks.insert(7, [text(5_000), noise(200_000, 2)].concat());
        for codec in [Codec::Gzip(6), Codec::Zstd(3)] {
            let (one, _) = run(1, codec, &chunks);
            for workers in [2, 3, 5] {
                assert_eq!(run(workers, codec, &chunks).0, one, "{codec:?} {workers}");
            }
        }
    }

    #[test]
    fn output_is_one_valid_gzip_member_with_chunk_records() {
        let data = text(60_000);
        let chunks: Vec<Vec<u8>> = data.chunks(100_000).map(<[u8]>::to_vec).collect();
        let (gz, written) = run(2, Codec::Gzip(6), &chunks);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        assert!(gz.len() < data.len() / 5, "{} of {}", gz.len(), data.len());
        assert_eq!(written.chunks.len(), chunks.len());
        let first = &written.chunks[0];
        assert_eq!(first.offset, 10);
        let seg = &gz[10..10 + first.compressed_len as usize];
        assert_eq!(seg, &Codec::Gzip(6).compress(&chunks[0]).unwrap()[..]);
    }

    #[test]
    fn empty_input_is_an_empty_stream() {
        for codec in [Codec::Gzip(6), Codec::Zstd(3)] {
            let (z, written) = run(2, codec, &[]);
            assert!(written.chunks.is_empty());
            let back = match codec {
                Codec::Gzip(_) => {
                    let mut v = Vec::new();
                    flate2::read::GzDecoder::new(&z[..])
                        .read_to_end(&mut v)
                        .unwrap();
                    v
                }
                Codec::Zstd(_) => zstd::stream::decode_all(&z[..]).unwrap(),
            };
            assert!(back.is_empty());
        }
    }
}
