//! `-o/--output SPEC` as `docker buildx build` reads it: one CSV record of `key=value` fields
//! (Go `encoding/csv` quoting, so `"name=a,b"` is one field), keys case-insensitive, `type`
//! required; a single field without `=`-prefix `type=` is the shorthand `-o DIR` (= `type=local,
//! dest=DIR`), and `-o -` is `type=tar` to stdout.
//!
//! Parsing is pure: the spec says what to write and where; [`super::write_output`] writes it.
//! Every key is checked against the type (a key the type does not take is an error naming the
//! keys it does take), and every value is checked now, so a typo fails before the build runs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::error::{ExportError, Result};
use crate::image::{LayerCompression, ManifestFormat};
use crate::store::Reference;

/// What kind of output a spec asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputType {
    /// The final root filesystem as files in a directory.
    Local,
    /// The final root filesystem as one tar.
    Tar,
    /// An OCI image layout, as a tar (default) or a directory (`tar=false`).
    Oci,
    /// A tarball `docker load` / `podman load` accept.
    Docker,
    /// Push every name to its registry.
    Registry,
    /// The local store (`push=true` also pushes).
    Image,
    /// No output at all (the build only fills the cache).
    Cacheonly,
}

impl OutputType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "local" => OutputType::Local,
            "tar" => OutputType::Tar,
            "oci" => OutputType::Oci,
            "docker" => OutputType::Docker,
            "registry" => OutputType::Registry,
            "image" => OutputType::Image,
            "cacheonly" => OutputType::Cacheonly,
            _ => return None,
        })
    }

    /// The name in a spec (`oci`).
    pub fn as_str(self) -> &'static str {
        match self {
            OutputType::Local => "local",
            OutputType::Tar => "tar",
            OutputType::Oci => "oci",
            OutputType::Docker => "docker",
            OutputType::Registry => "registry",
            OutputType::Image => "image",
            OutputType::Cacheonly => "cacheonly",
        }
    }

    /// Whether this output is an image (as opposed to a root filesystem or nothing).
    pub fn is_image(self) -> bool {
        matches!(
            self,
            OutputType::Oci | OutputType::Docker | OutputType::Registry | OutputType::Image
        )
    }

    /// The keys this type takes (besides `type`).
    fn keys(self) -> Vec<&'static str> {
        /// The keys of every image output, after the ones naming where it goes.
        const IMAGE: &[&str] = &[
            "compression",
            "compression-level",
            "force-compression",
            "oci-mediatypes",
            "rewrite-timestamp",
        ];
        match self {
            OutputType::Local | OutputType::Tar => vec!["dest", "rewrite-timestamp"],
            OutputType::Oci | OutputType::Docker => [&["dest", "tar", "name"], IMAGE].concat(),
            OutputType::Registry | OutputType::Image => {
                [&["name", "push", "registry.insecure"], IMAGE].concat()
            }
            OutputType::Cacheonly => Vec::new(),
        }
    }
}

impl fmt::Display for OutputType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a file or directory output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A path on disk.
    Path(PathBuf),
    /// Standard output (`dest=-`, or no `dest` for a tarball output other than docker's).
    Stdout,
    /// The local container engine (`type=docker` without `dest`, and `--load`): docker
    /// when its daemon answers, else podman.
    Load,
    /// Nowhere on disk (registry, store, cacheonly).
    None,
}

