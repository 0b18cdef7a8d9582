//! Parallel gzip, the way pigz does it: the tar stream is cut into fixed 1 MiB blocks;
//! each block is deflated on its own core, primed with the previous block's last 32 KiB as
//! dictionary and ended with a sync flush; the blocks are written in order behind one gzip
//! header, then an empty final block, the CRC-32 and the length. One ordinary gzip member
//! comes out, and it depends only on the input and the level, never on the thread count.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use flate2::{Compress, FlushCompress};

/// Deflate's window: how much of the previous block primes the next.
const WINDOW: usize = 32 * 1024;

struct Job {
    index: u64,
    data: Vec<u8>,
    dictionary: Option<Vec<u8>>,
}

struct Done {
    index: u64,
    deflated: io::Result<Vec<u8>>,
    crc: crc32fast::Hasher,
    len: u64,
}

/// Compress the chunks arriving on `rx` (returned on `back` once used) into `out`.
pub(crate) fn compress<W: Write>(
    level: u32,
    rx: Receiver<Vec<u8>>,
    back: Sender<Vec<u8>>,
    out: W,
) -> io::Result<W> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    compress_with(workers, level, rx, back, out)
}

fn compress_with<W: Write>(
    workers: usize,
    level: u32,
    rx: Receiver<Vec<u8>>,
    back: Sender<Vec<u8>>,
    mut out: W,
) -> io::Result<W> {
    out.write_all(&header(level))?;
    std::thread::scope(|scope| {
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(workers * 2);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        for _ in 0..workers {
            let (job_rx, done_tx, back) = (Arc::clone(&job_rx), done_tx.clone(), back.clone());
            scope.spawn(move || worker(level, &job_rx, &done_tx, &back));
        }
        drop(done_tx);

        let mut writer = InOrder {
            next: 0,
            pending: BTreeMap::new(),
            crc: crc32fast::Hasher::new(),
            len: 0,
        };
        let mut dictionary: Option<Vec<u8>> = None;
        let mut sent = 0u64;
        for data in rx {
            let tail = data
                .get(data.len().saturating_sub(WINDOW)..)
                .unwrap_or(&[])
                .to_vec();
            let job = Job {
                index: sent,
                data,
                dictionary: dictionary.replace(tail),
            };
            if job_tx.send(job).is_err() {
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
            return Err(io::Error::other("a gzip worker stopped early"));
        }
        // An empty final block (BFINAL=1, fixed Huffman, end-of-block), then the trailer.
        out.write_all(&[0x03, 0x00])?;
        out.write_all(&writer.crc.finalize().to_le_bytes())?;
        // ISIZE is the length modulo 2^32 by definition.
        out.write_all(&(writer.len as u32).to_le_bytes())?;
        Ok(())
    })?;
    Ok(out)
}

struct InOrder {
    next: u64,
    pending: BTreeMap<u64, Done>,
    crc: crc32fast::Hasher,
    len: u64,
}

impl InOrder {
    fn accept(&mut self, done: Done, out: &mut impl Write) -> io::Result<()> {
        self.pending.insert(done.index, done);
        while let Some(done) = self.pending.remove(&self.next) {
            out.write_all(&done.deflated?)?;
            self.crc.combine(&done.crc);
            self.len += done.len;
            self.next += 1;
        }
        Ok(())
    }
}

fn worker(level: u32, jobs: &Mutex<Receiver<Job>>, done: &Sender<Done>, back: &Sender<Vec<u8>>) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let mut crc = crc32fast::Hasher::new();
        crc.update(&job.data);
        // A fresh deflater per block: a reused one keeps the previous block's bytes in its
        // window, and matches near a block's end could then depend on which block this
        // worker happened to compress before (the output would vary run to run).
        let mut deflate = Compress::new(flate2::Compression::new(level), false);
        let deflated = block(&mut deflate, &job.data, job.dictionary.as_deref());
        let len = job.data.len() as u64;
        let _ = back.send(job.data);
        let failed = deflated.is_err();
        if done
            .send(Done {
                index: job.index,
                deflated,
                crc,
                len,
            })
            .is_err()
            || failed
        {
            return;
        }
    }
}

/// Raw deflate of one block, ending byte-aligned (sync flush) and not final.
fn block(deflate: &mut Compress, data: &[u8], dictionary: Option<&[u8]>) -> io::Result<Vec<u8>> {
    if let Some(dict) = dictionary {
        deflate.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 64 + 64);
    loop {
        let consumed = usize::try_from(deflate.total_in()).unwrap_or(usize::MAX);
        let rest = data.get(consumed..).unwrap_or(&[]);
        deflate
            .compress_vec(rest, &mut out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        let all_in = usize::try_from(deflate.total_in()).unwrap_or(usize::MAX) >= data.len();
        // The flush is complete once all input is in and output space was left over.
        if all_in && out.len() < out.capacity() {
            return Ok(out);
        }
        out.reserve(64 * 1024);
    }
}

/// The gzip member header: no name, mtime 0, OS "unknown", as flate2 writes it.
fn header(level: u32) -> [u8; 10] {
    let xfl = match level {
        9.. => 2,
        0 | 1 => 4,
        _ => 0,
    };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn pgzip_with(workers: usize, data: &[u8], chunk: usize) -> Vec<u8> {
        let (tx, rx) = mpsc::channel();
        let (back, _keep) = mpsc::channel();
        for c in data.chunks(chunk) {
            tx.send(c.to_vec()).unwrap();
        }
        drop(tx);
        compress_with(workers, 6, rx, back, Vec::new()).unwrap()
    }

    /// base64 of pseudo-random bytes, like the benchmark's context files.
    fn base64ish(len: usize) -> Vec<u8> {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut x = 0x2545_f491_4f6c_dd1du64;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ALPHABET[(x % 64) as usize]
            })
            .collect()
    }

    #[test]
    fn reused_deflaters_made_output_vary_between_runs() {
        // Regression: a deflater reused across blocks kept stale window bytes, and the
        // output depended on which worker had compressed which block before.
        let data = base64ish(1 << 20);
        let one = pgzip_with(1, &data, 64 * 1024);
        assert_eq!(pgzip_with(3, &data, 64 * 1024), one);
    }

    fn pgzip(data: &[u8], chunk: usize) -> Vec<u8> {
        pgzip_with(2, data, chunk)
    }

    #[test]
    fn output_does_not_depend_on_the_worker_count() {
        // Small blocks of text with long repeats across block ends.
        let mut data = Vec::new();
        for i in 0..20_000u32 {
            data.extend_from_slice(
                format!("entry {} {}\n", i % 97, "abc".repeat((i % 13) as usize)).as_bytes(),
            );
        }
        let one = pgzip_with(1, &data, 4096);
        for workers in [2, 3, 5] {
            assert_eq!(pgzip_with(workers, &data, 4096), one, "{workers} workers");
        }
    }

    #[test]
    fn output_is_one_valid_gzip_member() {
        let mut data = Vec::new();
        for i in 0..60_000u32 {
            data.extend_from_slice(format!("line {i} of a fairly repetitive text\n").as_bytes());
        }
        let gz = pgzip(&data, 1 << 20);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        // The dictionary keeps the ratio close to a single stream.
        assert!(gz.len() < data.len() / 5, "{} of {}", gz.len(), data.len());
        assert_eq!(pgzip(&data, 1 << 20), gz, "deterministic");
    }

    #[test]
    fn empty_input_is_an_empty_gzip() {
        let gz = pgzip(b"", 1);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back.is_empty());
    }
}
