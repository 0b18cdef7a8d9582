//! Files with holes stay files with holes: a sparse file is copied data segment by data
//! segment ([`copy_file`], [`copy_data`]), and a file written from a stream (a layer entry)
//! leaves a hole wherever the stream has a whole block of zeros ([`HoleWriter`]). A hole reads
//! as zeros, so the content is the same either way; only the space on disk differs.
//!
//! Written here rather than taken from a crate: `std::fs::copy` and `copy_file_range` fill
//! holes on file systems without shared extents (ext4), so a 2 GB file holding 4 KiB of data
//! took 2 GB, and no well-kept crate does the `SEEK_DATA`/`SEEK_HOLE` walk on a file we
//! already hold open.

use std::fs::{File, Metadata};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use rustix::fs::SeekFrom;
use rustix::io::Errno;

/// The unit of holes: a block of zeros this large, at a multiple of it in the file, is
/// left unwritten.
const BLOCK: usize = 4096;

/// The largest piece handed to one `copy_file_range`.
const MAX_PIECE: u64 = 1 << 30;

/// Whether `meta` is of a file with holes (fewer blocks on disk than its size needs).
pub fn looks_sparse(meta: &Metadata) -> bool {
    meta.is_file() && meta.blocks().saturating_mul(512) < meta.len()
}

/// Copy the regular file `src` to `dst` (created or truncated), keeping holes; returns the
/// size. A file without holes is copied by `std::fs::copy`.
pub fn copy_file(src: &Path, dst: &Path) -> io::Result<u64> {
    let from = File::open(src)?;
    let meta = from.metadata()?;
    if !looks_sparse(&meta) {
        return std::fs::copy(src, dst);
    }
    let to = File::create(dst)?;
    to.set_permissions(meta.permissions())?;
    copy_data(&from, &to, meta.len())
}

/// Copy the first `len` bytes of `src` into the empty file `dst`, only the data segments
/// of `src` (its holes stay holes in `dst`); returns how many bytes `dst` holds (less than
/// `len` if `src` is shorter now). Falls back to a plain copy where the file system cannot
/// say where the data lies.
pub fn copy_data(src: &File, dst: &File, len: u64) -> io::Result<u64> {
    let end = len.min(src.metadata()?.len());
    let mut pos = 0;
    while pos < end {
        let data = match rustix::fs::seek(src.as_fd(), SeekFrom::Data(pos)) {
            Ok(at) => at,
            // Only holes up to the end.
            Err(Errno::NXIO) => break,
            Err(Errno::INVAL | Errno::OPNOTSUPP) => {
                copy_range(src, dst, pos, end - pos)?;
                break;
            }
            Err(e) => return Err(e.into()),
        };
        if data >= end {
            break;
        }
        let hole = rustix::fs::seek(src.as_fd(), SeekFrom::Hole(data))?.min(end);
        copy_range(src, dst, data, hole.saturating_sub(data))?;
        pos = hole.max(data + 1);
    }
    dst.set_len(end)?;
    Ok(end)
}

