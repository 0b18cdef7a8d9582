//! Whether LZ77 matching (deflate's search for earlier copies of the bytes ahead) can gain
//! anything on a piece of a chunk, decided by one cheap greedy parse: a piece where fewer
//! than one byte in [`FEW`] lies in a repeat of at least [`MIN_MATCH`] bytes is coded with
//! Huffman codes and runs only (zlib's RLE strategy), which gains what deflate gains on
//! such a piece at four to five times its speed.
//!
//! Such pieces are text-encoded random data (base64 or hex of keys, hashes, random
//! payloads), JPEG and other entropy-coded data whose bytes are not uniform enough to be
//! stored (see `entropy`), and archives of many small files of that kind, where only the
//! tar headers repeat. Measured on 64 KiB pieces: a tar of 10 KiB base64 files covers
//! 3-4 % (deflate level 6 gains 0.01 % more than RLE on it, at 38 against 170 MB/s with
//! zlib-rs), a JPEG 0-0.1 %; executables, libraries, PNG images, certificates and text
//! cover 20-95 %, far above the bound, and keep full deflate.
//!
//! Runs of one byte value are skipped, not counted: the RLE strategy codes them itself.
//! Integer arithmetic on the piece's bytes only, so the answer is the same on every
//! machine (the segments, and so the blobs, depend on it).

use super::entropy::MIN_PIECE;

/// A piece with fewer covered bytes than its length / `FEW` has few repeats.
const FEW: usize = 16;
/// Shortest repeat counted (deflate's shortest useful match on such data).
const MIN_MATCH: usize = 4;
/// Longest repeat deflate can code.
const MAX_MATCH: usize = 258;
/// Farthest a repeat's source may be (deflate's window).
const WINDOW: usize = 32 * 1024;
/// The table has `1 << BITS` slots, indexed by a hash of 4 bytes: as many as the window
/// has positions, so that most are still there when a repeat of them comes, in a table
/// small enough for the CPU's second-level cache.
const BITS: u32 = 15;

/// Whether fewer than one byte in [`FEW`] of `piece` lies in a repeat (see the module
/// docs); pieces shorter than [`MIN_PIECE`] are never said to have few repeats.
///
/// A slot holds 16 more bits of the hash and the position (both 16 bits: a piece is at
/// most 64 KiB) of the 4 bytes last seen with it; only when the bits agree are the bytes
/// compared, which on data with few repeats is rare (a branch the CPU predicts).
pub(crate) fn few_repeats(piece: &[u8]) -> bool {
    if piece.len() < MIN_PIECE {
        return false;
    }
    let limit = piece.len() / FEW;
    let mut slots = vec![u32::MAX; 1 << BITS];
    let (mut at, mut covered) = (0usize, 0usize);
    while let Some(&[a, b, c, d]) = piece.get(at..at + MIN_MATCH) {
        let word = u32::from_le_bytes([a, b, c, d]);
        if word == u32::from(a) * 0x0101_0101 {
            at += run_length(piece, at);
            continue;
        }
        let hash = word.wrapping_mul(0x9E37_79B1);
        let Some(slot) = slots.get_mut((hash >> (32 - BITS)) as usize) else {
            return false;
        };
        let (check, seen) = (hash << 16, *slot);
        *slot = check | (at as u32 & 0xffff);
        let from = (seen & 0xffff) as usize;
        if seen & 0xffff_0000 == check
            && from < at
            && at - from <= WINDOW
            && piece.get(from..from + MIN_MATCH) == piece.get(at..at + MIN_MATCH)
        {
            let len = MIN_MATCH + match_length(piece, from + MIN_MATCH, at + MIN_MATCH);
            covered += len;
            if covered >= limit {
                return false;
            }
            at += len;
            continue;
        }
        at += 1;
    }
    true
}

/// How many bytes from `at` equal the one at `at`.
fn run_length(piece: &[u8], at: usize) -> usize {
    let rest = piece.get(at..).unwrap_or_default();
    let first = rest.first().copied();
    rest.iter()
        .take_while(|&&b| Some(b) == first)
        .count()
        .max(1)
}

/// How many bytes from `at` equal those from `from`, at most what a deflate match has
/// left after its first [`MIN_MATCH`].
fn match_length(piece: &[u8], from: usize, at: usize) -> usize {
    let (Some(earlier), Some(here)) = (piece.get(from..), piece.get(at..)) else {
        return 0;
    };
    earlier
        .iter()
        .zip(here)
        .take(MAX_MATCH - MIN_MATCH)
        .take_while(|(x, y)| x == y)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::entropy::PIECE;
    use crate::diff::segment::noise;
    use base64::Engine;

    fn base64(len: usize, seed: u64) -> Vec<u8> {
        let mut s = base64::engine::general_purpose::STANDARD
            .encode(noise(len, seed))
            .into_bytes();
        s.truncate(len);
        s
    }

    /// A tar-like piece: 512-byte headers (a name, octal fields, zero padding) before
    /// 10 KiB of base64 each.
    fn tar_of_base64(len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut k = 0u64;
        while out.len() < len {
            let mut header = format!(
                "data/d000/f{k:04}\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\00000644\00000000\00000000\000000024000\000014751213714\0"
            )
            .into_bytes();
            header.resize(257, 0);
            header.extend_from_slice(b"ustar\x0000");
            header.resize(512, 0);
            out.extend(header);
            out.extend(base64(10_240, 2 * k + 1));
            k += 1;
        }
        out.truncate(len);
        out
    }

    #[test]
    fn text_encoded_random_data_has_few_repeats() {
        for seed in 1..10 {
            assert!(few_repeats(&base64(PIECE, seed)), "seed {seed}");
        }
        assert!(few_repeats(&tar_of_base64(PIECE)));
        // Zero runs alone do not count.
        let mut padded = base64(PIECE, 3);
        padded.splice(1000..1000, vec![0u8; 20_000]);
        padded.truncate(PIECE);
        assert!(few_repeats(&padded));
    }

    #[test]
    fn repeating_data_has_many_repeats() {
        let words: Vec<u8> = (0..PIECE)
            .map(|i| b"the path of the value in the config\n"[(i * 7 / 5) % 36])
            .collect();
        assert!(!few_repeats(&words));
        // base64 with 8 % of it copies of earlier parts (100-byte snippets, 1,500 bytes
        // back).
        let mut snippets = base64(PIECE, 5);
        for k in 0..52 {
            let to = 2_000 + k * 1_200;
            let copy = snippets.get(to - 1_500..to - 1_400).unwrap().to_vec();
            snippets.splice(to..to + 100, copy);
        }
        assert!(!few_repeats(&snippets));
        // Short pieces keep full deflate.
        assert!(!few_repeats(&base64(MIN_PIECE - 1, 2)));
        assert!(!few_repeats(&[]));
    }

    #[test]
    fn repeats_farther_than_the_window_do_not_count() {
        // The second half repeats the first, 32 KiB + 1 behind: out of deflate's reach.
        let half = base64(WINDOW + 1, 8);
        let piece = [half.clone(), half].concat();
        assert!(few_repeats(&piece));
        let near = base64(WINDOW - 1000, 8);
        assert!(!few_repeats(&[near.clone(), near].concat()));
    }
}
