//! Layer streams arrive plain, gzip or zstd; the first bytes say which.

use std::io::{self, BufReader, Read};

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Wrap `layer` so that reading yields the plain tar, whatever the compression (detected
/// from the magic bytes: gzip, zstd, else plain).
pub fn decompress<'a>(mut layer: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let head = read_head(&mut layer, ZSTD_MAGIC.len())?;
    let gzip = head.starts_with(GZIP_MAGIC);
    let zstd = head.starts_with(ZSTD_MAGIC);
    let reader = BufReader::with_capacity(1 << 20, io::Cursor::new(head).chain(layer));
    if gzip {
        // Multi-member gzip is valid (pigz, concatenated streams).
        Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::bufread::MultiGzDecoder::new(reader),
        )))
    } else if zstd {
        Ok(Box::new(zstd::stream::read::Decoder::with_buffer(reader)?))
    } else {
        Ok(Box::new(reader))
    }
}

/// Read up to `n` bytes (fewer only at end of stream).
fn read_head(reader: &mut impl Read, n: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(n);
    reader.take(n as u64).read_to_end(&mut head)?;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn read_all(r: impl Read) -> Vec<u8> {
        let mut out = Vec::new();
        decompress(r).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn detects_each_format() {
        let data = b"hello layer".repeat(100);
        assert_eq!(read_all(&data[..]), data);

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        gz.write_all(&data).unwrap();
        assert_eq!(read_all(&gz.finish().unwrap()[..]), data);

        let zst = zstd::encode_all(&data[..], 3).unwrap();
        assert_eq!(read_all(&zst[..]), data);

        assert!(read_all(&b""[..]).is_empty());
    }
}
