//! The image config of a stage: the planner's execution config ([`graph::ImageConfig`])
//! written into the image crate's config document, and history entries with times.

use crate::graph::{self, HistoryEntry, Platform};
use crate::image::{self, ExecConfig, History};

/// The planner's config as the image's `config` object.
pub(crate) fn exec_config(cfg: &graph::ImageConfig) -> ExecConfig {
    ExecConfig {
        user: cfg.user.clone(),
        exposed_ports: cfg.exposed_ports.clone(),
        env: cfg.env.clone(),
        entrypoint: cfg.entrypoint.clone(),
        cmd: cfg.cmd.clone(),
        volumes: cfg.volumes.clone(),
        working_dir: cfg.working_dir.clone(),
        labels: cfg.labels.clone(),
        stop_signal: cfg.stop_signal.clone(),
        args_escaped: cfg.args_escaped,
        healthcheck: cfg.healthcheck.as_ref().map(|h| image::Healthcheck {
            test: h.test.clone(),
            interval: nanos(h.interval),
            timeout: nanos(h.timeout),
            start_period: nanos(h.start_period),
            start_interval: nanos(h.start_interval),
            retries: h.retries,
        }),
        on_build: cfg.on_build.clone(),
        shell: cfg.shell.clone(),
    }
}

fn nanos(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Set the platform, execution config and author of `img` from the plan.
pub(crate) fn apply(img: &mut image::ImageConfig, cfg: &graph::ImageConfig, platform: &Platform) {
    img.config = exec_config(cfg);
    img.author = cfg.author.clone();
    img.os = platform.os.clone();
    img.architecture = platform.architecture.clone();
    img.variant = platform.variant.clone();
}

/// The history entry of a step: `layer` says whether it really made a layer.
pub(crate) fn history(entry: &HistoryEntry, layer: bool, created: Option<String>) -> History {
    History {
        created,
        created_by: entry.created_by.clone(),
        comment: entry.comment.clone(),
        empty_layer: !layer,
        ..History::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_config_becomes_the_image_config() {
        let mut cfg = graph::ImageConfig::scratch("linux");
        cfg.user = "app".into();
        cfg.cmd = vec!["sh".into()];
        cfg.author = "me".into();
        cfg.shell = vec!["/bin/bash".into(), "-c".into()];
        cfg.on_build = vec!["RUN x".into()];
        cfg.healthcheck = Some(graph::Healthcheck {
            test: vec!["NONE".into()],
            interval: 5,
            ..graph::Healthcheck::default()
        });
        let mut img = image::ImageConfig::default();
        apply(&mut img, &cfg, &Platform::new("linux", "arm", "v7"));
        assert_eq!(img.config.user, "app");
        assert_eq!(img.config.cmd, vec!["sh"]);
        assert_eq!(img.config.working_dir, "/");
        assert_eq!(img.author, "me");
        assert_eq!(img.variant, "v7");
        assert_eq!(img.config.shell.len(), 2);
        assert_eq!(img.config.on_build, vec!["RUN x"]);
        assert_eq!(img.config.healthcheck.map(|h| h.interval), Some(5));
        let h = history(
            &HistoryEntry::new("WORKDIR /a", false),
            false,
            Some("t".into()),
        );
        assert!(h.empty_layer);
        assert_eq!(h.comment, crate::domain::config::HISTORY_COMMENT);
    }
}
