//! `builder images`: list images in the local store (name, digest, uncompressed size,
//! created); a multi-platform image is followed by a row per platform (`  linux/arm64`).
//! `--filter` narrows the list (see [`super::filter`]) and `--format` prints Docker's fields
//! through a template (see [`super::template`]) or as JSON lines.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use clap::Args;
use oci_spec::image::Descriptor;
use serde_json::{json, Value};

use super::filter::ImageFilters;
use super::sizes::Sizer;
use super::template::{align_table, Format, Template};
use crate::error::{Error, Result};
use crate::image::multi::index_manifests;
use crate::image::time::{human_age, parse_rfc3339};
use crate::image::{find_image, read_image, Platform};
use crate::store::{DirStore, ImageRecord, Reference};

/// The fields `--format` offers, in `--format json`'s order.
const FIELDS: [&str; 7] = [
    "Repository",
    "Tag",
    "ID",
    "Digest",
    "CreatedSince",
    "CreatedAt",
    "Size",
];

/// What `--format table` alone prints: `docker images`' columns.
const DEFAULT_TABLE: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

/// Arguments of `builder images`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Print only the digests (their first 12 hex digits), one per image.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print each image through a template (`{{.Repository}}:{{.Tag}}`; `table ` first for
    /// a header and columns) or `json` for a JSON object per line.
    #[arg(long, value_name = "TEMPLATE")]
    pub format: Option<String>,
    /// Only images that match: `reference=PATTERN`, `dangling=true|false`, `before=IMAGE`,
    /// `since=IMAGE` (repeatable).
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
}

/// The first 12 hex digits of a digest, as Docker shows image ids.
pub(crate) fn short_digest(digest: &oci_spec::image::Digest) -> &str {
    let hex = digest.digest();
    hex.get(..12).unwrap_or(hex)
}

/// A size in Docker's words: decimal units, three significant digits (`1.23MB`).
pub(crate) fn human_size(size: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = size as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    let text = if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{text}{}", units.get(unit).copied().unwrap_or("B"))
}

/// One named image with what the listing shows of it.
struct Entry {
    name: String,
    record: ImageRecord,
    /// Each platform of a multi-platform image, with its uncompressed size.
    platforms: Option<Vec<(Platform, Descriptor, Option<u64>)>>,
    /// Uncompressed size (`None`: a damaged image, still listed so that it can be removed).
    size: Option<u64>,
}

/// Run `builder images`.
pub fn run(args: &ImagesArgs, root: Option<&Path>) -> Result<()> {
    let filters = ImageFilters::parse(&args.filter).map_err(Error::Usage)?;
    let format =
        Format::parse(args.format.as_deref(), &FIELDS, DEFAULT_TABLE).map_err(Error::Usage)?;
    let store = super::open_store(root)?;
    let images = select(&store, store.images().list()?, &filters)?;
    if args.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for (_, record) in &images {
            if seen.insert(record.digest.to_string()) {
                outln!("{}", short_digest(&record.digest));
            }
        }
        return Ok(());
    }
    let entries = measure(&store, images);
    let now = SystemTime::now();
    match &format {
        Format::Template(t) => print_template(t, &entries, now),
        Format::Json => {
            for e in &entries {
                outln!("{}", fields(e, now));
            }
            Ok(())
        }
        Format::Default => {
            print_table(&entries, now);
            Ok(())
        }
    }
}

/// The named images that pass `filters`, by name.
fn select(
    store: &DirStore,
    images: BTreeMap<String, ImageRecord>,
    filters: &ImageFilters,
) -> Result<Vec<(String, ImageRecord)>> {
    let created_of = |query: &String| -> Result<Option<i64>> {
        let found = find_image(store, &store.images(), query)?;
        let created = match found.record.created {
            Some(c) => Some(c),
            None => read_image(store, &found.record.digest)?.config.created,
        };
        Ok(created.as_deref().and_then(parse_rfc3339).map(|(s, _)| s))
    };
    let before = filters
        .before
        .iter()
        .map(created_of)
        .collect::<Result<Vec<_>>>()?;
    let since = filters
        .since
        .iter()
        .map(created_of)
        .collect::<Result<Vec<_>>>()?;
    let mut kept = Vec::new();
    for (name, record) in images {
        if !filters.matches_name(&name_forms(&name)) {
            continue;
        }
        let created = record
            .created
            .as_deref()
            .and_then(parse_rfc3339)
            .map(|(s, _)| s);
        let older = |limit: &Option<i64>| matches!((created, limit), (Some(c), Some(l)) if c < *l);
        let newer = |limit: &Option<i64>| matches!((created, limit), (Some(c), Some(l)) if c > *l);
        if before.iter().all(older) && since.iter().all(newer) {
            kept.push((name, record));
        }
    }
    Ok(kept)
}

