//! Regular files of a COPY written by a few threads while the walk goes on: the walk
//! (one thread, in order) decides every path, so existence checks, hard links and
//! overwrites behave exactly as in a sequential copy; a pool then fills the files —
//! content by `copy_file_range` (in the kernel, no user-space buffer), owner, mode, times
//! and xattrs through the open descriptors (no path lookups) — and closes them.
//!
//! A file the walk may look at again (a possible overwrite, the first path of a hard link)
//! is created by the walk ([`Dst::Open`]); a file in a directory the copy just made, which
//! nothing else can name before the source is done, is created by the pool
//! ([`Dst::Create`]). [`FilePool::finish`] is called after each source.
//!
//! Invariant: when [`FilePool::finish`] returns (or the pool is dropped) no thread touches
//! the layer any more; the error reported is the one of the earliest file in walk order.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rustix::fs::Timespec;
use rustix::fs::Timestamps;

use super::error::CopyError;
use super::source::FileSrc;
use crate::store::sparse;

/// Most threads filling files.
const MAX_WORKERS: usize = 8;
/// Threads per core: a file whose source is not in the page cache waits for the disk, and
/// more threads keep more reads in flight (a one-file change of a 20,000-file context read
/// from a virtio disk: its COPY in 0.7 s with 8 threads on 2 cores, 1.4 s with 2).
const IO_FACTOR: usize = 4;
/// Files created and waiting for a thread (each holds two descriptors).
const QUEUED: usize = 64;

/// The file a job writes.
pub(crate) enum Dst {
    /// Created by the walk, open for writing, empty.
    Open(File),
    /// To create (it must not exist; a symlink there is not followed).
    Create(PathBuf),
}

/// One file to write.
pub(crate) struct FileJob {
    /// The source (opened without following a symlink).
    pub src: FileSrc,
    /// The new file in the layer.
    pub dst: Dst,
    /// How many bytes to copy (the source's size when it was looked at).
    pub size: u64,
    /// The path in the image, for messages.
    pub path: String,
    /// The owner to set (`None`: leave it).
    pub owner: Option<(u32, u32)>,
    /// Permission bits.
    pub mode: u32,
    /// Access and modification times (seconds, nanoseconds).
    pub times: ((i64, i64), (i64, i64)),
}

type Outcome = Result<u64, (u64, CopyError)>;

/// The threads filling files, started on the first file.
#[derive(Default)]
pub(crate) struct FilePool {
    tx: Option<SyncSender<(u64, FileJob)>>,
    workers: Vec<JoinHandle<Outcome>>,
    failed: Arc<AtomicBool>,
    next: u64,
}

impl FilePool {
    /// Queue `job`; an error of an earlier file may be returned here already.
    pub(crate) fn submit(&mut self, job: FileJob) -> Result<(), CopyError> {
        if self.failed.load(Ordering::Relaxed) {
            self.finish()?;
        }
        if self.tx.is_none() {
            self.start();
        }
        let seq = self.next;
        self.next += 1;
        let Some(tx) = &self.tx else {
            return fill(job).map(|_| ());
        };
        match tx.send((seq, job)) {
            Ok(()) => Ok(()),
            // Every thread is gone, which only an error makes them do.
            Err(mpsc::SendError((_, job))) => {
                self.finish()?;
                fill(job).map(|_| ())
            }
        }
    }

    fn start(&mut self) {
        let n = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .saturating_mul(IO_FACTOR)
            .clamp(1, MAX_WORKERS);
        let (tx, rx) = mpsc::sync_channel::<(u64, FileJob)>(QUEUED);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..n {
            let (rx, failed) = (Arc::clone(&rx), Arc::clone(&self.failed));
            let spawned = std::thread::Builder::new()
                .name("copy-files".into())
                .spawn(move || work(&rx, &failed));
            if let Ok(handle) = spawned {
                self.workers.push(handle);
            }
        }
        // Without any thread the files are filled in the walk (see `submit`).
        if !self.workers.is_empty() {
            self.tx = Some(tx);
        }
    }

    /// Wait for every queued file; the bytes copied, or the error of the earliest file
    /// that failed.
    pub(crate) fn finish(&mut self) -> Result<u64, CopyError> {
        self.tx = None;
        let mut bytes = 0;
        let mut first: Option<(u64, CopyError)> = None;
        for handle in self.workers.drain(..) {
            let outcome = handle.join().unwrap_or_else(|_| {
                Err((
                    0,
                    CopyError::Io {
                        action: "copy files into",
                        path: "the layer".into(),
                        source: io::Error::other("a copying thread stopped unexpectedly"),
                    },
                ))
            });
            match outcome {
                Ok(n) => bytes += n,
                Err((seq, e)) => {
                    if first.as_ref().map_or(true, |(s, _)| seq < *s) {
                        first = Some((seq, e));
                    }
                }
            }
        }
        self.failed.store(false, Ordering::Relaxed);
        match first {
            Some((_, e)) => Err(e),
            None => Ok(bytes),
        }
    }
}

