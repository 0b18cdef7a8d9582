//! One CSV record, as Go's `encoding/csv` reads it: the syntax of `RUN --mount` and
//! `RUN --device` values (`type=bind,"source=a,b",target=/x`).

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
                                    i
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
mod tests {
    use super::*;

    #[test]
    fn fields_and_quoting() {
        assert_eq!(
            csv_fields(r#"type=bind,"source=a,b",target=/x"#).unwrap(),
            ["type=bind", "source=a,b", "target=/x"]
        );
        assert_eq!(csv_fields(r#""a""b",c"#).unwrap(), [r#"a"b"#, "c"]);
        assert_eq!(csv_fields("a,,b").unwrap(), ["a", "", "b"]);
        assert_eq!(csv_fields("a,").unwrap(), ["a", ""]);
        assert_eq!(csv_fields(" a , b").unwrap(), [" a ", " b"]);
        assert!(csv_fields("").unwrap().is_empty());
    }

    #[test]
    fn quote_errors() {
        assert_eq!(
            csv_fields(r#"a"b"#).unwrap_err(),
            "parse error on line 1, column 2: bare \" in non-quoted-field"
        );
        assert_eq!(
            csv_fields(r#""ab"c"#).unwrap_err(),
            "parse error on line 1, column 4: extraneous or missing \" in quoted-field"
        );
        assert!(csv_fields(r#""ab"#).unwrap_err().contains("extraneous"));
    }
}
