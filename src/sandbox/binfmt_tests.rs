use super::*;

/// Debian 12's qemu-user-static entries as /proc/sys/fs/binfmt_misc shows them: name,
/// magic, mask, and the OCI architecture they run.
const DEBIAN: &[(&str, &str, &str, &str)] = &[
    (
        "qemu-aarch64",
        "7f454c460201010000000000000000000200b700",
        "ffffffffffffff00fffffffffffffffffeffffff",
        "arm64",
    ),
    (
        "qemu-arm",
        "7f454c4601010100000000000000000002002800",
        "ffffffffffffff00fffffffffffffffffeffffff",
        "arm",
    ),
    (
        "qemu-ppc64le",
        "7f454c4602010100000000000000000002001500",
        "fffffffffffffffcfffffffffffffffffeffff00",
        "ppc64le",
    ),
    (
        "qemu-s390x",
        "7f454c4602020100000000000000000000020016",
        "fffffffffffffffcfffffffffffffffffffeffff",
        "s390x",
    ),
    (
        "qemu-riscv64",
        "7f454c460201010000000000000000000200f300",
        "ffffffffffffff00fffffffffffffffffeffffff",
        "riscv64",
    ),
    (
        "qemu-mips64el",
        "7f454c4602010100000000000000000002000800",
        "ffffffffffffff00fefffffffffffffffeffffff",
        "mips64le",
    ),
    (
        "qemu-mipsel",
        "7f454c46010101000000000000000000020008000000000000000000000000000000000000",
        "ffffffffffffff00fefffffffffffffffeffffff0000000000000000000000000000000020",
        "mipsle",
    ),
    (
        "qemu-loongarch64",
        "7f454c4602010100000000000000000002000201",
        "fffffffffffffffc00fffffffffffffffeffffff",
        "loong64",
    ),
    (
        "qemu-ppc64",
        "7f454c4602020100000000000000000000020015",
        "fffffffffffffffcfffffffffffffffffffeffff",
        "ppc64",
    ),
];

const AARCH64: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n\
    flags: PF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\n\
    mask ffffffffffffff00fffffffffffffffffeffffff\n";

fn linux(arch: &str) -> Platform {
    Platform::parse(&format!("linux/{arch}"), &Platform::linux_amd64()).unwrap()
}

fn entry(name: &str, magic: &str, mask: &str, flags: &str) -> Entry {
    let text = format!(
        "enabled\ninterpreter /q/{name}\nflags: {flags}\noffset 0\nmagic {magic}\nmask {mask}\n"
    );
    Entry::parse(name, &text).unwrap()
}

fn regs(entries: Vec<Entry>) -> Registrations {
    Registrations {
        dir: PathBuf::from("/b"),
        mounted: true,
        enabled: true,
        entries,
    }
}

#[test]
fn parses_the_entry_qemu_user_static_registers() {
    let e = Entry::parse("qemu-aarch64", AARCH64).unwrap();
    assert!(e.enabled);
    assert_eq!(e.interpreter, "/usr/libexec/qemu-binfmt/aarch64-binfmt-P");
    assert_eq!(e.flags, "PF");
    assert!(e.fix_binary());
    assert_eq!(e.offset, 0);
    assert_eq!(e.magic.len(), 20);
    assert_eq!(e.mask[7], 0);
    let disabled = Entry::parse("x", &AARCH64.replace("enabled", "disabled")).unwrap();
    assert!(!disabled.enabled);
}

#[test]
fn extension_entries_and_nonsense_are_not_magic_entries() {
    let ext = "enabled\ninterpreter /usr/bin/x\nflags: \nextension .foo\n";
    assert_eq!(Entry::parse("foo", ext), None);
    assert_eq!(Entry::parse("bad", &AARCH64.replace("7f45", "7g45")), None);
    assert_eq!(Entry::parse("odd", &AARCH64.replace("b700", "b70")), None);
}

#[test]
fn the_aarch64_entry_runs_arm64_programs_only() {
    let e = Entry::parse("qemu-aarch64", AARCH64).unwrap();
    for h in elf_headers(&linux("arm64")).unwrap() {
        assert!(e.matches(&h));
    }
    for other in [
        "amd64", "arm", "386", "arm64be", "riscv64", "ppc64le", "s390x",
    ] {
        for h in elf_headers(&linux(other)).unwrap() {
            assert!(!e.matches(&h), "qemu-aarch64 matched {other}");
        }
    }
    assert!(!e.matches(b"#!/bin/sh\n"));
    assert!(!e.matches(&[0x7f, b'E', b'L', b'F']));
}

#[test]
fn each_debian_entry_runs_its_architecture_and_no_other() {
    for (name, magic, mask, arch) in DEBIAN {
        let e = entry(name, magic, mask, "PF");
        for (_, _, _, other) in DEBIAN {
            let headers = elf_headers(&linux(other)).unwrap();
            let all = headers.iter().all(|h| e.matches(h));
            assert_eq!(all, arch == other, "{name} against {other}");
        }
    }
}

#[test]
fn an_offset_past_the_header_never_matches() {
    let mut e = Entry::parse("qemu-aarch64", AARCH64).unwrap();
    e.offset = HEADER_LEN;
    assert!(!elf_headers(&linux("arm64"))
        .unwrap()
        .iter()
        .any(|h| e.matches(h)));
}

