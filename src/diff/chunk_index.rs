//! The chunk index: for every large layer blob, where each of its compressed chunks lies,
//! so a later layer holding the same chunk copies the compressed bytes instead of
//! compressing again (a rebuild after one file changed recompresses one chunk).
//!
//! One small text file per blob, `DIR/<blob hex>` (the store keeps it at `ROOT/chunks/`),
//! written atomically after the blob is committed:
//!
//! ```text
//! builder-chunk-index 1
//! codec gzip-6-<fingerprint>
//! blob sha256:<hex>
//! <chunk sha256 hex> <offset> <compressed len> <len> <crc32> <crc32 of compressed>
//! ...
//! end <number of chunks>
//! ```
//!
//! Everything here is best effort: an index that cannot be read, names a codec other than
//! the one in use, or points at a blob that is gone is ignored (a stale one is removed), and
//! a chunk whose stored bytes do not check out is compressed instead. Reuse never changes
//! the output: a segment depends only on the chunk and the codec.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use oci_spec::image::Digest;

use super::segment::Codec;
use super::Compression;

const MAGIC: &str = "builder-chunk-index 1";

/// One compressed chunk of a blob, as the index records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkRecord {
    /// sha256 (hex) of the chunk's uncompressed bytes.
    pub hash: String,
    /// Where its segment starts in the blob.
    pub offset: u64,
    /// The segment's length.
    pub compressed_len: u64,
    /// The chunk's uncompressed length.
    pub len: u64,
    /// CRC-32 of the uncompressed chunk.
    pub crc: u32,
    /// CRC-32 of the segment (checked when it is copied).
    pub compressed_crc: u32,
}

#[derive(Debug, Clone)]
struct Location {
    blob: PathBuf,
    record: ChunkRecord,
}

/// The chunks of the blobs already in the store, for one codec, ready for lookups from the
/// compressor threads.
#[derive(Debug, Default)]
pub struct ChunkIndex {
    codec_id: String,
    chunks: HashMap<String, Location>,
}

impl ChunkIndex {
    /// Read every index in `dir` written for `compression` at `level`; `blob_path` names a
    /// blob's file (`None` when the store keeps no files). Unusable indexes are skipped.
    pub fn load(
        dir: &Path,
        compression: Compression,
        level: i32,
        blob_path: &dyn Fn(&Digest) -> Option<PathBuf>,
    ) -> ChunkIndex {
        let Some(codec_id) = codec(compression, level).and_then(|c| c.id().ok()) else {
            return ChunkIndex::default();
        };
        let mut index = ChunkIndex {
            codec_id,
            chunks: HashMap::new(),
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return index;
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let Some(parsed) = parse(&text) else {
                continue;
            };
            if parsed.codec != index.codec_id {
                continue;
            }
            let Some(blob) = blob_path(&parsed.blob).filter(|p| p.is_file()) else {
                // The blob was removed (pruned): its index goes too.
                let _ = std::fs::remove_file(&file);
                continue;
            };
            for record in parsed.records {
                index
                    .chunks
                    .entry(record.hash.clone())
                    .or_insert_with(|| Location {
                        blob: blob.clone(),
                        record,
                    });
            }
        }
        index
    }

    /// How many chunks are known.
    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    /// Whether no chunk is known.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The stored segment of the chunk with this hash, CRC and length, if one is known and
    /// its bytes check out; `None` means "compress it".
    pub(crate) fn fetch(&self, hash: &str, crc: u32, len: u64) -> Option<Vec<u8>> {
        let loc = self.chunks.get(hash)?;
        let r = &loc.record;
        if r.crc != crc || r.len != len {
            return None;
        }
        let file = File::open(&loc.blob).ok()?;
        let size = usize::try_from(r.compressed_len).ok()?;
        if r.offset.checked_add(r.compressed_len)? > file.metadata().ok()?.len() {
            return None;
        }
        let mut bytes = vec![0u8; size];
        file.read_exact_at(&mut bytes, r.offset).ok()?;
        (crc32fast::hash(&bytes) == r.compressed_crc).then_some(bytes)
    }
}

/// The codec of a compression at a level (`None` for a plain tar, which has no segments).
pub(crate) fn codec(compression: Compression, level: i32) -> Option<Codec> {
    match compression {
        Compression::Gzip => Some(Codec::Gzip(u32::try_from(level.clamp(0, 9)).unwrap_or(6))),
        Compression::Zstd => Some(Codec::Zstd(level)),
        Compression::Uncompressed => None,
    }
}

