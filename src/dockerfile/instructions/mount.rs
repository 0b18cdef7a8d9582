//! `RUN --mount=...` specs: CSV `key=value` fields parsed into a typed [`Mount`], with
//! BuildKit's keys, defaults and validation (`commands_runmount.go`).
//!
//! Parsing happens in two passes, as in BuildKit. At parse time ([`MountSpec::first_pass`])
//! only the CSV syntax is checked and `from=` is read, because `from` may not contain
//! variables (the stage graph must be known before any expansion). Everything else waits
//! until dispatch, when the values are expanded and the spec is parsed for real
//! ([`MountSpec::resolve`]). So `type=$T` is valid at parse time.

use super::common::{base_name, clean_path};
use super::expand::Expander;
use super::suggest;

/// Kind of a RUN mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountType {
    /// Bind a directory of the context, a stage or an image (read-only by default).
    Bind,
    /// A persistent cache directory, kept between builds and never in the image.
    Cache,
    /// A fresh tmpfs.
    Tmpfs,
    /// A build secret, as a file or an environment variable.
    Secret,
    /// A forwarded SSH agent socket.
    Ssh,
}

impl MountType {
    /// The lower-case name used in Dockerfiles.
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Cache => "cache",
            MountType::Tmpfs => "tmpfs",
            MountType::Secret => "secret",
            MountType::Ssh => "ssh",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "bind" => MountType::Bind,
            "cache" => MountType::Cache,
            "tmpfs" => MountType::Tmpfs,
            "secret" => MountType::Secret,
            "ssh" => MountType::Ssh,
            _ => return None,
        })
    }

    /// Whether `mode`, `uid` and `gid` are allowed.
    fn takes_file_info(self) -> bool {
        matches!(self, MountType::Secret | MountType::Ssh | MountType::Cache)
    }
}

const ALL_TYPES: [&str; 5] = ["bind", "cache", "tmpfs", "secret", "ssh"];

/// How concurrent builds share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareMode {
    /// Concurrent writers use the same directory (the default).
    Shared,
    /// A busy cache makes a new directory.
    Private,
    /// A second writer waits for the first.
    Locked,
}

impl ShareMode {
    /// The lower-case name used in Dockerfiles.
    pub fn as_str(self) -> &'static str {
        match self {
            ShareMode::Shared => "shared",
            ShareMode::Private => "private",
            ShareMode::Locked => "locked",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "shared" => ShareMode::Shared,
            "private" => ShareMode::Private,
            "locked" => ShareMode::Locked,
            _ => return None,
        })
    }
}

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

/// One `--mount` flag as written, with what parse time may know of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// The flag value as written (`type=cache,target=/root/.cache`), not expanded.
    pub raw: String,
    /// `from=` as written (no variables allowed), for the stage graph. The mount type is not
    /// known before expansion, so this is set for any type.
    pub from: Option<String>,
    /// The typed mount, filled by [`super::RunCommand::expand`] (or [`MountSpec::resolve`]).
    pub resolved: Option<Mount>,
}

/// A RUN mount, fully parsed and validated. Empty values are `None` (BuildKit treats an empty
/// value as unset everywhere, except `env`, where an empty name means "use the default").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `type=` (default bind).
    pub kind: MountType,
    /// `from=`: a stage, context or image to mount from.
    pub from: Option<String>,
    /// `source=` / `src=`: a path in `from`, or a secret's id.
    pub source: Option<String>,
    /// `target=` / `dst=` / `destination=`: where it is mounted (relative to WORKDIR).
    pub target: Option<String>,
    /// Read-only. Defaults to false for cache and tmpfs, true otherwise.
    pub read_only: bool,
    /// `size=` of a tmpfs, in bytes (`None`: unlimited).
    pub size_limit: Option<u64>,
    /// `id=`: cache id, secret id or ssh id.
    pub id: Option<String>,
    /// `sharing=` of a cache mount (`None`: shared).
    pub sharing: Option<ShareMode>,
    /// `required`: fail when the secret or ssh key is missing.
    pub required: bool,
    /// `env=`: expose a secret as this environment variable (`Some("")`: named after the id).
    pub env: Option<String>,
    /// `mode=` in octal, for cache, secret and ssh mounts.
    pub mode: Option<u32>,
    /// `uid=`, for cache, secret and ssh mounts.
    pub uid: Option<u32>,
    /// `gid=`, for cache, secret and ssh mounts.
    pub gid: Option<u32>,
}

