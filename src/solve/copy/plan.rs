//! Running one COPY/ADD: checking its flags, turning each source into units of work
//! (matched entries, `--parents` roots, heredocs, downloads), checking the several-sources
//! rule, and placing each unit at the destination the way BuildKit's dispatchCopy and
//! fsutil's `Copy` do (`prepareTargetDir`).

use std::path::Path;

use super::archive;
use super::error::CopyError;
use super::layer::{child_path, split_parent, LayerWriter, Target};
use super::layered::LayeredSrc;
use super::source::{Expansion, Lookup, SrcItem, SrcTree};
use super::tree::Copier;
use super::{dest_path, CopyRequest, CopySource, CopyStats};
use crate::context::matcher::clean_path;
use crate::context::pattern::has_wildcards;
use crate::context::Matcher;
use crate::remote::{is_remote_source, Fetched, RemoteRequest};

/// One piece of work.
enum Unit<'r> {
    /// An entry selected by a source pattern (as written).
    Local(Box<SrcItem>, &'r str),
    /// `--parents`: copy the roots' contents filtered by `pattern`.
    Parents {
        roots: Vec<SrcItem>,
        pattern: String,
    },
    /// A heredoc file.
    Heredoc { name: &'r str, content: &'r str },
    /// A URL or Git source of ADD.
    Remote(&'r str),
}

/// The destination: absolute clean path, and whether it names a directory.
struct Dest {
    path: String,
    dir_like: bool,
}

pub(crate) fn run(req: &CopyRequest<'_>, out_dir: &Path) -> Result<CopyStats, CopyError> {
    check_flags(req)?;
    let excludes = if req.excludes.is_empty() {
        None
    } else {
        Some(Matcher::new(&req.excludes).map_err(CopyError::Exclude)?)
    };
    let (path, dir_like) = dest_path(&req.dest, &req.workdir);
    let dest = Dest { path, dir_like };
    let layer = LayerWriter::new(out_dir, req.dest_fs, req.ownership)?;
    let mut tree = SrcTree::dir(
        req.src_root.dir.to_path_buf(),
        req.src_root.ignore,
        req.src_root.preserves_owner(),
    );
    if let Some(lowers) = req.src_layers {
        tree.layers = Some(LayeredSrc::new(lowers.to_vec()));
    }
    let mut copier = Copier::new(layer, tree);
    copier.chown = req.chown;
    copier.chmod = req.chmod.as_ref();
    copier.excludes = excludes.as_ref();

    let units = plan_units(req, &copier.tree, excludes.as_ref())?;
    if units.len() > 1 && !dest.dir_like && !req.parents {
        let (_, probe) = copier.layer.resolve(&dest.path, true)?;
        if !probe.is_dir() {
            return Err(CopyError::DestinationNotDirectory {
                instruction: req.instruction(),
            });
        }
    }
    for unit in units {
        run_unit(req, &mut copier, &dest, unit)?;
        copier.sync_files()?;
    }
    copier.finish()
}

/// BuildKit's flag checks for `--checksum`.
fn check_flags(req: &CopyRequest<'_>) -> Result<(), CopyError> {
    if req.checksum.is_none() {
        return Ok(());
    }
    if !req.is_add {
        return Err(CopyError::Checksum("checksum can't be specified for COPY"));
    }
    let paths: Vec<&str> = req
        .sources
        .iter()
        .filter_map(|s| match s {
            CopySource::Path(p) => Some(p.as_str()),
            CopySource::Heredoc { .. } => None,
        })
        .collect();
    match paths.as_slice() {
        [one] if is_remote_source(one) => Ok(()),
        [_] => Err(CopyError::Checksum(
            "checksum requires HTTP(S) or Git sources",
        )),
        _ => Err(CopyError::Checksum(
            "checksum can't be specified for multiple sources",
        )),
    }
}

fn not_found(req: &CopyRequest<'_>, pattern: &str, excluded: bool) -> CopyError {
    CopyError::SourceNotFound {
        pattern: pattern.to_string(),
        root: req.src_root.label(),
        excluded,
    }
}

/// Expands the sources, path sources first and heredocs last (BuildKit's order).
fn plan_units<'r>(
    req: &'r CopyRequest<'_>,
    tree: &SrcTree<'_>,
    excludes: Option<&Matcher>,
) -> Result<Vec<Unit<'r>>, CopyError> {
    let mut units = Vec::new();
    for src in &req.sources {
        let CopySource::Path(p) = src else {
            continue;
        };
        if is_remote_source(p) {
            if !req.is_add {
                return Err(CopyError::UrlForCopy {
                    source_url: p.clone(),
                });
            }
            units.push(Unit::Remote(p));
            continue;
        }
        if req.parents {
            units.push(plan_parents(req, tree, p)?);
            continue;
        }
        match tree.expand(&clean_path(&format!("/{p}")))? {
            Expansion::Items(items) => {
                for item in items {
                    if let (Some(ex), Some(w)) = (excludes, &item.wild_rel) {
                        if ex.excludes(w, item.meta.is_dir()) {
                            continue;
                        }
                    }
                    units.push(Unit::Local(Box::new(item), p));
                }
            }
            Expansion::Missing => return Err(not_found(req, p, false)),
            Expansion::Excluded => return Err(not_found(req, p, true)),
        }
    }
    for src in &req.sources {
        if let CopySource::Heredoc { name, content } = src {
            units.push(Unit::Heredoc { name, content });
        }
    }
    Ok(units)
}

