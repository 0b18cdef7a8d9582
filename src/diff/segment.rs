//! One chunk of a layer tar compressed on its own, so that compressed chunks can be reused
//! byte for byte in later blobs, and the framing around them.
//!
//! - gzip: a chunk is a raw deflate segment made by a fresh deflater (no dictionary) and
//!   ended with a sync flush (byte-aligned, not final). Segments concatenate into the body
//!   of one gzip member: a fixed header, the segments, an empty final block, then the
//!   CRC-32 (combined from the chunks' CRCs) and the length.
//! - zstd: a chunk is one zstd frame (with its checksum); concatenated frames are a valid
//!   zstd stream.
//!
//! A segment depends only on the chunk's bytes, the level and the compressor's code. The
//! last one is pinned by a [`Codec::id`] fingerprint, so segments are never reused across
//! compressor versions whose output would differ.

use std::io;

use flate2::{Compress, FlushCompress};

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

/// 64 KiB of text with long and short repeats, the same on every run.
fn fingerprint_sample() -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
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

/// Raw deflate of one chunk by a fresh deflater, ending byte-aligned (sync flush) and not
/// final.
fn deflate_segment(level: u32, data: &[u8]) -> io::Result<Vec<u8>> {
    let mut deflate = Compress::new(flate2::Compression::new(level), false);
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
fn gzip_header(level: u32) -> [u8; 10] {
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

    fn gzip_of(level: u32, chunks: &[&[u8]]) -> Vec<u8> {
        let codec = Codec::Gzip(level);
        let mut out = codec.header();
        let mut crc = crc32fast::Hasher::new();
        let mut len = 0u64;
        for c in chunks {
            out.extend(codec.compress(c).unwrap());
            crc.update(c);
            len += c.len() as u64;
        }
        out.extend(codec.trailer(crc.finalize(), len).unwrap());
        out
    }

    #[test]
    fn gzip_segments_concatenate_into_one_member() {
        let a = fingerprint_sample();
        let b = b"a short second chunk".to_vec();
        let gz = gzip_of(6, &[&a, &b, &a]);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, [a.clone(), b, a.clone()].concat());
        // A segment does not depend on what came before it.
        let seg = Codec::Gzip(6).compress(&a).unwrap();
        assert!(gz.windows(seg.len()).filter(|w| *w == &seg[..]).count() == 2);
    }

    #[test]
    fn zstd_frames_concatenate_into_one_stream() {
        let codec = Codec::Zstd(3);
        let a = fingerprint_sample();
        let mut z = codec.compress(&a).unwrap();
        z.extend(codec.compress(b"tail").unwrap());
        let back = zstd::stream::decode_all(&z[..]).unwrap();
        assert_eq!(back, [&a[..], b"tail"].concat());
        let empty = codec.trailer(0, 0).unwrap();
        assert!(zstd::stream::decode_all(&empty[..]).unwrap().is_empty());
    }

    #[test]
    fn codec_ids_name_kind_level_and_fingerprint() {
        let g6 = Codec::Gzip(6).id().unwrap();
        assert!(g6.starts_with("gzip-6-"), "{g6}");
        assert_eq!(g6, Codec::Gzip(6).id().unwrap());
        assert_ne!(g6, Codec::Gzip(9).id().unwrap());
        assert!(Codec::Zstd(3).id().unwrap().starts_with("zstd-3-"));
    }
}