impl Default for Mount {
    fn default() -> Self {
        Mount {
            kind: MountType::Bind,
            from: None,
            source: None,
            target: None,
            read_only: false,
            size_limit: None,
            id: None,
            sharing: None,
            required: false,
            env: None,
            mode: None,
            uid: None,
            gid: None,
        }
    }
}

impl Mount {
    /// Sharing mode of a cache mount, `shared` when not given.
    pub fn sharing_or_default(&self) -> ShareMode {
        self.sharing.unwrap_or(ShareMode::Shared)
    }

    /// Cache id: `id=`, else the target cleaned (`path.Clean`), as BuildKit keys caches.
    pub fn cache_id(&self) -> String {
        match &self.id {
            Some(id) => id.clone(),
            None => clean_path(self.target.as_deref().unwrap_or("")),
        }
    }

    /// Secret id: `source=`, else `id=`, else the target's base name (`None` if none of them).
    pub fn secret_id(&self) -> Option<String> {
        self.source
            .clone()
            .or_else(|| self.id.clone())
            .or_else(|| self.target.as_deref().map(base_name))
    }

    /// Secret file path: the target, else `/run/secrets/<id>` unless the secret only goes to
    /// an environment variable.
    pub fn secret_target(&self) -> Option<String> {
        if let Some(t) = &self.target {
            return Some(t.clone());
        }
        if self.env.is_some() {
            return None;
        }
        self.secret_id()
            .map(|id| format!("/run/secrets/{}", base_name(&id)))
    }

    /// Secret or socket file mode: `mode=`, else 0400 for secrets, 0600 for ssh, 0755 for caches.
    pub fn mode_or_default(&self) -> u32 {
        self.mode.unwrap_or(match self.kind {
            MountType::Secret => 0o400,
            MountType::Ssh => 0o600,
            _ => 0o755,
        })
    }

    /// SSH agent id: `id=`, else `default`.
    pub fn ssh_id(&self) -> String {
        self.id.clone().unwrap_or_else(|| "default".to_string())
    }
}

impl MountSpec {
    /// Parse-time check of one `--mount` value: CSV syntax, and `from=` without variables.
    pub fn first_pass(raw: &str) -> Result<MountSpec, String> {
        let fields = csv_fields(raw).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
        let mut from = None;
        for field in &fields {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            if key.to_lowercase() != "from" {
                continue;
            }
            if let Some(idx) = value.find('$') {
                if idx != value.len() - 1 {
                    return Err(
                        "'from' doesn't support variable expansion, define alias stage instead"
                            .to_string(),
                    );
                }
            }
            from = (!value.is_empty()).then(|| value.to_string());
        }
        Ok(MountSpec {
            raw: raw.to_string(),
            from,
            resolved: None,
        })
    }

    /// Expand every value with `ex`, then parse and validate the mount.
    pub fn resolve(&self, ex: &mut dyn Expander) -> Result<Mount, String> {
        parse_mount(&self.raw, ex)
    }

    /// Parse the mount with its values as written (no expansion).
    pub fn resolve_literal(&self) -> Result<Mount, String> {
        self.resolve(&mut super::expand::LiteralExpander)
    }
}

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

