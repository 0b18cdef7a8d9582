//! Whether this host can run a platform's programs in a RUN: natively, or through an
//! emulator that the kernel's binfmt_misc starts for them (QEMU user mode, as Debian's
//! `qemu-user-static` registers it).
//!
//! Input: the host and target platforms and the binfmt_misc directory
//! ([`DEFAULT_DIR`]). Output: [`Support`], and for a platform that cannot run, the reason
//! with the command that fixes it ([`Missing`]). Reads the directory, nothing else.
//!
//! - Native: the host's own architecture (any variant). Only `linux` targets are judged.
//! - Native, 32-bit ([`Support::Native32`]): on an amd64 host `386`, on an arm64 host `arm`,
//!   which the kernel runs itself (IA32 emulation on x86, AArch32 on arm64 — on by default
//!   in Debian's kernels; an arm64 CPU without AArch32 fails with "exec format error"), but
//!   the RUN seccomp filter allows the host's 64-bit system calls alone, so such a program
//!   runs only in a `RUN --security=insecure` step, or through an emulator registered for
//!   it (binfmt_misc comes before the kernel's own ELF loader, and the emulator is a 64-bit
//!   program).
//! - Emulated: an enabled binfmt_misc entry whose magic and mask match the ELF header of the
//!   target architecture, both for a fixed-address executable and a position-independent one,
//!   tested as the kernel tests it (`(byte ^ magic) & mask == 0`, from the entry's offset).
//!   The entry must have the `F` (fix-binary) flag: the sandbox changes root into the step's
//!   file system, which does not hold the emulator, so only an emulator the kernel opened
//!   when it was registered can run there (as root and rootless alike).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::domain::Platform;

/// Where binfmt_misc is mounted on Linux.
pub const DEFAULT_DIR: &str = "/proc/sys/fs/binfmt_misc";

/// `e_type` of a fixed-address executable.
const ET_EXEC: u16 = 2;
/// `e_type` of a position-independent executable (and of a shared object).
const ET_DYN: u16 = 3;
/// How many bytes of the header an entry may test (the kernel reads 256; ELF entries test
/// the first 64 at most).
const HEADER_LEN: usize = 128;

/// One binfmt_misc entry of the magic kind (`/proc/sys/fs/binfmt_misc/NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's name (`qemu-aarch64`).
    pub name: String,
    /// Whether the kernel uses it.
    pub enabled: bool,
    /// The interpreter's path as registered.
    pub interpreter: String,
    /// The flag letters (`PF`).
    pub flags: String,
    /// Where in the file the magic starts.
    pub offset: usize,
    /// The bytes to match.
    pub magic: Vec<u8>,
    /// Which bits of each byte count; empty when every bit does.
    pub mask: Vec<u8>,
}

impl Entry {
    /// Parse the text of the entry file `name`; `None` for an extension entry (`.jar`) or
    /// text that is not an entry.
    pub fn parse(name: &str, text: &str) -> Option<Entry> {
        let mut entry = Entry {
            name: name.to_string(),
            enabled: false,
            interpreter: String::new(),
            flags: String::new(),
            offset: 0,
            magic: Vec::new(),
            mask: Vec::new(),
        };
        for line in text.lines().map(str::trim) {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "enabled" => entry.enabled = true,
                "disabled" => entry.enabled = false,
                "interpreter" => entry.interpreter = value.to_string(),
                "flags:" => entry.flags = value.trim().to_string(),
                "offset" => entry.offset = value.trim().parse().ok()?,
                "magic" => entry.magic = hex(value.trim())?,
                "mask" => entry.mask = hex(value.trim())?,
                _ => {}
            }
        }
        (!entry.magic.is_empty()).then_some(entry)
    }

    /// Whether the kernel would hand a file starting with `header` to this entry's
    /// interpreter (enabled or not).
    pub fn matches(&self, header: &[u8]) -> bool {
        let Some(bytes) = header.get(self.offset..self.offset + self.magic.len()) else {
            return false;
        };
        bytes
            .iter()
            .zip(&self.magic)
            .enumerate()
            .all(|(i, (b, m))| {
                let mask = self.mask.get(i).copied().unwrap_or(0xff);
                (b ^ m) & mask == 0
            })
    }

    /// Whether the interpreter was opened at registration (`F`), so that it runs in any
    /// root file system.
    pub fn fix_binary(&self) -> bool {
        self.flags.contains('F')
    }
}

/// Bytes of a hex string (`7f454c46`).
fn hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What a binfmt_misc directory holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registrations {
    /// The directory (for messages).
    pub dir: PathBuf,
    /// binfmt_misc is mounted there (it has a `status` file).
    pub mounted: bool,
    /// Its `status` says `enabled`.
    pub enabled: bool,
    /// The magic entries, by name.
    pub entries: Vec<Entry>,
}

