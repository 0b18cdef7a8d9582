//! JSON exactly as Go's `encoding/json` writes it, so the configs and manifests we produce are
//! byte-identical to BuildKit's for the same content: `<`, `>`, `&`, U+2028 and U+2029 inside
//! strings are escaped as `\u003c` and friends, and key order is what the serde structs (and
//! their BTreeMaps) give. oci-spec keeps annotations in a HashMap, so maps under an
//! `annotations` key are sorted here, as Go sorts every map.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};
use serde_json::Value;

/// A formatter that adds Go's HTML-safe string escaping to `F`.
struct GoEscape<F>(F);

fn write_go_fragment<W: ?Sized + Write>(w: &mut W, fragment: &str) -> io::Result<()> {
    let mut start = 0;
    for (i, c) in fragment.char_indices() {
        let esc = match c {
            '<' => "\\u003c",
            '>' => "\\u003e",
            '&' => "\\u0026",
            '\u{2028}' => "\\u2028",
            '\u{2029}' => "\\u2029",
            _ => continue,
        };
        w.write_all(fragment.as_bytes().get(start..i).unwrap_or_default())?;
        w.write_all(esc.as_bytes())?;
        start = i + c.len_utf8();
    }
    w.write_all(fragment.as_bytes().get(start..).unwrap_or_default())
}

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $name<W: ?Sized + Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> io::Result<()> {
                self.0.$name(w $(, $arg)*)
            }
        )*
    };
}

impl<F: Formatter> Formatter for GoEscape<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_go_fragment(w, fragment)
    }

    delegate! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        end_object_key();
        begin_object_value();
        end_object_value();
    }
}

/// Sort the maps under every `annotations` key (oci-spec keeps them in a HashMap).
fn sort_annotations(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == "annotations" {
                    if let Value::Object(ann) = child {
                        let mut entries: Vec<(String, Value)> =
                            std::mem::take(ann).into_iter().collect();
                        entries.sort_by(|a, b| a.0.cmp(&b.0));
                        ann.extend(entries);
                    }
                } else {
                    sort_annotations(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sort_annotations),
        _ => {}
    }
}

fn encode<T: Serialize + ?Sized, F: Formatter>(value: &T, formatter: F) -> Vec<u8> {
    let mut out = Vec::new();
    // Serialising to a Value and then to a Vec cannot fail for our types (string keys only);
    // an empty result would fail every digest check downstream rather than pass silently.
    if let Ok(mut v) = serde_json::to_value(value) {
        sort_annotations(&mut v);
        let mut ser = serde_json::Serializer::with_formatter(&mut out, GoEscape(formatter));
        if v.serialize(&mut ser).is_err() {
            out.clear();
        }
    }
    out
}

/// Compact JSON as Go's `json.Marshal` writes it.
pub fn to_vec(value: &(impl Serialize + ?Sized)) -> Vec<u8> {
    encode(value, CompactFormatter)
}

/// Indented JSON as Go's `json.MarshalIndent(v, "", indent)` writes it (BuildKit indents
/// manifests with three spaces).
pub fn to_vec_indent(value: &(impl Serialize + ?Sized), indent: &str) -> Vec<u8> {
    encode(value, PrettyFormatter::with_indent(indent.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_like_go() {
        let v = json!({"a": "x && <y> \u{2028} é \" \n"});
        assert_eq!(
            String::from_utf8(to_vec(&v)).unwrap(),
            r#"{"a":"x \u0026\u0026 \u003cy\u003e \u2028 é \" \n"}"#
        );
    }

    #[test]
    fn sorts_annotations_only_and_indents_like_go() {
        let v = json!({"z": 1, "annotations": {"b": "2", "a": "1"}, "list": [{"annotations": {"y": "", "x": ""}}], "e": []});
        assert_eq!(
            String::from_utf8(to_vec(&v)).unwrap(),
            r#"{"z":1,"annotations":{"a":"1","b":"2"},"list":[{"annotations":{"x":"","y":""}}],"e":[]}"#
        );
        assert_eq!(
            String::from_utf8(to_vec_indent(&json!({"a": [1], "b": {}}), "   ")).unwrap(),
            "{\n   \"a\": [\n      1\n   ],\n   \"b\": {}\n}"
        );
    }
}
