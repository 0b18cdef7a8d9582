//! `builder du`: disk usage of the store, as `docker buildx du` shows it: a table of cache
//! records (`ID  RECLAIMABLE  SIZE  LAST ACCESSED`), then what each part of the store
//! takes, `Reclaimable:` (what a plain `builder prune` frees) and `Total:`.

use std::path::Path;
use std::time::SystemTime;

use clap::Args;

use crate::error::Result;
use crate::store::{human_ago, human_size, RecordUsage, Usage};

/// Arguments of `builder du`.
#[derive(Debug, Args)]
pub struct DuArgs {
    /// List each cache record with its step instead of the table.
    #[arg(long)]
    pub verbose: bool,
}

/// The short id of a record: the first 12 hex digits of its key.
fn short_id(r: &RecordUsage) -> &str {
    let hex = r.key.digest();
    hex.get(..12).unwrap_or(hex)
}

/// Print `records` as the `ID RECLAIMABLE SIZE LAST ACCESSED` table (the header alone
/// when there are none).
pub(crate) fn print_table(records: &[RecordUsage], now: SystemTime) {
    outln!(
        "{:<14}{:<13}{:<10}LAST ACCESSED",
        "ID",
        "RECLAIMABLE",
        "SIZE"
    );
    for r in records {
        outln!(
            "{:<14}{:<13}{:<10}{}",
            short_id(r),
            r.reclaimable,
            human_size(r.size),
            human_ago(r.last_used, now)
        );
    }
}

/// Print `records` one block each, with their steps.
pub(crate) fn print_verbose(records: &[RecordUsage], now: SystemTime) {
    for r in records {
        outln!("ID:          {}", r.key.digest());
        outln!("Reclaimable: {}", r.reclaimable);
        outln!("Size:        {}", human_size(r.size));
        if !r.description.is_empty() {
            outln!("Description: {}", r.description);
        }
        outln!("Last used:   {}", human_ago(r.last_used, now));
        outln!("");
    }
}

fn print_summary(u: &Usage) {
    let mut rows: Vec<(&str, String)> = vec![
        ("Cache records", u.records.len().to_string()),
        (
            "Blobs",
            format!(
                "{} ({} reclaimable)",
                human_size(u.blobs),
                human_size(u.blobs_reclaimable)
            ),
        ),
        ("Snapshots", human_size(u.snapshots)),
        ("Flattened trees", human_size(u.trees)),
        ("Cache mounts", human_size(u.mounts)),
    ];
    if u.downloads > 0 {
        rows.push(("Downloads", human_size(u.downloads)));
    }
    if u.git_repos > 0 {
        rows.push(("Git repositories", human_size(u.git_repos)));
    }
    if u.scratch > 0 {
        rows.push(("Build scratch", human_size(u.scratch)));
    }
    rows.push(("Reclaimable", human_size(u.reclaimable)));
    rows.push(("Total", human_size(u.total)));
    // One column for the values, at least one space after the longest label.
    let width = rows
        .iter()
        .map(|(key, _)| key.len() + 2)
        .max()
        .unwrap_or(0)
        .max(17);
    for (key, value) in rows {
        let label = format!("{key}:");
        outln!("{label:<width$}{value}");
    }
}

/// Run `builder du`.
pub fn run(args: &DuArgs, root: Option<&Path>) -> Result<()> {
    let root = super::store_root(root)?;
    let usage = crate::store::usage(&root)?;
    let now = SystemTime::now();
    if args.verbose {
        print_verbose(&usage.records, now);
    } else {
        print_table(&usage.records, now);
    }
    print_summary(&usage);
    Ok(())
}
