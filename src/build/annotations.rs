//! `--annotation [TYPE[,TYPE][\[PLATFORM\]]:]KEY=VALUE`, as buildx takes it: OCI annotations
//! on the image manifests (`manifest`, the default; `manifest[linux/arm64]` for one
//! platform's) and on the index of a multi-platform build (`index`). The descriptor levels
//! (`manifest-descriptor`, `index-descriptor`) are refused. A build that does not make the
//! component an annotation names fails before any work, as BuildKit's does: `index` needs
//! several platforms, and a manifest annotation needs OCI media types (a `type=docker`
//! output or `oci-mediatypes=false` writes Docker ones, which carry none).

use std::collections::HashMap;

use crate::domain::Platform;
use crate::error::{Error, Result};
use crate::export::spec::OutputType;
use crate::image::ManifestFormat;

/// The parsed `--annotation` values of a build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    /// Manifest annotations, with the platform they are for (`None`: every one).
    pub manifest: Vec<(Option<Platform>, String, String)>,
    /// Index annotations.
    pub index: Vec<(String, String)>,
}

impl Annotations {
    /// Parse the `--annotation` values (platforms of `manifest[...]` read against `host`).
    pub fn parse(values: &[String], host: &Platform) -> std::result::Result<Annotations, String> {
        let mut out = Annotations::default();
        for value in values {
            out.add(value, host)
                .map_err(|why| format!("invalid --annotation {value:?}: {why}"))?;
        }
        Ok(out)
    }

    fn add(&mut self, value: &str, host: &Platform) -> std::result::Result<(), String> {
        // A type list goes before the first `:` only when the part before it names types
        // (`index,manifest:`); a key may itself hold colons (`org.example:x=1` has none
        // before its `=`... but a plain `k=v:w` must stay a key and value).
        let (types, pair) = match value.split_once(':') {
            Some((t, rest)) if !t.contains('=') => (t, rest),
            _ => ("manifest", value),
        };
        let (key, val) = pair
            .split_once('=')
            .ok_or_else(|| "expected [TYPE:]KEY=VALUE".to_string())?;
        if key.is_empty() {
            return Err("the key is empty".into());
        }
        for kind in split_types(types) {
            let (name, platform) = match kind.split_once('[') {
                Some((n, p)) => {
                    let p = p
                        .strip_suffix(']')
                        .ok_or_else(|| format!("{kind:?}: a platform ends with ]"))?;
                    (n, Some(Platform::parse(p, host)?))
                }
                None => (kind, None),
            };
            match (name, platform) {
                ("manifest", p) => self.manifest.push((p, key.into(), val.into())),
                ("index", None) => self.index.push((key.into(), val.into())),
                ("index", Some(_)) => return Err("an index is not per platform".into()),
                ("manifest-descriptor" | "index-descriptor", _) => {
                    return Err(format!("{name} annotations are not supported; use manifest or index"))
                }
                (other, _) => {
                    return Err(format!(
                        "unknown type {other:?}: manifest, index, manifest-descriptor or index-descriptor"
                    ))
                }
            }
        }
        Ok(())
    }

    /// The manifest annotations for `platform`'s image (`None`: none).
    pub fn for_manifest(&self, platform: &Platform) -> Option<HashMap<String, String>> {
        let map: HashMap<String, String> = (self.manifest.iter())
            .filter(|(p, _, _)| p.as_ref().map_or(true, |p| p == platform))
            .map(|(_, k, v)| (k.clone(), v.clone()))
            .collect();
        (!map.is_empty()).then_some(map)
    }

    /// The index annotations (`None`: none).
    pub fn for_index(&self) -> Option<HashMap<String, String>> {
        let map: HashMap<String, String> = self.index.iter().cloned().collect();
        (!map.is_empty()).then_some(map)
    }

    /// Refuse, before any work, annotations the build's outputs cannot carry: `index`
    /// ones without several platforms, manifest ones with an output of Docker media types.
    pub fn check(
        &self,
        platforms: usize,
        outputs: &[crate::export::spec::OutputSpec],
    ) -> Result<()> {
        if !self.index.is_empty() && platforms < 2 {
            return Err(Error::Usage(
                "index annotations need an index, which a build for one platform does not \
                 make: build for several (--platform a,b) or annotate the manifest"
                    .into(),
            ));
        }
        let docker = outputs.iter().find(|s| {
            s.kind != OutputType::Local
                && s.kind != OutputType::Tar
                && s.kind != OutputType::Cacheonly
                && s.manifest_format() == ManifestFormat::Docker
        });
        if let (false, Some(spec)) = (self.manifest.is_empty(), docker) {
            return Err(Error::Usage(format!(
                "manifest annotations need OCI media types, and the type={} output writes \
                 Docker ones: use type=oci or oci-mediatypes=true",
                spec.kind
            )));
        }
        Ok(())
    }
}

/// `index,manifest[linux/arm64]` split at the commas outside brackets.
fn split_types(types: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    for (i, c) in types.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&types[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&types[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Platform {
        Platform::linux_from_rust_arch("x86_64")
    }

    #[test]
    fn buildx_syntax_is_read() {
        let a = Annotations::parse(
            &[
                "org.opencontainers.image.title=App".into(),
                "index,manifest:vendor=acme".into(),
                "manifest[linux/arm64]:url=https://e.com/arm".into(),
                "k=v:w".into(),
            ],
            &host(),
        )
        .unwrap();
        assert_eq!(a.index, vec![("vendor".to_string(), "acme".to_string())]);
        let amd = a
            .for_manifest(&Platform::parse("linux/amd64", &host()).unwrap())
            .unwrap();
        assert_eq!(
            amd.get("org.opencontainers.image.title")
                .map(String::as_str),
            Some("App")
        );
        assert_eq!(amd.get("vendor").map(String::as_str), Some("acme"));
        assert_eq!(amd.get("k").map(String::as_str), Some("v:w"));
        assert!(!amd.contains_key("url"));
        let arm = a
            .for_manifest(&Platform::parse("linux/arm64", &host()).unwrap())
            .unwrap();
        assert_eq!(
            arm.get("url").map(String::as_str),
            Some("https://e.com/arm")
        );
    }

    #[test]
    fn what_cannot_be_made_is_refused() {
        for (value, why) in [
            ("novalue", "expected [TYPE:]KEY=VALUE"),
            ("manifest-descriptor:a=b", "not supported"),
            ("layer:a=b", "unknown type"),
            ("index[linux/amd64]:a=b", "not per platform"),
            ("=b", "the key is empty"),
        ] {
            let e = Annotations::parse(&[value.into()], &host()).unwrap_err();
            assert!(e.contains(why), "{value}: {e}");
        }
        let index = Annotations::parse(&["index:a=b".into()], &host()).unwrap();
        assert!(index.check(1, &[]).is_err());
        assert!(index.check(2, &[]).is_ok());
        let docker = crate::export::spec::OutputSpec::parse("type=docker,dest=x.tar").unwrap();
        let manifest = Annotations::parse(&["a=b".into()], &host()).unwrap();
        let e = manifest.check(1, &[docker]).unwrap_err().to_string();
        assert!(e.contains("oci-mediatypes=true"), "{e}");
    }
}
