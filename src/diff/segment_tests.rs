//! Segment tests: gzip members and zstd streams from concatenated segments, codec ids, and
//! the stored pieces of incompressible data and the run-coded pieces of data with few
//! repeats (output, size, round trips, determinism).

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

/// What a segment was before pieces could be stored: one fresh deflater over the whole
/// chunk, ended with a sync flush.
fn one_deflater(level: u32, data: &[u8]) -> Vec<u8> {
    let mut deflate = Compress::new(flate2::Compression::new(level), false);
    let mut out = Vec::new();
    deflate_run(&mut deflate, data, &mut out).unwrap();
    out
}

/// Text that deflates well: lines of words, like a tar of source files.
fn text(len: usize, seed: u64) -> Vec<u8> {
    let words = [
        "src", "main", "fn", "let", "return", "usr/lib", "config", "0x1f",
    ];
    let mut out = Vec::with_capacity(len + 16);
    for b in noise(len, seed) {
        out.extend_from_slice(words[usize::from(b % 8)].as_bytes());
        out.push(if b > 230 { b'\n' } else { b' ' });
        if out.len() >= len {
            break;
        }
    }
    out.truncate(len);
    out
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut back)
        .unwrap();
    back
}

#[test]
fn random_chunks_are_stored_blocks() {
    for len in [entropy::PIECE, 3 * entropy::PIECE + 30_000, 4 << 20] {
        let data = noise(len, len as u64);
        let seg = Codec::Gzip(6).compress(&data).unwrap();
        let mut stored = Vec::new();
        store(&data, &mut stored);
        assert!(seg == stored, "{len} bytes: not stored");
        // Five bytes of block header per 64 KiB - 1.
        assert_eq!(seg.len(), len + 5 * len.div_ceil(MAX_STORED));
        assert_eq!(gunzip(&gzip_of(6, &[&data])), data);
    }
    // A last piece too short to judge is deflated, after the stored ones.
    let data = noise(2 * entropy::PIECE + 1000, 8);
    let (head, tail) = data.split_at(2 * entropy::PIECE);
    let mut want = Vec::new();
    store(head, &mut want);
    want.extend(one_deflater(6, tail));
    assert!(Codec::Gzip(6).compress(&data).unwrap() == want);
    assert_eq!(gunzip(&gzip_of(6, &[&data])), data);
}

#[test]
fn compressible_chunks_deflate_as_before() {
    for (name, data) in [("text", text(512 << 10, 9)), ("sample", text_sample())] {
        for level in [1, 6, 9] {
            let seg = Codec::Gzip(level).compress(&data).unwrap();
            assert!(seg == one_deflater(level, &data), "{name} at level {level}");
        }
    }
}

/// base64 of random bytes, `len` bytes of it.
fn base64_noise(len: usize, seed: u64) -> Vec<u8> {
    use base64::Engine;
    let mut b = base64::engine::general_purpose::STANDARD
        .encode(noise(len, seed))
        .into_bytes();
    b.truncate(len);
    b
}

#[test]
fn chunks_with_few_repeats_are_coded_with_runs_only() {
    let data = base64_noise(384 << 10, 1);
    for level in [1, 6] {
        let seg = Codec::Gzip(level).compress(&data).unwrap();
        let mut want = Vec::new();
        literal_run(level, &data, &mut want).unwrap();
        assert!(seg == want, "level {level}: not one RLE run");
        assert_eq!(gunzip(&gzip_of(level, &[&data])), data);
    }
    // Levels above the default keep deflate's full search.
    let seg9 = Codec::Gzip(9).compress(&data).unwrap();
    assert!(
        seg9 == one_deflater(9, &data),
        "level 9 is not full deflate"
    );
    assert_eq!(gunzip(&gzip_of(9, &[&data])), data);
    // What full deflate gains on such data, the run coder gains too (6 bits a byte).
    let (seg, whole) = (
        Codec::Gzip(6).compress(&data).unwrap(),
        one_deflater(6, &data),
    );
    assert!(
        seg.len() as f64 <= whole.len() as f64 * 1.01,
        "{} against {}",
        seg.len(),
        whole.len()
    );
    assert!(seg.len() < data.len() * 77 / 100, "{}", seg.len());
}

/// Text and random pieces in one chunk, neither aligned to pieces, plus random data too
/// short to be stored, random data with repeats and data with a flat histogram.
fn mixed() -> Vec<Vec<u8>> {
    let counter: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    let mut repeats = noise(100_000, 21);
    repeats.extend_from_within(20_000..60_000);
    vec![
        [
            text(100_000, 1),
            noise(300_000, 2),
            text(70_001, 3),
            noise(1 << 20, 4),
        ]
        .concat(),
        noise(10_000, 5),
        repeats,
        counter,
        noise(2 << 20, 6),
        [
            base64_noise(150_000, 8),
            text(90_000, 9),
            base64_noise(200_000, 10),
        ]
        .concat(),
        text(1 << 20, 7),
    ]
}

#[test]
fn mixed_chunks_round_trip_and_stay_small() {
    let chunks = mixed();
    let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    let gz = gzip_of(6, &refs);
    assert_eq!(gunzip(&gz), chunks.concat());
    // Never much larger than deflating everything, and well below where it gains.
    for c in &chunks {
        let (seg, whole) = (Codec::Gzip(6).compress(c).unwrap(), one_deflater(6, c));
        assert!(
            seg.len() as f64 <= whole.len() as f64 * 1.01 + 64.0,
            "{} bytes: {} against {}",
            c.len(),
            seg.len(),
            whole.len()
        );
    }
    let [first, .., last] = chunks.as_slice() else {
        unreachable!()
    };
    let seg = Codec::Gzip(6).compress(first).unwrap();
    assert!(seg.len() < first.len() - 100_000, "the text is deflated");
    assert!(Codec::Gzip(6).compress(last).unwrap().len() < last.len() / 3);
}

#[test]
fn mixed_chunks_pass_gzip() {
    if std::process::Command::new("gzip")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("no gzip: skipped");
        return;
    }
    let chunks = mixed();
    let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("layer.gz");
    std::fs::write(&file, gzip_of(6, &refs)).unwrap();
    let test = std::process::Command::new("gzip")
        .arg("-t")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "{}",
        String::from_utf8_lossy(&test.stderr)
    );
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == chunks.concat());
}

#[test]
fn segments_depend_only_on_the_chunk() {
    for c in mixed() {
        let a = Codec::Gzip(6).compress(&c).unwrap();
        let on_thread = std::thread::scope(|s| s.spawn(|| Codec::Gzip(6).compress(&c)).join());
        assert!(a == on_thread.unwrap().unwrap());
    }
}

#[test]
fn codec_ids_cover_incompressible_data() {
    // The sample holds a piece that is stored, so the id changes when storing does.
    let sample = fingerprint_sample();
    let stored = sample
        .chunks(entropy::PIECE)
        .filter(|p| entropy::incompressible(p))
        .count();
    assert_eq!(stored, 1);
    // And one coded with runs only, so the id changes when that does.
    let literal = sample
        .chunks(entropy::PIECE)
        .filter(|p| !entropy::incompressible(p) && repeats::few_repeats(p))
        .count();
    assert_eq!(literal, 1);
}