impl Registrations {
    /// Read `dir`; an unreadable directory is an unmounted one, an unreadable entry absent.
    pub fn read(dir: &Path) -> Registrations {
        let mut regs = Registrations {
            dir: dir.to_path_buf(),
            ..Registrations::default()
        };
        let Ok(status) = std::fs::read_to_string(dir.join("status")) else {
            return regs;
        };
        regs.mounted = true;
        regs.enabled = status.trim() == "enabled";
        let names = std::fs::read_dir(dir).into_iter().flatten().flatten();
        for name in names.filter_map(|e| e.file_name().into_string().ok()) {
            if name == "status" || name == "register" {
                continue;
            }
            let text = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
            regs.entries.extend(Entry::parse(&name, &text));
        }
        regs.entries.sort_by(|a, b| a.name.cmp(&b.name));
        regs
    }
}

/// How the host runs a platform's programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// The kernel runs them itself.
    Native,
    /// The kernel runs them itself as 32-bit programs of the host, which the RUN seccomp
    /// filter refuses: they run only without it (`RUN --security=insecure`).
    Native32,
    /// An emulator registered with binfmt_misc runs them.
    Emulated {
        /// The entry's name (`qemu-aarch64`).
        entry: String,
        /// Its interpreter.
        interpreter: String,
    },
    /// They cannot run here.
    Missing(Missing),
}

/// Why a platform's programs cannot run on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// binfmt_misc is not mounted at the directory.
    NotMounted(PathBuf),
    /// binfmt_misc is mounted but switched off (its `status`).
    Disabled(PathBuf),
    /// No ELF machine is known for the architecture.
    UnknownArchitecture(String),
    /// No entry matches the architecture's programs.
    NoEntry,
    /// The matching entry is disabled.
    EntryDisabled(String),
    /// 32-bit programs of the host ([`Support::Native32`]) in a step with the seccomp
    /// filter.
    Filtered32,
    /// The matching entry lacks the `F` flag.
    NoFixBinary {
        /// The entry's name.
        entry: String,
        /// Its interpreter.
        interpreter: String,
    },
}

/// How the host `host` runs programs of `target`, by the binfmt_misc entries in `dir`.
pub fn support(host: &Platform, target: &Platform, dir: &Path) -> Support {
    if target.os != "linux" || host.architecture == target.architecture {
        return Support::Native;
    }
    let Some(headers) = elf_headers(target) else {
        return Support::Missing(Missing::UnknownArchitecture(target.architecture.clone()));
    };
    match judge(&Registrations::read(dir), &headers) {
        // A registered emulator without F takes them too, and fails.
        Support::Missing(m)
            if runs_natively(host, target) && !matches!(m, Missing::NoFixBinary { .. }) =>
        {
            Support::Native32
        }
        other => other,
    }
}

/// [`support`] for a non-native target whose programs start with `headers` (one of each
/// kind: an entry must take them all).
fn judge(regs: &Registrations, headers: &[Vec<u8>]) -> Support {
    if !regs.mounted {
        return Support::Missing(Missing::NotMounted(regs.dir.clone()));
    }
    if !regs.enabled {
        return Support::Missing(Missing::Disabled(regs.dir.clone()));
    }
    let matching: Vec<&Entry> = (regs.entries.iter())
        .filter(|e| headers.iter().all(|h| e.matches(h)))
        .collect();
    let enabled: Vec<&Entry> = matching.iter().copied().filter(|e| e.enabled).collect();
    // Which of several enabled entries the kernel picks depends on their order of
    // registration, which the directory does not show: each must do.
    if let Some(e) = enabled.iter().find(|e| !e.fix_binary()) {
        return Support::Missing(Missing::NoFixBinary {
            entry: e.name.clone(),
            interpreter: e.interpreter.clone(),
        });
    }
    match (enabled.first(), matching.first()) {
        (Some(e), _) => Support::Emulated {
            entry: e.name.clone(),
            interpreter: e.interpreter.clone(),
        },
        (None, Some(e)) => Support::Missing(Missing::EntryDisabled(e.name.clone())),
        (None, None) => Support::Missing(Missing::NoEntry),
    }
}

/// Whether the kernel of a `host` machine runs `target`'s programs itself (see the module
/// documentation); targets other than `linux` count as native (they are not judged).
pub fn runs_natively(host: &Platform, target: &Platform) -> bool {
    if target.os != "linux" || host.architecture == target.architecture {
        return true;
    }
    matches!(
        (host.architecture.as_str(), target.architecture.as_str()),
        ("amd64", "386") | ("arm64", "arm")
    )
}

/// ELF identification of an architecture: class (1: 32-bit, 2: 64-bit), data (1: little
/// endian, 2: big endian), `e_machine`.
fn elf_id(architecture: &str) -> Option<(u8, u8, u16)> {
    Some(match architecture {
        "386" => (1, 1, 3),
        "amd64" => (2, 1, 62),
        "arm" => (1, 1, 40),
        "armbe" => (1, 2, 40),
        "arm64" => (2, 1, 183),
        "arm64be" => (2, 2, 183),
        "ppc" => (1, 2, 20),
        "ppc64" => (2, 2, 21),
        "ppc64le" => (2, 1, 21),
        "s390x" => (2, 2, 22),
        "riscv64" => (2, 1, 243),
        "mips" => (1, 2, 8),
        "mipsle" => (1, 1, 8),
        "mips64" => (2, 2, 8),
        "mips64le" => (2, 1, 8),
        "loong64" => (2, 1, 258),
        "sparc64" => (2, 2, 43),
        _ => return None,
    })
}

