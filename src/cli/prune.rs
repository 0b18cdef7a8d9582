//! `builder prune`: free build cache, the blobs and snapshots nothing needs any more, and
//! what dead builds left behind, with the flags of `docker buildx prune` (`--all`,
//! `--keep-storage`, `--filter until=`, `-f`). Waits for running builds first.

use std::path::Path;
use std::time::SystemTime;

use clap::Args;

use crate::error::{Error, Result};
use crate::store::{human_size, parse_duration, parse_size, PruneOptions, PruneReport};

/// Arguments of `builder prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Also remove the snapshots and flattened trees of named images (remade from their
    /// blobs when needed) and the RUN cache mounts.
    #[arg(short, long)]
    pub all: bool,
    /// Keep this much storage, removing the least recently used first (e.g. `10GB`;
    /// units are 1024-based, as docker reads them).
    #[arg(long, value_name = "SIZE")]
    pub keep_storage: Option<String>,
    /// Remove only what matches: `until=DURATION` spares cache used within that time
    /// (e.g. `until=24h`).
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation (builder never prompts; accepted as docker does).
    #[arg(short, long)]
    pub force: bool,
    /// List each removed cache record with its step.
    #[arg(long)]
    pub verbose: bool,
}

/// The prune options of the command line; a usage error names the flag at fault.
fn options(args: &PruneArgs) -> Result<PruneOptions> {
    let keep_storage = match &args.keep_storage {
        None => None,
        Some(text) => {
            let bytes =
                parse_size(text).map_err(|e| Error::Usage(format!("--keep-storage: {e}")))?;
            // As in docker, 0 is no limit.
            (bytes > 0).then_some(bytes)
        }
    };
    let mut until: Option<(String, String)> = None;
    for filter in &args.filter {
        let (key, value) = filter.split_once('=').ok_or_else(|| {
            Error::Usage(format!("invalid filter {filter:?}: expected KEY=VALUE"))
        })?;
        let key = key.trim().to_ascii_lowercase();
        if key != "until" && key != "unused-for" {
            return Err(Error::Usage(format!(
                "invalid filter {filter:?}: only until=DURATION is supported"
            )));
        }
        if let Some((previous, _)) = &until {
            return Err(Error::Usage(if *previous == key {
                format!("{key:?} filter expects only one value")
            } else {
                "conflicting filters \"until\" and \"unused-for\"".to_string()
            }));
        }
        until = Some((key, value.trim().to_string()));
    }
    let until = match until {
        None => None,
        Some((key, value)) => Some(parse_duration(&value).map_err(|e| {
            Error::Usage(format!(
                "{key:?} filter expects a duration (e.g., '24h'): {e}"
            ))
        })?),
    };
    Ok(PruneOptions {
        all: args.all,
        keep_storage,
        until,
    })
}

/// `3 blobs, 1 snapshot` for the non-zero counts of `report` besides records.
fn others(report: &PruneReport) -> String {
    let mut parts = Vec::new();
    for (n, one, many) in [
        (report.blobs, "blob", "blobs"),
        (report.snapshots, "snapshot", "snapshots"),
        (report.trees, "flattened tree", "flattened trees"),
        (report.mounts, "cache mount", "cache mounts"),
        (report.downloads, "download", "downloads"),
        (report.git_repos, "Git repository", "Git repositories"),
        (
            report.leftovers,
            "leftover of a dead build",
            "leftovers of dead builds",
        ),
    ] {
        if n > 0 {
            parts.push(format!("{n} {}", if n == 1 { one } else { many }));
        }
    }
    parts.join(", ")
}

/// Run `builder prune`.
pub fn run(args: &PruneArgs, root: Option<&Path>) -> Result<()> {
    let opts = options(args)?;
    let root = super::store_root(root)?;
    let report = crate::store::prune(&root, &opts)?;
    let now = SystemTime::now();
    if args.verbose {
        super::du::print_verbose(&report.removed, now);
    } else if !report.removed.is_empty() {
        super::du::print_table(&report.removed, now);
    }
    let others = others(&report);
    if !others.is_empty() {
        outln!("Also removed: {others}");
    }
    outln!("Total:\t{}", human_size(report.bytes));
    if report.failures.is_empty() {
        return Ok(());
    }
    for failure in &report.failures {
        eprintln!("warning: {failure}");
    }
    Err(Error::Io {
        action: "prune the store at",
        path: root,
        source: std::io::Error::other(format!(
            "{} item(s) could not be removed",
            report.failures.len()
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn args(all: bool, keep: Option<&str>, filters: &[&str]) -> PruneArgs {
        PruneArgs {
            all,
            keep_storage: keep.map(String::from),
            filter: filters.iter().map(|f| f.to_string()).collect(),
            force: false,
            verbose: false,
        }
    }

    #[test]
    fn flags_become_options() {
        assert_eq!(
            options(&args(true, Some("10GB"), &["until=24h"])).unwrap(),
            PruneOptions {
                all: true,
                keep_storage: Some(10 << 30),
                until: Some(Duration::from_secs(86_400)),
            }
        );
        let o = options(&args(false, Some("0"), &["unused-for=10m"])).unwrap();
        assert_eq!(o.keep_storage, None);
        assert_eq!(o.until, Some(Duration::from_secs(600)));
        assert_eq!(
            options(&args(false, None, &[])).unwrap(),
            PruneOptions::default()
        );
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        for (keep, filters, needle) in [
            (Some("lots"), vec![], "--keep-storage: invalid size"),
            (None, vec!["type=regular"], "only until=DURATION"),
            (None, vec!["until"], "expected KEY=VALUE"),
            (None, vec!["until=soon"], "expects a duration"),
            (None, vec!["until=1h", "until=2h"], "only one value"),
            (None, vec!["until=1h", "unused-for=2h"], "conflicting"),
        ] {
            let err = options(&args(false, keep, &filters)).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{err}");
            assert!(err.to_string().contains(needle), "{err}");
        }
    }
}
