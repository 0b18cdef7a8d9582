//! A stored layer blob in another compression (`force-compression=true`): the blob is
//! decompressed whatever it was (gzip, zstd or plain, told by its first bytes) and the tar
//! is compressed again through the same chunk-parallel pass as a new layer, hashing the tar
//! (diff_id, which must not change) and the new blob on the way.

use std::io::{Read, Write};

use super::error::{DiffError, Result};
use super::stream::{self, Settings};
use super::{Compression, LayerInfo};

/// Write the tar inside `blob` into `sink` compressed with `compression` at `level`
/// (`None`: its default). The returned diff_id is that of the tar as read.
pub fn recompress<R: Read, W: Write + Send>(
    blob: R,
    compression: Compression,
    level: Option<i32>,
    sink: W,
) -> Result<LayerInfo> {
    let settings = Settings {
        compression,
        level: level.unwrap_or_else(|| compression.default_level()),
        reuse: None,
    };
    let mut tar = crate::snapshot::decompress(blob).map_err(DiffError::ReadTar)?;
    let measured = stream::run(&settings, sink, |out| {
        std::io::copy(&mut tar, out).map_err(DiffError::ReadTar)?;
        Ok(())
    })?;
    Ok(LayerInfo {
        diff_id: measured.diff_id,
        digest: measured.digest,
        size: measured.size,
        uncompressed_size: measured.uncompressed_size,
        media_type: compression.media_type(),
        entries: 0,
        reused_chunks: 0,
        reused_bytes: 0,
        chunks: measured.written.chunks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::digest::sha256;

    fn tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let data = b"hello\n".repeat(1000);
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "f", &data[..]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn gzip_to_zstd_and_back_keeps_the_diff_id() {
        let plain = tar();
        let mut gz = Vec::new();
        let info = recompress(&plain[..], Compression::Gzip, None, &mut gz).unwrap();
        assert_eq!(info.diff_id, sha256(&plain));
        assert_eq!(info.digest, sha256(&gz));
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);

        let mut zst = Vec::new();
        let info = recompress(&gz[..], Compression::Zstd, Some(19), &mut zst).unwrap();
        assert_eq!(info.diff_id, sha256(&plain));
        assert_eq!(info.digest, sha256(&zst));
        assert_eq!(info.size, zst.len() as u64);
        assert_eq!(zstd::stream::decode_all(&zst[..]).unwrap(), plain);
        assert_eq!(
            info.media_type,
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );

        let mut back = Vec::new();
        let info = recompress(&zst[..], Compression::Uncompressed, None, &mut back).unwrap();
        assert_eq!(back, plain);
        assert_eq!(info.digest, info.diff_id);
    }

    #[test]
    fn a_damaged_blob_is_an_error() {
        let mut gz = Vec::new();
        recompress(&tar()[..], Compression::Gzip, None, &mut gz).unwrap();
        gz.truncate(gz.len() / 2);
        let err = recompress(&gz[..], Compression::Zstd, None, std::io::sink()).unwrap_err();
        assert!(matches!(err, DiffError::ReadTar(_)), "{err:?}");
    }
}