/// The first bytes of a `target` program: a fixed-address executable and a
/// position-independent one (static busybox is the first, a distribution's `/bin/sh` the
/// second); `None` for an architecture without a known ELF machine.
pub fn elf_headers(target: &Platform) -> Option<Vec<Vec<u8>>> {
    let (class, data, machine) = elf_id(&target.architecture)?;
    let header = |e_type: u16| {
        let mut h = vec![0u8; HEADER_LEN];
        h[..8].copy_from_slice(&[0x7f, b'E', b'L', b'F', class, data, 1, 0]);
        let (t, m, v) = match data {
            1 => (
                e_type.to_le_bytes(),
                machine.to_le_bytes(),
                1u32.to_le_bytes(),
            ),
            _ => (
                e_type.to_be_bytes(),
                machine.to_be_bytes(),
                1u32.to_be_bytes(),
            ),
        };
        h[16..18].copy_from_slice(&t);
        h[18..20].copy_from_slice(&m);
        h[20..24].copy_from_slice(&v);
        h
    };
    Some(vec![header(ET_EXEC), header(ET_DYN)])
}

/// The name of Debian's binfmt_misc entry for an architecture (`qemu-aarch64`), which is
/// also the emulator's (`qemu-aarch64-static`).
pub fn qemu_entry(architecture: &str) -> Option<&'static str> {
    Some(match architecture {
        "386" => "qemu-i386",
        "amd64" => "qemu-x86_64",
        "arm" => "qemu-arm",
        "armbe" => "qemu-armeb",
        "arm64" => "qemu-aarch64",
        "ppc" => "qemu-ppc",
        "ppc64" => "qemu-ppc64",
        "ppc64le" => "qemu-ppc64le",
        "s390x" => "qemu-s390x",
        "riscv64" => "qemu-riscv64",
        "mips" => "qemu-mips",
        "mipsle" => "qemu-mipsel",
        "mips64" => "qemu-mips64",
        "mips64le" => "qemu-mips64el",
        "loong64" => "qemu-loongarch64",
        "sparc64" => "qemu-sparc64",
        _ => return None,
    })
}

/// Debian's commands that install and register the emulators (as root).
const INSTALL: &str = "apt-get install qemu-user-static binfmt-support";

impl Missing {
    /// The command (or the step) that makes `target` runnable, for a `hint:` line.
    pub fn fix(&self, target: &Platform) -> String {
        let entry = qemu_entry(&target.architecture).unwrap_or("qemu-ARCH");
        let enable = format!("update-binfmts --enable {entry}");
        match self {
            Missing::NotMounted(dir) => format!(
                "as root: mount -t binfmt_misc binfmt_misc {}; {INSTALL}; {enable}",
                dir.display()
            ),
            Missing::Disabled(dir) => {
                format!("as root: echo 1 > {}", dir.join("status").display())
            }
            Missing::UnknownArchitecture(_) => {
                "build for a platform this host or QEMU user emulation runs".to_string()
            }
            Missing::NoEntry => format!("as root: {INSTALL}; {enable}"),
            Missing::Filtered32 => format!(
                "RUN --security=insecure (with --allow security.insecure, as root), or register \
                 an emulator for them with the F flag (/usr/bin/{entry}-static)"
            ),
            Missing::EntryDisabled(name) => format!("as root: update-binfmts --enable {name}"),
            Missing::NoFixBinary { entry, .. } => format!(
                "register {entry} with the F flag: Debian's qemu-user-static does \
                 (qemu-user-binfmt does not): as root: {INSTALL}; update-binfmts --enable {entry}"
            ),
        }
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::NotMounted(dir) => {
                write!(f, "binfmt_misc is not mounted at {}", dir.display())
            }
            Missing::Disabled(dir) => write!(
                f,
                "binfmt_misc is disabled ({})",
                dir.join("status").display()
            ),
            Missing::UnknownArchitecture(arch) => {
                write!(f, "no emulator is known for the {arch} architecture")
            }
            Missing::NoEntry => write!(
                f,
                "no binfmt_misc interpreter is registered for its programs"
            ),
            Missing::Filtered32 => write!(
                f,
                "its 32-bit programs would run natively, but the RUN seccomp filter allows the \
                 host's 64-bit system calls alone"
            ),
            Missing::EntryDisabled(name) => {
                write!(
                    f,
                    "its binfmt_misc interpreter {name} is registered but disabled"
                )
            }
            Missing::NoFixBinary { entry, interpreter } => write!(
                f,
                "its binfmt_misc interpreter {entry} ({interpreter}) is registered without the F \
                 (fix-binary) flag, so the kernel looks for it inside the step's root file \
                 system, which does not have it"
            ),
        }
    }
}

#[cfg(test)]
#[path = "binfmt_tests.rs"]
mod tests;