fn parse_mount(raw: &str, ex: &mut dyn Expander) -> Result<Mount, String> {
    let fields = csv_fields(raw).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
    let mut m = Mount::default();
    let mut ro_auto = true;
    for field in &fields {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_lowercase(), v),
            None => {
                match field.to_lowercase().as_str() {
                    "readonly" | "ro" => m.read_only = true,
                    "readwrite" | "rw" => m.read_only = false,
                    "required" => {
                        if !matches!(m.kind, MountType::Secret | MountType::Ssh) {
                            return Err(unexpected_for_type("required", m.kind));
                        }
                        m.required = true;
                        continue;
                    }
                    _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
                }
                ro_auto = false;
                continue;
            }
        };
        let value = ex.word(value)?;
        match key.as_str() {
            "type" => {
                m.kind = MountType::parse(&value.to_lowercase()).ok_or_else(|| {
                    suggest::with_hint(
                        format!("unsupported mount type {value:?}"),
                        &value,
                        &ALL_TYPES,
                        true,
                    )
                })?;
            }
            "from" => m.from = non_empty(value),
            "source" | "src" => m.source = non_empty(value),
            "target" | "dst" | "destination" => m.target = non_empty(value),
            "readonly" | "ro" => {
                m.read_only = parse_bool(&key, &value)?;
                ro_auto = false;
            }
            "readwrite" | "rw" => {
                m.read_only = !parse_bool(&key, &value)?;
                ro_auto = false;
            }
            "required" => {
                if !matches!(m.kind, MountType::Secret | MountType::Ssh) {
                    return Err(unexpected_for_type(&key, m.kind));
                }
                m.required = parse_bool(&key, &value)?;
            }
            "size" => {
                if m.kind != MountType::Tmpfs {
                    return Err(unexpected_for_type(&key, m.kind));
                }
                let size = ram_in_bytes(&value)
                    .ok_or_else(|| format!("invalid value for {key}: {value}"))?;
                m.size_limit = (size > 0).then_some(size);
            }
            "id" => m.id = non_empty(value),
            "sharing" => {
                let mode = ShareMode::parse(&value.to_lowercase()).ok_or_else(|| {
                    suggest::with_hint(
                        format!("unsupported sharing value {value:?}"),
                        &value,
                        &ALL_SHARING,
                        true,
                    )
                })?;
                m.sharing = Some(mode);
            }
            "mode" => {
                m.mode = Some(
                    parse_u32(&value, 8)
                        .ok_or_else(|| format!("invalid value {value} for mode"))?,
                );
            }
            "uid" => {
                m.uid = Some(
                    parse_u32(&value, 10)
                        .ok_or_else(|| format!("invalid value {value} for uid"))?,
                );
            }
            "gid" => {
                m.gid = Some(
                    parse_u32(&value, 10)
                        .ok_or_else(|| format!("invalid value {value} for gid"))?,
                );
            }
            "env" => m.env = Some(value),
            _ => {
                return Err(suggest::with_hint(
                    format!("unexpected key '{key}' in '{field}'"),
                    &key,
                    &ALL_KEYS,
                    true,
                ))
            }
        }
    }
    validate(&mut m, ro_auto)?;
    Ok(m)
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
fn ram_in_bytes(s: &str) -> Option<u64> {
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

/// One CSV record (Go `encoding/csv` rules): fields split on `,`; a field that starts with
/// `"` is quoted, with `""` for a literal quote.
pub(crate) fn csv_fields(s: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    if s.is_empty() {
        return Ok(fields);
    }
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    loop {
        let mut field = String::new();
        if chars.get(i) == Some(&'"') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(format!(
                            "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                            i + 1
                        ))
                    }
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        field.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        match chars.get(i) {
                            None | Some(',') => break,
                            Some(_) => {
                                return Err(format!(
                                    "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                                    i + 1
                                ))
                            }
                        }
                    }
                    Some(c) => {
                        field.push(*c);
                        i += 1;
                    }
                }
            }
        } else {
            while let Some(c) = chars.get(i) {
                match c {
                    ',' => break,
                    '"' => {
                        return Err(format!(
                            "parse error on line 1, column {}: bare \" in non-quoted-field",
                            i + 1
                        ))
                    }
                    c => field.push(*c),
                }
                i += 1;
            }
        }
        fields.push(field);
        if chars.get(i) == Some(&',') {
            i += 1;
        } else {
            return Ok(fields);
        }
    }
}

#[cfg(test)]
#[path = "mount_tests.rs"]
mod tests;
