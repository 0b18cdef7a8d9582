//! What a build is asked to do, as data: [`BuildRequest`] (the command line, parsed and
//! checked by `cli/`), [`BuildPolicy`] (what the build takes from the process's environment,
//! read once by `cli/` so that nothing below reads an environment variable for the build),
//! and [`BuildOutcome`], what a successful build made.

use std::collections::BTreeMap;
use std::path::PathBuf;

use oci_spec::image::Digest;

use super::outputs::Outputs;
use crate::cache::exchange::CacheSpec;
use crate::registry::Auth;
use crate::sandbox::Network;
use crate::snapshot::Backend;
use crate::solve::background::Writes;
use crate::solve::copy::Ownership;
use crate::solve::run::{Entitlements, SecretSource, SshSource};

/// Everything `builder build` was asked to do.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The context: a directory, `-` (a tar on stdin) or a `.tar`/`.tar.gz` file.
    pub context: String,
    /// `-f`.
    pub file: Option<String>,
    /// `-t` names.
    pub tags: Vec<String>,
    /// `--target`.
    pub target: Option<String>,
    /// `--build-arg` values, resolved.
    pub build_args: BTreeMap<String, String>,
    /// `--build-context NAME=VALUE`.
    pub build_contexts: Vec<(String, String)>,
    /// `-o` outputs (with `--push`), parsed and checked.
    pub outputs: Outputs,
    /// `--pull`: ask the registry for every base image, even those in the store.
    pub pull: bool,
    /// `--platform` (one platform).
    pub platform: Option<String>,
    /// `--label K=V`.
    pub labels: Vec<(String, String)>,
    /// `--iidfile`.
    pub iidfile: Option<PathBuf>,
    /// `--metadata-file`.
    pub metadata_file: Option<PathBuf>,
    /// The store root.
    pub root: PathBuf,
    /// `SOURCE_DATE_EPOCH` (the build arg, else the environment).
    pub source_date_epoch: Option<i64>,
    /// `--network`: the default network of RUN steps.
    pub network: Network,
    /// What `--allow` granted.
    pub entitlements: Entitlements,
    /// `--secret` values, by id.
    pub secrets: BTreeMap<String, SecretSource>,
    /// `--ssh` values: where the agent of each id comes from.
    pub ssh: BTreeMap<String, SshSource>,
    /// `--add-host`, `--shm-size` and `--ulimit`, for every RUN step.
    pub run_options: crate::solve::run::RunOptions,
    /// `--no-cache`: run every step (records are still written).
    pub no_cache: bool,
    /// `--no-cache-filter`: run every step of these stages (names or indexes).
    pub no_cache_filter: Vec<String>,
    /// `--cache-from`: where to look for steps this store does not have.
    pub cache_from: Vec<CacheSpec>,
    /// `--cache-to`: where to write the steps this build made or reused.
    pub cache_to: Vec<CacheSpec>,
    /// What the environment decides.
    pub policy: BuildPolicy,
}

/// What the build takes from the process's environment rather than its command line.
#[derive(Debug, Clone)]
pub struct BuildPolicy {
    /// `BUILDER_SNAPSHOTTER=copy` (or `overlay`) makes RUN steps use that backend even
    /// where the host would choose the other (for testing it); `None` lets the host decide.
    pub backend: Option<Backend>,
    /// `BUILDER_LAYER_WRITES`: which layer blobs are written in the background.
    pub writes: Writes,
    /// Whether written files get their owners: [`Ownership::Apply`] when the effective
    /// user is root (real root, or root of the build's user namespace).
    pub ownership: Ownership,
    /// Registry credentials, plain-HTTP registries and the wait on a registry
    /// (`BUILDER_REGISTRY_TIMEOUT`), for pulling bases and pushing.
    pub registry: Auth,
    /// The store cap (`BUILDER_MAX_CACHE` or the config file), enforced after the build;
    /// an unreadable setting is a message, warned about then.
    pub max_cache: Result<Option<u64>, String>,
    /// Where binfmt_misc is read to find out whether RUN steps of a foreign platform can
    /// run (`BUILDER_BINFMT_MISC`, default `/proc/sys/fs/binfmt_misc`).
    pub binfmt_misc: PathBuf,
}

/// What a successful build made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOutcome {
    /// The image (manifest) digest; the index digest of a multi-platform build.
    pub manifest: Digest,
    /// The config digest (`None` for a multi-platform build).
    pub config: Option<Digest>,
}