#[test]
fn the_host_runs_its_own_architecture_and_its_32_bit_one() {
    let amd64 = linux("amd64");
    assert!(runs_natively(&amd64, &linux("amd64")));
    assert!(runs_natively(&amd64, &linux("amd64/v3")));
    assert!(runs_natively(&amd64, &linux("386")));
    assert!(!runs_natively(&amd64, &linux("arm64")));
    assert!(!runs_natively(&amd64, &linux("arm/v7")));
    let arm64 = linux("arm64");
    assert!(runs_natively(&arm64, &linux("arm/v7")));
    assert!(runs_natively(&arm64, &linux("arm/v6")));
    assert!(!runs_natively(&arm64, &linux("amd64")));
    assert!(runs_natively(
        &amd64,
        &Platform::new("windows", "arm64", "")
    ));
}

#[test]
fn an_enabled_entry_with_the_f_flag_emulates() {
    let e = Entry::parse("qemu-aarch64", AARCH64).unwrap();
    let headers = elf_headers(&linux("arm64")).unwrap();
    assert_eq!(
        judge(&regs(vec![e]), &headers),
        Support::Emulated {
            entry: "qemu-aarch64".into(),
            interpreter: "/usr/libexec/qemu-binfmt/aarch64-binfmt-P".into()
        }
    );
}

#[test]
fn what_is_missing_is_named() {
    let headers = elf_headers(&linux("arm64")).unwrap();
    let e = Entry::parse("qemu-aarch64", AARCH64).unwrap();
    let missing = |r: &Registrations| match judge(r, &headers) {
        Support::Missing(m) => m,
        other => panic!("{other:?}"),
    };
    assert_eq!(missing(&regs(vec![])), Missing::NoEntry);
    let arm = DEBIAN[1];
    assert_eq!(
        missing(&regs(vec![entry(arm.0, arm.1, arm.2, "F")])),
        Missing::NoEntry
    );
    let mut off = e.clone();
    off.enabled = false;
    assert_eq!(
        missing(&regs(vec![off])),
        Missing::EntryDisabled("qemu-aarch64".into())
    );
    let mut no_f = e.clone();
    no_f.flags = "P".into();
    assert!(matches!(
        missing(&regs(vec![no_f, e.clone()])),
        Missing::NoFixBinary { entry, .. } if entry == "qemu-aarch64"
    ));
    let mut unmounted = regs(vec![e.clone()]);
    unmounted.mounted = false;
    assert_eq!(missing(&unmounted), Missing::NotMounted("/b".into()));
    let mut disabled = regs(vec![e]);
    disabled.enabled = false;
    assert_eq!(missing(&disabled), Missing::Disabled("/b".into()));
}

#[test]
fn reads_a_directory_like_binfmt_misc() {
    let dir = tempfile::tempdir().unwrap();
    let host = linux("amd64");
    let arm64 = linux("arm64");
    assert_eq!(
        support(&host, &arm64, dir.path()),
        Support::Missing(Missing::NotMounted(dir.path().to_path_buf()))
    );
    std::fs::write(dir.path().join("status"), "enabled\n").unwrap();
    std::fs::write(dir.path().join("register"), "").unwrap();
    std::fs::write(
        dir.path().join("jar"),
        "enabled\ninterpreter /usr/bin/jexec\nflags: \noffset 0\nmagic 504b0304\n",
    )
    .unwrap();
    assert_eq!(
        support(&host, &arm64, dir.path()),
        Support::Missing(Missing::NoEntry)
    );
    std::fs::write(dir.path().join("qemu-aarch64"), AARCH64).unwrap();
    assert!(matches!(
        support(&host, &arm64, dir.path()),
        Support::Emulated { .. }
    ));
    assert_eq!(
        support(&host, &linux("amd64/v3"), dir.path()),
        Support::Native
    );
    assert_eq!(support(&host, &linux("386"), dir.path()), Support::Native32);
    let i386 = AARCH64.replace("b700", "0300").replace("4602", "4601");
    std::fs::write(dir.path().join("qemu-i386"), i386).unwrap();
    assert!(matches!(
        support(&host, &linux("386"), dir.path()),
        Support::Emulated { entry, .. } if entry == "qemu-i386"
    ));
    assert_eq!(
        support(&host, &linux("wasm"), dir.path()),
        Support::Missing(Missing::UnknownArchitecture("wasm".into()))
    );
}

#[test]
fn the_fix_is_the_debian_command() {
    let arm64 = linux("arm64");
    assert_eq!(
        Missing::NoEntry.fix(&arm64),
        "as root: apt-get install qemu-user-static binfmt-support; update-binfmts --enable qemu-aarch64"
    );
    assert!(Missing::NotMounted("/proc/sys/fs/binfmt_misc".into())
        .fix(&arm64)
        .starts_with("as root: mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; "));
    let no_f = Missing::NoFixBinary {
        entry: "qemu-aarch64".into(),
        interpreter: "/usr/bin/qemu-aarch64".into(),
    };
    assert!(no_f.to_string().contains("without the F (fix-binary) flag"));
    assert!(no_f.fix(&arm64).contains("qemu-user-static"));
}
