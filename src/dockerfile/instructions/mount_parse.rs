//! The second pass over a `RUN --mount` spec: every value expanded, then each key checked
//! and the combination validated, with BuildKit's messages (`parseMount`).

use super::csv::csv_fields;
use super::expand::Expander;
use super::mount::{Mount, MountType, ShareMode};
use super::suggest;

const ALL_TYPES: [&str; 5] = ["bind", "cache", "tmpfs", "secret", "ssh"];

const ALL_SHARING: [&str; 3] = ["shared", "private", "locked"];

const ALL_KEYS: [&str; 19] = [
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "destination",
    "ro",
    "rw",
    "readwrite",
    "env",
];

fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid value for {key}: {value}")),
    }
}

fn parse_u32(value: &str, radix: u32) -> Option<u32> {
    if value.is_empty() || !value.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(value, radix).ok()
}

fn unexpected_for_type(key: &str, kind: MountType) -> String {
    format!("unexpected key '{key}' for mount type '{}'", kind.as_str())
}

/// Parses one `RUN --mount` spec, expanding every value with `ex` (BuildKit's `parseMount`).
pub(crate) fn parse_mount(raw: &str, ex: &mut dyn Expander) -> Result<Mount, String> {
    let fields = csv_fields(raw).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
    let mut spec = MountSpec {
        m: Mount::default(),
        ro_auto: true,
    };
    for field in &fields {
        match field.split_once('=') {
            Some((k, v)) => {
                let key = k.to_lowercase();
                let value = ex.word(v)?;
                spec.key(&key, value, field)?;
            }
            None => spec.bare(field)?,
        }
    }
    validate(&mut spec.m, spec.ro_auto)?;
    Ok(spec.m)
}

/// A mount being parsed, field by field.
struct MountSpec {
    m: Mount,
    /// No field set read-only or read-write: the type's default applies.
    ro_auto: bool,
}

impl MountSpec {
    /// A field without `=`: `readonly`/`ro`, `readwrite`/`rw` or `required`.
    fn bare(&mut self, field: &str) -> Result<(), String> {
        match field.to_lowercase().as_str() {
            "readonly" | "ro" => self.m.read_only = true,
            "readwrite" | "rw" => self.m.read_only = false,
            "required" => {
                if !matches!(self.m.kind, MountType::Secret | MountType::Ssh) {
                    return Err(unexpected_for_type("required", self.m.kind));
                }
                self.m.required = true;
                return Ok(());
            }
            _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
        }
        self.ro_auto = false;
        Ok(())
    }

    /// A `key=value` field (`key` lower-cased, `value` expanded; `field` as written).
    fn key(&mut self, key: &str, value: String, field: &str) -> Result<(), String> {
        let m = &mut self.m;
        match key {
            "type" => m.kind = mount_type(&value)?,
            "from" => m.from = non_empty(value),
            "source" | "src" => m.source = non_empty(value),
            "target" | "dst" | "destination" => m.target = non_empty(value),
            "readonly" | "ro" => {
                m.read_only = parse_bool(key, &value)?;
                self.ro_auto = false;
            }
            "readwrite" | "rw" => {
                m.read_only = !parse_bool(key, &value)?;
                self.ro_auto = false;
            }
            "required" => {
                if !matches!(m.kind, MountType::Secret | MountType::Ssh) {
                    return Err(unexpected_for_type(key, m.kind));
                }
                m.required = parse_bool(key, &value)?;
            }
            "size" => {
                if m.kind != MountType::Tmpfs {
                    return Err(unexpected_for_type(key, m.kind));
                }
                let size = ram_in_bytes(&value)
                    .ok_or_else(|| format!("invalid value for {key}: {value}"))?;
                m.size_limit = (size > 0).then_some(size);
            }
            "id" => m.id = non_empty(value),
            "sharing" => m.sharing = Some(share_mode(&value)?),
            "mode" => m.mode = Some(number(&value, 8, "mode")?),
            "uid" => m.uid = Some(number(&value, 10, "uid")?),
            "gid" => m.gid = Some(number(&value, 10, "gid")?),
            "env" => m.env = Some(value),
            _ => {
                return Err(suggest::with_hint(
                    format!("unexpected key '{key}' in '{field}'"),
                    key,
                    &ALL_KEYS,
                    true,
                ))
            }
        }
        Ok(())
    }
}

