//! OCI image indexes (`index.json` of a layout, multi-platform lists): entries named with
//! `org.opencontainers.image.ref.name` (the tag, as containerd and BuildKit write it) and
//! `io.containerd.image.name` (the full name), and lookup of an entry by either.

use std::collections::HashMap;

use oci_spec::image::{Descriptor, ImageIndex, MediaType};

use crate::store::Reference;

/// The OCI annotation naming an index entry (a tag, in BuildKit's layouts).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd's annotation holding the full image name.
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";

/// The `org.opencontainers.image.ref.name` value for `name`: its tag (`latest`), or the whole
/// name when it has none (containerd's `ociReferenceName`).
pub fn oci_ref_name(name: &Reference) -> String {
    match name.tag() {
        Some(tag) => tag.to_string(),
        None => name.to_string(),
    }
}

/// Index entries for a manifest: one per name, annotated with both names; a single
/// unannotated entry when there are no names.
pub fn index_entries(manifest: &Descriptor, names: &[Reference]) -> Vec<Descriptor> {
    if names.is_empty() {
        return vec![manifest.clone()];
    }
    names
        .iter()
        .map(|name| {
            let mut d = manifest.clone();
            let mut ann: HashMap<String, String> = d.annotations().clone().unwrap_or_default();
            ann.insert(ANNOTATION_IMAGE_NAME.into(), name.to_string());
            ann.insert(ANNOTATION_REF_NAME.into(), oci_ref_name(name));
            d.set_annotations(Some(ann));
            d
        })
        .collect()
}

/// An OCI index over `entries`.
pub fn build_index(entries: Vec<Descriptor>) -> ImageIndex {
    let mut index = ImageIndex::default();
    index.set_media_type(Some(MediaType::ImageIndex));
    index.set_manifests(entries);
    index
}

/// The entry of `index` that `query` names: by `ref.name` (`latest`), by full image name, or
/// by any spelling of that name (`app` for `docker.io/library/app:latest`).
pub fn find_entry<'a>(index: &'a ImageIndex, query: &str) -> Option<&'a Descriptor> {
    let canonical = Reference::parse(query).ok().map(|r| r.to_string());
    let annotation = |d: &'a Descriptor, key: &str| -> Option<&'a String> {
        d.annotations().as_ref().and_then(|a| a.get(key))
    };
    let by_ref = index
        .manifests()
        .iter()
        .find(|d| annotation(d, ANNOTATION_REF_NAME).is_some_and(|v| v == query));
    by_ref.or_else(|| {
        index.manifests().iter().find(|d| {
            annotation(d, ANNOTATION_IMAGE_NAME)
                .is_some_and(|v| v == query || Some(v) == canonical.as_ref())
                || annotation(d, ANNOTATION_REF_NAME).is_some_and(|v| Some(v) == canonical.as_ref())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::manifest::{descriptor_of, index_json};

    #[test]
    fn entries_are_annotated_and_found() {
        let m = descriptor_of(MediaType::ImageManifest, b"m");
        let names = vec![
            Reference::parse("app").unwrap(),
            Reference::parse("localhost:5000/app:v2").unwrap(),
        ];
        let index = build_index(index_entries(&m, &names));
        let text = String::from_utf8(index_json(&index)).unwrap();
        assert!(
            text.contains(r#""annotations":{"io.containerd.image.name":"docker.io/library/app:latest","org.opencontainers.image.ref.name":"latest"}"#),
            "{text}"
        );
        assert!(
            text.starts_with(
                r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json""#
            ),
            "{text}"
        );
        for q in [
            "latest",
            "v2",
            "app",
            "docker.io/library/app:latest",
            "localhost:5000/app:v2",
        ] {
            assert!(find_entry(&index, q).is_some(), "{q}");
        }
        assert!(find_entry(&index, "nope").is_none());
        assert_eq!(build_index(index_entries(&m, &[])).manifests(), &vec![m]);
    }
}
