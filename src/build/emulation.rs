//! Before any step runs: a stage with a RUN builds for a platform the host either runs
//! natively or through an emulator registered with binfmt_misc
//! ([`crate::sandbox::binfmt`]). When it can do neither, the build fails here, at that
//! stage's first RUN, naming the platform and the command that installs an emulator,
//! rather than half-way through with "exec format error".
//!
//! A stage's platform is the plan's (`FROM --platform=...`, else the target platform): a
//! `FROM --platform=$BUILDPLATFORM` stage is the host's own and is never checked.

use std::collections::BTreeMap;
use std::path::Path;

use super::diagnose::located;
use crate::dockerfile::instructions::SecurityMode;
use crate::error::{Error, Result};
use crate::graph::{self, Platform};
use crate::sandbox::binfmt::{self, Missing, Support};

/// A stage whose RUN steps cannot run on this host.
#[derive(Debug, thiserror::Error)]
#[error("stage {stage} builds for {target}, whose programs this {host} host cannot run: {why}")]
pub struct EmulationError {
    /// The stage's name (`stage-0`, `build`).
    pub stage: String,
    /// The stage's platform.
    pub target: Platform,
    /// The host's platform.
    pub host: Platform,
    /// What is missing.
    pub why: Missing,
}

/// Fail unless the host can run every RUN step of `plan`, by the binfmt_misc registrations
/// in `binfmt_dir`; `label` and `text` are the Dockerfile's name and text, for the excerpt.
pub(super) fn check(plan: &graph::Plan, binfmt_dir: &Path, label: &str, text: &str) -> Result<()> {
    let host = &plan.build_platform;
    let mut known: BTreeMap<&Platform, Support> = BTreeMap::new();
    for stage in &plan.stages {
        for step in &stage.steps {
            let graph::Action::Run(run) = &step.action else {
                continue;
            };
            let support = (known.entry(&stage.platform))
                .or_insert_with(|| binfmt::support(host, &stage.platform, binfmt_dir));
            let why = match support {
                Support::Native | Support::Emulated { .. } => continue,
                Support::Native32 if run.security == SecurityMode::Insecure => continue,
                Support::Native32 => Missing::Filtered32,
                Support::Missing(why) => why.clone(),
            };
            let hint = why.fix(&stage.platform);
            let err = EmulationError {
                stage: stage.label(),
                target: stage.platform.clone(),
                host: host.clone(),
                why,
            };
            let rendered = located(label, text, step.span, &err.to_string(), Some(hint));
            return Err(Error::build(rendered, err));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{PlanOptions, UnknownImages};

    const AARCH64: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n\
        flags: PF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\n\
        mask ffffffffffffff00fffffffffffffffffeffffff\n";

    fn plan(df: &str, target: &str) -> graph::Plan {
        let host = Platform::linux_amd64();
        let mut opts = PlanOptions::new(host.clone());
        opts.target_platform = Some(Platform::parse(target, &host).unwrap());
        let parsed = crate::build::parse("Dockerfile", df).unwrap();
        graph::plan(&parsed, &opts, &UnknownImages).unwrap()
    }

    /// A binfmt_misc directory with `entries` (name, text).
    fn binfmt(entries: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("status"), "enabled\n").unwrap();
        for (name, text) in entries {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    fn failure(df: &str, target: &str, dir: &Path) -> Error {
        check(&plan(df, target), dir, "Dockerfile", df).unwrap_err()
    }

    #[test]
    fn a_foreign_run_without_an_emulator_fails_at_its_line() {
        let df = "FROM busybox\nCOPY a /a\nRUN uname -m\nRUN true\n";
        let err = failure(df, "linux/arm64", binfmt(&[]).path());
        assert_eq!(err.exit_code(), 1);
        let text = err.to_string();
        assert!(text.contains("   3 | >>> RUN uname -m"), "{text}");
        assert!(
            text.contains(
                "ERROR: failed to solve: stage stage-0 builds for linux/arm64, whose programs \
                 this linux/amd64 host cannot run: no binfmt_misc interpreter is registered"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "hint: as root: apt-get install qemu-user-static binfmt-support; \
                 update-binfmts --enable qemu-aarch64"
            ),
            "{text}"
        );
    }

    #[test]
    fn an_emulator_without_the_f_flag_is_named() {
        let no_f = AARCH64.replace("flags: PF", "flags: P");
        let dir = binfmt(&[("qemu-aarch64", &no_f)]);
        let text = failure("FROM busybox\nRUN true\n", "linux/arm64", dir.path()).to_string();
        assert!(text.contains("without the F (fix-binary) flag"), "{text}");
    }

    #[test]
    fn native_emulated_and_runless_stages_pass() {
        let with = binfmt(&[("qemu-aarch64", AARCH64)]);
        let without = binfmt(&[]);
        let run = "FROM busybox\nRUN true\n";
        assert!(check(&plan(run, "linux/arm64"), with.path(), "D", run).is_ok());
        assert!(check(&plan(run, "linux/amd64"), without.path(), "D", run).is_ok());
        let copy = "FROM busybox\nCOPY a /a\n";
        assert!(check(&plan(copy, "linux/arm64"), without.path(), "D", copy).is_ok());
    }

    #[test]
    fn a_32_bit_run_needs_the_insecure_mode_or_an_emulator() {
        let dir = binfmt(&[]);
        let df = "FROM busybox\nRUN --security=insecure true\nRUN true\n";
        let text = failure(df, "linux/386", dir.path()).to_string();
        assert!(text.contains("   3 | >>> RUN true"), "{text}");
        assert!(
            text.contains("the RUN seccomp filter allows the host's 64-bit"),
            "{text}"
        );
        assert!(text.contains("hint: RUN --security=insecure"), "{text}");
        let insecure = "FROM busybox\nRUN --security=insecure true\n";
        assert!(check(&plan(insecure, "linux/386"), dir.path(), "D", insecure).is_ok());
    }

    #[test]
    fn a_build_platform_stage_is_never_checked() {
        let df = "FROM --platform=$BUILDPLATFORM busybox AS build\nRUN make\n\
                  FROM busybox\nCOPY --from=build /out /out\n";
        let dir = binfmt(&[]);
        assert!(check(&plan(df, "linux/arm64"), dir.path(), "D", df).is_ok());
        let df = format!("{df}RUN true\n");
        let text = failure(&df, "linux/arm64", dir.path()).to_string();
        assert!(text.contains("   5 | >>> RUN true"), "{text}");
        assert!(
            text.contains("stage stage-1 builds for linux/arm64"),
            "{text}"
        );
    }
}