/// The forms a `reference=` pattern is tried on: familiar with tag, familiar without, full.
fn name_forms(name: &str) -> Vec<String> {
    match Reference::parse(name) {
        Ok(r) => vec![r.familiar(), r.familiar_name(), name.to_string()],
        Err(_) => vec![name.to_string()],
    }
}

/// Read each image's platforms and uncompressed sizes.
fn measure(store: &DirStore, images: Vec<(String, ImageRecord)>) -> Vec<Entry> {
    let mut sizer = Sizer::new(store);
    let mut entries = Vec::with_capacity(images.len());
    for (name, record) in images {
        let platforms = index_manifests(store, &record.digest).ok().flatten();
        let mut size_of = |d: &oci_spec::image::Digest| {
            read_image(store, d)
                .ok()
                .and_then(|img| sizer.image(&img).ok())
        };
        let (platforms, size) = match platforms {
            Some(children) => {
                let rows: Vec<_> = children
                    .into_iter()
                    .map(|(p, d)| {
                        let s = size_of(d.digest());
                        (p, d, s)
                    })
                    .collect();
                let total = rows.iter().map(|(_, _, s)| *s).sum::<Option<u64>>();
                (Some(rows), total)
            }
            None => (None, size_of(&record.digest)),
        };
        entries.push(Entry {
            name,
            record,
            platforms,
            size,
        });
    }
    sizer.finish();
    entries
}

/// Docker's fields of one image, as `--format json` prints them and templates read them.
fn fields(e: &Entry, now: SystemTime) -> Value {
    let (repository, tag) = match Reference::parse(&e.name) {
        Ok(r) => (r.familiar_name(), r.tag().unwrap_or("<none>").to_string()),
        Err(_) => (e.name.clone(), "<none>".to_string()),
    };
    let created = e.record.created.clone().unwrap_or_default();
    json!({
        "Repository": repository,
        "Tag": tag,
        "ID": short_digest(&e.record.digest),
        "Digest": e.record.digest.to_string(),
        "CreatedSince": human_age(&created, now),
        "CreatedAt": created,
        "Size": e.size.map(human_size).unwrap_or_else(|| "?".into()),
    })
}

/// `--format TEMPLATE`: a line per image, or an aligned table with a header.
fn print_template(t: &Template, entries: &[Entry], now: SystemTime) -> Result<()> {
    let mut lines = Vec::with_capacity(entries.len() + 1);
    if t.table {
        lines.push(t.header(header));
    }
    for e in entries {
        lines.push(t.render(&fields(e, now)).map_err(Error::Usage)?);
    }
    if t.table {
        outln!("{}", align_table(&lines).trim_end_matches('\n'));
    } else {
        for line in lines {
            outln!("{line}");
        }
    }
    Ok(())
}

/// The column header Docker gives a field.
fn header(field: &str) -> String {
    match field {
        "ID" => "IMAGE ID".into(),
        "CreatedSince" => "CREATED".into(),
        "CreatedAt" => "CREATED AT".into(),
        other => other.to_uppercase(),
    }
}

/// The default table: a row per name, and under a multi-platform image a row per platform.
fn print_table(entries: &[Entry], now: SystemTime) {
    let size_text = |s: Option<u64>| s.map(human_size).unwrap_or_else(|| "?".into());
    let mut rows = vec![[
        "NAME".to_string(),
        "DIGEST".to_string(),
        "SIZE".to_string(),
        "CREATED".to_string(),
    ]];
    for e in entries {
        let created = e
            .record
            .created
            .as_deref()
            .map(|c| human_age(c, now))
            .unwrap_or_default();
        rows.push([
            e.name.clone(),
            short_digest(&e.record.digest).to_string(),
            size_text(e.size),
            created,
        ]);
        for (platform, d, size) in e.platforms.iter().flatten() {
            rows.push([
                format!("  {platform}"),
                short_digest(d.digest()).to_string(),
                size_text(*size),
                String::new(),
            ]);
        }
    }
    let width = |i: usize| rows.iter().map(|r| r[i].len()).max().unwrap_or(0);
    let (w0, w1, w2) = (width(0), width(1), width(2));
    for [name, digest, size, created] in &rows {
        let line = format!("{name:<w0$}   {digest:<w1$}   {size:<w2$}   {created}");
        outln!("{}", line.trim_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(2048), "2.05kB");
        assert_eq!(human_size(1_234_567), "1.23MB");
        assert_eq!(human_size(45_600_000), "45.6MB");
        assert_eq!(human_size(7_000_000_000), "7GB");
    }

    #[test]
    fn names_are_matched_in_familiar_and_full_forms() {
        assert_eq!(
            name_forms("docker.io/library/app:1"),
            vec!["app:1", "app", "docker.io/library/app:1"]
        );
        assert_eq!(header("ID"), "IMAGE ID");
        assert_eq!(header("Repository"), "REPOSITORY");
    }
}
