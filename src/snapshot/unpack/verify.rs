//! The diff_id check of a layer being unpacked: the tar reader reads the uncompressed
//! stream through a [`HashingReader`], so the content is hashed in the same pass that
//! writes it; once the last entry is written, whatever follows the end-of-archive marker
//! (tar padding, trailing bytes) is read and hashed too, and only then is the digest
//! compared with the one the image config gives (`rootfs.diff_ids`).

use std::io::{self, Read};

use oci_spec::image::Digest;

use crate::snapshot::error::{Result, SnapshotError};
use crate::store::digest::HashingReader;

/// Read `rest` (the stream the tar reader stopped in) to its end, then check that
/// everything that passed through it hashes to `expected`.
pub(super) fn whole_stream<R: Read>(mut rest: HashingReader<R>, expected: &Digest) -> Result<()> {
    io::copy(&mut rest, &mut io::sink()).map_err(SnapshotError::Read)?;
    let (_, actual, _) = rest.finish();
    if actual == *expected {
        Ok(())
    } else {
        Err(SnapshotError::DiffIdMismatch {
            expected: Box::new(expected.clone()),
            actual: Box::new(actual),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use crate::snapshot::{apply, unpack, SnapshotError, UnpackOptions};
    use crate::store::digest::sha256;

    /// A tar holding `/f` with `content`, ended as the tar crate ends it (two zero blocks).
    fn layer(content: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "f", content).unwrap();
        b.into_inner().unwrap()
    }

    fn opts(diff_id: &oci_spec::image::Digest) -> UnpackOptions {
        UnpackOptions {
            diff_id: Some(diff_id.clone()),
            ..UnpackOptions::default()
        }
    }

    fn mismatch(r: crate::snapshot::Result<crate::snapshot::UnpackStats>) -> bool {
        matches!(r, Err(SnapshotError::DiffIdMismatch { .. }))
    }

    #[test]
    fn a_layer_that_is_its_diff_id_unpacks() {
        let tar = layer(b"real");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        for blob in [&tar, &gz] {
            let dir = tempfile::tempdir().unwrap();
            unpack(&blob[..], dir.path(), &opts(&sha256(&tar))).unwrap();
            assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"real");
            let flat = tempfile::tempdir().unwrap();
            apply(&blob[..], flat.path(), &opts(&sha256(&tar))).unwrap();
        }
    }

    #[test]
    fn a_layer_that_is_not_its_diff_id_is_refused() {
        let claimed = sha256(&layer(b"real"));
        let other = layer(b"fake");
        let dir = tempfile::tempdir().unwrap();
        match unpack(&other[..], dir.path(), &opts(&claimed)) {
            Err(SnapshotError::DiffIdMismatch { expected, actual }) => {
                assert_eq!(*expected, claimed);
                assert_eq!(*actual, sha256(&other));
            }
            other => panic!("{other:?}"),
        }
        let flat = tempfile::tempdir().unwrap();
        assert!(mismatch(apply(&other[..], flat.path(), &opts(&claimed))));
    }

    #[test]
    fn bytes_after_the_end_of_the_archive_count() {
        // The same entries; only what follows the end-of-archive marker differs. The
        // diff_id covers the whole stream, so a trailer is hashed like the rest.
        let tar = layer(b"real");
        let mut trailer = tar.clone();
        trailer.extend_from_slice(b"anything after the end marker");
        let dir = tempfile::tempdir().unwrap();
        assert!(mismatch(unpack(
            &trailer[..],
            dir.path(),
            &opts(&sha256(&tar))
        )));
        let dir = tempfile::tempdir().unwrap();
        unpack(&trailer[..], dir.path(), &opts(&sha256(&trailer))).unwrap();

        // GNU tar pads an archive to a 10 KiB record with zeros after the end marker: the
        // padded stream has its own diff_id, and each form is checked as what it is.
        let mut padded = tar.clone();
        padded.resize(10240, 0);
        assert_ne!(padded.len(), tar.len());
        let dir = tempfile::tempdir().unwrap();
        assert!(mismatch(unpack(
            &padded[..],
            dir.path(),
            &opts(&sha256(&tar))
        )));
        let dir = tempfile::tempdir().unwrap();
        unpack(&padded[..], dir.path(), &opts(&sha256(&padded))).unwrap();
    }
}
