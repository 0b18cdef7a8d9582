//! Cache keys of steps: sha256 over an explicit, versioned encoding of an ordered list of
//! named inputs ([`KeyInputs`]), never `std::hash::Hash`.
//!
//! Encoding (`builder-cache-v1`): the version string, then for every input that takes part
//! in the key, its name and its value, each as an 8-byte big-endian length followed by the
//! bytes. The same list, with short digests of the values and the per-file digests of
//! sources, is kept to explain a later miss ([`super::explain`]); inputs marked
//! explain-only (a stage's base, which the parent chain id already covers) are left out of
//! the key.
//!
//! Changing what a value holds or how it is written must change [`KEY_VERSION`]: a test
//! pins one key's hex so an accidental change is noticed.

use oci_spec::image::Digest;

use crate::store::digest::Sha256;

/// The version string every key starts with.
pub const KEY_VERSION: &str = "builder-cache-v1";

/// How many hex digits of a digest explanations keep.
pub const SHORT: usize = 12;

/// One named input of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The input's name (`parent`, `instruction`, `build arg VERSION`, `sources`, ...).
    pub name: String,
    /// Its value, as encoded in the key.
    pub value: String,
    /// Whether it takes part in the key (false: kept only to explain a miss).
    pub keyed: bool,
    /// How a miss names it (`COPY src/` for the sources of `COPY src/ /app/`).
    pub label: Option<String>,
    /// For sources: every selected file and its content digest.
    pub files: Option<Vec<(String, Digest)>>,
}

impl Input {
    /// A short form of the value for explanations: a digest's first hex digits, else the
    /// first hex digits of the value's sha256.
    pub fn short(&self) -> String {
        short_value(&self.value)
    }
}

/// `value`'s short form (see [`Input::short`]).
pub fn short_value(value: &str) -> String {
    let hex = match value.strip_prefix("sha256:") {
        Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            hex.to_string()
        }
        _ => crate::store::digest::sha256(value.as_bytes())
            .digest()
            .to_string(),
    };
    hex.chars().take(SHORT).collect()
}

/// A digest's short form for explanations.
pub fn short_digest(digest: &Digest) -> String {
    digest.digest().chars().take(SHORT).collect()
}

/// The ordered inputs of one step.
///
/// ```
/// use builder::cache::KeyInputs;
/// let mut k = KeyInputs::new();
/// k.push("parent", "sha256:...").push("instruction", "RUN\nargs=[\"true\"]");
/// let a = k.key();
/// assert_eq!(a, k.key());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyInputs {
    inputs: Vec<Input>,
}

impl KeyInputs {
    /// No inputs yet.
    pub fn new() -> KeyInputs {
        KeyInputs::default()
    }

    /// Add an input that takes part in the key.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.inputs.push(Input {
            name: name.into(),
            value: value.into(),
            keyed: true,
            label: None,
            files: None,
        });
        self
    }

    /// Add an input kept only to explain a miss.
    pub fn explain_only(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.inputs.push(Input {
            name: name.into(),
            value: value.into(),
            keyed: false,
            label: None,
            files: None,
        });
        self
    }

    /// Add a sources input: `value` (a content digest, or the chain id of a stage) in the
    /// key, `files` (per-file digests, when known) and `label` for explanations.
    pub fn sources(
        &mut self,
        name: impl Into<String>,
        label: impl Into<String>,
        value: impl Into<String>,
        files: Option<Vec<(String, Digest)>>,
    ) -> &mut Self {
        self.inputs.push(Input {
            name: name.into(),
            value: value.into(),
            keyed: true,
            label: Some(label.into()),
            files,
        });
        self
    }

    /// The inputs, in order.
    pub fn inputs(&self) -> &[Input] {
        &self.inputs
    }

    /// The cache key: sha256 of the versioned encoding of the keyed inputs.
    pub fn key(&self) -> Digest {
        let mut h = Sha256::new();
        put(&mut h, KEY_VERSION.as_bytes());
        for input in self.inputs.iter().filter(|i| i.keyed) {
            put(&mut h, input.name.as_bytes());
            put(&mut h, input.value.as_bytes());
        }
        h.finish()
    }
}

/// One length-prefixed field.
fn put(h: &mut Sha256, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::digest::sha256;

    fn sample() -> KeyInputs {
        let mut k = KeyInputs::new();
        k.explain_only("base", "sha256:0000")
            .push("parent", "sha256:1111")
            .push("instruction", "COPY\nsources=[\"a\"]")
            .push("build arg V", "1")
            .push("platform", "linux/amd64");
        k
    }

    #[test]
    fn a_key_is_pinned_so_encoding_changes_are_noticed() {
        // Also computed independently: python3 hashlib over the same length-prefixed fields.
        assert_eq!(
            sample().key().to_string(),
            "sha256:abe0399bd3650f9d7da6d3a2d306cdf1816515626cdaad1ce16d5005782ec0e7"
        );
    }

    #[test]
    fn keys_are_stable_and_order_sensitive() {
        assert_eq!(sample().key(), sample().key());
        let mut swapped = KeyInputs::new();
        swapped
            .explain_only("base", "sha256:0000")
            .push("instruction", "COPY\nsources=[\"a\"]")
            .push("parent", "sha256:1111")
            .push("build arg V", "1")
            .push("platform", "linux/amd64");
        assert_ne!(swapped.key(), sample().key());
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        let mut a = KeyInputs::new();
        a.push("ab", "c");
        let mut b = KeyInputs::new();
        b.push("a", "bc");
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn explain_only_inputs_stay_out_of_the_key() {
        let mut other = sample();
        other.inputs[0].value = "sha256:9999".into();
        assert_eq!(other.key(), sample().key());
        let mut changed = sample();
        changed.inputs[3].value = "2".into();
        assert_ne!(changed.key(), sample().key());
    }

    #[test]
    fn short_forms_keep_digests_readable() {
        let d = sha256(b"x");
        assert_eq!(short_value(d.as_ref()), d.digest()[..SHORT]);
        assert_eq!(short_digest(&d), d.digest()[..SHORT]);
        assert_eq!(short_value("linux/amd64").len(), SHORT);
        let mut k = KeyInputs::new();
        k.sources(
            "sources",
            "COPY a",
            d.to_string(),
            Some(vec![("a".into(), d.clone())]),
        );
        assert_eq!(k.inputs()[0].short(), d.digest()[..SHORT]);
        assert_eq!(k.inputs()[0].label.as_deref(), Some("COPY a"));
    }
}
