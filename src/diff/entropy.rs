//! Whether deflate can gain anything on a piece of a chunk, decided cheaply and only from
//! the piece's bytes, so that random, encrypted or well-compressed data (xz, zstd, bzip2,
//! woff2, most of a `.deb`) is stored instead of spending full deflate time on it.
//!
//! A piece is incompressible when both hold:
//! - its bytes are as uniform as random bytes: Pearson's chi-square statistic of the byte
//!   histogram against the uniform distribution is at most `256 + n / 256` for `n` bytes
//!   (random bytes give 255 on average, with a standard deviation of 22.6). Output of
//!   deflate, as in `.zip`, `.jar`, `.png` or `.gz` files, is often less uniform than
//!   that, and deflate gains 1-3 % on it again: such pieces are deflated;
//! - it has (almost) no repeats, the other thing deflate gains on: content-defined anchors
//!   (a rolling hash of the last 16 bytes) are compared, and a piece where at least 1 % of
//!   the bytes seem to repeat other bytes of it is compressible.
//!
//! On compressed files of a Debian system (`.deb`, `.gz`, `.jar`, `.whl`, `.zip`, `.png`,
//! `.woff2`), the pieces stored would deflate by 0.06 % at level 6. Integer arithmetic
//! only, so the answer is the same on every machine.

/// Pieces are classified this size at a time (from a chunk's start).
pub(crate) const PIECE: usize = 64 * 1024;

/// Shorter pieces are always deflated (too few bytes for a meaningful histogram).
pub(crate) const MIN_PIECE: usize = 16 * 1024;

/// One position in this many is an anchor (on average; see [`repeats`]).
const ANCHOR_EVERY: usize = 32;

/// Whether `piece` should be stored rather than deflated.
pub(crate) fn incompressible(piece: &[u8]) -> bool {
    piece.len() >= MIN_PIECE && near_uniform(piece) && !repeats(piece)
}

/// Whether the byte histogram of `data` is as flat as that of random bytes (see the module
/// docs). Text fails on its first [`GLANCE`] bytes already, with a bound random bytes never
/// come near (23 standard deviations), so most compressible pieces cost a glance.
fn near_uniform(data: &[u8]) -> bool {
    let glance = data.get(..GLANCE).unwrap_or(data);
    flat(glance, 512, 16) && flat(data, 256, 256)
}

/// Bytes looked at before the whole piece.
const GLANCE: usize = 4096;

/// Whether chi-square of the byte histogram of `data` is at most `base + n / per` for `n`
/// bytes.
fn flat(data: &[u8], base: u128, per: u128) -> bool {
    let n = data.len() as u128;
    let squares: u128 = histogram(data)
        .iter()
        .map(|&c| u128::from(c) * u128::from(c))
        .sum();
    // chi2 = 256 * sum(c^2) / n - n, so chi2 <= base + n / per
    // <=>  256 * per * sum(c^2) <= n * (per * (n + base) + n).
    256 * per * squares <= n * (per * (n + base) + n)
}

/// Byte counts, in four interleaved tables so consecutive equal bytes do not wait on each
/// other.
fn histogram(data: &[u8]) -> [u32; 256] {
    let mut t = [[0u32; 256]; 4];
    let mut quads = data.chunks_exact(4);
    for q in &mut quads {
        if let &[a, b, c, d] = q {
            t[0][usize::from(a)] += 1;
            t[1][usize::from(b)] += 1;
            t[2][usize::from(c)] += 1;
            t[3][usize::from(d)] += 1;
        }
    }
    for &b in quads.remainder() {
        t[0][usize::from(b)] += 1;
    }
    let mut sum = [0u32; 256];
    for (i, s) in sum.iter_mut().enumerate() {
        *s = t.iter().map(|row| row[i]).sum();
    }
    sum
}