/// Copy `len` bytes at `offset` of `src` to the same offset of `dst`: in the kernel when it
/// can, else through memory.
fn copy_range(src: &File, dst: &File, offset: u64, len: u64) -> io::Result<()> {
    let (mut off_in, mut off_out) = (offset, offset);
    let end = offset + len;
    while off_in < end {
        let want = usize::try_from((end - off_in).min(MAX_PIECE)).unwrap_or(usize::MAX);
        match rustix::fs::copy_file_range(
            src.as_fd(),
            Some(&mut off_in),
            dst.as_fd(),
            Some(&mut off_out),
            want,
        ) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(Errno::INTR) => {}
            Err(Errno::XDEV | Errno::NOSYS | Errno::OPNOTSUPP | Errno::INVAL | Errno::PERM) => {
                return copy_range_in_memory(src, dst, off_in, end - off_in);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn copy_range_in_memory(src: &File, dst: &File, mut offset: u64, len: u64) -> io::Result<()> {
    let end = offset + len;
    let mut buf = vec![0u8; 1 << 20];
    while offset < end {
        let want = usize::try_from(end - offset).map_or(buf.len(), |n| n.min(buf.len()));
        let Some(piece) = buf.get_mut(..want) else {
            break;
        };
        let n = src.read_at(piece, offset)?;
        if n == 0 {
            break;
        }
        dst.write_all_at(piece.get(..n).unwrap_or(&[]), offset)?;
        offset += n as u64;
    }
    Ok(())
}

/// Writes a stream into a new, empty file, leaving a hole for each block of zeros (4 KiB at
/// a multiple of 4 KiB); [`finish`](HoleWriter::finish) gives the file its length.
#[derive(Debug)]
pub struct HoleWriter<'f> {
    file: &'f File,
    pos: u64,
}

impl<'f> HoleWriter<'f> {
    /// Write into `file` from its start; the file must be empty.
    pub fn new(file: &'f File) -> Self {
        HoleWriter { file, pos: 0 }
    }

    /// Write `buf` next.
    pub fn write(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            // Runs of whole pieces, each ending at a block boundary of the file, that are
            // all zeros or all not.
            let to_boundary = BLOCK - (self.pos % BLOCK as u64) as usize;
            let first = buf.get(..to_boundary.min(buf.len())).unwrap_or(buf);
            let zero = is_zero(first);
            let mut run = first.len();
            while run < buf.len() {
                let next = buf.get(run..(run + BLOCK).min(buf.len())).unwrap_or(&[]);
                if is_zero(next) != zero {
                    break;
                }
                run += next.len();
            }
            let (piece, rest) = buf.split_at(run);
            if !zero {
                self.file.write_all_at(piece, self.pos)?;
            }
            self.pos += run as u64;
            buf = rest;
        }
        Ok(())
    }

    /// Give the file the length of everything written (a trailing hole included).
    pub fn finish(self) -> io::Result<()> {
        self.file.set_len(self.pos)
    }
}

/// Whether `piece` is all zeros; every byte a layer unpacks passes here, so it folds 64
/// bytes at a time (which the compiler vectorises) before it looks at the result.
/// Write all of `reader` into the new, empty `file` through a [`HoleWriter`]; returns how
/// many bytes were read.
pub fn write_stream(reader: &mut dyn io::Read, file: &File) -> io::Result<u64> {
    let mut out = HoleWriter::new(file);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write(buf.get(..n).unwrap_or(&[]))?;
        total += n as u64;
    }
    out.finish()?;
    Ok(total)
}

fn is_zero(piece: &[u8]) -> bool {
    piece
        .chunks(64)
        .all(|c| c.iter().fold(0u8, |acc, &b| acc | b) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    /// A file of `size` bytes holding `data` at each of `at`, holes elsewhere.
    fn sparse_file(path: &Path, size: u64, at: &[u64], data: &[u8]) {
        let f = File::create(path).unwrap();
        f.set_len(size).unwrap();
        for &off in at {
            f.write_all_at(data, off).unwrap();
        }
    }

    fn on_disk(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().blocks() * 512
    }

    #[test]
    fn a_copy_keeps_the_holes_and_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
        let data = vec![0xabu8; 4096];
        sparse_file(&src, 512 * MIB, &[0, 100 * MIB, 512 * MIB - 4096], &data);
        assert!(looks_sparse(&std::fs::metadata(&src).unwrap()));
        assert_eq!(copy_file(&src, &dst).unwrap(), 512 * MIB);
        assert_eq!(std::fs::metadata(&dst).unwrap().len(), 512 * MIB);
        assert!(on_disk(&dst) <= MIB, "{} bytes on disk", on_disk(&dst));
        let f = File::open(&dst).unwrap();
        let mut buf = vec![0u8; 4096];
        for (off, want) in [
            (0, 0xab),
            (100 * MIB, 0xab),
            (512 * MIB - 4096, 0xab),
            (MIB, 0),
        ] {
            f.read_exact_at(&mut buf, off).unwrap();
            assert!(buf.iter().all(|&b| b == want), "at {off}");
        }
    }

    #[test]
    fn a_file_without_holes_is_copied_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
        std::fs::write(&src, vec![0u8; 100_000]).unwrap();
        assert!(!looks_sparse(&std::fs::metadata(&src).unwrap()));
        assert_eq!(copy_file(&src, &dst).unwrap(), 100_000);
        assert_eq!(std::fs::read(&dst).unwrap(), vec![0u8; 100_000]);
    }

    #[test]
    fn a_stream_leaves_holes_for_blocks_of_zeros_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let f = File::create(&path).unwrap();
        let mut w = HoleWriter::new(&f);
        let mut want = Vec::new();
        // Odd piece sizes, so that blocks straddle writes; zeros inside data blocks kept.
        let mut pieces: Vec<Vec<u8>> = vec![b"head".to_vec(), vec![0; 10_000]];
        pieces.push([vec![0u8; 100], vec![7u8; 5000]].concat());
        pieces.push(vec![0; 8 * MIB as usize + 3]);
        pieces.push(b"tail".to_vec());
        pieces.push(vec![0; 3 * MIB as usize]);
        for p in &pieces {
            w.write(p).unwrap();
            want.extend_from_slice(p);
        }
        w.finish().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), want);
        assert!(
            on_disk(&path) <= 64 * 1024,
            "{} bytes on disk",
            on_disk(&path)
        );
    }
}
