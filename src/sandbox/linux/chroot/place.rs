//! What a chroot-isolated run finds in its root besides the image, put in place before the
//! command starts and taken away after every process of it is gone, so that none of it
//! reaches the layer: the device nodes of a minimal /dev that the image lacks, and the
//! /etc/resolv.conf and /etc/hosts stubs (the image's own entries wait outside the root
//! meanwhile and come back after; what the command wrote to the stubs is dropped, as
//! BuildKit drops writes to its bind-mounted ones), and the `RUN --mount` sources (see
//! `binds.rs`). The directories touched get their times back, so an untouched /etc or
//! /dev is no change.
//!
//! Every operation is relative to a directory descriptor opened before the command ran:
//! whatever the command did to the tree (a symlink where /etc was, /etc moved away), the
//! clean-up cannot be sent outside the root, and never follows a symlink.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Timestamps};
use rustix::io::Errno;

use super::binds;
use crate::sandbox::linux::protocol::{Failure, Request};

/// Device nodes made in /dev when the image has none of that name.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// A directory of the root the run adds to, and its times before.
struct Touched {
    dir: OwnedFd,
    times: Option<Timestamps>,
}

impl Touched {
    /// `path` (an image path) below `root`, symlinks resolved inside the root; made (0755)
    /// when missing, and then pushed on `stubs` for the builder's stub cleaner.
    fn open(root: &OwnedFd, path: &str, stubs: &mut Vec<String>) -> Result<Touched, Failure> {
        let name = path.trim_start_matches('/');
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let open = || rustix::fs::openat2(root, name, flags, Mode::empty(), ResolveFlags::IN_ROOT);
        let dir = match open() {
            Ok(dir) => dir,
            Err(Errno::NOENT) => {
                rustix::fs::mkdirat(root, name, Mode::from_raw_mode(0o755))
                    .map_err(|e| Failure::setup(format!("create {path}"), e))?;
                stubs.push(path.to_string());
                open().map_err(|e| Failure::setup(format!("open {path}"), e))?
            }
            Err(e) => return Err(Failure::setup(format!("open {path}"), e)),
        };
        let times = rustix::fs::fstat(&dir).ok().map(|st| Timestamps {
            last_access: rustix::fs::Timespec {
                tv_sec: st.st_atime as _,
                tv_nsec: st.st_atime_nsec as _,
            },
            last_modification: rustix::fs::Timespec {
                tv_sec: st.st_mtime as _,
                tv_nsec: st.st_mtime_nsec as _,
            },
        });
        Ok(Touched { dir, times })
    }

    fn restore_times(&self) {
        if let Some(times) = &self.times {
            let _ = rustix::fs::futimens(&self.dir, times);
        }
    }
}

/// A stub file put in place of the image's entry.
struct Stub {
    name: &'static str,
    /// The image had an entry of this name, now in the holding directory.
    held: bool,
}

