//! The image config of a stage: the plan's execution config and author (the image model's
//! own [`crate::domain::config::ExecConfig`]) put into the image config document, the
//! platform it records, and the plan's history entries with their times.
//!
//! The platform: a stage keeps the one of the config it starts from (an image's own
//! `os`/`architecture`/`variant`, even when the image was pulled for another platform; the
//! stage's platform for `scratch`); an explicit `--platform` then stamps the target image
//! with it ([`stamp_target_platform`], dockerfile2llb's `!implicitTarget` rule) — except
//! over a base of another OS or architecture. BuildKit stamps that one too, so an image of
//! amd64 binaries says arm64; here it says what its files are, and the base was warned
//! about (`InvalidBaseImagePlatform`) at its FROM.

use crate::domain::config::{History, ImageConfig};
use crate::graph::{self, Platform};

/// Set the execution config and author of `img` from the plan; its platform stays the
/// base's, or becomes `platform` when the base config names none.
pub(crate) fn apply(img: &mut ImageConfig, cfg: &graph::StageConfig, platform: &Platform) {
    img.config = cfg.exec.clone();
    img.author = cfg.author.clone();
    if img.os.is_empty() || img.architecture.is_empty() {
        img.os = platform.os.clone();
        img.architecture = platform.architecture.clone();
        img.variant = platform.variant.clone();
    }
}

/// Record the `--platform` asked for explicitly in the target image `img`: its OS and
/// architecture always, its variant when the target has one or the OS or architecture
/// changed (a base's variant is kept for the same OS and architecture).
pub fn stamp_target_platform(img: &mut ImageConfig, target: &Platform) {
    let same = img.os == target.os && img.architecture == target.architecture;
    if !same && !img.os.is_empty() && !img.architecture.is_empty() {
        // A base of another platform: the image records what it really holds.
        return;
    }
    img.os = target.os.clone();
    img.architecture = target.architecture.clone();
    if !target.variant.is_empty() || !same {
        img.variant = target.variant.clone();
    }
}

/// The `InvalidBaseImagePlatform` warning for a base image `name` whose config `img`
/// names another OS or architecture than `expected`, the stage's platform, at Dockerfile
/// line `line`, as BuildKit words it (`RULE: message (line N)`); `None` when they agree
/// (the variant is not compared) or the config names no platform.
pub(crate) fn base_platform_warning(
    name: &str,
    img: &ImageConfig,
    expected: &Platform,
    line: usize,
) -> Option<String> {
    if img.os.is_empty() || img.architecture.is_empty() {
        return None;
    }
    if img.os == expected.os && img.architecture == expected.architecture {
        return None;
    }
    let actual = Platform::new(&img.os, &img.architecture, &img.variant);
    Some(format!(
        "InvalidBaseImagePlatform: Base image {name} was pulled with platform \"{actual}\", \
         expected \"{expected}\" for current build (line {line})"
    ))
}

/// The plan's history entry of a step as run: its time, and `layer` says whether it really
/// made a layer.
pub(crate) fn history(entry: &History, layer: bool, created: Option<String>) -> History {
    History {
        created,
        empty_layer: !layer,
        ..entry.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_config_becomes_the_image_config() {
        let mut cfg = graph::StageConfig::scratch("linux");
        cfg.user = "app".into();
        cfg.cmd = vec!["sh".into()];
        cfg.author = "me".into();
        cfg.shell = vec!["/bin/bash".into(), "-c".into()];
        cfg.on_build = vec!["RUN x".into()];
        cfg.healthcheck = Some(crate::domain::config::Healthcheck {
            test: vec!["NONE".into()],
            interval: 5,
            ..Default::default()
        });
        let mut img = ImageConfig::default();
        apply(&mut img, &cfg, &Platform::new("linux", "arm", "v7"));
        assert_eq!(img.config.user, "app");
        assert_eq!(img.config.cmd, vec!["sh"]);
        assert_eq!(img.config.working_dir, "/");
        assert_eq!(img.author, "me");
        assert_eq!(img.variant, "v7");
        assert_eq!(img.config.shell.len(), 2);
        assert_eq!(img.config.on_build, vec!["RUN x"]);
        assert_eq!(img.config.healthcheck.map(|h| h.interval), Some(5));
        // The base's platform stays; an empty one is filled in.
        let mut based = ImageConfig::scratch("linux", "amd64", None);
        apply(&mut based, &cfg, &Platform::new("linux", "arm64", ""));
        assert_eq!(based.architecture, "amd64");
        let h = history(&History::new("WORKDIR /a", false), false, Some("t".into()));
        assert!(h.empty_layer);
        assert_eq!(h.comment, crate::domain::config::HISTORY_COMMENT);
    }

    #[test]
    fn an_explicit_platform_stamps_the_target_but_never_over_another_base_platform() {
        let arm64 = Platform::new("linux", "arm64", "");
        let mut img = ImageConfig::scratch("linux", "amd64", None);
        stamp_target_platform(&mut img, &arm64);
        assert_eq!(
            (img.os.as_str(), img.architecture.as_str()),
            ("linux", "amd64")
        );
        let mut unnamed = ImageConfig::scratch("", "", None);
        stamp_target_platform(&mut unnamed, &arm64);
        assert_eq!(unnamed.architecture, "arm64");
        // Same OS and architecture: the base's variant stays unless the target names one.
        let mut arm = ImageConfig::scratch("linux", "arm", Some("v6"));
        let bare = Platform {
            os: "linux".into(),
            architecture: "arm".into(),
            variant: String::new(),
        };
        stamp_target_platform(&mut arm, &bare);
        assert_eq!(arm.variant, "v6");
        stamp_target_platform(&mut arm, &Platform::new("linux", "arm", "v7"));
        assert_eq!(arm.variant, "v7");
        let mut v7 = ImageConfig::scratch("linux", "arm", Some("v7"));
        stamp_target_platform(&mut v7, &Platform::new("linux", "arm", ""));
        assert_eq!(v7.variant, "v7");
    }

    #[test]
    fn a_base_of_another_platform_is_warned_about() {
        let img = ImageConfig::scratch("linux", "amd64", None);
        let arm64 = Platform::new("linux", "arm64", "");
        assert_eq!(
            base_platform_warning("base:1", &img, &arm64, 3).as_deref(),
            Some(
                "InvalidBaseImagePlatform: Base image base:1 was pulled with platform \
                 \"linux/amd64\", expected \"linux/arm64\" for current build (line 3)"
            )
        );
        let amd64 = Platform::new("linux", "amd64", "");
        assert_eq!(base_platform_warning("base", &img, &amd64, 1), None);
        // Only the OS and architecture count.
        let arm = ImageConfig::scratch("linux", "arm", Some("v6"));
        let v7 = Platform::new("linux", "arm", "v7");
        assert_eq!(base_platform_warning("base", &arm, &v7, 1), None);
        let none = ImageConfig::default();
        assert_eq!(base_platform_warning("base", &none, &arm64, 1), None);
    }
}
