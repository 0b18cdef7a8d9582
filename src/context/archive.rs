//! Compressed tar streams: telling gzip, bzip2 and xz apart by their first bytes (never by
//! file name, as BuildKit's `archiveutil.DecompressStream` does) and wrapping a reader in the
//! matching decoder. Used for tar build contexts and for `ADD` of local archives.

use std::io::{self, BufRead, BufReader, Read};

/// A stream compression recognised by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveCompression {
    /// No recognised compression.
    None,
    /// gzip (`1f 8b 08`).
    Gzip,
    /// bzip2 (`BZh`).
    Bzip2,
    /// xz (`fd 37 7a 58 5a 00`).
    Xz,
    /// zstd (`28 b5 2f fd`): recognised, but not decoded by this build.
    Zstd,
}

impl ArchiveCompression {
    /// The compression whose magic number starts `head`.
    pub fn detect(head: &[u8]) -> ArchiveCompression {
        if head.starts_with(&[0x1f, 0x8b, 0x08]) {
            ArchiveCompression::Gzip
        } else if head.starts_with(b"BZh") {
            ArchiveCompression::Bzip2
        } else if head.starts_with(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) {
            ArchiveCompression::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            ArchiveCompression::Zstd
        } else {
            ArchiveCompression::None
        }
    }
}

/// Wraps `reader` in the decoder its first bytes call for.
pub fn decompress<'a, R: Read + 'a>(reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut buffered = BufReader::with_capacity(64 * 1024, reader);
    let head = buffered.fill_buf()?;
    Ok(match ArchiveCompression::detect(head) {
        ArchiveCompression::None => Box::new(buffered),
        ArchiveCompression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        ArchiveCompression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(buffered)),
        ArchiveCompression::Xz => {
            Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(buffered))
        }
        ArchiveCompression::Zstd => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "zstd-compressed archives are not supported yet",
            ))
        }
    })
}

/// Whether `reader` holds a (possibly compressed) tar archive: it decompresses and its
/// first tar header parses, the test BuildKit's `isArchivePath` applies.
pub fn is_tar<R: Read>(reader: R) -> bool {
    let Ok(stream) = decompress(reader) else {
        return false;
    };
    let mut archive = tar::Archive::new(stream);
    let Ok(mut entries) = archive.entries() else {
        return false;
    };
    matches!(entries.next(), Some(Ok(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tar_bytes() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "f.txt", &b"hi"[..]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn detects_each_format_by_content() {
        let raw = tar_bytes();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        let gz = gz.finish().unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&raw).unwrap();
        let bz = bz.finish().unwrap();
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(&raw).unwrap();
        let xz = xz.finish().unwrap();
        assert_eq!(ArchiveCompression::detect(&gz), ArchiveCompression::Gzip);
        assert_eq!(ArchiveCompression::detect(&bz), ArchiveCompression::Bzip2);
        assert_eq!(ArchiveCompression::detect(&xz), ArchiveCompression::Xz);
        assert_eq!(ArchiveCompression::detect(&raw), ArchiveCompression::None);
        for bytes in [&raw, &gz, &bz, &xz] {
            assert!(is_tar(&bytes[..]));
        }
        assert!(!is_tar(&b""[..]));
        assert!(!is_tar(&b"just some text, not an archive"[..]));
        assert!(!is_tar(&[0x1f, 0x8b, 0x08, 0, 0][..]));
    }
}
