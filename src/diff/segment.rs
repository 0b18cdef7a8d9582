//! One chunk of a layer tar compressed on its own, so that compressed chunks can be reused
//! byte for byte in later blobs, and the framing around them.
//!
//! - gzip: a chunk is a raw deflate segment made by a fresh deflater (no dictionary) and
//!   ended with a sync flush (byte-aligned, not final); 64 KiB pieces of it that deflate
//!   cannot gain on (random or already-compressed data, see `entropy`) are written as
//!   stored blocks instead, and at levels up to 6 (the default) pieces with few repeats
//!   (see `repeats`) are coded with Huffman codes and runs only (zlib's RLE strategy),
//!   skipping the match search that would gain little there; levels 7 to 9 ask for every
//!   byte deflate can save and keep its full search. Segments concatenate into the body of one gzip member: a
//!   fixed header, the segments, an empty final block, then the CRC-32 (combined from the
//!   chunks' CRCs) and the length.
//! - zstd: a chunk is one zstd frame (with its checksum); concatenated frames are a valid
//!   zstd stream.
//!
//! A segment depends only on the chunk's bytes, the level and the compressor's code. The
//! last one is pinned by a [`Codec::id`] fingerprint (of compressible and incompressible
//! data), so segments are never reused across compressor versions whose output would
//! differ.

use std::io;

use flate2::{Compress, FlushCompress};
use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Strategy};

use super::{entropy, repeats};

use crate::store::digest::Sha256;

/// How chunks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// Raw deflate segments in one gzip member, at this level (0-9).
    Gzip(u32),
    /// One zstd frame per chunk, at this level.
    Zstd(i32),
}

impl Codec {
    /// Compress one chunk into its segment.
    pub(crate) fn compress(self, data: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            Codec::Gzip(level) => deflate_segment(level, data),
            Codec::Zstd(level) => {
                let mut c = zstd::bulk::Compressor::new(level)?;
                c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
                c.compress(data)
            }
        }
    }

    /// What comes before the first segment.
    pub(crate) fn header(self) -> Vec<u8> {
        match self {
            Codec::Gzip(level) => gzip_header(level).to_vec(),
            Codec::Zstd(_) => Vec::new(),
        }
    }

    /// What comes after the last segment, given the CRC-32 and length of all chunks.
    pub(crate) fn trailer(self, crc: u32, len: u64) -> io::Result<Vec<u8>> {
        match self {
            Codec::Gzip(_) => {
                // An empty final block (BFINAL=1, fixed Huffman, end-of-block), the CRC,
                // and ISIZE, which is the length modulo 2^32 by definition.
                let mut t = vec![0x03, 0x00];
                t.extend_from_slice(&crc.to_le_bytes());
                t.extend_from_slice(&(len as u32).to_le_bytes());
                Ok(t)
            }
            // A stream needs at least one frame; a layer always has one (the tar's end
            // blocks), this covers an empty input.
            Codec::Zstd(_) if len == 0 => self.compress(&[]),
            Codec::Zstd(_) => Ok(Vec::new()),
        }
    }

    /// A name for this codec that changes whenever its segments would: the kind, the
    /// level, and a fingerprint of the compressor's output on a fixed sample.
    pub(crate) fn id(self) -> io::Result<String> {
        let sample = fingerprint_sample();
        let mut h = Sha256::new();
        h.update(&self.compress(&sample)?);
        let fp = h.finish();
        let short = fp.digest().get(..16).unwrap_or_default().to_string();
        Ok(match self {
            Codec::Gzip(level) => format!("gzip-{level}-{short}"),
            Codec::Zstd(level) => format!("zstd-{level}-{short}"),
        })
    }
}

/// 64 KiB of text with long and short repeats, 64 KiB of noise, then 64 KiB of text without
/// repeats (each kind of piece `deflate_segment` tells apart): the same on every run.
fn fingerprint_sample() -> Vec<u8> {
    let mut sample = text_sample();
    sample.extend(noise(64 * 1024, 0x2545_f491_4f6c_dd1d));
    sample.extend(
        noise(64 * 1024, 0x5851_f42d_4c95_7f2d)
            .iter()
            .filter_map(|b| ALPHABET.get(usize::from(b % 64))),
    );
    sample
}

/// The letters of base64.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Pseudo-random bytes (xorshift64), the same for the same `seed`.
pub(crate) fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// 64 KiB of text with long and short repeats.
fn text_sample() -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut out = Vec::with_capacity(64 * 1024);
    while out.len() < 64 * 1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x % 7 == 0 {
            out.extend_from_slice(b"usr/share/doc/builder/copyright\n");
        } else {
            out.extend(
                x.to_le_bytes()
                    .iter()
                    .filter_map(|b| ALPHABET.get(usize::from(b % 64))),
            );
        }
    }
    out
}

/// How a piece of a chunk is coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    /// Full deflate at the codec's level.
    Deflate,
    /// Huffman codes and runs only ([`repeats::few_repeats`]), at levels up to
    /// [`MAX_RUNS_ONLY_LEVEL`].
    Literal,
    /// Stored blocks ([`entropy::incompressible`]).
    Stored,
}

