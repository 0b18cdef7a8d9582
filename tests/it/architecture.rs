//! The architecture, enforced from the source itself (parsed with `syn`, not matched as
//! text): `docs/architecture.md` lists every top-level module with the modules it imports,
//! and that list must be exactly what the non-test code names; the modules it marks pure
//! name no IO facility; and the boundaries the design fixes (`domain` a leaf, `dockerfile`
//! importing only `domain`, `graph` only `dockerfile` and `domain`) hold whatever the
//! document says.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::architecture_scan::{scan, top_level_modules, Uses};

/// One module's section of docs/architecture.md.
#[derive(Debug)]
struct Documented {
    pure: bool,
    imports: BTreeSet<String>,
}

/// The `### `name`` sections of docs/architecture.md: `(pure)` after the name marks a pure
/// module; a line `Imports: `a`, `b`.` (or `Imports: nothing.`) lists its imports.
fn documented(doc: &str) -> BTreeMap<String, Documented> {
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        if let Some(rest) = line.strip_prefix("### `") {
            let name = rest.split('`').next().unwrap_or_default();
            let name = name
                .trim_end_matches('/')
                .trim_end_matches(".rs")
                .to_string();
            out.insert(
                name.clone(),
                Documented {
                    pure: rest.contains("(pure)"),
                    imports: BTreeSet::new(),
                },
            );
            current = Some(name);
        } else if let Some(list) = line.strip_prefix("Imports:") {
            let name = current
                .as_ref()
                .expect("an Imports: line belongs to a ### section");
            let entry = out.get_mut(name).expect("section");
            entry.imports = list
                .split('`')
                .skip(1)
                .step_by(2)
                .map(|m| m.trim_end_matches('/').to_string())
                .collect();
        }
    }
    out
}

fn source() -> (BTreeMap<String, Uses>, BTreeSet<String>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    (scan(&src), top_level_modules(&src))
}

fn doc() -> BTreeMap<String, Documented> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md");
    let text = std::fs::read_to_string(&path).expect("docs/architecture.md");
    documented(&text)
}

#[test]
fn every_module_is_documented_with_exactly_the_imports_it_has() {
    let (uses, modules) = source();
    let doc = doc();
    let mut problems = Vec::new();
    for m in &modules {
        if !doc.contains_key(m) {
            problems.push(format!("src/{m} has no section in docs/architecture.md"));
        }
    }
    for (name, d) in &doc {
        if !modules.contains(name) {
            problems.push(format!(
                "docs/architecture.md describes `{name}`, which src/ does not have"
            ));
            continue;
        }
        let actual: BTreeMap<&String, &String> = uses
            .get(name)
            .map(|u| u.modules.iter().collect())
            .unwrap_or_default();
        for (m, at) in &actual {
            if !d.imports.contains(*m) {
                problems.push(format!(
                    "`{name}` imports `{m}` (e.g. {at}); docs/architecture.md does not say so"
                ));
            }
        }
        for m in &d.imports {
            if !actual.contains_key(m) {
                problems.push(format!(
                    "docs/architecture.md says `{name}` imports `{m}`; it does not"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn pure_modules_do_no_io() {
    let (uses, _) = source();
    let mut problems = Vec::new();
    for (name, d) in doc() {
        if !d.pure {
            continue;
        }
        if let Some(u) = uses.get(&name) {
            for (io, at) in &u.io {
                problems.push(format!("`{name}` is pure but names {io} ({at})"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The boundaries of the design, independent of the document.
#[test]
fn the_pure_front_end_and_the_domain_leaf_hold() {
    let (uses, _) = source();
    let doc = doc();
    for (module, allowed) in [
        ("domain", &[][..]),
        ("dockerfile", &["domain"][..]),
        ("graph", &["dockerfile", "domain"][..]),
    ] {
        let u = uses
            .get(module)
            .unwrap_or_else(|| panic!("src/{module} not found"));
        let extra: Vec<_> = u
            .modules
            .keys()
            .filter(|m| !allowed.contains(&m.as_str()))
            .collect();
        assert!(extra.is_empty(), "{module} imports {extra:?}");
        assert!(u.io.is_empty(), "{module} does IO: {:?}", u.io);
        assert!(
            doc.get(module).is_some_and(|d| d.pure),
            "docs/architecture.md must mark {module} pure"
        );
    }
}

/// The scanner itself: it sees a `crate::` path inside an expression, in a `use` group, via
/// `super::`, and ignores `#[cfg(test)]` code.
#[test]
fn scanner_resolves_paths_the_way_the_compiler_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path();
    std::fs::create_dir_all(src.join("b")).expect("mkdir");
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\nmod c;\n").expect("write");
    std::fs::write(
        src.join("a.rs"),
        "fn f() { let _ = crate::c::X; println!(\"{}\", crate::b::y()); }\n\
         #[cfg(test)] mod tests { use crate::b::Z; fn g() { std::fs::read(\"\"); } }\n",
    )
    .expect("write");
    std::fs::write(src.join("b/mod.rs"), "mod inner;\npub fn y() {}\n").expect("write");
    std::fs::write(
        src.join("b/inner.rs"),
        "use super::super::{a, c::X as Y};\nuse std::{fs, io};\n",
    )
    .expect("write");
    std::fs::write(
        src.join("c.rs"),
        "#[cfg(test)]\nmod tests;\npub const X: u8 = 1;\n",
    )
    .expect("write");
    std::fs::write(src.join("c_tests.rs"), "").expect("write");
    let uses = scan(src);
    let names = |m: &str| -> Vec<String> { uses[m].modules.keys().cloned().collect() };
    assert_eq!(names("a"), ["b", "c"]);
    assert!(
        uses["a"].io.is_empty(),
        "test code counted: {:?}",
        uses["a"].io
    );
    assert_eq!(names("b"), ["a", "c"]);
    assert_eq!(uses["b"].io.keys().collect::<Vec<_>>(), ["std::fs"]);
    assert!(names("c").is_empty());
}
