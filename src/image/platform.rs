//! Platforms as image selection needs them. The type is the domain's
//! [`crate::domain::Platform`] (containerd's parsing and normalisation); this module adds what
//! the image side asks of it: the host platform, a strict `os/arch[/variant]` parse for
//! command lines, and whether an index entry's platform runs on a wanted one.

use super::error::{ImageError, Result};
pub use crate::domain::Platform;

/// What image selection adds to [`Platform`].
pub trait PlatformExt: Sized {
    /// The platform this program runs on.
    fn host() -> Self;

    /// Parse a full `os/arch[/variant]` specifier, normalised; nothing is filled in.
    fn parse_full(s: &str) -> Result<Self>;

    /// Whether an image for `other` runs here (same OS and architecture; variants must match
    /// when both are given).
    fn matches(&self, other: &Self) -> bool;
}

impl PlatformExt for Platform {
    fn host() -> Self {
        Platform::from_rust_target(std::env::consts::OS, std::env::consts::ARCH)
    }

    fn parse_full(s: &str) -> Result<Self> {
        let invalid = || ImageError::InvalidPlatform(s.to_string());
        if !(2..=3).contains(&s.split('/').count()) {
            return Err(invalid());
        }
        Platform::parse(s, &Platform::host()).map_err(|_| invalid())
    }

    fn matches(&self, other: &Self) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_empty()
                || other.variant.is_empty()
                || self.variant == other.variant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_normalise() {
        assert_eq!(
            Platform::parse_full("linux/amd64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::parse_full("linux/x86_64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::parse_full("linux/aarch64/v8")
                .unwrap()
                .to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse_full("linux/arm").unwrap().to_string(),
            "linux/arm/v7"
        );
        assert_eq!(
            Platform::parse_full("linux/arm/6").unwrap().to_string(),
            "linux/arm/v6"
        );
        for bad in ["linux", "", "linux/", "a/b/c/d"] {
            assert!(Platform::parse_full(bad).is_err(), "{bad}");
        }
        assert!(!Platform::host().architecture.is_empty());
    }

    #[test]
    fn matching() {
        let arm7 = Platform::parse_full("linux/arm/v7").unwrap();
        assert!(arm7.matches(&Platform::parse_full("linux/arm").unwrap()));
        assert!(!arm7.matches(&Platform::parse_full("linux/arm/v6").unwrap()));
        assert!(!arm7.matches(&Platform::parse_full("linux/arm64").unwrap()));
    }
}