/// One parsed `--output` spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    /// The output type.
    pub kind: OutputType,
    /// Where it goes.
    pub dest: Destination,
    /// `tar=false` writes an OCI layout as a directory (oci and docker only; default true).
    pub tar: bool,
    /// `name=a,b`: names that replace the `-t` tags for this output (empty: use the tags).
    pub names: Vec<String>,
    /// `compression=`: how new layers are compressed (default gzip).
    pub compression: Option<LayerCompression>,
    /// `compression-level=N`.
    pub compression_level: Option<u32>,
    /// `force-compression=true`: recompress base layers too.
    pub force_compression: bool,
    /// `oci-mediatypes=`: OCI or Docker media types (default: Docker for `type=docker`, OCI
    /// otherwise); see [`OutputSpec::manifest_format`].
    pub oci_mediatypes: Option<bool>,
    /// `rewrite-timestamp=true`: clamp file times to `SOURCE_DATE_EPOCH`.
    pub rewrite_timestamp: bool,
    /// `push=true` (`type=registry` implies it).
    pub push: bool,
    /// `registry.insecure=true`: plain HTTP to the registry.
    pub registry_insecure: bool,
}

impl OutputSpec {
    /// Parse one `--output` value.
    ///
    /// ```
    /// use builder::export::spec::{Destination, OutputSpec, OutputType};
    /// let s = OutputSpec::parse("type=oci,dest=out.tar").unwrap();
    /// assert_eq!(s.kind, OutputType::Oci);
    /// assert_eq!(s.dest, Destination::Path("out.tar".into()));
    /// assert_eq!(OutputSpec::parse("out").unwrap().kind, OutputType::Local);
    /// assert_eq!(OutputSpec::parse("-").unwrap().kind, OutputType::Tar);
    /// assert!(OutputSpec::parse("type=oci,bogus=1").is_err());
    /// ```
    pub fn parse(spec: &str) -> Result<Self> {
        Self::parse_spec(spec).map_err(|reason| ExportError::Spec {
            spec: spec.to_string(),
            reason,
        })
    }

    /// [`OutputSpec::parse`], the error being the reason the spec is rejected.
    fn parse_spec(spec: &str) -> std::result::Result<Self, String> {
        if spec.trim().is_empty() {
            return Err("type is required for output".into());
        }
        let fields = csv_fields(spec)?;
        // The shorthand: one field that is the whole spec and does not start with `type=`.
        if fields.len() == 1 && fields[0] == spec && !spec.starts_with("type=") {
            return Ok(Self::shorthand(spec));
        }
        let (kind, attrs) = split_fields(&fields)?;
        let kind = output_type(kind.as_deref())?;
        check_keys(kind, &attrs)?;
        let dest = destination(kind, attrs.get("dest").map(String::as_str))?;
        let mut out = Self::empty(kind, dest);
        out.set_flags(&attrs)?;
        if let Some(names) = attrs.get("name") {
            out.names = split_names(names);
            check_names(kind, &out.names)?;
        }
        if let Some(c) = attrs.get("compression") {
            out.compression = Some(compression(c)?);
        }
        if let Some(level) = attrs.get("compression-level") {
            let n = compression_level(level, out.compression)?;
            out.compression_level = Some(n);
        }
        if out.registry_insecure && !out.push {
            return Err(format!(
                "registry.insecure=true is for pushing: type={kind} pushes only with push=true"
            ));
        }
        Ok(out)
    }

    /// The shorthand `-o DIR` (`type=local,dest=DIR`) or `-o -` (`type=tar` to stdout).
    fn shorthand(spec: &str) -> Self {
        let (kind, dest) = if spec == "-" {
            (OutputType::Tar, Destination::Stdout)
        } else {
            (OutputType::Local, Destination::Path(PathBuf::from(spec)))
        };
        Self::empty(kind, dest)
    }

    /// Sets the boolean keys (`tar`, `force-compression`, `oci-mediatypes`,
    /// `rewrite-timestamp`, `registry.insecure`, `push`) from `attrs`.
    fn set_flags(&mut self, attrs: &BTreeMap<String, String>) -> std::result::Result<(), String> {
        self.tar = flag(attrs, "tar")?.unwrap_or(true);
        if !self.tar && matches!(self.dest, Destination::Stdout | Destination::Load) {
            return Err("tar=false writes a directory and needs dest=DIR".into());
        }
        self.force_compression = flag(attrs, "force-compression")?.unwrap_or(false);
        self.oci_mediatypes = flag(attrs, "oci-mediatypes")?;
        self.rewrite_timestamp = flag(attrs, "rewrite-timestamp")?.unwrap_or(false);
        self.registry_insecure = flag(attrs, "registry.insecure")?.unwrap_or(false);
        self.push = flag(attrs, "push")?.unwrap_or(self.kind == OutputType::Registry);
        if self.kind == OutputType::Registry && !self.push {
            return Err(
                "type=registry always pushes; use type=image to keep the image local".into(),
            );
        }
        Ok(())
    }

