//! Instruction flags (`--from=build`, `--link`, `--mount=...`), declared per instruction and
//! parsed the way BuildKit's `BFlags` does.
//!
//! Rules: a flag is `--name=value`; booleans also accept a bare `--name` (and `true`/`false`
//! in any case); only repeatable (string-list) flags may appear twice; `--` ends the flags;
//! `--name value` with a space is not a flag value (the structural parser never produces it).
//! Unknown names fail with `unknown flag: --name` plus a "did you mean" hint drawn from the
//! flags that instruction declares.

use super::suggest;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    String,
    Strings,
}

#[derive(Debug, Clone)]
enum Value {
    Bool(bool),
    Str(String),
    Strs(Vec<String>),
}

/// Handle to a declared flag, used to read its value after parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlagId(usize);

/// One declared flag and, after parsing, its value.
#[derive(Debug, Clone)]
struct Decl {
    name: &'static str,
    kind: Kind,
    value: Value,
    used: bool,
}

/// The flags an instruction accepts, declared before parsing its flag words.
pub(crate) struct FlagSet<'a> {
    words: &'a [String],
    decls: Vec<Decl>,
    setup_error: Option<String>,
}

/// Parsed flag values.
#[derive(Debug, Clone)]
pub(crate) struct Flags {
    decls: Vec<Decl>,
}

impl<'a> FlagSet<'a> {
    /// A flag set that will parse `words` (the node's flag words, in order).
    pub(crate) fn new(words: &'a [String]) -> Self {
        FlagSet {
            words,
            decls: Vec::new(),
            setup_error: None,
        }
    }

    fn add(&mut self, name: &'static str, kind: Kind, value: Value) -> FlagId {
        if self.decls.iter().any(|d| d.name == name) && self.setup_error.is_none() {
            self.setup_error = Some(format!(
                "error setting up flags: Duplicate flag defined: {name}"
            ));
        }
        self.decls.push(Decl {
            name,
            kind,
            value,
            used: false,
        });
        FlagId(self.decls.len() - 1)
    }

    /// A boolean flag (`--link`, `--link=false`).
    pub(crate) fn bool(&mut self, name: &'static str, default: bool) -> FlagId {
        self.add(name, Kind::Bool, Value::Bool(default))
    }

    /// A string flag that may appear once (`--from=build`).
    pub(crate) fn string(&mut self, name: &'static str, default: &str) -> FlagId {
        self.add(name, Kind::String, Value::Str(default.to_string()))
    }

    /// A repeatable string flag (`--mount=...`, `--exclude=...`).
    pub(crate) fn strings(&mut self, name: &'static str) -> FlagId {
        self.add(name, Kind::Strings, Value::Strs(Vec::new()))
    }

    /// Parse the flag words against the declarations.
    pub(crate) fn parse(mut self) -> Result<Flags, String> {
        if let Some(e) = self.setup_error {
            return Err(e);
        }
        let names: Vec<&str> = self.decls.iter().map(|d| d.name).collect();
        for word in self.words {
            if word == "--" {
                break;
            }
            let Some(rest) = word.strip_prefix("--") else {
                return Err(format!("arg should start with -- : {word}"));
            };
            let (name, value) = match rest.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (rest, None),
            };
            let flag_name = format!("--{name}");
            let Some(decl) = self.decls.iter_mut().find(|d| d.name == name) else {
                return Err(suggest::with_hint(
                    format!("unknown flag: {flag_name}"),
                    name,
                    &names,
                    true,
                ));
            };
            if decl.used && decl.kind != Kind::Strings {
                return Err(format!("duplicate flag specified: {flag_name}"));
            }
            decl.used = true;
            let missing = || format!("missing a value on flag: {flag_name}");
            match (&mut decl.value, value) {
                (Value::Bool(_), Some("")) => return Err(missing()),
                (Value::Bool(b), v) => {
                    let v = v.unwrap_or("");
                    *b = match v.to_lowercase().as_str() {
                        "" | "true" => true,
                        "false" => false,
                        _ => {
                            return Err(format!(
                                "expecting boolean value for flag {flag_name}, not: {v}"
                            ))
                        }
                    };
                }
                (Value::Str(s), Some(v)) => *s = v.to_string(),
                (Value::Strs(list), Some(v)) => list.push(v.to_string()),
                (Value::Str(_) | Value::Strs(_), None) => return Err(missing()),
            }
        }
        Ok(Flags { decls: self.decls })
    }
}

impl Flags {
    /// A boolean flag's value (its default when not given).
    pub(crate) fn bool(&self, id: FlagId) -> bool {
        matches!(
            self.decls.get(id.0).map(|d| &d.value),
            Some(Value::Bool(true))
        )
    }

