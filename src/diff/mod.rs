//! Layer writer: a change set on disk -> one deterministic layer blob.
//!
//! Pipeline stage: after a step ran (RUN over overlay, or COPY into a fresh directory), the
//! step's snapshot directory *is* the change set. [`write_layer`] walks it once (cost
//! O(files in the change set), never O(rootfs)) and streams a tar through sha256 (diff_id),
//! a compressor (gzip via zlib-rs, zstd, or none) and sha256 again (blob digest and size)
//! into any `Write` sink — typically a temp file the store renames.
//!
//! Compressed blobs are made of independently compressed chunks cut at content-defined
//! tar entry boundaries (`stream`, `segment`): chunks compress in parallel, and a chunk
//! already compressed in an older blob is copied from it ([`ChunkIndex`]), with the same
//! bytes as compressing it again would give.
//!
//! Invariants of the tar:
//! - entries depth-first, each directory's children sorted by tar name (bytes); parents
//!   precede children; directories end in `/`;
//! - mode (`0o7777`), uid, gid, mtime from `lstat`; mtimes clamped to `source_date_epoch`
//!   when set; no user names, atimes or ctimes;
//! - USTAR headers, PAX records for long names and big values, xattrs as
//!   `SCHILY.xattr.NAME` (minus overlay bookkeeping and `security.selinux`);
//! - a second path of an inode becomes a hard link to the first; symlinks, devices and
//!   fifos kept; sockets skipped;
//! - overlay upper-dir semantics: char device 0/0 `NAME` -> empty file `.wh.NAME`; a
//!   directory with `trusted.overlay.opaque` or `user.overlay.opaque` = `y` -> its entry,
//!   `DIR/.wh..wh..opq`, then its contents. `redirect_dir` and `metacopy` upper dirs are
//!   refused.
//!
//! [`summarize`] renders a layer as stable text for golden tests.

pub mod chunk_index;
mod entropy;
mod error;
mod header;
mod parallel;
mod recompress;
mod repeats;
mod segment;
mod stream;
mod summary;
mod walk;
mod xattrs;

use std::fs::{File, Metadata};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::str::FromStr;

use oci_spec::image::Digest;

pub use chunk_index::{ChunkIndex, ChunkRecord};
pub use error::{DiffError, Result};
pub use recompress::recompress;
pub use summary::summarize;
pub use walk::{OPAQUE_MARKER, WHITEOUT_PREFIX};

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// gzip (the default, as in BuildKit).
    #[default]
    Gzip,
    /// zstd, multithreaded.
    Zstd,
    /// A plain tar.
    Uncompressed,
}

impl Compression {
    /// The OCI media type of a layer blob in this compression.
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            Compression::Uncompressed => "application/vnd.oci.image.layer.v1.tar",
        }
    }

    /// The level used when none is given: gzip 6 (Go's `DefaultCompression`, which BuildKit
    /// uses), zstd 3 (zstd's default, close to BuildKit's `SpeedDefault`).
    pub fn default_level(self) -> i32 {
        match self {
            Compression::Gzip => 6,
            Compression::Zstd => 3,
            Compression::Uncompressed => 0,
        }
    }
}

impl FromStr for Compression {
    type Err = String;

    /// Parse the `compression=` value of an output: `gzip`, `zstd` or `uncompressed`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            "uncompressed" => Ok(Compression::Uncompressed),
            other => Err(format!(
                "unknown compression {other:?} (expected gzip, zstd or uncompressed)"
            )),
        }
    }
}

