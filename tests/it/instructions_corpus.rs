//! The instruction layer on every Dockerfile of the parser corpora: each file the structural
//! parser accepts must either become typed stages (with its literal `--mount` specs valid),
//! or fail with the error BuildKit gives it. The expected failures are buildah's
//! deliberately bad test files, buildah-only extensions, and files without a FROM.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use builder::dockerfile::instructions::{parse_dockerfile, Instruction};
use builder::dockerfile::{parse, Ast};

use crate::common::shared_dir;

/// Corpus case (relative to the conformance folder) => the error BuildKit reports.
const EXPECTED_ERRORS: &[(&str, &str)] = &[
    ("parser/testfiles/flags", "unknown flag: --user"),
    ("parser/testfiles/health", "HEALTHCHECK requires at least one argument"),
    ("parser/testfiles/jeztah-invalid-json-json-inside-string", "no build stage in current context"),
    ("parser/testfiles/jeztah-invalid-json-json-inside-string-double", "no build stage in current context"),
    ("parser/testfiles/jeztah-invalid-json-single-quotes", "no build stage in current context"),
    ("parser/testfiles/jeztah-invalid-json-unterminated-bracket", "no build stage in current context"),
    ("parser/testfiles/jeztah-invalid-json-unterminated-string", "no build stage in current context"),
    ("parser/testfiles/json", "no build stage in current context"),
    ("parser-real/containers__buildah/tests__bud__add-checksum__Containerfile.bad", "missing a value on flag: --checksum"),
    ("parser-real/containers__buildah/tests__bud__add-chmod__Dockerfile.bad", "missing a value on flag: --chmod"),
    ("parser-real/containers__buildah/tests__bud__base-with-arg__Containerfile", "invalid name for build stage: \"platform-arm/v7\", name can't start with a number or contain symbols"),
    ("parser-real/containers__buildah/tests__bud__buildkit-mount__Dockerfile", "invalid field 'z' must be a key=value pair"),
    ("parser-real/containers__buildah/tests__bud__buildkit-mount__Dockerfile3", "invalid field 'z' must be a key=value pair"),
    ("parser-real/containers__buildah/tests__bud__buildkit-mount__Dockerfile4", "invalid field 'z' must be a key=value pair"),
    ("parser-real/containers__buildah/tests__bud__buildkit-mount__Dockerfile6", "invalid field 'z' must be a key=value pair"),
    ("parser-real/containers__buildah/tests__bud__buildkit-mount__Dockerfilecacheread", "invalid field 'z' must be a key=value pair"),
    ("parser-real/containers__buildah/tests__bud__buildkit-mount__Dockerfilecachewrite", "invalid field 'z' must be a key=value pair"),
    ("parser-real/containers__buildah/tests__bud__buildkit-mount__Dockerfilecachewritesharing", "invalid field 'z' must be a key=value pair"),
    ("parser-real/containers__buildah/tests__bud__buildkit-mount__Dockerfilemultiplemounts", "invalid field 'z' must be a key=value pair"),
    ("parser-real/containers__buildah/tests__bud__buildkit-mount__Dockerfiletmpfscopyup", "invalid field 'tmpcopyup' must be a key=value pair"),
    ("parser-real/containers__buildah/tests__bud__containerfile__Containerfile.in", "no build stage in current context"),
    ("parser-real/containers__buildah/tests__bud__copy-chmod__Dockerfile.bad", "missing a value on flag: --chmod"),
    ("parser-real/containers__buildah/tests__bud__copy-multistage-paths__Dockerfile.invalid_from", "missing a value on flag: --from"),
    ("parser-real/containers__buildah/tests__bud__from-multiple-files__Dockerfile2.nofrom", "no build stage in current context"),
    ("parser-real/containers__buildah/tests__bud__inline-network__Dockerfile3", "invalid network mode \"fake\""),
    ("parser-real/containers__buildah/tests__bud__save-stages__Dockerfile.arg-build-stages-and-chained-build-stages", "invalid name for build stage: \"${FIRST_STAGE}\", name can't start with a number or contain symbols"),
    ("parser-real/containers__buildah/tests__bud__unrecognized__Dockerfile", "unknown instruction: BOGUS"),
    ("parser-real/containers__buildah/tests__bud__verify-cleanup__Dockerfile", "invalid field 'z' must be a key=value pair"),
];

fn dockerfiles(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            dockerfiles(&path, out);
        } else if path.file_name().is_some_and(|n| n == "Dockerfile") {
            out.push(path);
        }
    }
}

/// The first error of the instruction layer for one Dockerfile, if any.
fn first_error(ast: &Ast) -> Option<String> {
    let dockerfile = match parse_dockerfile(ast) {
        Ok(d) => d,
        Err(e) => return Some(e.message),
    };
    for stage in &dockerfile.stages {
        for ins in &stage.instructions {
            let Instruction::Run(run) = ins else {
                continue;
            };
            for spec in run.mounts.iter().filter(|m| !m.raw.contains('$')) {
                if let Err(e) = spec.resolve_literal() {
                    return Some(e);
                }
            }
        }
    }
    None
}

#[test]
fn corpus_dockerfiles_become_stages() {
    let Some(shared) = shared_dir("instruction corpus test") else {
        return;
    };
    if parse("FROM scratch\n").is_err() {
        eprintln!(
            "\n!!! SKIPPED instruction corpus test: the structural parser is not available !!!\n"
        );
        return;
    }
    let root = shared.join("conformance");
    let mut files = Vec::new();
    dockerfiles(&root.join("parser/testfiles"), &mut files);
    dockerfiles(&root.join("parser-real"), &mut files);
    assert!(files.len() > 800, "corpus too small: {}", files.len());

    let mut got = BTreeMap::new();
    let mut ok = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let Ok(ast) = parse(&text) else {
            continue;
        };
        let case = file
            .parent()
            .and_then(|p| p.strip_prefix(&root).ok())
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        match first_error(&ast) {
            Some(e) => {
                got.insert(case, e);
            }
            None => ok += 1,
        }
    }
    let want: BTreeMap<String, String> = EXPECTED_ERRORS
        .iter()
        .map(|(c, e)| (c.to_string(), e.to_string()))
        .collect();
    eprintln!(
        "instruction corpus: {} files, {ok} typed, {} expected errors",
        files.len(),
        got.len()
    );
    assert_eq!(got, want);
}
