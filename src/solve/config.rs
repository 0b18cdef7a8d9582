//! The image config of a stage: the plan's execution config and author (the image model's
//! own [`crate::domain::config::ExecConfig`]) and the build's platform put into the image
//! config document, and the plan's history entries with their times.

use crate::domain::config::{History, ImageConfig};
use crate::graph::{self, Platform};

/// Set the platform, execution config and author of `img` from the plan.
pub(crate) fn apply(img: &mut ImageConfig, cfg: &graph::StageConfig, platform: &Platform) {
    img.config = cfg.exec.clone();
    img.author = cfg.author.clone();
    img.os = platform.os.clone();
    img.architecture = platform.architecture.clone();
    img.variant = platform.variant.clone();
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
        let h = history(&History::new("WORKDIR /a", false), false, Some("t".into()));
        assert!(h.empty_layer);
        assert_eq!(h.comment, crate::domain::config::HISTORY_COMMENT);
    }
}