/// Write the index of `blob` (compressed with `compression` at `level`) into `dir`,
/// atomically.
pub fn save(
    dir: &Path,
    blob: &Digest,
    compression: Compression,
    level: i32,
    records: &[ChunkRecord],
) -> io::Result<()> {
    let Some(codec) = codec(compression, level) else {
        return Ok(());
    };
    let mut text = format!("{MAGIC}\ncodec {}\nblob {blob}\n", codec.id()?);
    for r in records {
        text.push_str(&format!(
            "{} {} {} {} {} {}\n",
            r.hash, r.offset, r.compressed_len, r.len, r.crc, r.compressed_crc
        ));
    }
    text.push_str(&format!("end {}\n", records.len()));
    std::fs::create_dir_all(dir)?;
    crate::store::atomic::write_atomic(&dir.join(blob.digest()), text.as_bytes())
        .map_err(io::Error::other)
}

struct Parsed {
    codec: String,
    blob: Digest,
    records: Vec<ChunkRecord>,
}

fn parse(text: &str) -> Option<Parsed> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    let codec = lines.next()?.strip_prefix("codec ")?.to_string();
    let blob: Digest = lines.next()?.strip_prefix("blob ")?.parse().ok()?;
    let mut records = Vec::new();
    for line in lines {
        if let Some(n) = line.strip_prefix("end ") {
            return (n.parse::<usize>().ok()? == records.len()).then_some(Parsed {
                codec,
                blob,
                records,
            });
        }
        let f: Vec<&str> = line.split(' ').collect();
        let [hash, offset, clen, len, crc, ccrc] = f.as_slice() else {
            return None;
        };
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        records.push(ChunkRecord {
            hash: hash.to_string(),
            offset: offset.parse().ok()?,
            compressed_len: clen.parse().ok()?,
            len: len.parse().ok()?,
            crc: crc.parse().ok()?,
            compressed_crc: ccrc.parse().ok()?,
        });
    }
    None // no end line: truncated
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::digest::sha256;

    fn record(data: &[u8], offset: u64, seg: &[u8]) -> ChunkRecord {
        ChunkRecord {
            hash: sha256(data).digest().to_string(),
            offset,
            compressed_len: seg.len() as u64,
            len: data.len() as u64,
            crc: crc32fast::hash(data),
            compressed_crc: crc32fast::hash(seg),
        }
    }

    #[test]
    fn saved_indexes_load_and_fetch_checked_bytes() {
        let t = tempfile::tempdir().unwrap();
        let blobs = t.path().join("blobs");
        std::fs::create_dir_all(&blobs).unwrap();
        let codec = Codec::Gzip(6);
        let chunk = b"some chunk of a tar".repeat(100);
        let seg = codec.compress(&chunk).unwrap();
        let blob_bytes = [b"0123456789".as_slice(), &seg, b"tail"].concat();
        let blob = sha256(&blob_bytes);
        std::fs::write(blobs.join(blob.digest()), &blob_bytes).unwrap();
        let dir = t.path().join("chunks");
        let r = record(&chunk, 10, &seg);
        save(&dir, &blob, Compression::Gzip, 6, std::slice::from_ref(&r)).unwrap();
        let path_of = |d: &Digest| Some(blobs.join(d.digest()));

        let index = ChunkIndex::load(&dir, Compression::Gzip, 6, &path_of);
        assert_eq!(index.len(), 1);
        assert_eq!(index.fetch(&r.hash, r.crc, r.len), Some(seg.clone()));
        // A wrong CRC or length is a miss, not a wrong answer.
        assert_eq!(index.fetch(&r.hash, r.crc ^ 1, r.len), None);
        assert_eq!(index.fetch(&r.hash, r.crc, r.len + 1), None);
        // Another level or codec sees nothing.
        assert!(ChunkIndex::load(&dir, Compression::Gzip, 9, &path_of).is_empty());
        assert!(ChunkIndex::load(&dir, Compression::Zstd, 3, &path_of).is_empty());

        // Bytes that changed under the index are refused.
        let mut bad = blob_bytes.clone();
        bad[12] ^= 0xff;
        std::fs::write(blobs.join(blob.digest()), &bad).unwrap();
        assert_eq!(index.fetch(&r.hash, r.crc, r.len), None);

        // A removed blob takes its index with it.
        std::fs::remove_file(blobs.join(blob.digest())).unwrap();
        assert!(ChunkIndex::load(&dir, Compression::Gzip, 6, &path_of).is_empty());
        assert!(!dir.join(blob.digest()).exists());
    }

    #[test]
    fn truncated_or_garbled_indexes_are_ignored() {
        let blob = sha256(b"x");
        let head = format!("{MAGIC}\ncodec c\nblob {blob}\n");
        let line = format!("{} 0 1 1 0 0\n", "a".repeat(64));
        assert!(parse(&format!("{head}{line}end 1\n")).is_some());
        assert!(parse(&format!("{head}{line}")).is_none());
        assert!(parse(&format!("{head}{line}end 2\n")).is_none());
        assert!(parse(&format!("{head}zz 0 1 1 0 0\nend 1\n")).is_none());
        assert!(parse("garbage").is_none());
    }
}