/// `--parents`: `root/./pattern` keeps the path below `root`; without a `/./` pivot the
/// whole path below the source root is kept. A path without wildcards must exist.
fn plan_parents<'r>(
    req: &CopyRequest<'_>,
    tree: &SrcTree<'_>,
    src: &'r str,
) -> Result<Unit<'r>, CopyError> {
    let (root, pattern) = src.split_once("/./").unwrap_or(("/", src));
    let root = clean_path(&format!("/{root}"));
    let pattern = clean_path(&format!("/{pattern}"))
        .trim_start_matches('/')
        .to_string();
    if !has_wildcards(&root) && !has_wildcards(&pattern) {
        match tree.lookup(&format!("{root}/{pattern}"), true)? {
            Lookup::Found { .. } => {}
            Lookup::Missing => return Err(not_found(req, src, false)),
            Lookup::Excluded => return Err(not_found(req, src, true)),
        }
    }
    let roots = match tree.expand(&root)? {
        Expansion::Items(items) => items,
        Expansion::Missing | Expansion::Excluded => Vec::new(),
    };
    Ok(Unit::Parents { roots, pattern })
}

fn run_unit(
    req: &CopyRequest<'_>,
    copier: &mut Copier<'_, '_>,
    dest: &Dest,
    unit: Unit<'_>,
) -> Result<(), CopyError> {
    match unit {
        Unit::Local(item, pattern) => {
            let unpack = req.unpack.unwrap_or(req.is_add);
            if unpack && item.meta.is_file() {
                let host = copier.tree.host(&item.rel)?;
                let file = copier.tree.open_file(&item.rel)?;
                if archive::is_tar_file(&file, &host)? {
                    return archive::extract(copier, file, &host, pattern, &dest.path);
                }
            }
            copy_item(copier, dest, &item)
        }
        Unit::Parents { roots, pattern } => {
            for root in roots {
                if !root.meta.is_dir() {
                    copy_item(copier, dest, &root)?;
                    continue;
                }
                copier.includes = if pattern.is_empty() {
                    None
                } else {
                    Some(Matcher::new(&[pattern.as_str()]).map_err(CopyError::SourcePattern)?)
                };
                let target = dir_dest(copier, dest)?;
                let result = copier.copy_contents(&root.rel, &target);
                copier.includes = None;
                result?;
            }
            Ok(())
        }
        Unit::Heredoc { name, content } => {
            let base = name.rsplit('/').next().unwrap_or(name);
            let target = file_dest(copier, dest, base)?;
            copier.write_new_file(&target, &mut content.as_bytes(), 0o644, None)
        }
        Unit::Remote(url) => match req.fetcher.fetch(&RemoteRequest {
            url,
            checksum: req.checksum.as_deref(),
            keep_git_dir: req.keep_git_dir,
        })? {
            Fetched::File {
                path,
                filename,
                mtime,
            } => {
                if req.unpack == Some(true) {
                    let file = std::fs::File::open(&path)
                        .map_err(CopyError::io("read download", &path))?;
                    if archive::is_tar_file(&file, &path)? {
                        return archive::extract(copier, file, &path, url, &dest.path);
                    }
                }
                let target = file_dest(copier, dest, &filename)?;
                let mut file =
                    std::fs::File::open(&path).map_err(CopyError::io("read download", &path))?;
                let mtime = mtime
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| (d.as_secs() as i64, i64::from(d.subsec_nanos())));
                copier.write_new_file(&target, &mut file, 0o600, mtime)
            }
            Fetched::Dir { path } => {
                let checkout = SrcTree::dir(path, None, false);
                let saved = std::mem::replace(&mut copier.tree, checkout);
                let result = dir_dest(copier, dest).and_then(|t| copier.copy_contents("", &t));
                copier.tree = saved;
                result
            }
        },
    }
}

