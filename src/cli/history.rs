//! `builder history IMAGE`: an image's history as `docker history` prints it, newest first:
//! IMAGE, CREATED, CREATED BY, SIZE, COMMENT. Each entry of the config's history that made
//! a layer gets that layer's uncompressed size; `empty_layer` entries have none (0B). Of a
//! multi-platform image, the host's platform is shown.

use std::path::Path;
use std::time::SystemTime;

use clap::Args;
use serde_json::{json, Value};

use super::images::{human_size, short_digest};
use super::sizes::Sizer;
use super::template::{align_table, Format, Template};
use crate::error::{Error, Result};
use crate::image::time::human_age;
use crate::image::{find_image, read_image, select_manifest, Image, Platform, PlatformExt};

/// The fields `--format` offers.
const FIELDS: [&str; 6] = [
    "ID",
    "CreatedSince",
    "CreatedAt",
    "CreatedBy",
    "Size",
    "Comment",
];

/// The default output, and what `--format table` alone prints: `docker history`'s columns.
const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

/// How many characters of CREATED BY are shown without `--no-trunc` (Docker's 45).
const CREATED_BY_WIDTH: usize = 45;

/// Arguments of `builder history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The image in the local store: a name, a digest or a digest prefix.
    pub name: String,
    /// Show whole digests and whole CREATED BY commands.
    #[arg(long)]
    pub no_trunc: bool,
    /// Print only the image ids (`<missing>` for the entries below the top one).
    #[arg(short, long)]
    pub quiet: bool,
    /// Print each entry through a template (`{{.CreatedBy}}`; `table ` first for a header
    /// and columns) or `json` for a JSON object per line.
    #[arg(long, value_name = "TEMPLATE")]
    pub format: Option<String>,
}

/// One row: a history entry and its layer's size.
struct Row {
    id: String,
    created: Option<String>,
    created_by: String,
    size: u64,
    comment: String,
}

/// Run `builder history`.
pub fn run(args: &HistoryArgs, root: Option<&Path>) -> Result<()> {
    let format =
        Format::parse(args.format.as_deref(), &FIELDS, DEFAULT_TABLE).map_err(Error::Usage)?;
    let store = super::open_store(root)?;
    let found = find_image(&store, &store.images(), &args.name)?;
    let digest = select_manifest(&store, &found.record.digest, &Platform::host())?;
    let image = read_image(&store, &digest)?;
    let mut sizer = Sizer::new(&store);
    let sizes = sizer.layers(&image)?;
    sizer.finish();
    let id = if args.no_trunc {
        found.record.digest.to_string()
    } else {
        short_digest(&found.record.digest).to_string()
    };
    let rows = rows(&image, &sizes, &id);
    let now = SystemTime::now();
    if args.quiet {
        for r in &rows {
            outln!("{}", r.id);
        }
        return Ok(());
    }
    let values: Vec<Value> = rows.iter().map(|r| fields(r, now, args.no_trunc)).collect();
    let t = match format {
        Format::Json => {
            for v in &values {
                outln!("{v}");
            }
            return Ok(());
        }
        Format::Template(t) => t,
        Format::Default => Template::parse(DEFAULT_TABLE).map_err(Error::Usage)?,
    };
    let mut lines = Vec::with_capacity(values.len() + 1);
    if t.table {
        lines.push(t.header(header));
    }
    for v in &values {
        lines.push(t.render(v).map_err(Error::Usage)?);
    }
    print_lines(&lines, t.table);
    Ok(())
}

/// Print `lines`, aligned as a table or as they are.
fn print_lines(lines: &[String], table: bool) {
    if table {
        outln!("{}", align_table(lines).trim_end_matches('\n'));
    } else {
        for line in lines {
            outln!("{line}");
        }
    }
}

/// The rows, newest first: history entries paired with the layers in order; layers the
/// history does not account for get a row of their own.
fn rows(image: &Image, sizes: &[u64], id: &str) -> Vec<Row> {
    let mut layers = sizes.iter();
    let mut rows: Vec<Row> = Vec::new();
    for h in &image.config.history {
        let size = if h.empty_layer {
            0
        } else {
            layers.next().copied().unwrap_or(0)
        };
        rows.push(Row {
            id: String::new(),
            created: h.created.clone(),
            created_by: h.created_by.clone(),
            size,
            comment: h.comment.clone(),
        });
    }
    for &size in layers {
        rows.push(Row {
            id: String::new(),
            created: None,
            created_by: String::new(),
            size,
            comment: String::new(),
        });
    }
    rows.reverse();
    for (i, r) in rows.iter_mut().enumerate() {
        r.id = if i == 0 {
            id.to_string()
        } else {
            "<missing>".into()
        };
    }
    rows
}

/// Docker's fields of one row.
fn fields(r: &Row, now: SystemTime, no_trunc: bool) -> Value {
    let created = r.created.clone().unwrap_or_default();
    let created_by = r.created_by.replace('\t', " ");
    let created_by = if no_trunc {
        created_by
    } else {
        ellipsis(&created_by, CREATED_BY_WIDTH)
    };
    json!({
        "ID": r.id,
        "CreatedSince": human_age(&created, now),
        "CreatedAt": created,
        "CreatedBy": created_by,
        "Size": human_size(r.size),
        "Comment": r.comment,
    })
}

/// `text` cut to `width` characters, the last one `…` when cut (Docker's `Ellipsis`).
fn ellipsis(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The column header Docker gives a field.
fn header(field: &str) -> String {
    match field {
        "ID" => "IMAGE".into(),
        "CreatedSince" => "CREATED".into(),
        "CreatedAt" => "CREATED AT".into(),
        "CreatedBy" => "CREATED BY".into(),
        other => other.to_uppercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_by_is_cut_like_docker() {
        assert_eq!(ellipsis("short", 45), "short");
        let long = "x".repeat(50);
        let cut = ellipsis(&long, 45);
        assert_eq!(cut.chars().count(), 45);
        assert!(cut.ends_with('…'));
        assert_eq!(header("CreatedBy"), "CREATED BY");
    }
}
