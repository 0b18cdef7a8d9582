//! Reads the crate's source the way the compiler does, for the architecture test: every
//! file under `src/` is parsed with `syn`, `#[cfg(test)]` items and test-only files are left
//! out, and every path that names this crate (`use crate::graph::Plan;`,
//! `crate::store::DirStore::new(..)`, `super::super::cache::Key`) or an IO facility
//! (`std::fs`, `std::process`, ...) is resolved to the top-level module it reaches.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// One top-level module's outside references, from its non-test code.
#[derive(Debug, Default)]
pub struct Uses {
    /// Top-level modules of this crate it names (itself excluded), with one place each.
    pub modules: BTreeMap<String, String>,
    /// IO facilities it names (`std::fs`, ...), with one place each.
    pub io: BTreeMap<String, String>,
}

/// Paths that reach the operating system; a pure module names none of them.
const IO_PATHS: &[&[&str]] = &[
    &["std", "fs"],
    &["std", "process"],
    &["std", "env"],
    &["std", "net"],
    &["std", "io", "stdin"],
    &["std", "os"],
    &["tokio"],
    &["rustix"],
    &["nix"],
    &["libc"],
    &["reqwest"],
];

/// The references of every top-level module under `src`, by module name (`build` for
/// `src/build.rs` and `src/build/`; the crate-root files `lib.rs`, `main.rs`, `error.rs` are
/// modules of their own name).
pub fn scan(src: &Path) -> BTreeMap<String, Uses> {
    let mut out: BTreeMap<String, Uses> = BTreeMap::new();
    let mut queue = vec![(src.join("lib.rs"), Vec::<String>::new())];
    if src.join("main.rs").exists() {
        queue.push((src.join("main.rs"), vec!["main".to_string()]));
    }
    while let Some((file, module_path)) = queue.pop() {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let ast =
            syn::parse_file(&text).unwrap_or_else(|e| panic!("parse {}: {e}", file.display()));
        let top = module_path.first().cloned().unwrap_or_else(|| "lib".into());
        let mut visitor = Visitor {
            module_path: module_path.clone(),
            inline: Vec::new(),
            uses: out.entry(top).or_default(),
            file: &file,
        };
        for item in &ast.items {
            if is_test(item_attrs(item)) {
                continue;
            }
            visitor.visit_item(item);
        }
        for (name, attrs) in out_of_line_mods(&ast.items) {
            if is_test(&attrs) {
                continue;
            }
            let mut child = module_path.clone();
            child.push(name.clone());
            queue.push((module_file(src, &file, &module_path, &name, &attrs), child));
        }
    }
    for (name, uses) in &mut out {
        uses.modules.remove(name);
    }
    out
}

/// `mod name;` declarations (not inline ones) with their attributes.
fn out_of_line_mods(items: &[syn::Item]) -> Vec<(String, Vec<syn::Attribute>)> {
    items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Mod(m) if m.content.is_none() => {
                Some((m.ident.to_string(), m.attrs.clone()))
            }
            _ => None,
        })
        .collect()
}

/// The file of `mod name;` declared in `file` (module `module_path`), honouring `#[path]`.
fn module_file(
    src: &Path,
    file: &Path,
    module_path: &[String],
    name: &str,
    attrs: &[syn::Attribute],
) -> PathBuf {
    let dir = file.parent().unwrap_or(src);
    let owns_dir = matches!(
        file.file_name().and_then(|n| n.to_str()),
        Some("mod.rs" | "lib.rs" | "main.rs")
    );
    let base = if owns_dir || module_path.is_empty() {
        dir.to_path_buf()
    } else {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        dir.join(stem)
    };
    for attr in attrs {
        if attr.path().is_ident("path") {
            if let syn::Meta::NameValue(nv) = &attr.meta {
                if let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) = &nv.value
                {
                    // Relative to the declaring file's directory, as rustc reads it.
                    return dir.join(s.value());
                }
            }
        }
    }
    let flat = base.join(format!("{name}.rs"));
    if flat.exists() {
        flat
    } else {
        base.join(name).join("mod.rs")
    }
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// `#[cfg(test)]` (alone or inside `all(..)`).
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta.require_list().is_ok_and(|l| {
                l.tokens
                    .to_string()
                    .split(|c: char| !c.is_alphanumeric() && c != '_')
                    .any(|w| w == "test")
            })
            && !a
                .meta
                .require_list()
                .is_ok_and(|l| l.tokens.to_string().starts_with("not"))
    })
}