impl Drop for FilePool {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// A thread: fill files until the queue closes; after a failure, only drain it.
fn work(rx: &Mutex<Receiver<(u64, FileJob)>>, failed: &AtomicBool) -> Outcome {
    let mut bytes = 0;
    let mut error: Option<(u64, CopyError)> = None;
    loop {
        let next = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => break,
        };
        let Ok((seq, job)) = next else { break };
        if error.is_some() {
            continue;
        }
        match fill(job) {
            Ok(n) => bytes += n,
            Err(e) => {
                failed.store(true, Ordering::Relaxed);
                error = Some((seq, e));
            }
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(bytes),
    }
}

/// Copy the content, then owner, mode, times (in this order: a chown clears set-id bits,
/// a chmod would change nothing after the times) and xattrs.
pub(crate) fn fill(job: FileJob) -> Result<u64, CopyError> {
    let FileJob {
        src,
        dst,
        size,
        path,
        owner,
        mode,
        times: (atime, mtime),
    } = job;
    let src = src
        .open()
        .map_err(CopyError::io("read source", src.shown()))?;
    let dst = match dst {
        Dst::Open(f) => f,
        Dst::Create(host) => OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .mode(0o600)
            .open(&host)
            .map_err(CopyError::io("write", &path))?,
    };
    let n = copy_content(&src, &dst, size).map_err(CopyError::io("copy to", &path))?;
    if let Some((uid, gid)) = owner {
        rustix::fs::fchown(
            &dst,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .map_err(|e| CopyError::Chown {
            path: path.clone(),
            uid,
            gid,
            source: e.into(),
        })?;
    }
    rustix::fs::fchmod(&dst, rustix::fs::Mode::from_raw_mode(mode & 0o7777))
        .map_err(|e| CopyError::io("set mode of", &path)(e.into()))?;
    let ts = |(sec, nsec): (i64, i64)| Timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    };
    rustix::fs::futimens(
        &dst,
        &Timestamps {
            last_access: ts(atime),
            last_modification: ts(mtime),
        },
    )
    .map_err(|e| CopyError::io("set times of", &path)(e.into()))?;
    copy_xattrs(&src, &dst);
    Ok(n)
}

/// Copy `size` bytes from the start of `src` to `dst` (less if `src` is shorter now).
fn copy_content(src: &File, dst: &File, size: u64) -> io::Result<u64> {
    if src.metadata().is_ok_and(|m| sparse::looks_sparse(&m)) {
        return sparse::copy_data(src, dst, size);
    }
    let mut done = 0u64;
    while done < size {
        let want = usize::try_from(size - done)
            .unwrap_or(usize::MAX)
            .min(1 << 30);
        match rustix::fs::copy_file_range(src.as_fd(), None, dst.as_fd(), None, want) {
            Ok(0) => break,
            Ok(n) => done += n as u64,
            Err(rustix::io::Errno::INTR) => {}
            // No in-kernel copy between these files: copy the rest through memory.
            Err(
                rustix::io::Errno::XDEV
                | rustix::io::Errno::NOSYS
                | rustix::io::Errno::OPNOTSUPP
                | rustix::io::Errno::INVAL
                | rustix::io::Errno::PERM,
            ) => {
                let mut rest = io::Read::take(src, size - done);
                let mut out = dst;
                done += io::copy(&mut rest, &mut out)?;
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(done)
}

/// Copies extended attributes, ignoring failures as BuildKit does; SELinux labels of the
/// host are never carried into the image.
fn copy_xattrs(src: &File, dst: &File) {
    use xattr::FileExt;
    let Ok(names) = src.list_xattr() else {
        return;
    };
    for name in names {
        if name.to_string_lossy().starts_with("security.selinux") {
            continue;
        }
        if let Ok(Some(value)) = src.get_xattr(&name) {
            let _ = dst.set_xattr(&name, &value);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    fn job(dir: &std::path::Path, name: &str, content: &[u8], mode: u32) -> FileJob {
        let src_path = dir.join(format!("{name}.src"));
        std::fs::write(&src_path, content).unwrap();
        FileJob {
            src: FileSrc::Path(src_path),
            dst: Dst::Create(dir.join(name)),
            size: content.len() as u64,
            path: format!("/{name}"),
            owner: None,
            mode,
            times: ((1_500_000_000, 7), (1_600_000_000, 9)),
        }
    }

    #[test]
    fn files_are_filled_with_content_mode_and_times() {
        let t = tempfile::tempdir().unwrap();
        let mut pool = FilePool::default();
        for i in 0..200 {
            let content = format!("file {i}\n").repeat(i);
            pool.submit(job(t.path(), &format!("f{i}"), content.as_bytes(), 0o640))
                .unwrap();
        }
        let bytes = pool.finish().unwrap();
        let expected: usize = (0..200).map(|i| format!("file {i}\n").len() * i).sum();
        assert_eq!(bytes, expected as u64);
        let meta = std::fs::metadata(t.path().join("f10")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
        assert_eq!((meta.mtime(), meta.mtime_nsec()), (1_600_000_000, 9));
        assert_eq!(
            std::fs::read(t.path().join("f10")).unwrap(),
            "file 10\n".repeat(10).as_bytes()
        );
    }

    #[test]
    fn the_earliest_failure_is_reported() {
        let t = tempfile::tempdir().unwrap();
        let mut pool = FilePool::default();
        let mut result = Ok(());
        for i in 0..50 {
            let mut j = job(t.path(), &format!("f{i}"), b"data", 0o644);
            if i >= 20 {
                // A read-only destination cannot be written.
                std::fs::write(t.path().join(format!("f{i}")), "").unwrap();
                j.dst = Dst::Open(File::open(t.path().join(format!("f{i}"))).unwrap());
                j.path = format!("/bad{i}");
            }
            result = result.and(pool.submit(j));
        }
        let err = result.and(pool.finish().map(|_| ())).unwrap_err();
        assert!(err.to_string().contains("/bad20"), "{err}");
    }
}