    fn empty(kind: OutputType, dest: Destination) -> Self {
        OutputSpec {
            kind,
            dest,
            tar: true,
            names: Vec::new(),
            compression: None,
            compression_level: None,
            force_compression: false,
            oci_mediatypes: None,
            rewrite_timestamp: false,
            push: kind == OutputType::Registry,
            registry_insecure: false,
        }
    }

    /// The media types the image for this output is written with: `oci-mediatypes=` if given,
    /// else Docker's for `type=docker` and OCI's otherwise (BuildKit's defaults).
    pub fn manifest_format(&self) -> ManifestFormat {
        let oci = self
            .oci_mediatypes
            .unwrap_or(self.kind != OutputType::Docker);
        if oci {
            ManifestFormat::Oci
        } else {
            ManifestFormat::Docker
        }
    }

    /// The names this output carries: `name=` if given, else `tags`.
    pub fn names_or<'a>(&'a self, tags: &'a [String]) -> &'a [String] {
        if self.names.is_empty() {
            tags
        } else {
            &self.names
        }
    }
}

/// Parse every `--output` value of a build; `--push` adds `type=registry`.
pub fn parse_outputs(specs: &[String], push: bool) -> Result<Vec<OutputSpec>> {
    let mut out: Vec<OutputSpec> = specs
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| OutputSpec::parse(s))
        .collect::<Result<_>>()?;
    if push && !out.iter().any(|o| o.push) {
        out.push(OutputSpec::empty(OutputType::Registry, Destination::None));
    }
    Ok(out)
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Splits `key=value` fields into the `type` value (the last one given) and the other keys,
/// lower-cased; the values of repeated `name=` fields are joined with `,`.
fn split_fields(
    fields: &[String],
) -> std::result::Result<(Option<String>, BTreeMap<String, String>), String> {
    let mut kind = None;
    let mut attrs: BTreeMap<String, String> = BTreeMap::new();
    for field in fields {
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| format!("invalid value {field}: expected key=value"))?;
        let key = key.trim().to_lowercase();
        if key == "type" {
            kind = Some(value.to_string());
        } else if let Some(before) = attrs.get_mut(&key) {
            // `name=a,name=b` is the list `a,b`; any other key given twice is ambiguous.
            if key != "name" {
                return Err(format!("{key} is given more than once"));
            }
            before.push(',');
            before.push_str(value);
        } else {
            attrs.insert(key, value.to_string());
        }
    }
    Ok((kind, attrs))
}

/// The output type named by `type=`, which is required.
fn output_type(kind: Option<&str>) -> std::result::Result<OutputType, String> {
    match kind {
        None | Some("") => Err("type is required for output".into()),
        Some(k) => OutputType::parse(k).ok_or_else(|| {
            format!(
                "unknown output type {k:?}; expected local, tar, oci, docker, registry, image or cacheonly"
            )
        }),
    }
}

/// Rejects a key the type does not take, naming the keys it does take.
fn check_keys(
    kind: OutputType,
    attrs: &BTreeMap<String, String>,
) -> std::result::Result<(), String> {
    for key in attrs.keys() {
        if !kind.keys().contains(&key.as_str()) {
            let allowed = kind.keys().join(", ");
            return Err(if allowed.is_empty() {
                format!("unknown key {key:?}: type={kind} takes no keys")
            } else {
                format!("unknown key {key:?} for type={kind}; it takes: {allowed}")
            });
        }
    }
    Ok(())
}

