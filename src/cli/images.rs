//! `builder images`: list images in the local store (name, digest, size, created); a
//! multi-platform image is followed by a row per platform (`  linux/arm64`).

use std::path::Path;
use std::time::SystemTime;

use clap::Args;

use crate::error::Result;
use crate::image::multi::index_manifests;
use crate::image::{read_image, time::human_age};

/// Arguments of `builder images`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Print only the digests (their first 12 hex digits), one per image.
    #[arg(short, long)]
    pub quiet: bool,
}

/// The first 12 hex digits of a digest, as Docker shows image ids.
pub(crate) fn short_digest(digest: &oci_spec::image::Digest) -> &str {
    let hex = digest.digest();
    hex.get(..12).unwrap_or(hex)
}

/// A size in Docker's words: decimal units, three significant digits (`1.23MB`).
fn human_size(size: u64) -> String {
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

/// Run `builder images`.
pub fn run(args: &ImagesArgs, root: Option<&Path>) -> Result<()> {
    let store = super::open_store(root)?;
    let images = store.images().list()?;
    if args.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for record in images.values() {
            if seen.insert(record.digest.to_string()) {
                outln!("{}", short_digest(&record.digest));
            }
        }
        return Ok(());
    }
    let now = SystemTime::now();
    let mut rows = vec![[
        "NAME".to_string(),
        "DIGEST".to_string(),
        "SIZE".to_string(),
        "CREATED".to_string(),
    ]];
    for (name, record) in &images {
        let created = record
            .created
            .as_deref()
            .map(|c| human_age(c, now))
            .unwrap_or_default();
        let platforms = index_manifests(&store, &record.digest).ok().flatten();
        // A damaged image still gets listed, so that it can be removed.
        let size = match &platforms {
            Some(children) => children
                .iter()
                .map(|(_, d)| read_image(&store, d.digest()).map(|img| img.size()))
                .sum::<std::result::Result<u64, _>>()
                .map(human_size),
            None => read_image(&store, &record.digest).map(|img| human_size(img.size())),
        }
        .unwrap_or_else(|_| "?".into());
        rows.push([
            name.clone(),
            short_digest(&record.digest).to_string(),
            size,
            created,
        ]);
        // A multi-platform image: a row per platform under it.
        for (platform, d) in platforms.unwrap_or_default() {
            let size = read_image(&store, d.digest())
                .map(|img| human_size(img.size()))
                .unwrap_or_else(|_| "?".into());
            rows.push([
                format!("  {platform}"),
                short_digest(d.digest()).to_string(),
                size,
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
    Ok(())
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
}
