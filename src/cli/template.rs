//! The `--format` templates of `images`, `history` and `inspect`: a small hand-written
//! subset of Go's text/template as the Docker CLI uses it. A template is text with actions
//! `{{.Field}}`, `{{.A.B}}`, `{{.}}` and `{{json .Path}}`; a leading `table ` prints a header
//! row and aligns the columns the tabs separate; `\t` and `\n` in the text are a tab and a
//! newline. Values are printed as Go prints them (`[a b]` for a list, `map[k:v]` for a map).
//! Anything else (pipes, functions but `json`, conditionals) is refused with an error.

use serde_json::Value;

/// What a command's `--format` asks for.
#[derive(Debug)]
pub(crate) enum Format {
    /// No `--format`, or an empty one: the command's own output.
    Default,
    /// `--format json`: a JSON object per line.
    Json,
    /// A template (`table` alone is the command's default table template).
    Template(Template),
}

impl Format {
    /// Parse a `--format` value for a command that offers `fields` and whose table is
    /// `default_table`; an unknown field is refused.
    pub fn parse(
        format: Option<&str>,
        fields: &[&str],
        default_table: &str,
    ) -> Result<Self, String> {
        let t = match format.map(str::trim) {
            None | Some("") => return Ok(Format::Default),
            Some("json") => return Ok(Format::Json),
            Some("table") => Template::parse(default_table)?,
            Some(text) => Template::parse(text)?,
        };
        t.check_fields(fields)?;
        Ok(Format::Template(t))
    }
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Literal text.
    Text(String),
    /// A field path (`[]` for `.`), printed Go-style or, with `json`, as compact JSON.
    Field { path: Vec<String>, json: bool },
}

/// A parsed `--format` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
    /// Whether it began with `table `: print a header and align the columns.
    pub table: bool,
}

impl Template {
    /// Parse `text`; `table ` at its start asks for a table.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (table, body) = match text.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
                (true, rest.trim_start())
            }
            _ => (false, text),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let mut pieces = Vec::new();
        let mut rest = body.as_str();
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("template {text:?}: an action is not closed with }}}}"))?;
            pieces.push(parse_action(&after[..end])?);
            rest = &after[end + 2..];
        }
        if rest.contains("}}") {
            return Err(format!("template {text:?}: }}}} without {{{{"));
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template { pieces, table })
    }

    /// The first element of every field path, to check them against what a command offers.
    pub fn fields(&self) -> Vec<&str> {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Field { path, .. } => Some(path.first().map(String::as_str).unwrap_or(".")),
                Piece::Text(_) => None,
            })
            .collect()
    }

    /// Refuse a field whose first element is not in `known`, naming them.
    pub fn check_fields(&self, known: &[&str]) -> Result<(), String> {
        for field in self.fields() {
            if field != "." && !known.contains(&field) {
                return Err(format!(
                    "unknown template field .{field}; known fields: {}",
                    known
                        .iter()
                        .map(|k| format!(".{k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The template applied to `value`.
    pub fn render(&self, value: &Value) -> Result<String, String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Field { path, json } => {
                    let v = lookup(value, path)?;
                    match (v, json) {
                        (Some(v), true) => out.push_str(&v.to_string()),
                        (None, true) => out.push_str("null"),
                        (Some(v), false) => out.push_str(&go_print(v)),
                        (None, false) => out.push_str("<no value>"),
                    }
                }
            }
        }
        Ok(out)
    }

    /// The header row of a table: each field replaced by `header(field)`.
    pub fn header(&self, header: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Field { path, .. } => {
                    out.push_str(&header(path.last().map(String::as_str).unwrap_or(".")))
                }
            }
        }
        out
    }
}

/// Parse the inside of `{{ }}`: `.A.B`, `.` or `json .A.B`.
fn parse_action(action: &str) -> Result<Piece, String> {
    let words: Vec<&str> = action.split_whitespace().collect();
    let (json, path) = match words.as_slice() {
        [path] => (false, *path),
        ["json", path] => (true, *path),
        _ => {
            return Err(format!(
                "unsupported template action {{{{{action}}}}}: only {{{{.Field}}}}, \
                 {{{{.A.B}}}} and {{{{json .Field}}}} are supported"
            ))
        }
    };
    if path == "." {
        return Ok(Piece::Field {
            path: Vec::new(),
            json,
        });
    }
    let Some(rest) = path.strip_prefix('.') else {
        return Err(format!(
            "unsupported template action {{{{{action}}}}}: a field starts with a dot, as .ID"
        ));
    };
    let parts: Vec<String> = rest.split('.').map(str::to_string).collect();
    let valid = |p: &String| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !parts.iter().all(valid) {
        return Err(format!("invalid template field {path:?}"));
    }
    Ok(Piece::Field { path: parts, json })
}

/// Follow `path` into `value`. A missing key of a free-form map (`Labels`, `Annotations`)
/// is `None` (Go prints `<no value>`); a missing field anywhere else is an error.
fn lookup<'a>(value: &'a Value, path: &[String]) -> Result<Option<&'a Value>, String> {
    let mut current = value;
    for (i, key) in path.iter().enumerate() {
        let free_form = i > 0 && matches!(path[i - 1].as_str(), "Labels" | "Annotations");
        match current {
            Value::Object(map) => match map.get(key) {
                Some(v) => current = v,
                None if free_form => return Ok(None),
                None => return Err(format!("unknown template field .{}", path[..=i].join("."))),
            },
            Value::Null if free_form => return Ok(None),
            _ => {
                return Err(format!(
                    "template field .{}: .{} has no fields",
                    path[..=i].join("."),
                    path[..i].join(".")
                ))
            }
        }
    }
    Ok(Some(current))
}