/// Whether at least 1 % of `data` seems to repeat other bytes of it: each anchor stands
/// for about [`ANCHOR_EVERY`] bytes, and an anchor whose last [`WINDOW`] bytes are those of
/// another anchor is a repeat. The piece is hashed as [`LANES`] parts at once (independent
/// hash chains run in parallel in the CPU); repeats across parts count too.
fn repeats(data: &[u8]) -> bool {
    let part = data.len().div_ceil(LANES).max(1);
    let mut parts = data.chunks(part);
    let lanes: [&[u8]; LANES] = std::array::from_fn(|_| parts.next().unwrap_or(&[]));
    let mut anchors: Vec<u64> = Vec::with_capacity(2 * data.len() / ANCHOR_EVERY + 16);
    let mut h = [0u64; LANES];
    for i in 0..part {
        for (lane, h) in lanes.iter().zip(h.iter_mut()) {
            let Some(&b) = lane.get(i) else { continue };
            *h = (*h << (64 / WINDOW)).wrapping_add(GEAR[usize::from(b)]);
            // The hash depends on the last WINDOW bytes only, once that many went in; its
            // top 5 bits are zero at one position in 32.
            if *h >> 59 == 0 && i >= WINDOW {
                anchors.push(*h);
            }
        }
    }
    anchors.sort_unstable();
    let hits = anchors.windows(2).filter(|w| w.first() == w.last()).count();
    hits * 100 * ANCHOR_EVERY >= data.len()
}

/// Bytes hashed together in [`repeats`] (a divisor of 64).
const WINDOW: usize = 16;

/// Independent hash chains in [`repeats`].
const LANES: usize = 4;

/// 256 fixed pseudo-random words (splitmix64), for the rolling hash.
const GEAR: [u64; 256] = gear();

const fn gear() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut x = 0x005e_ed0f_9ea7_u64;
    let mut i = 0;
    while i < 256 {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        t[i] = z ^ (z >> 31);
        i += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::segment::noise;

    fn text(len: usize) -> Vec<u8> {
        let words = [
            "usr", "lib", "share", "the", "config", "value", "path", "include",
        ];
        let mut out = Vec::new();
        let mut i = 0usize;
        while out.len() < len {
            out.extend_from_slice(words[(i * 7 + i / 5) % words.len()].as_bytes());
            out.push(if i % 9 == 8 { b'\n' } else { b' ' });
            i += 1;
        }
        out.truncate(len);
        out
    }

    #[test]
    fn random_pieces_are_incompressible() {
        for seed in 1..20 {
            assert!(incompressible(&noise(PIECE, seed)), "seed {seed}");
        }
        assert!(incompressible(&noise(MIN_PIECE, 7)));
        // A piece starting with a tar header (mostly zeros) before a random file's data:
        // deflate gains those zeros.
        let mut with_header = vec![0u8; 512];
        with_header.extend(noise(PIECE - 512, 3));
        assert!(!incompressible(&with_header));
    }

    #[test]
    fn compressed_data_is_incompressible() {
        let data = text(8 * PIECE);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        std::io::Write::write_all(&mut gz, &noise(PIECE, 9)).unwrap();
        std::io::Write::write_all(&mut gz, &data).unwrap();
        let gz = gz.finish().unwrap();
        assert!(incompressible(gz.get(..PIECE).unwrap()));
        let z = zstd::bulk::compress(&[noise(PIECE, 4), data].concat(), 19).unwrap();
        assert!(incompressible(z.get(..PIECE).unwrap()));
    }

    #[test]
    fn text_and_short_pieces_are_compressible() {
        assert!(!incompressible(&text(PIECE)));
        assert!(!incompressible(&noise(MIN_PIECE - 1, 7)));
        assert!(!incompressible(&[]));
        // base64 of random bytes: 6 bits a byte.
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(noise(PIECE, 5));
        assert!(!incompressible(b64.as_bytes()));
    }

    #[test]
    fn uniform_bytes_with_repeats_are_compressible() {
        // Random bytes with 100-byte snippets of it copied later (as names repeat in an
        // archive's headers): 30 of them, 4.6 % of the piece.
        let mut snippets = noise(PIECE, 5);
        for k in 0..30 {
            let from = 200 * k;
            let copy = snippets.get(from..from + 100).unwrap().to_vec();
            let to = 10_000 + 1_500 * k;
            snippets.splice(to..to + 100, copy);
        }
        assert!(near_uniform(&snippets));
        assert!(!incompressible(&snippets));
        // Every byte value in turn: a perfectly flat histogram.
        let counter: Vec<u8> = (0..PIECE).map(|i| i as u8).collect();
        assert!(near_uniform(&counter));
        assert!(!incompressible(&counter));
        // About 2 % of a random piece repeated (a 1,500-byte run, seen once before).
        let mut some = noise(PIECE, 11);
        let copy = some.get(1000..2500).unwrap().to_vec();
        some.splice(40_000..41_500, copy);
        assert!(!incompressible(&some));
    }
}