/// Answers "does this path (`/a/b`, as the image sees it) exist in the layers below?".
pub type ExistsBelow<'a> = &'a (dyn Fn(&Path) -> bool + 'a);
/// Answers "must this path be left out?" (for example a sandbox's empty mount stub); a
/// directory left out is left out with its contents.
pub type Exclude<'a> = &'a (dyn Fn(&Path, &Metadata) -> bool + 'a);

/// How to write a layer.
#[derive(Clone, Copy, Default)]
pub struct LayerOptions<'a> {
    /// Blob compression.
    pub compression: Compression,
    /// Compression level; `None` means [`Compression::default_level`].
    pub level: Option<i32>,
    /// Clamp every mtime to at most this (`SOURCE_DATE_EPOCH` with
    /// `rewrite-timestamp=true`).
    pub source_date_epoch: Option<i64>,
    /// When set, whiteouts and opaque markers for paths absent below are dropped.
    pub exists_below: Option<ExistsBelow<'a>>,
    /// When set, paths it accepts never reach the layer.
    pub exclude: Option<Exclude<'a>>,
    /// Compressed chunks of older blobs that may be copied instead of compressing.
    pub reuse: Option<&'a ChunkIndex>,
}

impl std::fmt::Debug for LayerOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerOptions")
            .field("compression", &self.compression)
            .field("level", &self.level)
            .field("source_date_epoch", &self.source_date_epoch)
            .field("exists_below", &self.exists_below.is_some())
            .field("exclude", &self.exclude.is_some())
            .field("reuse", &self.reuse.map(ChunkIndex::len))
            .finish()
    }
}

/// What [`write_layer`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// `sha256:` of the uncompressed tar (goes in the config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    /// `sha256:` of the blob as written to the sink (the descriptor digest).
    pub digest: Digest,
    /// Blob size in bytes.
    pub size: u64,
    /// Uncompressed tar size in bytes.
    pub uncompressed_size: u64,
    /// The blob's OCI media type.
    pub media_type: &'static str,
    /// Number of tar entries written.
    pub entries: u64,
    /// The blob's compressed chunks, for its [`ChunkIndex`] entry (empty when
    /// uncompressed).
    pub chunks: Vec<ChunkRecord>,
    /// How many chunks were copied from older blobs rather than compressed.
    pub reused_chunks: u64,
    /// Their uncompressed bytes.
    pub reused_bytes: u64,
}

/// Write the change set under `root` as a layer blob into `sink`, in one streaming pass.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use builder::diff::{write_layer, LayerOptions};
/// let blob = std::fs::File::create("/tmp/layer.tmp")?;
/// let info = write_layer("/tmp/upper".as_ref(), &LayerOptions::default(), blob)?;
/// println!("{} {} {}", info.digest, info.diff_id, info.size);
/// # Ok(()) }
/// ```
pub fn write_layer<W: Write + Send>(
    root: &Path,
    opts: &LayerOptions<'_>,
    sink: W,
) -> Result<LayerInfo> {
    let level = opts
        .level
        .unwrap_or_else(|| opts.compression.default_level());
    let mut entries = 0u64;
    let settings = stream::Settings {
        compression: opts.compression,
        level,
        reuse: opts.reuse,
    };
    let measured = stream::run(&settings, sink, |out| {
        walk::walk(root, opts, |e| {
            entries += 1;
            let write = |r: std::io::Result<()>| r.map_err(DiffError::Write);
            if let header::Kind::File { size } = e.kind {
                out.begin_entry(size)?;
            }
            write(header::write_header(
                out,
                &header::EntryHeader {
                    name: &e.name,
                    kind: &e.kind,
                    mode: e.mode,
                    uid: e.uid,
                    gid: e.gid,
                    mtime: e.mtime,
                    xattrs: &e.xattrs,
                },
            ))?;
            if let header::Kind::File { size } = e.kind {
                if size > 0 {
                    let mut file = File::options()
                        .read(true)
                        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                        .open(&e.fs_path)
                        .map_err(|source| DiffError::Read {
                            path: e.fs_path.clone(),
                            source,
                        })?;
                    out.copy_file(&e.fs_path, &mut file, size)?;
                    write(out.write_all(&[0u8; header::BLOCK][..header::padding(size)]))?;
                }
            }
            out.end_entry(&e.name)
        })?;
        header::write_end(out).map_err(DiffError::Write)
    })?;
    Ok(LayerInfo {
        diff_id: measured.diff_id,
        digest: measured.digest,
        size: measured.size,
        uncompressed_size: measured.uncompressed_size,
        media_type: opts.compression.media_type(),
        entries,
        reused_chunks: measured.written.reused,
        reused_bytes: measured.written.reused_bytes,
        chunks: measured.written.chunks,
    })
}

#[cfg(test)]
mod tests;