/// The mount type named by `type=` (any case), with a hint when it is unknown.
fn mount_type(value: &str) -> Result<MountType, String> {
    MountType::parse(&value.to_lowercase()).ok_or_else(|| {
        suggest::with_hint(
            format!("unsupported mount type {value:?}"),
            value,
            &ALL_TYPES,
            true,
        )
    })
}

/// The sharing mode named by `sharing=` (any case), with a hint when it is unknown.
fn share_mode(value: &str) -> Result<ShareMode, String> {
    ShareMode::parse(&value.to_lowercase()).ok_or_else(|| {
        suggest::with_hint(
            format!("unsupported sharing value {value:?}"),
            value,
            &ALL_SHARING,
            true,
        )
    })
}

/// The number `value` of key `name` in base `radix`.
fn number(value: &str, radix: u32, name: &str) -> Result<u32, String> {
    parse_u32(value, radix).ok_or_else(|| format!("invalid value {value} for {name}"))
}

fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

fn validate(m: &mut Mount, ro_auto: bool) -> Result<(), String> {
    if !m.kind.takes_file_info() {
        let kind = m.kind.as_str();
        if m.mode.is_some() {
            return Err(format!("mode not allowed for {kind:?} type mounts"));
        }
        if m.uid.is_some() {
            return Err(format!("uid not allowed for {kind:?} type mounts"));
        }
        if m.gid.is_some() {
            return Err(format!("gid not allowed for {kind:?} type mounts"));
        }
    }
    if ro_auto {
        m.read_only = !matches!(m.kind, MountType::Cache | MountType::Tmpfs);
    }
    if m.kind == MountType::Secret {
        if m.from.is_some() {
            return Err("secret mount should not have a from".to_string());
        }
        if m.sharing.is_some() {
            return Err("secret mount should not define sharing".to_string());
        }
        if m.source.is_none() && m.target.is_none() && m.id.is_none() {
            return Err("invalid secret mount. one of source, target required".to_string());
        }
        if m.source.is_some() && m.id.is_some() {
            return Err("both source and id can't be set".to_string());
        }
    }
    if m.sharing.is_some() && m.kind != MountType::Cache {
        return Err(format!(
            "invalid cache sharing set for {} mount",
            m.kind.as_str()
        ));
    }
    Ok(())
}

/// go-units `RAMInBytes`: `<number>[ ][kmgtp][i][b]`, binary multiples, case-insensitive.
pub fn ram_in_bytes(s: &str) -> Option<u64> {
    let num_end = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
        .map_or(s.len(), |(i, _)| i);
    let (num, rest) = s.split_at(num_end);
    if num.is_empty()
        || !num.starts_with(|c: char| c.is_ascii_digit())
        || num.ends_with('.')
        || num.contains("..")
    {
        return None;
    }
    let value: f64 = num.parse().ok()?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest).to_lowercase();
    let mut chars = rest.chars().peekable();
    let mult: f64 = match chars.peek() {
        Some('k') => 1024f64,
        Some('m') => 1024f64.powi(2),
        Some('g') => 1024f64.powi(3),
        Some('t') => 1024f64.powi(4),
        Some('p') => 1024f64.powi(5),
        _ => 1.0,
    };
    if mult > 1.0 {
        chars.next();
    }
    if chars.peek() == Some(&'i') {
        chars.next();
    }
    if chars.peek() == Some(&'b') {
        chars.next();
    }
    if chars.next().is_some() {
        return None;
    }
    Some((value * mult) as u64)
}
