//! Reading and writing the image config document ([`ImageConfig`], the model of
//! [`crate::domain::config`]): parsing any image's config blob, the deterministic JSON the
//! store keeps (Go's `encoding/json` output, see [`super::json`]), history and layer
//! bookkeeping, and the oci-spec view.

pub use crate::domain::config::{ExecConfig, Healthcheck, History, ImageConfig, RootFs};

use oci_spec::image::Digest;

use super::error::{ImageError, Result};
use crate::domain::config::HISTORY_COMMENT;

impl ImageConfig {
    /// Parse a config blob (ours, BuildKit's, Docker's or any OCI image's).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|source| ImageError::Json {
            what: "image config",
            source,
        })
    }

    /// The deterministic JSON of this config (see the module docs).
    pub fn to_json(&self) -> Vec<u8> {
        super::json::to_vec(self)
    }

    /// Add a history entry for a step that changed only the config.
    pub fn push_empty_history(&mut self, created_by: &str, created: Option<String>) {
        self.history.push(History {
            created,
            created_by: created_by.to_string(),
            comment: HISTORY_COMMENT.to_string(),
            empty_layer: true,
            ..History::default()
        });
    }

    /// Add a layer (its diff_id) and the history entry of the step that made it.
    pub fn push_layer(&mut self, diff_id: Digest, created_by: &str, created: Option<String>) {
        self.rootfs.diff_ids.push(diff_id);
        self.history.push(History {
            created,
            created_by: created_by.to_string(),
            comment: HISTORY_COMMENT.to_string(),
            ..History::default()
        });
    }

    /// This config as oci-spec's type (Docker's extension fields are dropped).
    pub fn to_oci(&self) -> Result<oci_spec::image::ImageConfiguration> {
        serde_json::from_slice(&self.to_json()).map_err(|source| ImageError::Json {
            what: "image config",
            source,
        })
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