/// Highest gzip level at which pieces with few repeats are coded with runs only: zlib's
/// default. Above it the user trades time for size, and full deflate still gains a little
/// on most such pieces (a tar of 10 KiB base64 files: 0.17 % at level 9, at a quarter of
/// the speed).
const MAX_RUNS_ONLY_LEVEL: u32 = 6;

impl Piece {
    fn of(piece: &[u8], level: u32) -> Piece {
        if entropy::incompressible(piece) {
            Piece::Stored
        } else if level <= MAX_RUNS_ONLY_LEVEL && repeats::few_repeats(piece) {
            Piece::Literal
        } else {
            Piece::Deflate
        }
    }
}

/// Raw deflate of one chunk, ending byte-aligned (sync flush) and not final.
///
/// The chunk is looked at in [`entropy::PIECE`] pieces from its start, and each run of
/// pieces of one kind ([`Piece`]) is written on its own: stored blocks at memory speed,
/// or a fresh deflater (full, or RLE for pieces with few repeats) ended with a sync flush.
/// A chunk whose pieces are all of one kind is one run.
fn deflate_segment(level: u32, data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 64 + 64);
    let mut deflate = Compress::new(flate2::Compression::new(level), false);
    if level == 0 {
        deflate_run(&mut deflate, data, &mut out)?;
        return Ok(out);
    }
    let mut fresh = true;
    let mut emit = |run: &[u8], kind: Piece, out: &mut Vec<u8>| match kind {
        Piece::Stored => {
            store(run, out);
            Ok(())
        }
        Piece::Literal => literal_run(level, run, out),
        Piece::Deflate => {
            if !fresh {
                deflate.reset();
            }
            fresh = false;
            deflate_run(&mut deflate, run, out)
        }
    };
    let (mut start, mut kind) = (0, None);
    for (i, piece) in data.chunks(entropy::PIECE).enumerate() {
        let at = i * entropy::PIECE;
        let this = Piece::of(piece, level);
        if let Some(before) = kind.filter(|&k| k != this) {
            emit(data.get(start..at).unwrap_or_default(), before, &mut out)?;
            start = at;
        }
        kind = Some(this);
    }
    emit(
        data.get(start..).unwrap_or_default(),
        kind.unwrap_or(Piece::Deflate),
        &mut out,
    )?;
    Ok(out)
}

/// `data` coded by a fresh RLE-strategy deflater (Huffman codes, matches at distance one
/// only) at `level`, onto `out`, ending with a sync flush. flate2 does not offer zlib's
/// strategies; zlib-rs, its backend here, does.
fn literal_run(level: u32, data: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    let mut deflate = Deflate::new_with_config(DeflateConfig {
        level: i32::try_from(level).unwrap_or(6),
        window_bits: -15,
        strategy: Strategy::Rle,
        ..DeflateConfig::default()
    });
    let mut rest = data;
    let mut buf = vec![0u8; data.len() + data.len() / 64 + 1024];
    loop {
        let (was_in, was_out) = (deflate.total_in(), deflate.total_out());
        deflate
            .compress(rest, &mut buf, DeflateFlush::SyncFlush)
            .map_err(|e| io::Error::other(e.as_str()))?;
        let took = usize::try_from(deflate.total_in().saturating_sub(was_in)).unwrap_or(usize::MAX);
        let made =
            usize::try_from(deflate.total_out().saturating_sub(was_out)).unwrap_or(usize::MAX);
        let coded = buf
            .get(..made)
            .ok_or_else(|| io::Error::other("deflate reported more output than its buffer"))?;
        out.extend_from_slice(coded);
        rest = rest.get(took..).unwrap_or_default();
        // The flush is complete once all input is in and output space was left over.
        if rest.is_empty() && made < buf.len() {
            return Ok(());
        }
    }
}

/// Deflate `data` with `deflate` (fresh or reset) onto `out`, ending with a sync flush.
fn deflate_run(deflate: &mut Compress, data: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    let before = deflate.total_in();
    out.reserve(data.len() + data.len() / 64 + 64);
    loop {
        let consumed =
            usize::try_from(deflate.total_in().saturating_sub(before)).unwrap_or(usize::MAX);
        let rest = data.get(consumed..).unwrap_or(&[]);
        deflate
            .compress_vec(rest, out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        let all_in = usize::try_from(deflate.total_in().saturating_sub(before))
            .unwrap_or(usize::MAX)
            >= data.len();
        // The flush is complete once all input is in and output space was left over.
        if all_in && out.len() < out.capacity() {
            return Ok(());
        }
        out.reserve(64 * 1024);
    }
}

/// The largest stored block.
const MAX_STORED: usize = 0xffff;

/// `data` as stored (uncompressed) deflate blocks, not final, onto a byte-aligned `out`.
fn store(data: &[u8], out: &mut Vec<u8>) {
    for block in data.chunks(MAX_STORED) {
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        // BFINAL 0 and BTYPE 00 in the low bits, then padding to the byte: one zero byte.
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
}

/// The gzip member header: no name, mtime 0, OS "unknown", as flate2 writes it.
fn gzip_header(level: u32) -> [u8; 10] {
    let xfl = match level {
        9.. => 2,
        0 | 1 => 4,
        _ => 0,
    };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
}

#[cfg(test)]
#[path = "segment_tests.rs"]
mod tests;