/// How the classification does on real files: run with `BUILDER_ENTROPY_FILES=DIR
/// cargo test --release --lib entropy_report -- --ignored --nocapture`. For the 64 KiB
/// pieces of every file under DIR, prints what storing the incompressible ones costs
/// against deflating them at level 6, how much of the rest deflate could not shrink, and
/// what coding the pieces with few repeats with runs only costs against deflating them.
#[cfg(test)]
#[test]
#[ignore]
fn entropy_report() {
    let Some(dir) = std::env::var_os("BUILDER_ENTROPY_FILES") else {
        eprintln!("set BUILDER_ENTROPY_FILES to a directory");
        return;
    };
    let deflated = |p: &[u8]| {
        let mut c = flate2::Compress::new(flate2::Compression::new(6), false);
        let mut out = Vec::with_capacity(p.len() + p.len() / 64 + 64);
        c.compress_vec(p, &mut out, flate2::FlushCompress::Finish)
            .unwrap();
        out.len() as u64
    };
    let mut by_ext: std::collections::BTreeMap<String, [u64; 4]> = Default::default();
    let (mut stored, mut stored_deflated, mut kept, mut kept_deflated) = (0u64, 0, 0, 0);
    let (mut kept_poor, mut kept_poor_deflated) = (0u64, 0);
    // Pieces coded with runs only (see `repeats`): their bytes, the segment as written,
    // and what full deflate would give.
    let (mut runs_only, mut runs_only_coded, mut runs_only_deflated) = (0u64, 0u64, 0u64);
    for e in walkdir::WalkDir::new(dir).follow_links(true) {
        let Ok(e) = e else { continue };
        if !e.file_type().is_file() {
            continue;
        }
        let Ok(data) = std::fs::read(e.path()) else {
            continue;
        };
        let ext = e
            .path()
            .extension()
            .map_or(String::new(), |x| x.to_string_lossy().into());
        let row = by_ext.entry(ext).or_default();
        for p in data.chunks(PIECE) {
            let d = deflated(p);
            let i = if incompressible(p) { 0 } else { 2 };
            row[i] += p.len() as u64;
            row[i + 1] += d;
            if incompressible(p) {
                stored += p.len() as u64;
                stored_deflated += d;
            } else {
                kept += p.len() as u64;
                kept_deflated += d;
                if p.len() >= MIN_PIECE && d * 100 >= p.len() as u64 * 99 {
                    kept_poor += p.len() as u64;
                    kept_poor_deflated += d;
                }
                if super::repeats::few_repeats(p) {
                    let seg = super::segment::Codec::Gzip(6).compress(p).unwrap();
                    runs_only += p.len() as u64;
                    runs_only_coded += seg.len() as u64;
                    runs_only_deflated += d;
                }
            }
        }
    }
    for (ext, [s, sd, k, kd]) in &by_ext {
        println!(
            "{ext:>8}: stored {s} (deflate {sd}, {:+.2} %), deflated {k} -> {kd}",
            (*s as f64 / (*sd).max(1) as f64 - 1.0) * 100.0
        );
    }
    println!(
        "stored {stored} bytes (deflate would give {stored_deflated}, {:+.3} %)",
        (stored as f64 / stored_deflated.max(1) as f64 - 1.0) * 100.0
    );
    println!("deflated {kept} bytes -> {kept_deflated}");
    println!("  of which deflate gained < 1 %: {kept_poor} -> {kept_poor_deflated}");
    println!(
        "  of which coded with runs only: {runs_only} -> {runs_only_coded} (deflate \
         {runs_only_deflated}, {:+.3} %)",
        (runs_only_coded as f64 / runs_only_deflated.max(1) as f64 - 1.0) * 100.0
    );
}
