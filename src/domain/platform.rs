//! OCI platforms (`linux/amd64`, `linux/arm/v7`): parsing and normalisation the way
//! containerd's `platforms.Parse` + `platforms.Normalize` do it, and the `os/arch[/variant]`
//! format BuildKit uses for `TARGETPLATFORM` and `BUILDPLATFORM`.
//!
//! Pure: the host platform is never looked up here; callers pass a default platform for the
//! parts a short specifier (`linux`, `arm64`) leaves out.

use std::fmt;

/// An OCI platform, normalised (`aarch64` -> `arm64`, `armhf` -> `arm/v7`, `arm64/v8` -> `arm64`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    /// Operating system (`linux`, `windows`).
    pub os: String,
    /// CPU architecture in Go's spelling (`amd64`, `arm64`, `arm`, `386`).
    pub architecture: String,
    /// CPU variant (`v7`, `v6`); empty when none applies.
    pub variant: String,
}

const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
];

const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "ppc64",
    "ppc64le",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
    // aliases normalised below
    "i386",
    "x86_64",
    "x86-64",
    "aarch64",
    "armhf",
    "armel",
];

impl Platform {
    /// A platform from its parts, normalised.
    pub fn new(os: &str, architecture: &str, variant: &str) -> Self {
        let (architecture, variant) = normalize_arch(architecture, variant);
        Platform {
            os: normalize_os(os),
            architecture,
            variant,
        }
    }

    /// `linux/amd64`, the fallback host platform of `debug plan`.
    pub fn linux_amd64() -> Self {
        Platform::new("linux", "amd64", "")
    }

    /// The platform of a Rust target architecture name (Rust's `ARCH` constant) on Linux:
    /// `x86_64` -> `linux/amd64`, `aarch64` -> `linux/arm64`, `arm` -> `linux/arm/v7`.
    pub fn linux_from_rust_arch(arch: &str) -> Self {
        Platform::from_rust_target("linux", arch)
    }

    /// The platform of a Rust target (Rust's `OS` and `ARCH` constants) in Go's spelling:
    /// `macos` -> `darwin`, `x86` -> `386`, `powerpc64` -> `ppc64`.
    pub fn from_rust_target(os: &str, arch: &str) -> Self {
        let oci = match arch {
            "x86" => "386",
            "powerpc64" => "ppc64",
            "loongarch64" => "loong64",
            other => other,
        };
        Platform::new(os, oci, "")
    }

    /// Parse a platform specifier as containerd does, filling what it leaves out from
    /// `default`: `linux` takes the default architecture, `arm64` the default OS.
    pub fn parse(spec: &str, default: &Platform) -> Result<Platform, String> {
        if spec.is_empty() {
            return Err("empty platform specifier".to_string());
        }
        let parts: Vec<&str> = spec.split('/').collect();
        for part in &parts {
            let ok = !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                return Err(format!(
                    "{spec:?}: invalid path component {part:?} in platform specifier"
                ));
            }
        }
        match parts.as_slice() {
            [one] => {
                let lower = one.to_ascii_lowercase();
                let os = normalize_os(&lower);
                if KNOWN_OS.contains(&os.as_str()) {
                    let mut p = default.clone();
                    p.os = os;
                    return Ok(p);
                }
                if KNOWN_ARCH.contains(&lower.as_str()) {
                    return Ok(Platform::new(&default.os, &lower, ""));
                }
                Err(format!(
                    "{spec:?}: unknown operating system or architecture"
                ))
            }
            [os, arch] => Ok(Platform::new(os, arch, "")),
            [os, arch, variant] => Ok(Platform::new(os, arch, variant)),
            _ => Err(format!("{spec:?}: cannot parse platform specifier")),
        }
    }
}

impl fmt::Display for Platform {
    /// `os/arch` or `os/arch/variant`, as containerd's `platforms.Format`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

fn normalize_os(os: &str) -> String {
    let os = os.to_ascii_lowercase();
    if os == "macos" {
        "darwin".to_string()
    } else {
        os
    }
}

/// containerd's `normalizeArch` followed by `Normalize`'s defaults.
fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.to_ascii_lowercase();
    match arch.as_str() {
        "i386" => ("386".to_string(), String::new()),
        "x86_64" | "x86-64" | "amd64" => {
            let v = if variant == "v1" {
                String::new()
            } else {
                variant
            };
            ("amd64".to_string(), v)
        }
        "aarch64" | "arm64" => {
            let v = match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                _ => variant,
            };
            ("arm64".to_string(), v)
        }
        "armhf" => ("arm".to_string(), "v7".to_string()),
        "armel" => ("arm".to_string(), "v6".to_string()),
        "arm" => {
            let v = match variant.as_str() {
                "" | "7" => "v7".to_string(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".to_string(), v)
        }
        _ => (arch, variant),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        Platform::parse(s, &Platform::linux_amd64())
            .unwrap()
            .to_string()
    }

    #[test]
    fn parses_and_normalises_like_containerd() {
        assert_eq!(p("linux/amd64"), "linux/amd64");
        assert_eq!(p("linux/x86_64"), "linux/amd64");
        assert_eq!(p("linux/aarch64"), "linux/arm64");
        assert_eq!(p("linux/arm64/v8"), "linux/arm64");
        assert_eq!(p("linux/arm"), "linux/arm/v7");
        assert_eq!(p("linux/arm/v6"), "linux/arm/v6");
        assert_eq!(p("linux/armhf"), "linux/arm/v7");
        assert_eq!(p("Linux/AMD64"), "linux/amd64");
        assert_eq!(p("linux"), "linux/amd64");
        assert_eq!(p("arm64"), "linux/arm64");
        assert_eq!(p("windows/amd64"), "windows/amd64");
    }

    #[test]
    fn rejects_nonsense() {
        let d = Platform::linux_amd64();
        assert!(Platform::parse("", &d).is_err());
        assert!(Platform::parse("nonsense", &d).is_err());
        assert!(Platform::parse("a/b/c/d", &d).is_err());
        assert!(Platform::parse("linux/am d64", &d).is_err());
    }

    #[test]
    fn rust_arch_names_map_to_oci() {
        assert_eq!(
            Platform::linux_from_rust_arch("x86_64").to_string(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::linux_from_rust_arch("aarch64").to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::from_rust_target("macos", "x86").to_string(),
            "darwin/386"
        );
    }
}