/// Where output of type `kind` goes, given its `dest=` value.
fn destination(kind: OutputType, dest: Option<&str>) -> std::result::Result<Destination, String> {
    Ok(match (kind, dest) {
        (OutputType::Local, None | Some("")) => return Err("type=local needs dest=DIR".into()),
        (OutputType::Local, Some("-")) => {
            return Err("type=local writes a directory; use type=tar,dest=- for stdout".into())
        }
        (OutputType::Docker, None | Some("")) => Destination::Load,
        (OutputType::Tar | OutputType::Oci | OutputType::Docker, None | Some("") | Some("-")) => {
            Destination::Stdout
        }
        (_, None) => Destination::None,
        (_, Some(d)) => Destination::Path(PathBuf::from(d)),
    })
}

/// The boolean value of `key`, if given.
fn flag(attrs: &BTreeMap<String, String>, key: &str) -> std::result::Result<Option<bool>, String> {
    attrs
        .get(key)
        .map(|v| parse_bool(v).ok_or_else(|| format!("{key}={v:?}: expected true or false")))
        .transpose()
}

/// The names of `name=a,b`, trimmed, empty ones dropped.
fn split_names(names: &str) -> Vec<String> {
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect()
}

/// Refuses a `name=` value that is not an image reference, and one with a digest for the
/// store (`type=image`), where a name must be a tag.
fn check_names(kind: OutputType, names: &[String]) -> std::result::Result<(), String> {
    for name in names {
        let reference = Reference::parse(name).map_err(|e| format!("name={name:?}: {}", e.0))?;
        if kind == OutputType::Image && reference.digest().is_some() {
            return Err(format!(
                "name={name:?}: the store names an image by tag, not by digest"
            ));
        }
    }
    Ok(())
}

/// The layer compression named by `compression=`.
fn compression(c: &str) -> std::result::Result<LayerCompression, String> {
    match c {
        "gzip" => Ok(LayerCompression::Gzip),
        "zstd" => Ok(LayerCompression::Zstd),
        "uncompressed" => Ok(LayerCompression::Uncompressed),
        "estargz" => Err("compression=estargz is not supported".into()),
        other => Err(format!(
            "unknown compression {other:?}; expected gzip, zstd or uncompressed"
        )),
    }
}

/// The `compression-level=` value, checked against the range of the spec's `compression=`
/// (without one, against the widest; the build checks it against the compression the
/// outputs choose).
fn compression_level(
    level: &str,
    compression: Option<LayerCompression>,
) -> std::result::Result<u32, String> {
    let n: u32 = level
        .parse()
        .map_err(|_| format!("compression-level={level:?}: expected a number"))?;
    let max = match compression {
        None | Some(LayerCompression::Zstd) => 22,
        Some(LayerCompression::Gzip) => 9,
        Some(LayerCompression::Uncompressed) => {
            return Err("compression-level= has no effect with compression=uncompressed".into())
        }
    };
    if n > max {
        return Err(format!("compression-level={n} is out of range 0-{max}"));
    }
    Ok(n)
}

/// One CSV record with Go `encoding/csv` rules: fields split on `,`; a field that starts with
/// `"` is quoted, `""` inside it is a literal quote.
fn csv_fields(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("extraneous or missing \" in quoted field".into()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => match chars.next() {
                        None | Some(',') => {
                            fields.push(field);
                            if chars.peek().is_none() && s.ends_with(',') {
                                fields.push(String::new());
                            }
                            break;
                        }
                        Some(_) => return Err("extraneous or missing \" in quoted field".into()),
                    },
                    Some(c) => field.push(c),
                }
            }
            if chars.peek().is_none() {
                return Ok(fields);
            }
            continue;
        }
        loop {
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => {
                    fields.push(field);
                    break;
                }
                Some('"') => return Err("bare \" in non-quoted field".into()),
                Some(c) => field.push(c),
            }
        }
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