/// Everything put in the root, to take away with [`Placed::restore`].
pub(super) struct Placed {
    /// Directories created because the image had none (image paths, parents first).
    pub stubs: Vec<String>,
    etc: Option<(Touched, Vec<Stub>)>,
    dev: Option<(Touched, Vec<(&'static str, u64)>)>,
    binds: Vec<binds::Placed>,
    /// Outside the root, beside it: where the image's own /etc entries wait.
    holding: (OwnedFd, PathBuf),
}

/// Put the stubs and device nodes of `request` in its root file system.
pub(super) fn place(request: &Request) -> Result<Placed, Failure> {
    let rootfs = &request.spec.rootfs;
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let root = rustix::fs::open(rootfs, flags, Mode::empty())
        .map_err(|e| Failure::setup(format!("open {}", rootfs.display()), e))?;
    let holding = holding_dir(rootfs)?;
    let mut placed = Placed {
        stubs: Vec::new(),
        etc: None,
        dev: None,
        binds: Vec::new(),
        holding,
    };
    let dev = Touched::open(&root, "/dev", &mut placed.stubs)?;
    let nodes = make_devices(&dev)?;
    placed.dev = Some((dev, nodes));
    let files = [
        ("resolv.conf", request.resolv_conf.as_deref()),
        ("hosts", request.hosts.as_deref()),
    ];
    if files.iter().any(|(_, source)| source.is_some()) {
        let etc = Touched::open(&root, "/etc", &mut placed.stubs)?;
        let mut stubs = Vec::new();
        for (name, source) in files {
            if let Some(source) = source {
                // Recorded before it is written: a half-placed stub is taken away too.
                let held = hold(&etc, name, &placed.holding.0)?;
                stubs.push(Stub { name, held });
                write_stub(&etc, name, source)?;
            }
        }
        placed.etc = Some((etc, stubs));
    }
    match binds::place_all(
        &root,
        &request.spec.mounts,
        &placed.holding.0,
        &mut placed.stubs,
    ) {
        Ok(b) => placed.binds = b,
        Err(f) => {
            placed.restore();
            return Err(f);
        }
    }
    Ok(placed)
}

impl Placed {
    /// Take away what [`place`] put in the root and bring the image's entries back. Call
    /// only once no process of the run is left.
    pub(super) fn restore(mut self) {
        binds::take_all(std::mem::take(&mut self.binds), &self.holding.0);
        if let Some((etc, stubs)) = &self.etc {
            for stub in stubs {
                // Whatever is there now is the stub, or what the command made of it.
                let _ = rustix::fs::unlinkat(&etc.dir, stub.name, AtFlags::empty());
                if stub.held {
                    let _ = rustix::fs::renameat(&self.holding.0, stub.name, &etc.dir, stub.name);
                }
            }
            etc.restore_times();
        }
        if let Some((dev, nodes)) = &self.dev {
            for &(name, rdev) in nodes {
                let ours =
                    rustix::fs::statat(&dev.dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| {
                        FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice
                            && st.st_rdev == rdev
                    });
                if ours {
                    let _ = rustix::fs::unlinkat(&dev.dir, name, AtFlags::empty());
                }
            }
            dev.restore_times();
        }
        // What could not go back (its place was taken) goes with the holding directory.
        let _ = std::fs::remove_dir_all(&self.holding.1);
    }
}

/// A new private directory beside the root file system (so on the same file system: the
/// image's entries move there and back by rename).
fn holding_dir(rootfs: &Path) -> Result<(OwnedFd, PathBuf), Failure> {
    let parent = rootfs.parent().unwrap_or(Path::new("/"));
    let path = parent.join(format!(".chroot-held-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    rustix::fs::mkdir(&path, Mode::from_raw_mode(0o700))
        .map_err(|e| Failure::setup(format!("create {}", path.display()), e))?;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(&path, flags, Mode::empty())
        .map_err(|e| Failure::setup(format!("open {}", path.display()), e))?;
    Ok((fd, path))
}

/// Move the image's entry `name` of `etc` (whatever its type) to `holding`; whether
/// there was one.
fn hold(etc: &Touched, name: &str, holding: &OwnedFd) -> Result<bool, Failure> {
    match rustix::fs::renameat(&etc.dir, name, holding, name) {
        Ok(()) => Ok(true),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(Failure::setup(format!("move /etc/{name} aside"), e)),
    }
}

/// Write a new file `name` (0644) in `etc` with the contents of the host file `source`.
fn write_stub(etc: &Touched, name: &str, source: &Path) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::setup(format!("write /etc/{name}"), e);
    let mut text = Vec::new();
    std::fs::File::open(source)
        .and_then(|mut f| f.read_to_end(&mut text))
        .map_err(fail)?;
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(&etc.dir, name, flags, Mode::from_raw_mode(0o644))
        .map_err(|e| fail(e.into()))?;
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o644)).map_err(|e| fail(e.into()))?;
    std::fs::File::from(fd).write_all(&text).map_err(fail)
}

/// Make each of [`DEVICES`] that `dev` lacks, as the host's node (mode 0666); the names
/// made, with their device numbers. A node the kernel refuses to make (no `CAP_MKNOD`) is
/// left out.
fn make_devices(dev: &Touched) -> Result<Vec<(&'static str, u64)>, Failure> {
    let mut made = Vec::new();
    for name in DEVICES {
        match rustix::fs::statat(&dev.dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => {}
            _ => continue,
        }
        let Ok(host) = rustix::fs::stat(format!("/dev/{name}")) else {
            continue;
        };
        if FileType::from_raw_mode(host.st_mode) != FileType::CharacterDevice {
            continue;
        }
        let mode = Mode::from_raw_mode(0o666);
        match rustix::fs::mknodat(
            &dev.dir,
            name,
            FileType::CharacterDevice,
            mode,
            host.st_rdev,
        ) {
            Ok(()) => {}
            Err(Errno::PERM | Errno::ACCESS) => continue,
            Err(e) => return Err(Failure::setup(format!("create /dev/{name}"), e)),
        }
        made.push((name, host.st_rdev));
        let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        if let Ok(node) = rustix::fs::openat(&dev.dir, name, flags, Mode::empty()) {
            // The umask took bits away; a path descriptor's mode is set through /proc.
            let _ = rustix::fs::chmod(
                crate::rooted::proc_path(node.as_fd()),
                Mode::from_raw_mode(0o666),
            );
        }
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::RunSpec;

    fn request(rootfs: &Path, hosts: &Path) -> Request {
        Request {
            spec: RunSpec::new(rootfs, vec!["true".into()]),
            resolv_conf: None,
            hosts: Some(hosts.to_path_buf()),
            netns: None,
            scratch: None,
            isolation: crate::sandbox::Isolation::Chroot,
        }
    }

    #[test]
    fn the_image_entries_come_back_and_the_stubs_go() {
        let tmp = tempfile::tempdir().unwrap();
        let rootfs = tmp.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::write(rootfs.join("etc/hosts"), "image\n").unwrap();
        let stub = tmp.path().join("hosts-stub");
        std::fs::write(&stub, "127.0.0.1 stub\n").unwrap();
        let placed = place(&request(&rootfs, &stub)).unwrap();
        assert_eq!(
            std::fs::read_to_string(rootfs.join("etc/hosts")).unwrap(),
            "127.0.0.1 stub\n"
        );
        assert_eq!(placed.stubs, vec!["/dev".to_string()]);
        std::fs::write(rootfs.join("etc/hosts"), "written by the command\n").unwrap();
        placed.restore();
        assert_eq!(
            std::fs::read_to_string(rootfs.join("etc/hosts")).unwrap(),
            "image\n"
        );
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(left.len(), 2, "the holding directory is gone: {left:?}");
    }

    #[test]
    fn a_symlink_the_command_left_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let rootfs = tmp.path().join("rootfs");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let stub = tmp.path().join("hosts-stub");
        std::fs::write(&stub, "stub\n").unwrap();
        let placed = place(&request(&rootfs, &stub)).unwrap();
        // The command moves /etc away and leaves a symlink out of the root in its place.
        std::fs::rename(rootfs.join("etc"), rootfs.join("etc.old")).unwrap();
        std::os::unix::fs::symlink(&outside, rootfs.join("etc")).unwrap();
        placed.restore();
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        assert!(!rootfs.join("etc.old/hosts").exists(), "the stub went");
    }

    #[test]
    fn device_nodes_are_made_and_taken_away() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: making device nodes needs root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let rootfs = tmp.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("dev")).unwrap();
        std::fs::write(rootfs.join("dev/tty"), "the image's own").unwrap();
        let stub = tmp.path().join("hosts-stub");
        std::fs::write(&stub, "stub\n").unwrap();
        let placed = place(&request(&rootfs, &stub)).unwrap();
        std::fs::write(rootfs.join("dev/null"), "discarded").unwrap();
        assert!(std::fs::read(rootfs.join("dev/null")).unwrap().is_empty());
        placed.restore();
        let names: Vec<_> = std::fs::read_dir(rootfs.join("dev"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("tty")]);
        // /etc had no hosts file: the stub went and nothing came back.
        assert!(!rootfs.join("etc/hosts").exists());
    }
}