/// A value as Go's fmt prints it in a template: strings bare, lists as `[a b]`, maps as
/// `map[k:v]` with sorted keys, null as `<nil>`.
fn go_print(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(go_print).collect();
            format!("[{}]", inner.join(" "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_print(&map[k.as_str()])))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

/// Align tab-separated `lines` as the Docker CLI's tabwriter does (cells at least 10 wide,
/// 3 spaces of padding; the last cell of a line is not padded).
pub(crate) fn align_table(lines: &[String]) -> String {
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in &rows {
        for (i, cell) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
            widths[i] = widths[i].max((cell.chars().count() + 3).max(10));
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_and_text_render() {
        let t = Template::parse("{{.Repository}}:{{.Tag}} {{ .ID }}").unwrap();
        let v = json!({"Repository": "app", "Tag": "1.0", "ID": "abc"});
        assert_eq!(t.render(&v).unwrap(), "app:1.0 abc");
        assert!(!t.table);
        assert_eq!(t.fields(), vec!["Repository", "Tag", "ID"]);
    }

    #[test]
    fn nested_paths_lists_maps_and_json() {
        let v =
            json!({"Config": {"Env": ["A=1", "B=2"], "Labels": {"b": "2", "a": "1"}, "Cmd": null}});
        let r = |t: &str| Template::parse(t).unwrap().render(&v);
        assert_eq!(r("{{.Config.Env}}").unwrap(), "[A=1 B=2]");
        assert_eq!(r("{{.Config.Labels}}").unwrap(), "map[a:1 b:2]");
        assert_eq!(r("{{.Config.Labels.a}}").unwrap(), "1");
        assert_eq!(r("{{.Config.Labels.zz}}").unwrap(), "<no value>");
        assert_eq!(r("{{.Config.Cmd}}").unwrap(), "<nil>");
        assert_eq!(r("{{json .Config.Env}}").unwrap(), r#"["A=1","B=2"]"#);
        assert!(r("{{.Config.Nope}}").unwrap_err().contains(".Config.Nope"));
        assert!(r("{{.Config.Env.X}}")
            .unwrap_err()
            .contains("has no fields"));
    }

    #[test]
    fn table_prefix_escapes_and_header() {
        let t = Template::parse("table {{.ID}}\\t{{.Size}}").unwrap();
        assert!(t.table);
        assert_eq!(t.header(|f| f.to_uppercase()), "ID\tSIZE");
        let text = align_table(&["ID\tSIZE".into(), "abcdef123456\t1MB".into()]);
        assert_eq!(
            text,
            format!("ID{}SIZE\nabcdef123456   1MB\n", " ".repeat(13))
        );
    }

    #[test]
    fn format_values_choose_the_output() {
        let parse = |f| Format::parse(f, &["ID"], "table {{.ID}}");
        assert!(matches!(parse(None), Ok(Format::Default)));
        assert!(matches!(parse(Some("")), Ok(Format::Default)));
        assert!(matches!(parse(Some("json")), Ok(Format::Json)));
        let Ok(Format::Template(t)) = parse(Some("table")) else {
            panic!("table is a template")
        };
        assert!(t.table && t.fields() == ["ID"]);
        assert!(parse(Some("{{.Size}}")).unwrap_err().contains(".Size"));
    }

    #[test]
    fn unsupported_actions_and_fields_are_refused() {
        for bad in [
            "{{.ID",
            "{{range .Env}}",
            "{{.ID | upper}}",
            "{{ID}}",
            "{{.A..B}}",
            "x}}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
        let t = Template::parse("{{.Nope}}").unwrap();
        let err = t.check_fields(&["ID", "Tag"]).unwrap_err();
        assert!(err.contains(".Nope") && err.contains(".ID, .Tag"), "{err}");
        assert!(Template::parse("{{.}}")
            .unwrap()
            .check_fields(&["ID"])
            .is_ok());
    }
}
