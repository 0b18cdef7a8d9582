//! The architecture's boundaries, enforced: `dockerfile/`, `graph/` and `domain/` are pure (no
//! filesystem, processes, environment or network); `domain/` is a leaf that imports no other
//! module of the crate, and the others import no sibling module except `graph -> dockerfile`
//! and `domain`.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read src dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Lines of `file` outside `#[cfg(test)]` modules (tests may use the filesystem).
fn non_test_code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).expect("read source");
    match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn check_pure(module: &str, allowed_siblings: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let siblings = [
        "cli",
        "build",
        "context",
        "dockerfile",
        "graph",
        "solve",
        "sandbox",
        "snapshot",
        "diff",
        "cache",
        "store",
        "image",
        "export",
        "registry",
        "progress",
        "domain",
        "rooted",
        "error",
    ];
    let forbidden_io = [
        "std::fs",
        "std::process",
        "std::env",
        "std::net",
        "std::io::stdin",
        "tokio",
    ];
    let mut problems = Vec::new();
    for file in rust_files(&root.join(module)) {
        let code = non_test_code(&file);
        for bad in forbidden_io {
            if code.contains(bad) {
                problems.push(format!("{} uses {bad}", file.display()));
            }
        }
        for sib in siblings {
            if sib == module || allowed_siblings.contains(&sib) {
                continue;
            }
            if code.contains(&format!("crate::{sib}::")) || code.contains(&format!("crate::{sib};"))
            {
                problems.push(format!("{} imports crate::{sib}", file.display()));
            }
        }
    }
    problems
}

#[test]
fn dockerfile_module_is_pure() {
    let problems = check_pure("dockerfile", &["domain"]);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn graph_module_is_pure_and_only_reads_dockerfile() {
    let problems = check_pure("graph", &["dockerfile", "domain"]);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn domain_module_is_pure_and_a_leaf() {
    let problems = check_pure("domain", &[]);
    assert!(problems.is_empty(), "{problems:#?}");
}