struct Visitor<'a> {
    /// The module of the file being read (`["solve", "copy"]`).
    module_path: Vec<String>,
    /// Inline `mod x { .. }` blocks entered within the file.
    inline: Vec<String>,
    uses: &'a mut Uses,
    file: &'a Path,
}

impl Visitor<'_> {
    /// Record a path given as its segments (leading `crate`/`super`/`self` included).
    fn record(&mut self, segments: &[String]) {
        let place = self.file.display().to_string();
        let Some(first) = segments.first() else {
            return;
        };
        let absolute: Option<Vec<String>> = match first.as_str() {
            "crate" => Some(segments[1..].to_vec()),
            "super" | "self" => {
                let mut here: Vec<String> = self.module_path.clone();
                here.extend(self.inline.iter().cloned());
                let mut rest = segments;
                while let Some(s) = rest.first() {
                    match s.as_str() {
                        "super" => {
                            here.pop();
                        }
                        "self" => {}
                        _ => break,
                    }
                    rest = &rest[1..];
                }
                here.extend(rest.iter().cloned());
                Some(here)
            }
            _ => None,
        };
        match absolute {
            Some(path) => {
                if let Some(top) = path.first() {
                    self.uses.modules.entry(top.clone()).or_insert(place);
                }
            }
            None => {
                for io in IO_PATHS {
                    if segments.len() >= io.len()
                        && segments.iter().zip(io.iter()).all(|(a, b)| a == b)
                    {
                        self.uses.io.entry(io.join("::")).or_insert(place.clone());
                    }
                }
            }
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                if n.ident != "self" {
                    full.push(n.ident.to_string());
                }
                self.record(&full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                if r.ident != "self" {
                    full.push(r.ident.to_string());
                }
                self.record(&full);
            }
            syn::UseTree::Glob(_) => self.record(prefix),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Visitor<'_> {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut prefix = Vec::new();
        self.use_tree(&mut prefix, &u.tree);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if is_test(&m.attrs) {
            return;
        }
        self.inline.push(m.ident.to_string());
        syn::visit::visit_item_mod(self, m);
        self.inline.pop();
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if !is_test(&f.attrs) {
            syn::visit::visit_item_fn(self, f);
        }
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_test(&f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(&segments);
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        // Paths inside macro calls (`format!("{}", crate::x::y())`) are tokens, not syntax:
        // read them as a token stream.
        let tokens: Vec<String> = m
            .tokens
            .to_string()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let mut i = 0;
        while i < tokens.len() {
            if matches!(
                tokens[i].as_str(),
                "crate" | "std" | "tokio" | "rustix" | "nix" | "libc" | "reqwest"
            ) {
                let mut path = vec![tokens[i].clone()];
                let mut j = i + 1;
                while j + 1 < tokens.len() && tokens[j] == "::" {
                    path.push(tokens[j + 1].clone());
                    j += 2;
                }
                if path.len() > 1 {
                    self.record(&path);
                }
                i = j;
            } else {
                i += 1;
            }
        }
        syn::visit::visit_macro(self, m);
    }
}

/// Every top-level module of the crate: the files and folders directly under `src`.
pub fn top_level_modules(src: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(src).expect("read src") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if path.is_dir()
            || (path.extension().is_some_and(|e| e == "rs") && !name.ends_with("_tests"))
        {
            out.insert(name);
        }
    }
    out
}