    /// A string flag's value (its default when not given).
    pub(crate) fn string(&self, id: FlagId) -> &str {
        match self.decls.get(id.0).map(|d| &d.value) {
            Some(Value::Str(s)) => s,
            _ => "",
        }
    }

    /// A repeatable flag's values, in order.
    pub(crate) fn strings(&self, id: FlagId) -> &[String] {
        match self.decls.get(id.0).map(|d| &d.value) {
            Some(Value::Strs(v)) => v,
            _ => &[],
        }
    }

    /// True when the flag appeared in the instruction.
    pub(crate) fn is_used(&self, id: FlagId) -> bool {
        self.decls.get(id.0).is_some_and(|d| d.used)
    }

    /// Names of the flags that appeared, sorted (BuildKit's `FlagsUsed`).
    pub(crate) fn used_names(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .decls
            .iter()
            .filter(|d| d.used)
            .map(|d| d.name.to_string())
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn strings_bools_and_lists() {
        let w = words(&["--from=build", "--link", "--exclude=a", "--exclude=b=c"]);
        let mut fs = FlagSet::new(&w);
        let from = fs.string("from", "");
        let link = fs.bool("link", false);
        let excl = fs.strings("exclude");
        let chown = fs.string("chown", "root");
        let f = fs.parse().unwrap();
        assert_eq!(f.string(from), "build");
        assert!(f.bool(link));
        assert_eq!(f.strings(excl), ["a", "b=c"]);
        assert_eq!(f.string(chown), "root");
        assert!(f.is_used(from) && !f.is_used(chown));
        assert_eq!(f.used_names(), ["exclude", "from", "link"]);
    }

    #[test]
    fn bool_values() {
        for (word, want) in [
            ("--link", true),
            ("--link=true", true),
            ("--link=TRUE", true),
            ("--link=False", false),
        ] {
            let w = words(&[word]);
            let mut fs = FlagSet::new(&w);
            let link = fs.bool("link", !want);
            assert_eq!(fs.parse().unwrap().bool(link), want, "{word}");
        }
    }

    fn parse_err(flags: &[&str]) -> String {
        let w = words(flags);
        let mut fs = FlagSet::new(&w);
        fs.string("from", "");
        fs.bool("link", false);
        fs.strings("exclude");
        fs.parse().unwrap_err()
    }

    #[test]
    fn errors_in_buildkit_words() {
        assert_eq!(
            parse_err(&["--form=x"]),
            "unknown flag: --form (did you mean from?)"
        );
        assert_eq!(parse_err(&["--zzzzzz=x"]), "unknown flag: --zzzzzz");
        assert_eq!(
            parse_err(&["--from=a", "--from=b"]),
            "duplicate flag specified: --from"
        );
        assert_eq!(parse_err(&["--from"]), "missing a value on flag: --from");
        assert_eq!(
            parse_err(&["--exclude"]),
            "missing a value on flag: --exclude"
        );
        assert_eq!(parse_err(&["--link="]), "missing a value on flag: --link");
        assert_eq!(
            parse_err(&["--link=yes"]),
            "expecting boolean value for flag --link, not: yes"
        );
        assert_eq!(parse_err(&["-x"]), "arg should start with -- : -x");
        assert_eq!(
            parse_err(&["--link", "--link=false"]),
            "duplicate flag specified: --link"
        );
    }

    #[test]
    fn double_dash_ends_flags() {
        let w = words(&["--link", "--", "--bogus"]);
        let mut fs = FlagSet::new(&w);
        let link = fs.bool("link", false);
        assert!(fs.parse().unwrap().bool(link));
    }

    #[test]
    fn no_declared_flags_rejects_all() {
        let w = words(&["--x=1"]);
        assert_eq!(FlagSet::new(&w).parse().unwrap_err(), "unknown flag: --x");
        assert!(FlagSet::new(&[]).parse().is_ok());
    }

    #[test]
    fn empty_string_value_is_allowed() {
        let w = words(&["--from="]);
        let mut fs = FlagSet::new(&w);
        let from = fs.string("from", "x");
        let f = fs.parse().unwrap();
        assert_eq!(f.string(from), "");
        assert!(f.is_used(from));
    }

    #[test]
    fn duplicate_declaration_is_a_setup_error() {
        let mut fs = FlagSet::new(&[]);
        fs.bool("a", false);
        fs.bool("a", false);
        assert!(fs
            .parse()
            .unwrap_err()
            .starts_with("error setting up flags"));
    }
}