/// Copies one selected entry: a directory's contents into the destination directory, a
/// file to `dest/name` when the destination is a directory, else to `dest` itself.
fn copy_item(copier: &mut Copier<'_, '_>, dest: &Dest, item: &SrcItem) -> Result<(), CopyError> {
    if item.meta.is_dir() {
        let target = dir_dest(copier, dest)?;
        copier.copy_contents(&item.rel, &target)
    } else {
        let target = file_dest(copier, dest, &item.name)?;
        copier.copy_one(&item.rel, &item.meta, &target)
    }
}

/// Creates the destination's parents (all of it when it ends with `/`), with the
/// `--chmod` mode when it is octal (see [`Copier::new_dir_mode`]).
fn ensure_dest(copier: &mut Copier<'_, '_>, dest: &Dest) -> Result<(), CopyError> {
    let (mode, owner) = (copier.new_dir_mode(), copier.new_dir_owner());
    let ensure = if dest.dir_like {
        dest.path.as_str()
    } else {
        split_parent(&dest.path).0
    };
    copier.layer.mkdir_all(ensure, mode, owner)?;
    Ok(())
}

/// The directory a directory source's contents go into (created when missing, with the
/// mode of [`Copier::new_dir_mode`]).
fn dir_dest(copier: &mut Copier<'_, '_>, dest: &Dest) -> Result<Target, CopyError> {
    ensure_dest(copier, dest)?;
    let (t, probe) = copier.layer.resolve(&dest.path, true)?;
    if probe.exists() {
        return Ok(t);
    }
    let (mode, owner) = (copier.new_dir_mode(), copier.new_dir_owner());
    let (t, _) = copier
        .layer
        .mkdir_resolved(&Target::root(), &t.path, mode, owner)?;
    Ok(t)
}

/// Where a file source named `name` goes.
fn file_dest(copier: &mut Copier<'_, '_>, dest: &Dest, name: &str) -> Result<Target, CopyError> {
    ensure_dest(copier, dest)?;
    let (t, probe) = copier.layer.resolve(&dest.path, true)?;
    let path = if probe.is_dir() {
        child_path(&t.path, name)
    } else {
        t.path
    };
    let (parent, base) = split_parent(&path);
    let (mode, owner) = (copier.new_dir_mode(), copier.new_dir_owner());
    let (pt, pp) = copier
        .layer
        .mkdir_resolved(&Target::root(), parent, mode, owner)?;
    Ok(copier.layer.child(&pt, &pp, base))
}
