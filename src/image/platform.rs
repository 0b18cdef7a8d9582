//! Platforms (`linux/amd64`, `linux/arm/v7`) as containerd normalises them: Go's names for
//! architectures, the default variant for 32-bit arm, none for arm64.

use std::fmt;

use super::error::{ImageError, Result};

/// An OS/architecture/variant triple.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// Go's architecture name (`amd64`, `arm64`, `arm`, `386`, `ppc64le`, `s390x`, `riscv64`).
    pub architecture: String,
    /// `v7` for arm, usually empty.
    pub variant: String,
}

/// Normalise an architecture and variant the way containerd's `platforms.Normalize` does.
fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_lowercase();
    let variant = variant.to_lowercase();
    match arch.as_str() {
        "i386" | "i686" | "x86" => ("386".into(), String::new()),
        "x86_64" | "x86-64" | "amd64" => {
            let v = if variant == "v1" {
                String::new()
            } else {
                variant
            };
            ("amd64".into(), v)
        }
        "aarch64" | "arm64" => {
            let v = match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                _ => variant,
            };
            ("arm64".into(), v)
        }
        "armhf" => ("arm".into(), "v7".into()),
        "armel" => ("arm".into(), "v6".into()),
        "arm" => {
            let v = match variant.as_str() {
                "" | "7" => "v7".into(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".into(), v)
        }
        _ => (arch, variant),
    }
}

impl Platform {
    /// A normalised platform.
    pub fn new(os: &str, architecture: &str, variant: &str) -> Self {
        let (architecture, variant) = normalize_arch(architecture, variant);
        Platform {
            os: os.to_lowercase(),
            architecture,
            variant,
        }
    }

    /// Parse `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform::new(os, arch, "")),
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() => {
                Ok(Platform::new(os, arch, variant))
            }
            _ => Err(ImageError::InvalidPlatform(s.to_string())),
        }
    }

    /// The platform this program runs on.
    pub fn host() -> Self {
        Platform::new(std::env::consts::OS, std::env::consts::ARCH, "")
    }

    /// Whether an image for `other` runs here (same OS and architecture; variants must match
    /// when both are given).
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_empty()
                || other.variant.is_empty()
                || self.variant == other.variant)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_normalise() {
        assert_eq!(
            Platform::parse("linux/amd64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::parse("linux/x86_64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::parse("linux/aarch64/v8").unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/arm").unwrap().to_string(),
            "linux/arm/v7"
        );
        assert_eq!(
            Platform::parse("linux/arm/6").unwrap().to_string(),
            "linux/arm/v6"
        );
        for bad in ["linux", "", "linux/", "a/b/c/d"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
        assert!(!Platform::host().architecture.is_empty());
    }

    #[test]
    fn matching() {
        let arm7 = Platform::parse("linux/arm/v7").unwrap();
        assert!(arm7.matches(&Platform::parse("linux/arm").unwrap()));
        assert!(!arm7.matches(&Platform::parse("linux/arm/v6").unwrap()));
        assert!(!arm7.matches(&Platform::parse("linux/arm64").unwrap()));
    }
}
